/**
 * `probe --live`: probe pods on every selected node (two echo pods on the pod network, one on the host network), a
 * bundle collected once they run (so the plan and the traces know them, and kube-proxy's rules as they are now), the
 * probes planned from that bundle and sent from the pods, each failure explained with the bundle, and every pod
 * deleted at the end — also on Ctrl-C; a second Ctrl-C exits at once and `netdoctor cleanup` removes what is left.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKS } from '../checks/registry.js';
import { runChecks } from '../checks/run.js';
import { mapLimit } from '../core/async.js';
import { kubeIndex } from '../kube/objects.js';
import { KubeApi, LiveError, loadKubeConfig } from '../live/api.js';
import {
  collectLive,
  DEFAULT_PARALLEL,
  DEFAULT_TIMEOUT_MS,
  type LiveOptions,
  type LiveResult,
  prepareNamespace,
  selectNodes,
  serverVersion,
} from '../live/live.js';
import { DEFAULT_NAMESPACE, newRunId, PodTracker } from '../live/nodes.js';
import { listAll } from '../live/objects.js';
import {
  AGENT_CONTAINER,
  DEFAULT_AGENT_IMAGE,
  DEFAULT_TOOLS_IMAGE,
  type NodeProbePods,
  PROBE_ECHO_PORT,
  startProbePods,
} from '../live/probe-pods.js';
import { ClusterModel } from '../model/cluster.js';
import { loadBundle } from '../snapshot/bundle.js';
import { LiveExecutor } from './live-executor.js';
import type { ProbeKind, ProbeReport, ProbeSource } from './model.js';
import { planProbes } from './plan.js';
import { runProbes } from './run.js';

export interface LiveProbeOptions extends LiveOptions {
  /** Image with node for the echo server and the agent. */
  agentImage?: string;
  kinds?: readonly ProbeKind[];
  /** Per attempt. */
  attemptTimeoutMs?: number;
  /** Keep the bundle collected for the probes here (else a temporary directory). */
  saveBundle?: string;
  /** Explains failed flows from the bundle (the trace engine); optional. */
  explain?: (cluster: ClusterModel, report: ProbeReport) => void;
}

export async function probeLive(o: LiveProbeOptions): Promise<{ report: ProbeReport; collected: LiveResult }> {
  const log = o.log ?? (() => {});
  const started = Date.now();
  const { kc } = loadKubeConfig(o);
  const api = new KubeApi(kc);
  const namespace = o.namespace ?? DEFAULT_NAMESPACE;
  await serverVersion(api);
  const { names } = await selectNodes(
    api,
    await listAll(api, { resource: 'nodes', kind: 'Node', apiVersion: 'v1' }),
    o,
  );

  const tracker = new PodTracker(api, namespace);
  const abort = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++interrupts > 1) {
      process.stderr.write(
        `netdoctor: ${sig} again: exiting now; remove the pods left behind with \`netdoctor cleanup -n ${namespace}\`\n`,
      );
      process.exit(130);
    }
    process.stderr.write(`netdoctor: ${sig}: deleting the probe pods (${tracker.live.size}) ...\n`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const scratch = o.saveBundle ? undefined : mkdtempSync(join(tmpdir(), 'netdoctor-probe-live-'));
  const dir = o.saveBundle ?? (scratch as string);
  try {
    await prepareNamespace(api, namespace, log);
    const runId = newRunId();
    const podTimeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const agentImage = o.agentImage ?? DEFAULT_AGENT_IMAGE;
    const toolsImage = o.image ?? DEFAULT_TOOLS_IMAGE;
    // The pods outlive pod start, collection and probing of every node (in rounds of --parallel), then end by
    // themselves; the run deletes them long before. A deadline cannot be raised once the pod exists.
    const rounds = Math.ceil(names.length / (o.parallel ?? DEFAULT_PARALLEL));
    const lifetimeS = 7200 + rounds * Math.ceil((3 * podTimeoutMs) / 1000);
    log(
      `starting probe pods on ${names.length} node(s) in namespace ${namespace} (run ${runId}; images ${agentImage}, ${toolsImage})`,
    );
    let done = 0;
    const nodePods = await mapLimit(names, o.parallel ?? DEFAULT_PARALLEL, async (node, i) => {
      if (abort.signal.aborted) return { node, pods: {}, error: 'interrupted' };
      const r = await startProbePods(api, node, i, {
        namespace,
        runId,
        lifetimeS,
        image: toolsImage,
        agentImage,
        tracker,
        timeoutMs: podTimeoutMs,
        signal: abort.signal,
      });
      log(`  [${++done}/${names.length}] ${node}: ${r.error ? `FAILED: ${r.error}` : 'probe pods ready'}`);
      return r;
    });
    if (abort.signal.aborted) throw new LiveError('interrupted; every probe pod of this run was deleted');
    const ready = nodePods.filter((n) => !n.error);
    if (ready.length === 0) throw new LiveError(`no probe pod came up (${nodePods[0]?.error ?? 'no nodes'})`);

    // The bundle, with the probe pods in it: the plan's destinations and the traces' endpoints.
    const collected = await collectLive(dir, { ...o, nodes: names, signal: abort.signal, log: (l) => log(`  ${l}`) });
    const cluster = new ClusterModel(loadBundle(dir));
    const podOf = podFinder(nodePods);
    const executor = new LiveExecutor(api, namespace, podOf, abort.signal);
    const nodeIp = new Map(kubeIndex(cluster).nodes.map((n) => [n.name, n.internalIP]));
    const sources = probeSources(nodePods, namespace, nodeIp);
    const setupProblems: string[] = [];
    const resolvConfs = await readResolvConfs(executor, sources, podOf, abort.signal, setupProblems);
    const echoPods = new Set(
      ready.flatMap((n) =>
        [n.pods['echo-a'], n.pods['echo-b']].filter((p) => !!p).map((p) => `${namespace}/${p.name}`),
      ),
    );
    const probes = planProbes({
      cluster,
      sources,
      echo: { pods: echoPods, port: PROBE_ECHO_PORT },
      resolvConf: (s) => resolvConfs.get(s.name),
      opaqueServices: true,
      nodePortsFrom: 'next-node',
      ...(o.kinds ? { kinds: o.kinds } : {}),
      ...(o.attemptTimeoutMs ? { timeoutMs: o.attemptTimeoutMs } : {}),
    });
    log(`sending ${probes.length} probes from ${sources.length} sources`);
    const { outcomes, problems } = await runProbes(probes, executor, {
      parallel: o.parallel ?? 4,
      onSource: (s, n, total) => log(`  [${n}/${total}] ${s.kind} ${s.name}`),
    });
    if (abort.signal.aborted) throw new LiveError('interrupted; every probe pod of this run was deleted');
    const { findings } = runChecks(cluster, CHECKS);
    const report: ProbeReport = {
      schemaVersion: 1,
      kind: 'ProbeReport',
      target: `live ${api.server} (context ${api.context})`,
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      outcomes,
      findings,
      problems: [
        ...nodePods.filter((n) => n.error).map((n) => `node ${n.node}: probe pods: ${n.error}`),
        ...collected.problems,
        ...setupProblems,
        ...problems,
      ],
    };
    o.explain?.(cluster, report);
    return { report, collected };
  } finally {
    const left = await tracker.deleteAll();
    for (const l of left) log(`error: could not delete pod ${l}; remove it with \`netdoctor cleanup -n ${namespace}\``);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

/** The pod a source's probes run in: a pod source is its own echo-a pod; a node source is the node's host pod. */
function podFinder(nodePods: readonly NodeProbePods[]): (s: ProbeSource) => string | undefined {
  return (s) => {
    const n = nodePods.find((x) => x.node === s.node);
    if (!n || n.error) return undefined;
    return (s.kind === 'pod' ? n.pods['echo-a'] : n.pods.host)?.name;
  };
}

/** Each ready node's echo-a pod (a pod on the pod network) and its host pod (the node itself). */
export function probeSources(
  nodePods: readonly NodeProbePods[],
  namespace: string,
  nodeIp: ReadonlyMap<string, string | undefined>,
): ProbeSource[] {
  const out: ProbeSource[] = [];
  for (const n of nodePods) {
    const a = n.pods['echo-a'];
    if (n.error || !a) continue;
    out.push({ kind: 'pod', name: `${namespace}/${a.name}`, node: n.node, ...(a.ip ? { ip: a.ip } : {}) });
    const ip = nodeIp.get(n.node);
    out.push({ kind: 'node', name: n.node, node: n.node, ...(ip ? { ip } : {}) });
  }
  return out;
}

/** Each pod source's /etc/resolv.conf as the kubelet wrote it (DNS probes resolve the way the pod does). */
async function readResolvConfs(
  executor: LiveExecutor,
  sources: readonly ProbeSource[],
  podOf: (s: ProbeSource) => string | undefined,
  signal: AbortSignal,
  problems: string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await mapLimit(
    sources.filter((s) => s.kind === 'pod'),
    8,
    async (s) => {
      const pod = podOf(s);
      if (!pod) return;
      try {
        const text = await executor.exec(
          pod,
          AGENT_CONTAINER,
          ['cat', '/etc/resolv.conf'],
          AbortSignal.any([signal, AbortSignal.timeout(15_000)]),
        );
        out.set(s.name, text);
      } catch (e) {
        problems.push(`pod ${s.name}: cannot read /etc/resolv.conf, no DNS probe from it: ${(e as Error).message}`);
      }
    },
  );
  return out;
}
