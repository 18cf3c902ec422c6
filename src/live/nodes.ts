/**
 * Node state on a live cluster (DESIGN §5): one short-lived pod per node — `nodeName` pinned (no scheduler), the host's
 * network and PID namespaces, privileged, every taint tolerated, `restartPolicy: Never`, the node's `/` mounted
 * read-only at /host — runs the collector script through `pods/exec`, its output gzip-compressed on the way back (not
 * through container logs, which the kubelet rotates at 10 MiB), and is deleted. At most `parallel` pods at once; each
 * node has its own time limit; a node that fails is reported with the reason and the others go on. Every pod this
 * process creates is recorded before it is created, so an interrupt deletes them all.
 */
import { randomBytes } from 'node:crypto';
import { createGunzip, type Gunzip } from 'node:zlib';
import { SnapshotAssembler } from '../collect/output.js';
import { COLLECTOR_SCRIPT } from '../collect/script.js';
import type { ParseIssue } from '../core/errors.js';
import type { KubeObject } from '../model/kube.js';
import type { NodeSnapshot } from '../snapshot/schema.js';
import { ApiError, type KubeApi, LiveError } from './api.js';
import { execInPod } from './exec.js';

/** A stock image with iptables (nft and legacy), nft, ipvsadm, ipset, conntrack, iproute2, procps and gzip. */
export const DEFAULT_IMAGE = 'docker.io/nicolaka/netshoot:v0.13';
export const DEFAULT_NAMESPACE = 'netdoctor';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'netdoctor';
export const RUN_LABEL = 'netdoctor.io/run';
export const NODE_ANNOTATION = 'netdoctor.io/node';
/** Where the pod mounts the node's root file system; the collector reads the node's files there. */
export const HOST_ROOT = '/host';
const CONTAINER = 'collector';

/**
 * The command exec runs: the script arrives on stdin, its output leaves gzip-compressed when the image has gzip. The
 * script ends with `exit`, so the shell never waits for the end of stdin (only v5 of the protocol can close it).
 */
export const EXEC_COMMAND = [
  'sh',
  '-c',
  'if command -v gzip >/dev/null 2>&1; then sh -s | gzip -c; else exec sh -s; fi',
] as const;
export const EXEC_SCRIPT = `${COLLECTOR_SCRIPT}exit $?\n`;

/** Pod Security admission labels for the namespace: the collector pod is privileged on purpose. */
export const PRIVILEGED_NAMESPACE_LABELS: Record<string, string> = {
  'pod-security.kubernetes.io/enforce': 'privileged',
  'pod-security.kubernetes.io/audit': 'privileged',
  'pod-security.kubernetes.io/warn': 'privileged',
};

export function newRunId(): string {
  return randomBytes(3).toString('hex');
}

/** A pod name for a node: DNS-1123, at most 63 characters, unique per run. */
export function podName(runId: string, node: string, index: number | string, role?: string): string {
  const safe = node
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  const tail = `-${runId}-${index}`;
  return `netdoctor-${role ? `${role}-` : ''}${safe}`.slice(0, 63 - tail.length).replace(/-+$/, '') + tail;
}

export interface PodOptions {
  image: string;
  namespace: string;
  runId: string;
  /** The pod's own bound on its life (seconds): it ends by itself even if netdoctor is killed with -9. */
  lifetimeS: number;
}

/**
 * What every pod netdoctor runs on a node has in its spec: pinned to the node (no scheduler), every taint tolerated,
 * never restarted, no service account token or service links, deleted at once, and its own end after `lifetimeS`.
 */
export function pinnedPodSpec(node: string, lifetimeS: number): Record<string, unknown> {
  return {
    nodeName: node,
    restartPolicy: 'Never',
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: 0,
    activeDeadlineSeconds: lifetimeS,
    tolerations: [{ operator: 'Exists' }],
  };
}

/** The collector pod for one node. */
export function collectorPod(node: string, name: string, o: PodOptions): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: o.namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, 'app.kubernetes.io/name': 'netdoctor-collector', [RUN_LABEL]: o.runId },
      annotations: { [NODE_ANNOTATION]: node },
    },
    spec: {
      ...pinnedPodSpec(node, o.lifetimeS),
      hostNetwork: true,
      hostPID: true,
      dnsPolicy: 'ClusterFirstWithHostNet',
      containers: [
        {
          name: CONTAINER,
          image: o.image,
          imagePullPolicy: 'IfNotPresent',
          command: ['sleep', String(o.lifetimeS)],
          env: [{ name: 'NETDOCTOR_ROOT', value: HOST_ROOT }],
          securityContext: { privileged: true },
          resources: { requests: { cpu: '10m', memory: '32Mi' } },
          volumeMounts: [{ name: 'host', mountPath: HOST_ROOT, readOnly: true }],
        },
      ],
      volumes: [{ name: 'host', hostPath: { path: '/', type: 'Directory' } }],
    },
  };
}

/** The pods this process created and has not deleted yet; deleted on interrupt. */
export class PodTracker {
  readonly live = new Map<string, string>();
  constructor(
    readonly api: KubeApi,
    readonly namespace: string,
  ) {}
  add(name: string): void {
    this.live.set(name, name);
  }
  async delete(name: string): Promise<void> {
    try {
      await this.api.request('DELETE', podPath(this.namespace, name), {
        body: { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0, propagationPolicy: 'Background' },
        timeoutMs: 10_000,
        what: { verb: 'delete', resource: 'pods' },
      });
      this.live.delete(name);
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) this.live.delete(name);
      else throw e;
    }
  }
  /** Deletes every pod still recorded; returns the names that could not be deleted, with why. */
  async deleteAll(): Promise<string[]> {
    const failed: string[] = [];
    await Promise.all(
      [...this.live.keys()].map(async (n) => {
        try {
          await this.delete(n);
        } catch (e) {
          failed.push(`${n}: ${(e as Error).message}`);
        }
      }),
    );
    return failed;
  }
}

export function podPath(namespace: string, name?: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods${name ? `/${encodeURIComponent(name)}` : ''}`;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

/** True when the pod is Running and, with `ready`, its Ready condition is True (every readiness probe passes). */
function podUp(pod: KubeObject, ready: boolean): boolean {
  const st = (pod.status ?? {}) as { phase?: string; conditions?: { type: string; status: string }[] };
  if (st.phase !== 'Running') return false;
  return !ready || st.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

/**
 * Polls a pod until it runs (and is ready, with `ready`); a pod that cannot start (image not pulled, ended) throws
 * a LiveError saying why. Bounded by the caller's signal.
 */
export async function waitForPod(
  api: KubeApi,
  namespace: string,
  name: string,
  o: { signal: AbortSignal; ready?: boolean; seen?: (pod: KubeObject) => void },
): Promise<KubeObject> {
  for (;;) {
    if (o.signal.aborted) throw new LiveError('aborted');
    const pod = await api.request<KubeObject>('GET', podPath(namespace, name), {
      what: { verb: 'get', resource: 'pods' },
    });
    o.seen?.(pod);
    const problem = podProblem(pod);
    if (problem) throw new LiveError(problem);
    if (podUp(pod, o.ready ?? false)) return pod;
    await sleep(300, o.signal);
  }
}

interface ContainerState {
  waiting?: { reason?: string; message?: string };
  terminated?: { reason?: string; message?: string; exitCode?: number };
  running?: unknown;
}

/** Waiting reasons that will not fix themselves within a run. */
const HOPELESS_WAITING = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
  'CrashLoopBackOff',
]);

/** Why a node's pod did not come up, from the pod and node status, in one line. */
export function podProblem(pod: KubeObject): string | undefined {
  const status = (pod.status ?? {}) as {
    phase?: string;
    reason?: string;
    message?: string;
    containerStatuses?: { state?: ContainerState }[];
  };
  const statuses = (status.containerStatuses ?? []) as { name?: string; state?: ContainerState }[];
  for (const c of statuses) {
    const w = c.state?.waiting;
    if (w?.reason && HOPELESS_WAITING.has(w.reason)) {
      const what = /Image/.test(w.reason) ? 'the image could not be pulled' : 'the container could not start';
      const which = statuses.length > 1 && c.name ? ` (container ${c.name})` : '';
      return `${what}${which}: ${w.reason}${w.message ? `: ${w.message}` : ''}`;
    }
    const t = c.state?.terminated;
    if (t && statuses.length > 1 && status.phase === 'Running') {
      const how = [t.reason, t.exitCode !== undefined ? `exit ${t.exitCode}` : undefined].filter(Boolean).join(', ');
      return `container ${c.name} ended${how ? ` (${how})` : ''}${t.message ? `: ${t.message}` : ''}`;
    }
  }
  const state = statuses[0]?.state;
  if (status.phase === 'Failed' || status.phase === 'Succeeded') {
    const t = state?.terminated;
    return `the pod ended (${status.phase}${status.reason ? `, ${status.reason}` : ''}${
      t?.reason ? `, container ${t.reason} exit ${t.exitCode}` : ''
    })${status.message ? `: ${status.message}` : ''}`;
  }
  return undefined;
}

function nodeNotReady(node: KubeObject | undefined): string | undefined {
  const conds = ((node?.status as { conditions?: { type: string; status: string; reason?: string }[] })?.conditions ??
    []) as { type: string; status: string; reason?: string; message?: string }[];
  const ready = conds.find((c) => c.type === 'Ready');
  if (!ready || ready.status === 'True') return undefined;
  return `node is NotReady (${ready.reason ?? ready.status}${ready.message ? `: ${ready.message}` : ''})`;
}

function waitingReason(pod: KubeObject): string | undefined {
  const s = (pod.status ?? {}) as { phase?: string; containerStatuses?: { state?: ContainerState }[] };
  const w = s.containerStatuses?.[0]?.state?.waiting;
  return w?.reason ? `${s.phase ?? 'Pending'}, ${w.reason}` : s.phase;
}

export interface NodeRun {
  node: string;
  snapshot?: NodeSnapshot;
  /** Why the node could not be collected, one line. */
  error?: string;
  issues: ParseIssue[];
  bytes: number;
  ms: number;
}

export interface CollectNodesOptions extends PodOptions {
  nodes: readonly string[];
  /** Node objects by name (for NotReady reasons). */
  nodeObjects?: Map<string, KubeObject>;
  parallel: number;
  timeoutMs: number;
  tracker: PodTracker;
  signal?: AbortSignal;
  /** A progress line (stderr). */
  progress?: (line: string) => void;
}

/** The exec's stdout: gunzipped when it starts with gzip's magic bytes, else passed on as it is. */
class OutputSink {
  bytes = 0;
  error: Error | undefined;
  private gunzip: Gunzip | undefined;
  private sniffed = false;
  private readonly done: Promise<void>;
  private resolve: () => void = () => {};
  constructor(private readonly push: (chunk: Buffer) => void) {
    this.done = new Promise((r) => {
      this.resolve = r;
    });
  }
  write(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (!this.sniffed) {
      this.sniffed = true;
      if (chunk[0] === 0x1f && chunk[1] === 0x8b) {
        const g = createGunzip();
        g.on('data', (c: Buffer) => this.push(c));
        g.on('error', (e) => {
          this.error = e;
          this.resolve();
        });
        g.on('end', () => this.resolve());
        this.gunzip = g;
      }
    }
    if (this.gunzip) this.gunzip.write(chunk);
    else this.push(chunk);
  }
  end(): Promise<void> {
    if (this.gunzip) this.gunzip.end();
    else this.resolve();
    return this.done;
  }
}

/** Collects one node: pod up, exec, parse, pod deleted. Never throws: failures come back as `error`. */
async function collectOne(api: KubeApi, node: string, index: number, o: CollectNodesOptions): Promise<NodeRun> {
  const t0 = Date.now();
  const name = podName(o.runId, node, index);
  const result: NodeRun = { node, issues: [], bytes: 0, ms: 0 };
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), o.timeoutMs);
  const signal = o.signal ? AbortSignal.any([o.signal, timeout.signal]) : timeout.signal;
  let phase = 'creating the pod';
  let lastSeen: KubeObject | undefined;
  let created = false;
  try {
    o.tracker.add(name);
    await api.request('POST', podPath(o.namespace), {
      body: collectorPod(node, name, o),
      what: { verb: 'create', resource: 'pods' },
    });
    created = true;
    phase = 'waiting for the pod to run';
    await waitForPod(api, o.namespace, name, { signal, seen: (pod) => (lastSeen = pod) });
    phase = 'collecting';
    const assembler = new SnapshotAssembler({
      transport: 'pod',
      target: `${o.namespace}/${name}`,
      nodeName: node,
      source: `collector pod ${o.namespace}/${name} on ${node}`,
      onIssue: (i) => result.issues.push(i),
    });
    const sink = new OutputSink((c) => assembler.push(c));
    const stderr: Buffer[] = [];
    const r = await execInPod(api, {
      namespace: o.namespace,
      pod: name,
      container: CONTAINER,
      command: EXEC_COMMAND,
      stdin: EXEC_SCRIPT,
      onStdout: (c) => sink.write(c),
      onStderr: (c) => {
        if (stderr.length < 64) stderr.push(c);
      },
      signal,
    });
    await sink.end();
    result.bytes = sink.bytes;
    if (sink.error) throw new LiveError(`the compressed output was cut off: ${sink.error.message}`);
    try {
      result.snapshot = assembler.finish();
    } catch (e) {
      const said = Buffer.concat(stderr).toString('utf8').trim().split('\n')[0];
      const exit =
        r.exitCode !== undefined ? ` (exit ${r.exitCode})` : r.status?.message ? ` (${r.status.message})` : '';
      throw new LiveError(`${(e as Error).message}${exit}${said ? `: ${said}` : ''}`);
    }
  } catch (e) {
    let why = (e as Error).message;
    if (timeout.signal.aborted && !o.signal?.aborted) {
      const waiting = lastSeen ? ` (pod ${waitingReason(lastSeen)})` : '';
      const notReady = nodeNotReady(o.nodeObjects?.get(node));
      why = `timed out after ${Math.round(o.timeoutMs / 1000)} s ${phase}${waiting}${notReady ? `; ${notReady}` : ''}`;
    } else if (o.signal?.aborted) why = 'interrupted';
    else if (phase === 'waiting for the pod to run' && !(e instanceof ApiError)) {
      const notReady = nodeNotReady(o.nodeObjects?.get(node));
      if (notReady) why += `; ${notReady}`;
    }
    result.error = why;
  } finally {
    clearTimeout(timer);
    if (created || o.tracker.live.has(name)) {
      try {
        await o.tracker.delete(name);
      } catch (e) {
        result.issues.push({
          file: `pod ${o.namespace}/${name}`,
          line: 0,
          severity: 'error',
          message: `could not delete the pod (remove it with \`netdoctor cleanup\`): ${(e as Error).message}`,
        });
      }
    }
  }
  result.ms = Date.now() - t0;
  return result;
}

/** Collects the nodes, at most `parallel` at once; one progress line per node. */
export async function collectNodes(api: KubeApi, o: CollectNodesOptions): Promise<NodeRun[]> {
  const out: NodeRun[] = new Array(o.nodes.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < o.nodes.length && !o.signal?.aborted) {
      const i = next++;
      const node = o.nodes[i] as string;
      const r = await collectOne(api, node, i, o);
      out[i] = r;
      done++;
      const tag = `[${done}/${o.nodes.length}] ${node}:`;
      if (r.snapshot) {
        const n = Object.keys(r.snapshot.commands).length;
        o.progress?.(
          `${tag} collected (${n} commands, ${(r.bytes / 1024).toFixed(0)} KiB in ${(r.ms / 1000).toFixed(1)} s)`,
        );
      } else o.progress?.(`${tag} FAILED: ${r.error}`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.parallel, o.nodes.length)) }, worker));
  for (let i = 0; i < o.nodes.length; i++)
    out[i] ??= { node: o.nodes[i] as string, error: 'interrupted', issues: [], bytes: 0, ms: 0 };
  return out;
}
