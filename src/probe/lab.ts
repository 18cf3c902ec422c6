/**
 * `probe --lab`: the running lab is collected into a bundle (or a given bundle is used), probes are planned from the
 * bundle, sent for real from the lab's pods, nodes and the underlay, explained with the bundle, and diagnosed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKS } from '../checks/registry.js';
import { runChecks } from '../checks/run.js';
import type { Lab } from '../lab/lab.js';
import { ECHO_PORT, podResolvConf } from '../lab/plan.js';
import { ClusterModel } from '../model/cluster.js';
import { loadBundle } from '../snapshot/bundle.js';
import { LabExecutor } from './lab-executor.js';
import type { ProbeKind, ProbeReport, ProbeSource } from './model.js';
import { planProbes } from './plan.js';
import { runProbes } from './run.js';

export interface LabProbeOptions {
  /** Use this bundle instead of collecting the lab now. */
  bundle?: string;
  kinds?: readonly ProbeKind[];
  timeoutMs?: number;
  parallel?: number;
  /** Progress lines (stderr). */
  log?: (line: string) => void;
  /** Explains failed flows from the bundle (the trace engine); optional. */
  explain?: (cluster: ClusterModel, report: ProbeReport) => void;
}

/** Every place in the lab a probe can start from. */
export function labSources(lab: Lab): ProbeSource[] {
  const plan = lab.plan;
  return [
    ...plan.pods.map((p): ProbeSource => ({ kind: 'pod', name: `${p.namespace}/${p.name}`, node: p.node, ip: p.ip })),
    ...plan.nodes.map((n): ProbeSource => ({ kind: 'node', name: n.name, node: n.name, ip: n.ip })),
    { kind: 'outside', name: 'outside', ip: plan.underlay.gateway },
  ];
}

export async function probeLab(
  lab: Lab,
  opts: LabProbeOptions = {},
): Promise<{ report: ProbeReport; cluster: ClusterModel }> {
  const log = opts.log ?? (() => {});
  const started = Date.now();
  let dir = opts.bundle;
  let scratch: string | undefined;
  if (!dir) {
    scratch = mkdtempSync(join(tmpdir(), 'netdoctor-probe-bundle-'));
    dir = scratch;
    log(`collecting the lab's ${lab.plan.nodes.length} nodes into a bundle`);
    await lab.collect(dir, (node) => log(`  collected ${node}`));
  }
  const executor = new LabExecutor(lab);
  try {
    const cluster = new ClusterModel(loadBundle(dir));
    const echoPods = new Set(lab.plan.pods.filter((p) => p.role === 'echo').map((p) => `${p.namespace}/${p.name}`));
    const probes = planProbes({
      cluster,
      sources: labSources(lab),
      echo: { pods: echoPods, port: ECHO_PORT },
      resolvConf: (s) => {
        const pod = lab.plan.pods.find((p) => `${p.namespace}/${p.name}` === s.name);
        return pod ? podResolvConf(lab.plan, pod) : undefined;
      },
      ...(opts.kinds ? { kinds: opts.kinds } : {}),
      ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    });
    log(`sending ${probes.length} probes from ${new Set(probes.map((p) => p.from.name)).size} sources`);
    const { outcomes, problems } = await runProbes(probes, executor, {
      parallel: opts.parallel ?? 4,
      onSource: (s, done, total) => log(`  [${done}/${total}] ${s.kind} ${s.name}`),
    });
    const { findings } = runChecks(cluster, CHECKS);
    const report: ProbeReport = {
      schemaVersion: 1,
      kind: 'ProbeReport',
      target: `lab ${lab.prefix} (${lab.state.scenario})`,
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      outcomes,
      findings,
      problems,
    };
    opts.explain?.(cluster, report);
    return { report, cluster };
  } finally {
    executor.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}
