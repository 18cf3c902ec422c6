/**
 * Joins each failed probe to the trace of the same flow through the bundle, so a red cell says why: the decisive rule,
 * route, sysctl or policy, and the path for the diagram. When the trace and the real traffic disagree (the trace
 * predicts delivery and nothing answered, or the reverse) the reason says so plainly: that is either something the
 * bundle does not show, or a simulator bug, and neither may be hidden.
 */
import type { NetdoctorError } from '../core/errors.js';
import type { Finding } from '../core/vocabulary.js';
import type { ClusterModel } from '../model/cluster.js';
import { resolveQuery } from '../trace/endpoints.js';
import { TraceEngine } from '../trace/engine.js';
import { describeDecisive } from '../trace/format.js';
import type { TraceBranch, TraceResult } from '../trace/types.js';
import { judge, type ProbeOutcome, type ProbeReason, type ProbeReport } from './model.js';

export interface ExplainOptions {
  /** Explain passing probes too (the agreement tests compare every flow). */
  all?: boolean;
}

/** The branch the probe's result is about: for a missing endpoint, the branch that leads to it; else the worst. */
function branchFor(o: ProbeOutcome, r: TraceResult): TraceBranch | undefined {
  const missing = new Set(o.missing);
  const toMissing = r.branches.filter((b) => b.endpoint?.pod && missing.has(b.endpoint.pod.split('/')[1] ?? ''));
  const pool = toMissing.length ? toMissing : r.branches;
  const rank = (b: TraceBranch) => (b.verdict === 'delivered' ? 0 : b.verdict === 'uncertain' ? 1 : 2);
  return [...pool].sort((a, b) => rank(b) - rank(a))[0];
}

export function summarizeBranch(b: TraceBranch): string {
  if (b.verdict === 'delivered') return `delivered${b.endpoint?.pod ? ` to ${b.endpoint.pod}` : ''}`;
  const where = b.decisive
    ? `${b.decisive.node ? `${b.decisive.node} ` : ''}${describeDecisive(b.decisive)}`
    : b.reason;
  return `${b.verdict}${b.clientSees ? ` (client sees ${b.clientSees})` : ''}: ${where}`;
}

/**
 * Where the real traffic and the trace contradict each other: an endpoint answered although every branch to it is
 * dropped, or never answered although its branch is delivered; a flow with no branch delivered got through, or one
 * with every branch delivered got nothing. Random load balancing is respected: a passing lookup need not have met
 * the branch that fails.
 */
function disagreement(o: ProbeOutcome, r: TraceResult): string | undefined {
  if (o.probe.blocked !== undefined || o.status === 'error') return undefined;
  const delivered = r.branches.filter((b) => b.verdict === 'delivered');
  const failing = r.branches.filter((b) => b.verdict === 'dropped' || b.verdict === 'rejected');
  const podName = (b: TraceBranch) => b.endpoint?.pod?.split('/')[1];
  if (o.probe.expect.length > 0) {
    const answered = o.result.answers.filter((a) => o.probe.expect.includes(a));
    const contradicted = answered.filter((a) => {
      const to = r.branches.filter((b) => podName(b) === a);
      return to.length > 0 && to.every((b) => b.verdict === 'dropped' || b.verdict === 'rejected');
    });
    if (contradicted.length)
      return `${contradicted.join(', ')} answered, but the trace predicts every path to it fails`;
    const silent = o.missing.filter((m) => {
      const to = r.branches.filter((b) => podName(b) === m);
      return to.length > 0 && to.every((b) => b.verdict === 'delivered');
    });
    if (silent.length)
      return `${silent.join(', ')} never answered, but the trace predicts delivery: the cause is not in the bundle (or the bundle is older than the fault)`;
    return undefined;
  }
  if (o.status === 'fail' && failing.length === 0 && delivered.length > 0)
    return 'the trace predicts delivery, but the real traffic failed: the cause is not in the bundle (or the bundle is older than the fault)';
  if ((o.status === 'pass' || o.status === 'slow') && delivered.length === 0 && failing.length > 0)
    return 'the trace predicts this flow fails, but the real traffic got through';
  return undefined;
}

/**
 * A TCP flow the trace delivers and the endpoint answered with a reset every time it failed: the network works and
 * nothing listens on the port there (a closed port, a server bound to another address, a wrong targetPort).
 */
function refusedAtEndpoint(o: ProbeOutcome, r: TraceResult): boolean {
  const failures = Object.keys(o.result.failures);
  return (
    o.probe.proto === 'tcp' &&
    failures.length === 1 &&
    failures[0] === 'refused' &&
    r.branches.length > 0 &&
    r.branches.every((b) => b.verdict === 'delivered')
  );
}

export function explainOutcome(engine: TraceEngine, cluster: ClusterModel, o: ProbeOutcome): ProbeReason | undefined {
  const q = o.probe.trace;
  if (!q) return undefined;
  let result: TraceResult;
  try {
    result = engine.trace(resolveQuery(cluster, q.from, q.to, q.proto));
  } catch (e) {
    return { verdict: 'uncertain', summary: `no trace: ${(e as NetdoctorError).message}` };
  }
  const branch = branchFor(o, result);
  if (!branch) return undefined;
  const reason: ProbeReason = {
    verdict: branch.verdict,
    summary: summarizeBranch(branch),
    decisive: branch.decisive as unknown as Record<string, unknown> | null,
    hops: branch.hops,
  };
  const refused = refusedAtEndpoint(o, result);
  if (refused) {
    reason.refused = true;
    reason.summary = `delivered, and refused there: nothing listens on port ${branch.endpoint?.port ?? o.probe.port} of ${branch.endpoint?.pod ?? branch.endpoint?.ip ?? o.probe.to.name} (connection refused)`;
  }
  const d = refused ? undefined : disagreement(o, result);
  if (d) reason.disagreement = d;
  return reason;
}

const SEVERE = new Set(['critical', 'error', 'warning']);

/** The finding of diagnose that explains a failed flow the trace cannot: on a node the flow touches, the most
 * severe, one about MTU first for an MTU probe. */
function findingFor(o: ProbeOutcome, findings: readonly Finding[]): Finding | undefined {
  const nodes = new Set(
    [o.probe.from.node, o.probe.from.kind === 'node' ? o.probe.from.name : undefined, o.probe.to.node].filter(
      (n): n is string => !!n,
    ),
  );
  const candidates = findings.filter((f) => SEVERE.has(f.severity) && (f.node === undefined || nodes.has(f.node)));
  const rank = (f: Finding) =>
    (o.probe.kind === 'mtu' && f.check.startsWith('mtu') ? 0 : 10) +
    ['critical', 'error', 'warning'].indexOf(f.severity);
  return [...candidates].sort((a, b) => rank(a) - rank(b))[0];
}

/** Fills `reason` on the report's failed outcomes (every outcome with `all`). */
export function explainReport(cluster: ClusterModel, report: ProbeReport, opts: ExplainOptions = {}): void {
  const engine = new TraceEngine(cluster);
  for (const o of report.outcomes) {
    if (!opts.all && o.status === 'pass') continue;
    const r = explainOutcome(engine, cluster, o);
    if (o.probe.kind === 'dns' && o.status === 'slow') {
      // The probe traced the flow to the first nameserver: that is where the resolver waited.
      const servers = o.probe.agent.nameservers ?? [];
      const first = servers[0];
      const why = r ? ` (${r.summary})` : '';
      o.reason = {
        verdict: r?.verdict ?? 'uncertain',
        summary:
          servers.length > 1 && o.result.server !== first
            ? `the first nameserver ${first} did not answer${why}; the resolver waited, then asked ${o.result.server}`
            : `some queries to ${first} went unanswered${why}; the resolver waited its timeout, then retried`,
        ...(r?.hops ? { hops: r.hops, decisive: r.decisive ?? null } : {}),
      };
    } else if (r) o.reason = r;
    // A Service of someone else's workloads that a NetworkPolicy closes to the probe pod: silence is what the
    // objects promise, not a fault (a default-deny cluster probed from netdoctor's namespace).
    if (
      o.status === 'fail' &&
      o.probe.agent.connect &&
      r?.verdict === 'dropped' &&
      r.decisive?.kind === 'policy-object'
    ) {
      o.probe.blocked = `${String(r.decisive.text ?? 'a NetworkPolicy')} denies it`;
      Object.assign(o, judge(o.probe, o.result));
    }
    // A failure the trace says is delivered (an MTU, a fault the bundle shows only as a setting): diagnose's
    // finding on a node of the flow is the reason; the disagreement with the trace stays visible.
    const failedFlow = o.status === 'fail' || o.status === 'partial';
    if (failedFlow && (!o.reason || (o.reason.verdict === 'delivered' && !o.reason.refused))) {
      const f = findingFor(o, report.findings);
      if (f) {
        o.reason = {
          ...(o.reason ?? { verdict: 'uncertain' }),
          summary: `${f.check}${f.node ? ` on ${f.node}` : ''}: ${f.title}`,
          finding: { check: f.check, ...(f.node ? { node: f.node } : {}), title: f.title },
        };
      }
    }
  }
}
