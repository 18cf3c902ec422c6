/**
 * `--live`: a bundle made from a running cluster in one command — the API objects, every selected node's state through
 * a short-lived collector pod, and optionally flannel's leases from etcd. What cannot be read is reported one line each
 * and the rest is still written (partial results). Ctrl-C deletes every pod this run created before exiting; a second
 * Ctrl-C exits at once (then `netdoctor cleanup` removes what is left).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, type ParseIssue } from '../core/errors.js';
import type { KubeObject } from '../model/kube.js';
import { ApiError, KubeApi, type KubeOptions, LiveError, loadKubeConfig } from './api.js';
import { type EtcdOptions, readFlannelSubnets } from './etcd.js';
import {
  collectNodes,
  DEFAULT_IMAGE,
  DEFAULT_NAMESPACE,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  type NodeRun,
  newRunId,
  PodTracker,
  PRIVILEGED_NAMESPACE_LABELS,
} from './nodes.js';
import { listAll, readClusterObjects } from './objects.js';

export interface LiveOptions extends KubeOptions {
  /** Only these nodes (names). */
  nodes?: string[];
  /** Only the nodes this label selector picks. */
  selector?: string;
  image?: string;
  namespace?: string;
  /** Per node: pod start and collection. */
  timeoutMs?: number;
  parallel?: number;
  etcd?: EtcdOptions;
  /** Progress and problems, one line each (stderr). */
  log?: (line: string) => void;
  /** Aborts the collection (the caller owns Ctrl-C); without it, collectLive handles SIGINT/SIGTERM itself. */
  signal?: AbortSignal;
}

export interface LiveResult {
  dir: string;
  server: string;
  nodeRuns: NodeRun[];
  /** What could not be read, one line each. */
  problems: string[];
  issues: ParseIssue[];
  interrupted: boolean;
}

export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_PARALLEL = 10;

/** Checks the API server answers at all, fast, before anything else: a wrong address fails in seconds. */
export async function serverVersion(api: KubeApi): Promise<string> {
  const v = await api.request<{ gitVersion?: string }>('GET', '/version', { timeoutMs: 10_000 });
  return v?.gitVersion ?? 'unknown version';
}

/** Makes sure the namespace exists and admits privileged pods; returns a warning when it may not. */
export async function prepareNamespace(api: KubeApi, ns: string, log: (l: string) => void): Promise<void> {
  const path = `/api/v1/namespaces/${encodeURIComponent(ns)}`;
  let existing: KubeObject | undefined;
  try {
    existing = await api.request<KubeObject>('GET', path, { what: { verb: 'get', resource: 'namespaces' } });
  } catch (e) {
    if (e instanceof ApiError && e.code === 403) {
      // Allowed to work in it but not to read it: fine, admission will say if it refuses the pods.
      return;
    }
    if (!(e instanceof ApiError && e.code === 404)) throw e;
  }
  if (!existing) {
    try {
      await api.request('POST', '/api/v1/namespaces', {
        body: {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: ns, labels: { ...PRIVILEGED_NAMESPACE_LABELS, [MANAGED_BY_LABEL]: MANAGED_BY } },
        },
        what: { verb: 'create', resource: 'namespaces' },
      });
      log(`created namespace ${ns} (labelled for privileged pods; kubectl delete namespace ${ns} removes it)`);
      return;
    } catch (e) {
      if (e instanceof ApiError && e.code === 409) return;
      if (e instanceof ApiError && e.code === 403)
        throw new LiveError(
          `namespace ${ns} does not exist and ${e.message.replace(/^RBAC denied: /, '')}; create it with deploy/rbac.yaml or choose one with --namespace`,
        );
      throw e;
    }
  }
  const labels = existing.metadata.labels ?? {};
  const enforce = labels['pod-security.kubernetes.io/enforce'];
  if (enforce === 'privileged') return;
  try {
    await api.request('PATCH', path, {
      body: { metadata: { labels: PRIVILEGED_NAMESPACE_LABELS } },
      contentType: 'application/merge-patch+json',
      what: { verb: 'patch', resource: 'namespaces' },
    });
    log(`labelled namespace ${ns} for privileged pods (pod-security.kubernetes.io/enforce=privileged)`);
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    log(
      `warning: namespace ${ns} is not labelled pod-security.kubernetes.io/enforce=privileged and netdoctor may not label it (${e.message}); Pod Security admission may refuse the collector pods: kubectl label namespace ${ns} pod-security.kubernetes.io/enforce=privileged`,
    );
  }
}

/** Picks the nodes to collect from the listed ones; unknown names are an InputError. */
export async function selectNodes(
  api: KubeApi,
  all: KubeObject[] | undefined,
  o: LiveOptions,
): Promise<{ names: string[]; byName: Map<string, KubeObject> }> {
  const byName = new Map((all ?? []).map((n) => [n.metadata.name, n]));
  if (o.nodes?.length) {
    if (all) {
      const unknown = o.nodes.filter((n) => !byName.has(n));
      if (unknown.length)
        throw new InputError(
          `--nodes: no node ${unknown.join(', ')} in the cluster (nodes: ${[...byName.keys()].slice(0, 20).join(', ')})`,
        );
    }
    return { names: o.nodes, byName };
  }
  if (o.selector) {
    const picked = await listAll(
      api,
      { resource: 'nodes', kind: 'Node', apiVersion: 'v1' },
      { labelSelector: o.selector },
    );
    if (picked.length === 0) throw new InputError(`-l ${o.selector}: no node matches`);
    return { names: picked.map((n) => n.metadata.name), byName };
  }
  if (!all) throw new LiveError('cannot list the nodes (see above); name them with --nodes');
  return { names: all.map((n) => n.metadata.name), byName };
}

/** Makes a bundle in `dir` from the live cluster. */
export async function collectLive(dir: string, o: LiveOptions): Promise<LiveResult> {
  const log = o.log ?? (() => {});
  const { kc, source } = loadKubeConfig(o);
  const api = new KubeApi(kc);
  const namespace = o.namespace ?? DEFAULT_NAMESPACE;
  const result: LiveResult = { dir, server: api.server, nodeRuns: [], problems: [], issues: [], interrupted: false };
  const version = await serverVersion(api);
  log(`cluster ${api.server} (context ${api.context} from ${source}), Kubernetes ${version}`);

  const objects = await readClusterObjects(api, (l) => log(`  ${l}`));
  for (const n of objects.notes) log(`note: ${n}`);
  for (const p of objects.problems) log(`error: ${p}`);
  result.problems.push(...objects.problems);
  const nodesListed = !objects.problems.some((p) => p.startsWith('nodes:'));
  const allNodes = nodesListed ? objects.list.items.filter((i) => i.kind === 'Node') : undefined;
  const { names, byName } = await selectNodes(api, allNodes, o);

  mkdirSync(join(dir, 'nodes'), { recursive: true });
  writeFileSync(join(dir, 'cluster.json'), `${JSON.stringify(objects.list, null, 2)}\n`);

  if (o.etcd) {
    try {
      const r = await readFlannelSubnets(o.etcd);
      mkdirSync(join(dir, 'etcd'), { recursive: true });
      writeFileSync(join(dir, 'etcd', 'subnets.json'), `${JSON.stringify(r.subnets, null, 2)}\n`);
      log(`etcd ${r.endpoint} (${r.api} API): ${Object.keys(r.subnets.subnets).length} flannel leases`);
    } catch (e) {
      if (e instanceof InputError) throw e;
      result.problems.push(`etcd: ${(e as Error).message}`);
      log(`error: etcd: ${(e as Error).message}`);
    }
  }

  const abort = new AbortController();
  const tracker = new PodTracker(api, namespace);
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) {
      process.stderr.write(
        `netdoctor: ${sig} again: exiting now; remove the pods left behind with \`netdoctor cleanup -n ${namespace}\`\n`,
      );
      process.exit(130);
    }
    process.stderr.write(`netdoctor: ${sig}: deleting the collector pods (${tracker.live.size}) ...\n`);
    result.interrupted = true;
    abort.abort();
  };
  const onAbort = () => {
    result.interrupted = true;
    abort.abort();
  };
  if (o.signal) o.signal.addEventListener('abort', onAbort);
  else {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  try {
    if (o.signal?.aborted) onAbort();
    await prepareNamespace(api, namespace, log);
    const runId = newRunId();
    const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    log(
      `collecting ${names.length} node(s) with pods in namespace ${namespace} (run ${runId}, image ${o.image ?? DEFAULT_IMAGE})`,
    );
    result.nodeRuns = await collectNodes(api, {
      nodes: names,
      nodeObjects: byName,
      parallel: o.parallel ?? DEFAULT_PARALLEL,
      timeoutMs,
      image: o.image ?? DEFAULT_IMAGE,
      namespace,
      runId,
      lifetimeS: Math.ceil(timeoutMs / 1000) + 120,
      tracker,
      signal: abort.signal,
      progress: log,
    });
  } finally {
    const left = await tracker.deleteAll();
    for (const l of left) log(`error: could not delete pod ${l}; remove it with \`netdoctor cleanup -n ${namespace}\``);
    o.signal?.removeEventListener('abort', onAbort);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  for (const r of result.nodeRuns) {
    result.issues.push(...r.issues);
    if (r.snapshot) writeFileSync(join(dir, 'nodes', `${r.node}.json`), `${JSON.stringify(r.snapshot, null, 2)}\n`);
    else result.problems.push(`node ${r.node}: ${r.error}`);
  }
  if (result.interrupted) throw new LiveError(`interrupted; every collector pod of this run was deleted`);
  return result;
}

/** `netdoctor cleanup`: deletes every pod netdoctor left behind (by its label), in one namespace or all. */
export async function cleanupPods(
  o: KubeOptions & { namespace?: string; allNamespaces?: boolean; log?: (l: string) => void },
): Promise<string[]> {
  const api = new KubeApi(loadKubeConfig(o).kc);
  await serverVersion(api);
  const selector = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
  const ns = o.namespace ?? DEFAULT_NAMESPACE;
  const pods = await listAll(
    api,
    { resource: 'pods', kind: 'Pod', apiVersion: 'v1' },
    { labelSelector: selector, namespace: o.allNamespaces ? undefined : ns },
  );
  const deleted: string[] = [];
  for (const p of pods) {
    const tracker = new PodTracker(api, p.metadata.namespace ?? ns);
    await tracker.delete(p.metadata.name);
    deleted.push(`${p.metadata.namespace}/${p.metadata.name}`);
    o.log?.(`deleted pod ${p.metadata.namespace}/${p.metadata.name}`);
  }
  return deleted;
}
