/**
 * The trace agrees with reality. For every lab scenario: inject the fault, collect a bundle with the real collector,
 * trace the all-pairs matrix from the bundle (pod → pod, pod → service, node → pod, NodePorts on every node from
 * outside; TCP, UDP, ICMP), and send the same traffic for real in the namespaces. The echo servers answer with their
 * pod's name, so each branch of a trace (each endpoint kube-proxy can pick) is checked: a probe repeats, bounded,
 * until every endpoint the trace says answers has answered. Any disagreement fails and prints the flow, the trace's
 * answer and what the traffic saw. The full matrix runs on `healthy` and `seed-000`; the other scenarios run the
 * flows that cross the fault (those touching the broken node and those whose trace differs from healthy), or
 * everything with FULL=1.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { mapLimit } from '../../src/core/async.js';
import { type Lab, labDown, labUp } from '../../src/lab/lab.js';
import type { PodPlan } from '../../src/lab/plan.js';
import { SCENARIOS } from '../../src/lab/scenarios.js';
import { ClusterModel } from '../../src/model/cluster.js';
import { loadBundle } from '../../src/snapshot/bundle.js';
import { resolveQuery } from '../../src/trace/endpoints.js';
import { TraceEngine } from '../../src/trace/engine.js';
import type { TraceBranch, TraceResult } from '../../src/trace/types.js';
import { needsRoot } from '../support/netns.js';

const FULL = process.env.FULL === '1';
/** SCENARIO=a,b runs healthy and those scenarios only (for work on one fault). */
const ONLY = process.env.SCENARIO?.split(',');
const FULL_SCENARIOS = new Set(['healthy', 'seed-000']);
const PARALLEL = 10;
/** Of the flows through a fault's node whose trace is as in the healthy lab, one in this many is probed. */
const SAMPLE_EVERY = 4;
/** A multi-endpoint flow is probed at most this many times. */
const MAX_TRIES = 60;
const NODEPORT_TCP = 30080;
const NODEPORT_UDP = 30081;
const ECHO = 8080;
/** The lab's overlay MTU (flannel.1, pods' eth0). */
const FULL_SIZE = 1450;

type Proto = 'tcp' | 'udp' | 'icmp';
/** What a client observes: an answer from a pod (its name), an ICMP echo reply, or a failure class. */
type Observation = string;

interface Flow {
  id: string;
  /** Where the probe runs: a pod, a node, or `underlay` (a client outside the cluster). */
  runIn: string;
  from: string;
  to: string;
  proto: Proto;
  dstIp: string;
  dport?: number;
  /** Nodes the flow involves directly (source, destination, endpoints), for picking fault-crossing flows. */
  nodes: string[];
  /** IP packet size: a full-size ping with DF set (`ping -M do`), for the path's MTUs. */
  size?: number;
}

function failureClass(proto: Proto, sees: string | undefined): Observation {
  if (!sees || sees === 'timeout') return 'timeout';
  // ping and a UDP socket see "some ICMP error"; TCP tells refused from unreachable.
  if (proto !== 'tcp') return 'icmp-error';
  return sees === 'refused' ? 'refused' : 'unreachable';
}

function expectedOf(proto: Proto, b: TraceBranch): Observation {
  if (b.verdict === 'delivered') {
    if (proto === 'icmp') return 'echo-reply';
    const pod = b.endpoint?.pod?.split('/')[1];
    return pod ? `answer:${pod}` : 'answer:?';
  }
  if (b.verdict === 'uncertain') return `uncertain: ${b.reason}`;
  return failureClass(proto, b.clientSees);
}

async function probeOnce(lab: Lab, f: Flow, slow: boolean): Promise<Observation> {
  const wait = slow ? 4 : 1;
  if (f.proto === 'icmp') {
    const big = f.size !== undefined ? ['-M', 'do', '-s', String(f.size - 28)] : [];
    const r = await lab.exec(f.runIn, ['ping', '-n', '-c', '1', '-W', String(wait), ...big, f.dstIp], {
      timeoutMs: wait * 1000 + 3000,
    });
    if (r.status === 0) return 'echo-reply';
    return /Unreachable|Prohibited|prohibited|unreachable|Frag needed|too long/.test(r.stdout + r.stderr)
      ? 'icmp-error'
      : 'timeout';
  }
  if (f.proto === 'tcp') {
    const r = await lab.exec(
      f.runIn,
      ['sh', '-c', `timeout ${wait + 0.5} nc -v -n -w ${wait} ${f.dstIp} ${f.dport} </dev/null`],
      { timeoutMs: wait * 1000 + 3000 },
    );
    const name = r.stdout.trim().split('\n')[0];
    if (name) return `answer:${name}`;
    if (/refused/i.test(r.stderr)) return 'refused';
    if (/No route to host|unreachable|prohibited/i.test(r.stderr)) return 'unreachable';
    return 'timeout';
  }
  const t0 = Date.now();
  const limit = slow ? 4 : 0.7;
  const r = await lab.exec(
    f.runIn,
    ['sh', '-c', `echo probe | timeout ${limit} nc -n -u -w ${Math.ceil(limit)} ${f.dstIp} ${f.dport}`],
    { timeoutMs: limit * 1000 + 3000 },
  );
  const name = r.stdout.trim().split('\n')[0];
  if (name) return `answer:${name}`;
  // nc exits at once when the socket gets an ICMP error; it is killed by `timeout` (124) when nothing comes back.
  return r.status !== 124 && Date.now() - t0 < limit * 1000 - 100 ? 'icmp-error' : 'timeout';
}

interface Checked {
  flow: Flow;
  expected: Set<Observation>;
  seen: Observation[];
  problem?: string;
}

async function check(lab: Lab, flow: Flow, trace: TraceResult): Promise<Checked> {
  const expected = new Set(trace.branches.map((b) => expectedOf(flow.proto, b)));
  const seen: Observation[] = [];
  const uncertain = [...expected].filter((e) => e.startsWith('uncertain'));
  if (uncertain.length) return { flow, expected, seen, problem: `the trace is uncertain: ${uncertain.join('; ')}` };
  const mustAnswer = new Set([...expected].filter((e) => e.startsWith('answer:') || e === 'echo-reply'));
  // A neighbour that never answers ARP costs about 3 s before "no route to host"; only TCP reports it reliably (UDP
  // and ping errors are rate-limited ICMP and count as timeouts too), so only TCP waits for it.
  const slow = flow.proto === 'tcp' && expected.has('unreachable');
  const tries = expected.size > 1 ? MAX_TRIES : 1;
  for (let i = 0; i < tries; i++) {
    const o = await probeOnce(lab, flow, slow);
    seen.push(o);
    // The kernel rate-limits the ICMP errors it sends (net.ipv4.icmp_ratelimit, per destination): with probes in
    // parallel, an error the trace predicts may not be sent, and the client times out instead.
    const rateLimited = o === 'timeout' && (expected.has('unreachable') || expected.has('icmp-error'));
    if (!expected.has(o) && !rateLimited)
      return { flow, expected, seen, problem: `real traffic saw ${o}, which no branch of the trace predicts` };
    mustAnswer.delete(o);
    const failuresPredicted = [...expected].some((e) => !e.startsWith('answer:') && e !== 'echo-reply');
    const sawFailure = seen.some((s) => !s.startsWith('answer:') && s !== 'echo-reply');
    if (mustAnswer.size === 0 && (!failuresPredicted || sawFailure || expected.size === 1)) break;
  }
  if (mustAnswer.size)
    return {
      flow,
      expected,
      seen,
      problem: `never answered in ${seen.length} tries although the trace says they do: ${[...mustAnswer].join(', ')}`,
    };
  const failuresPredicted = [...expected].filter((e) => !e.startsWith('answer:') && e !== 'echo-reply');
  const icmpError = failuresPredicted.some((e) => e === 'unreachable' || e === 'icmp-error');
  if (failuresPredicted.length && !seen.some((s) => failuresPredicted.includes(s) || (icmpError && s === 'timeout')))
    return {
      flow,
      expected,
      seen,
      problem: `the trace predicts ${failuresPredicted.join('/')} for some endpoints, but ${seen.length} tries all succeeded`,
    };
  return { flow, expected, seen };
}

function allFlows(lab: Lab): Flow[] {
  const plan = lab.plan;
  const pods = plan.pods;
  const echo = pods.filter((p) => p.role === 'echo');
  const svc = plan.services.find((s) => s.name === 'echo') as (typeof plan.services)[number];
  const flows: Flow[] = [];
  const podRef = (p: PodPlan) => `pod/${p.namespace}/${p.name}`;
  const epNodes = svc.endpoints.map((e) => e.node).filter((n): n is string => !!n);
  for (const src of pods) {
    for (const dst of echo) {
      for (const proto of ['tcp', 'udp'] as const)
        flows.push({
          id: `${proto} ${src.name} -> ${dst.name}:${ECHO}`,
          runIn: src.name,
          from: podRef(src),
          to: `${podRef(dst)}:${ECHO}`,
          proto,
          dstIp: dst.ip,
          dport: ECHO,
          nodes: [src.node, dst.node],
        });
    }
    for (const dst of pods)
      if (dst !== src)
        flows.push({
          id: `icmp ${src.name} -> ${dst.name}`,
          runIn: src.name,
          from: podRef(src),
          to: podRef(dst),
          proto: 'icmp',
          dstIp: dst.ip,
          nodes: [src.node, dst.node],
        });
    for (const port of svc.ports) {
      const proto = port.protocol === 'UDP' ? 'udp' : 'tcp';
      flows.push({
        id: `${proto} ${src.name} -> svc/${svc.namespace}/${svc.name}:${port.port}`,
        runIn: src.name,
        from: podRef(src),
        to: `svc/${svc.namespace}/${svc.name}:${port.port}`,
        proto,
        dstIp: svc.clusterIP,
        dport: port.port,
        nodes: [src.node, ...epNodes],
      });
    }
  }
  // Full-size packets (1450 bytes: the overlay's MTU) between one pod of each node and one of every other node.
  const firstEcho = plan.nodes.map((n) => echo.find((p) => p.node === n.name)).filter((p): p is PodPlan => !!p);
  for (const src of firstEcho)
    for (const dst of firstEcho)
      if (src !== dst)
        flows.push({
          id: `icmp 1450 bytes ${src.name} -> ${dst.name}`,
          runIn: src.name,
          from: podRef(src),
          to: podRef(dst),
          proto: 'icmp',
          dstIp: dst.ip,
          nodes: [src.node, dst.node],
          size: FULL_SIZE,
        });
  for (const node of plan.nodes) {
    for (const dst of echo) {
      for (const proto of ['tcp', 'udp', 'icmp'] as const)
        flows.push({
          id: `${proto} node ${node.name} -> ${dst.name}`,
          runIn: node.name,
          from: `node/${node.name}`,
          to: proto === 'icmp' ? podRef(dst) : `${podRef(dst)}:${ECHO}`,
          proto,
          dstIp: dst.ip,
          ...(proto === 'icmp' ? {} : { dport: ECHO }),
          nodes: [node.name, dst.node],
        });
    }
    for (const port of svc.ports) {
      const proto = port.protocol === 'UDP' ? 'udp' : 'tcp';
      flows.push({
        id: `${proto} node ${node.name} -> svc/${svc.namespace}/${svc.name}:${port.port}`,
        runIn: node.name,
        from: `node/${node.name}`,
        to: `svc/${svc.namespace}/${svc.name}:${port.port}`,
        proto,
        dstIp: svc.clusterIP,
        dport: port.port,
        nodes: [node.name, ...epNodes],
      });
    }
    for (const [proto, port] of [
      ['tcp', NODEPORT_TCP],
      ['udp', NODEPORT_UDP],
    ] as const)
      flows.push({
        id: `${proto} outside ${plan.underlay.gateway} -> NodePort ${node.name}:${port}`,
        runIn: 'underlay',
        from: plan.underlay.gateway,
        to: `node/${node.name}:${port}`,
        proto,
        dstIp: node.ip,
        dport: port,
        nodes: [node.name, ...epNodes],
      });
  }
  return flows;
}

function traceKey(r: TraceResult, proto: Proto): string {
  return [...new Set(r.branches.map((b) => expectedOf(proto, b)))].sort().join('|');
}

test('trace agrees with real traffic in every lab scenario', async (t) => {
  if (!needsRoot(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'netdoctor-trace-matrix-'));
  const statePath = join(dir, 'lab.json');
  try {
    const lab = await labUp({ nodes: 3, seed: 23, statePath });
    const flows = allFlows(lab);
    const healthyKeys = new Map<string, string>();
    for (const scenario of SCENARIOS) {
      if (ONLY && scenario.name !== 'healthy' && !ONLY.includes(scenario.name)) continue;
      await t.test(scenario.name, async () => {
        const started = Date.now();
        await lab.revert();
        if (scenario.name !== 'healthy') await lab.inject(scenario.name);
        const bundle = join(dir, scenario.name);
        await lab.collect(bundle);
        const cluster = new ClusterModel(loadBundle(bundle));
        const engine = new TraceEngine(cluster);
        const traced = flows.map((f) => {
          const q = resolveQuery(cluster, f.from, f.to, f.proto);
          if (f.size !== undefined) q.size = f.size;
          return { f, r: engine.trace(q) };
        });
        if (scenario.name === 'healthy') for (const { f, r } of traced) healthyKeys.set(f.id, traceKey(r, f.proto));
        const broken = lab.expected?.brokenNode;
        const chosen =
          FULL || FULL_SCENARIOS.has(scenario.name)
            ? traced
            : traced.filter(
                ({ f, r }, i) =>
                  healthyKeys.get(f.id) !== traceKey(r, f.proto) ||
                  // A sample of the flows through the broken node that the trace says are unaffected: if the trace
                  // missed the fault, real traffic there disagrees.
                  (broken !== undefined && f.nodes.includes(broken) && i % SAMPLE_EVERY === 0),
              );
        assert.ok(chosen.length > 0, `no flow crosses the fault of ${scenario.name}`);
        const results = await mapLimit(chosen, PARALLEL, ({ f, r }) => check(lab, f, r));
        const bad = results.filter((c) => c.problem);
        const counts = new Map<string, number>();
        for (const { r } of chosen) counts.set(r.verdict, (counts.get(r.verdict) ?? 0) + 1);
        t.diagnostic(
          `${scenario.name}: ${chosen.length} flows (${[...counts].map(([v, n]) => `${n} ${v}`).join(', ')}), ` +
            `${results.reduce((n, c) => n + c.seen.length, 0)} probes, ${bad.length} disagreements, ${Date.now() - started} ms`,
        );
        assert.deepEqual(
          bad.map(
            (c) =>
              `${c.flow.id}: trace says {${[...c.expected].join(', ')}}, traffic saw [${c.seen.join(', ')}]: ${c.problem}`,
          ),
          [],
        );
      });
    }
  } finally {
    await labDown(statePath);
    rmSync(dir, { recursive: true, force: true });
  }
});
