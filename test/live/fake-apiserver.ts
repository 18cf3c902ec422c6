/**
 * A Kubernetes API server for tests, on loopback, answering with the shapes the real one (1.29) sends: discovery
 * (/version, /api, /apis, resource lists), lists with `limit`/`metadata.continue` (and 410 Expired for a stale token),
 * Status objects for errors (401, 403 with the authorizer's sentence, 404, 409), pods that go Pending -> Running ->
 * Succeeded (or stay waiting with ErrImagePull, or never start on a node whose kubelet is gone), and `pods/exec` over
 * WebSocket with the channel protocols (v5/v4 binary, base64 text): 0 stdin, 1 stdout, 2 stderr, 3 Status, 255 close.
 *
 * Its nodes are the lab's namespaces: the "kubelet" of node X runs an exec'd command with `ip netns exec <X's netns>`,
 * so a hostNetwork pod sees node X's real network state. The container runs on this machine's file system; a hostPath
 * volume of `/` is the node's root directory the test gives (`nodeRoots`), reached through the container env values
 * that name its mount path (the collector's NETDOCTOR_ROOT).
 *
 * With the lab's plan (`labPlan`), a pod that is not hostNetwork gets a network namespace of its own on its node's
 * cni0, as the lab's own pods have (src/lab/attach-pod.ts: `<prefix>-pod-<node>-<host>`, address from .200 of the
 * node's /24), and that address as its podIP. Every container whose command is not `sleep N` runs for real, detached,
 * in the pod's namespace (the node's for hostNetwork) with the container's env, its output in a log file (read by tests
 * with containerLog); a `readinessProbe.tcpSocket` is Ready once the port listens there. `pods/exec` runs in the pod's
 * namespace with the env of the container `?container=` names. Deleting the pod (and close()) kills its processes by
 * process group and removes its namespace before answering.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { constants as osConstants, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { type AttachedPod, attachPod, detachPod } from '../../src/lab/attach-pod.js';
import type { LabPlan } from '../../src/lab/plan.js';
import { run, sleep } from '../../src/lab/shell.js';

type Obj = Record<string, unknown> & {
  kind?: string;
  apiVersion?: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
};

export interface Denial {
  verb: string;
  /** `pods`, `pods/exec`, `configmaps`, ... */
  resource: string;
}

export interface FakeApiOptions {
  /** Objects the server starts with (kind and apiVersion set; as in a bundle's cluster.json). */
  objects: Obj[];
  /** Node name -> the network namespace its kubelet runs exec'd commands in. */
  nodeNetns: Map<string, string>;
  /** Node name -> directory standing for the node's `/` (hostPath volumes). */
  nodeRoots?: Map<string, string>;
  /** The bearer token a request must carry; other tokens get 401. */
  token: string;
  /** The user the token belongs to (in 403 messages). */
  user?: string;
  /**
   * Node name -> a directory put first on PATH of exec'd commands: the node's own view of what a network namespace
   * does not separate (e.g. a `ps` listing the node's daemons, as a hostPID pod sees them).
   */
  nodePath?: Map<string, string>;
  /**
   * Pod Security admission: a namespace without `pod-security.kubernetes.io/enforce=privileged` gets "baseline", which
   * refuses host namespaces, hostPath volumes and privileged containers.
   */
  podSecurity?: boolean;
  /** An authorizer (like RBAC): false is a 403. Checked after `deny`. */
  authorize?: (a: { verb: string; resource: string; group: string; namespace?: string; name?: string }) => boolean;
  /** Verb/resource pairs the user may not use. */
  deny?: Denial[];
  /** Serve no EndpointSlices (a server before 1.17). */
  noEndpointSlices?: boolean;
  /** Images whose pull fails. */
  unpullable?: (image: string) => boolean;
  /** Nodes whose kubelet never starts a pod. */
  deadNodes?: Set<string>;
  /** The exec protocols the server accepts, in its order of preference. */
  execProtocols?: string[];
  /** The next request with a continue token gets 410 Expired (once). */
  expireNextContinue?: boolean;
  /** Largest page the server returns, whatever `limit` asks (to force pagination). */
  maxPage?: number;
  /** Delay before a created pod runs. */
  startDelayMs?: number;
  /**
   * The lab's plan: a pod that is not hostNetwork, on one of its nodes, gets a network namespace of its own on the
   * node's cni0 (without it, every pod runs in its node's namespace).
   */
  labPlan?: LabPlan;
  /** Where containers' output goes (`<namespace>_<pod>_<container>.log`); default a temp dir removed by close(). */
  logDir?: string;
  /** How long a readinessProbe is polled before the container is left not ready (default 20 s). */
  readyTimeoutMs?: number;
}

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { tcpSocket?: { port: number | string } };
  volumeMounts?: { name: string; mountPath: string }[];
  [k: string]: unknown;
}

interface PodSpec {
  nodeName?: string;
  hostNetwork?: boolean;
  restartPolicy?: string;
  containers: Container[];
  volumes?: { name: string; hostPath?: { path: string } }[];
  [k: string]: unknown;
}

/** What the fake kubelet runs for a started pod. */
interface Sandbox {
  key: string;
  /** The namespace the pod's processes and exec'd commands run in. */
  netns: string;
  /** The pod's hostname: its own name, or its node's for a hostNetwork pod. */
  hostname: string;
  /** The pod's own namespace on the lab's pod network; undefined when it runs in the node's. */
  attached?: AttachedPod;
  /** Container name -> its running process. */
  procs: Map<string, ChildProcess>;
  torn: boolean;
  /** The teardown under way or done. */
  down?: Promise<void>;
}

interface ContainerStatus {
  name: string;
  ready: boolean;
  started?: boolean;
  containerID?: string;
  state: {
    running?: { startedAt: string };
    waiting?: { reason: string; message?: string };
    terminated?: { exitCode: number; reason: string; startedAt?: string; finishedAt?: string };
  };
  [k: string]: unknown;
}

interface Condition {
  type: string;
  status: 'True' | 'False';
  lastProbeTime: null;
  lastTransitionTime: string;
  reason?: string;
  message?: string;
}

/** Sets the hostname of the UTS namespace `unshare --uts` made (to `$0`), then runs the command. */
const SET_HOSTNAME = 'echo "$0" > /proc/sys/kernel/hostname; exec "$@"';

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function condition(type: string, ok: boolean, reason?: string, message?: string): Condition {
  return {
    type,
    status: ok ? 'True' : 'False',
    lastProbeTime: null,
    lastTransitionTime: now(),
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
  };
}

function waiting(c: Container, w: { reason: string; message?: string }): ContainerStatus {
  return {
    name: c.name,
    image: c.image,
    imageID: '',
    ready: false,
    restartCount: 0,
    started: false,
    lastState: {},
    state: { waiting: w },
  };
}

/** The defaults the API server fills in a pod's spec (those a `get -o json` shows). */
function defaultPodSpec(spec: PodSpec): void {
  spec.restartPolicy ??= 'Always';
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.securityContext ??= {};
  spec.terminationGracePeriodSeconds ??= 30;
  spec.serviceAccountName ??= 'default';
  spec.serviceAccount ??= spec.serviceAccountName;
  spec.enableServiceLinks ??= true;
  spec.priority ??= 0;
  spec.preemptionPolicy ??= 'PreemptLowerPriority';
  for (const c of spec.containers ?? []) {
    const tag = /:([^/:@]+)$/.exec(c.image ?? '')?.[1];
    c.imagePullPolicy ??= tag === undefined || tag === 'latest' ? 'Always' : 'IfNotPresent';
    c.resources ??= {};
    c.terminationMessagePath ??= '/dev/termination-log';
    c.terminationMessagePolicy ??= 'File';
  }
}

/** `sleep N` (seconds), the containers the fake runs as a timer instead of a process. */
function sleepSeconds(c: Container): number | undefined {
  const argv = [...(c.command ?? []), ...(c.args ?? [])];
  if (argv.length !== 2 || argv[0] !== 'sleep') return undefined;
  const s = Number(argv[1]);
  return Number.isFinite(s) ? s : undefined;
}

const ALL_PROTOCOLS = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v4.base64.channel.k8s.io',
  'base64.channel.k8s.io',
  'channel.k8s.io',
];

interface Res {
  name: string;
  kind: string;
  namespaced: boolean;
  group: string;
  version: string;
  verbs: string[];
  shortNames?: string[];
  singular: string;
}

const RW = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const RESOURCES: Res[] = [
  {
    name: 'namespaces',
    kind: 'Namespace',
    namespaced: false,
    group: '',
    version: 'v1',
    verbs: RW,
    shortNames: ['ns'],
    singular: 'namespace',
  },
  {
    name: 'nodes',
    kind: 'Node',
    namespaced: false,
    group: '',
    version: 'v1',
    verbs: RW,
    shortNames: ['no'],
    singular: 'node',
  },
  {
    name: 'pods',
    kind: 'Pod',
    namespaced: true,
    group: '',
    version: 'v1',
    verbs: RW,
    shortNames: ['po'],
    singular: 'pod',
  },
  {
    name: 'services',
    kind: 'Service',
    namespaced: true,
    group: '',
    version: 'v1',
    verbs: RW,
    shortNames: ['svc'],
    singular: 'service',
  },
  {
    name: 'endpoints',
    kind: 'Endpoints',
    namespaced: true,
    group: '',
    version: 'v1',
    verbs: RW,
    shortNames: ['ep'],
    singular: 'endpoints',
  },
  {
    name: 'configmaps',
    kind: 'ConfigMap',
    namespaced: true,
    group: '',
    version: 'v1',
    verbs: RW,
    shortNames: ['cm'],
    singular: 'configmap',
  },
  {
    name: 'daemonsets',
    kind: 'DaemonSet',
    namespaced: true,
    group: 'apps',
    version: 'v1',
    verbs: RW,
    shortNames: ['ds'],
    singular: 'daemonset',
  },
  {
    name: 'endpointslices',
    kind: 'EndpointSlice',
    namespaced: true,
    group: 'discovery.k8s.io',
    version: 'v1',
    verbs: RW,
    singular: 'endpointslice',
  },
  {
    name: 'networkpolicies',
    kind: 'NetworkPolicy',
    namespaced: true,
    group: 'networking.k8s.io',
    version: 'v1',
    verbs: RW,
    shortNames: ['netpol'],
    singular: 'networkpolicy',
  },
];

function status(code: number, reason: string, message: string, details?: Record<string, unknown>): Obj {
  const s: Obj = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {} as Obj['metadata'],
    status: 'Failure',
    message,
    reason,
    code,
  };
  if (details) s.details = details;
  return s;
}

function labelsMatch(labels: Record<string, string> | undefined, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((req) => {
    const r = req.trim();
    if (!r) return true;
    const ne = r.split('!=');
    if (ne.length === 2) return labels?.[ne[0] as string] !== ne[1];
    const eq = r.split(/==?/);
    if (eq.length === 2) return labels?.[eq[0] as string] === eq[1];
    if (r.startsWith('!')) return labels?.[r.slice(1)] === undefined;
    return labels?.[r] !== undefined;
  });
}

interface Exec {
  child: ChildProcess;
}

export class FakeApiServer {
  readonly server: Server;
  private readonly wss: WebSocketServer;
  /** Objects by resource name, in creation order. */
  private readonly store = new Map<string, Obj[]>();
  private rv = 1000;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly execs = new Map<string, Set<Exec>>();
  /** Every pod ever created (namespace/name), for assertions. */
  readonly created: string[] = [];
  /** Requests seen: `METHOD path`. */
  readonly requests: string[] = [];
  url = '';
  /** The server's certificate (PEM), its own CA. */
  readonly tls: { key: string; cert: string };
  /** Started pods (namespace/name) -> what the kubelet runs for them. */
  private readonly sandboxes = new Map<string, Sandbox>();
  /** Kubelet work under way (pod starts, readiness polls); close() waits for it. */
  private readonly pending = new Set<Promise<void>>();
  private closed = false;
  private logDirMade?: string;
  /** What the kubelet could not do (a pod namespace not made, a process not started), for test messages. */
  readonly kubeletErrors: string[] = [];

  constructor(readonly o: FakeApiOptions) {
    for (const r of RESOURCES) this.store.set(r.name, []);
    const namespaces = new Set<string>();
    for (const obj of o.objects) {
      const r = RESOURCES.find((x) => x.kind === obj.kind);
      if (!r) continue;
      this.store.get(r.name)?.push(structuredClone(obj));
      if (obj.metadata.namespace) namespaces.add(obj.metadata.namespace);
    }
    for (const ns of ['default', 'kube-system', ...namespaces])
      if (!this.find('namespaces', undefined, ns))
        this.store.get('namespaces')?.push(
          this.stamp({
            apiVersion: 'v1',
            kind: 'Namespace',
            metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns } },
            spec: { finalizers: ['kubernetes'] },
            status: { phase: 'Active' },
          }),
        );
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      handleProtocols: (offered) => {
        for (const p of this.o.execProtocols ?? ALL_PROTOCOLS) if (offered.has(p)) return p;
        return false;
      },
    });
    this.tls = selfSignedCert();
    this.server = createHttpsServer({ key: this.tls.key, cert: this.tls.cert }, (req, res) => {
      this.handle(req, res).catch((e) => this.send(res, 500, status(500, 'InternalError', String(e))));
    });
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
  }

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `https://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    for (const set of this.execs.values()) for (const e of set) this.kill(e);
    await Promise.allSettled([...this.pending]);
    await Promise.allSettled([...this.sandboxes.values()].map((sb) => this.teardown(sb)));
    if (this.logDirMade) rmSync(this.logDirMade, { recursive: true, force: true });
    for (const c of this.wss.clients) c.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** The pods in a namespace (all when undefined). */
  pods(namespace?: string): Obj[] {
    return (this.store.get('pods') ?? []).filter((p) => namespace === undefined || p.metadata.namespace === namespace);
  }

  /** The namespace a started pod runs in (its own, or its node's for hostNetwork); undefined before it starts. */
  podNetns(namespace: string, name: string): string | undefined {
    return this.sandboxes.get(`${namespace}/${name}`)?.netns;
  }

  /** The PIDs of a pod's running container processes (each its process group's leader). */
  podPids(namespace: string, name: string): number[] {
    const sb = this.sandboxes.get(`${namespace}/${name}`);
    return [...(sb?.procs.values() ?? [])].flatMap((c) => (c.pid !== undefined && c.exitCode === null ? [c.pid] : []));
  }

  /** A container's output so far ('' when it has none). */
  containerLog(namespace: string, name: string, container: string): string {
    const dir = this.o.logDir ?? this.logDirMade;
    if (!dir) return '';
    try {
      return readFileSync(join(dir, `${namespace}_${name}_${container}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  private stamp(o: Obj): Obj {
    const m = o.metadata as Record<string, unknown>;
    m.resourceVersion = String(++this.rv);
    m.uid ??= `00000000-0000-4000-8000-${String(this.rv).padStart(12, '0')}`;
    m.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    return o;
  }

  private find(resource: string, ns: string | undefined, name: string): Obj | undefined {
    return this.store
      .get(resource)
      ?.find((x) => x.metadata.name === name && (ns === undefined || x.metadata.namespace === ns));
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(code, {
      'Content-Type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
      'Content-Length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  /** 401 unless the request carries the token. */
  private authenticated(req: IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.o.token}`;
  }

  private denied(verb: string, resource: string, ns: string | undefined, name?: string): Obj | undefined {
    const [base, sub] = resource.split('/');
    const r = RESOURCES.find((x) => x.name === base);
    const group = r?.group ?? '';
    const listed = this.o.deny?.some((d) => d.verb === verb && d.resource === resource);
    const allowed = this.o.authorize?.({ verb, resource, group, namespace: ns, name }) ?? true;
    if (!listed && allowed) return undefined;
    const scope = ns ? `in the namespace "${ns}"` : 'at the cluster scope';
    const subject = name ? `${base} "${name}"` : base;
    return status(
      403,
      'Forbidden',
      `${subject} is forbidden: User "${this.o.user ?? 'netdoctor'}" cannot ${verb} resource "${base}${sub ? `/${sub}` : ''}" in API group "${group}" ${scope}`,
      { ...(name ? { name } : {}), ...(group ? { group } : {}), kind: base },
    );
  }

  private discovery(path: string): unknown {
    if (path === '/version')
      return {
        major: '1',
        minor: '29',
        gitVersion: 'v1.29.2',
        gitCommit: '4b8e819355d791d96b7e9d9efe4cbafae2311c88',
        gitTreeState: 'clean',
        buildDate: '2024-02-14T10:32:40Z',
        goVersion: 'go1.21.7',
        compiler: 'gc',
        platform: 'linux/amd64',
      };
    if (path === '/api')
      return {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: this.url.replace('https://', '') }],
      };
    const groups = [...new Set(RESOURCES.filter((r) => r.group && this.served(r)).map((r) => r.group))];
    if (path === '/apis')
      return {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: groups.map((g) => ({
          name: g,
          versions: [{ groupVersion: `${g}/v1`, version: 'v1' }],
          preferredVersion: { groupVersion: `${g}/v1`, version: 'v1' },
        })),
      };
    const m = /^\/(?:api\/v1|apis\/([^/]+)\/v1)$/.exec(path);
    if (m) {
      const group = m[1] ?? '';
      if (group && !groups.includes(group)) return undefined;
      const list = RESOURCES.filter((r) => r.group === group && this.served(r));
      const resources: unknown[] = [];
      for (const r of list) {
        resources.push({
          name: r.name,
          singularName: r.singular,
          namespaced: r.namespaced,
          kind: r.kind,
          verbs: r.verbs,
          ...(r.shortNames ? { shortNames: r.shortNames } : {}),
          storageVersionHash: 'aaaaaaaaaaa=',
        });
        if (r.name === 'pods') {
          resources.push({
            name: 'pods/exec',
            singularName: '',
            namespaced: true,
            kind: 'PodExecOptions',
            verbs: ['create', 'get'],
          });
          resources.push({
            name: 'pods/status',
            singularName: '',
            namespaced: true,
            kind: 'Pod',
            verbs: ['get', 'patch', 'update'],
          });
        }
      }
      return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/v1` : 'v1', resources };
    }
    return undefined;
  }

  private served(r: Res): boolean {
    return !(r.name === 'endpointslices' && this.o.noEndpointSlices);
  }

  private async body(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return text ? JSON.parse(text) : undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    this.requests.push(`${method} ${path}`);
    if (!this.authenticated(req)) return this.send(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
    const disc = method === 'GET' ? this.discovery(path) : undefined;
    if (disc) return this.send(res, 200, disc);

    // /api/v1/[namespaces/NS/]RESOURCE[/NAME[/SUB]] and /apis/GROUP/v1/...
    const m = /^\/(?:api\/v1|apis\/([^/]+)\/v1)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(
      path,
    );
    let group = m?.[1] ?? '';
    let ns = m?.[2] !== undefined ? decodeURIComponent(m[2]) : undefined;
    let resource = m?.[3];
    let name = m?.[4] !== undefined ? decodeURIComponent(m[4]) : undefined;
    // /api/v1/namespaces/NAME is the namespace itself.
    if (m && resource === 'namespaces' && ns === undefined) group = '';
    if (m && ns !== undefined && resource === undefined) {
      resource = 'namespaces';
      name = ns;
      ns = undefined;
    }
    const r = RESOURCES.find((x) => x.name === resource && x.group === group);
    if (!m || !r || !this.served(r) || m[5]) return this.send(res, 404, '404 page not found\n');
    const verb =
      method === 'GET'
        ? name
          ? 'get'
          : 'list'
        : method === 'POST'
          ? 'create'
          : method === 'DELETE'
            ? 'delete'
            : method === 'PATCH'
              ? 'patch'
              : 'update';
    const deny = this.denied(verb, r.name, r.namespaced ? ns : undefined, name);
    if (deny) return this.send(res, 403, deny);
    const items = this.store.get(r.name) as Obj[];
    const groupVersion = r.group ? `${r.group}/v1` : 'v1';

    if (method === 'GET' && !name) {
      const selected = items.filter(
        (o) =>
          (ns === undefined || o.metadata.namespace === ns) &&
          labelsMatch(o.metadata.labels, url.searchParams.get('labelSelector')) &&
          this.fieldsMatch(o, url.searchParams.get('fieldSelector')),
      );
      const limit = Math.min(
        Number(url.searchParams.get('limit') || selected.length || 1),
        this.o.maxPage ?? Number.POSITIVE_INFINITY,
      );
      let offset = 0;
      const token = url.searchParams.get('continue');
      if (token) {
        let parsed: { rv?: string; start?: number } | undefined;
        try {
          parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
        } catch {
          parsed = undefined;
        }
        if (!parsed || this.o.expireNextContinue) {
          this.o.expireNextContinue = false;
          return this.send(
            res,
            410,
            status(
              410,
              'Expired',
              'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
            ),
          );
        }
        offset = parsed.start ?? 0;
      }
      const page = selected.slice(offset, offset + limit).map((o) => {
        const { kind: _k, apiVersion: _a, ...rest } = o;
        return rest;
      });
      const metadata: Record<string, unknown> = { resourceVersion: String(this.rv) };
      if (offset + limit < selected.length) {
        metadata.continue = Buffer.from(
          JSON.stringify({ v: 'meta.k8s.io/v1', rv: this.rv, start: offset + limit }),
        ).toString('base64');
        metadata.remainingItemCount = selected.length - offset - limit;
      }
      return this.send(res, 200, { kind: `${r.kind}List`, apiVersion: groupVersion, metadata, items: page });
    }
    if (method === 'GET' && name) {
      const o = this.find(r.name, r.namespaced ? ns : undefined, name);
      if (!o)
        return this.send(res, 404, status(404, 'NotFound', `${r.name} "${name}" not found`, { name, kind: r.name }));
      return this.send(res, 200, o);
    }
    if (method === 'POST' && !name) {
      const o = (await this.body(req)) as Obj;
      if (r.namespaced) o.metadata.namespace = ns;
      if (r.name === 'namespaces' || r.name === 'pods') {
        if (this.find(r.name, r.namespaced ? ns : undefined, o.metadata.name))
          return this.send(
            res,
            409,
            status(409, 'AlreadyExists', `${r.name} "${o.metadata.name}" already exists`, {
              name: o.metadata.name,
              kind: r.name,
            }),
          );
        if (r.namespaced && !this.find('namespaces', undefined, ns as string))
          return this.send(
            res,
            404,
            status(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' }),
          );
      }
      o.kind = r.kind;
      o.apiVersion = groupVersion;
      this.stamp(o);
      if (r.name === 'namespaces') {
        o.metadata.labels = { ...o.metadata.labels, 'kubernetes.io/metadata.name': o.metadata.name };
        o.spec = { finalizers: ['kubernetes'] };
        o.status = { phase: 'Active' };
      }
      if (r.name === 'pods') {
        const refused = this.podSecurityViolations(o);
        if (refused) return this.send(res, 403, refused);
        this.admitPod(o);
      }
      items.push(o);
      return this.send(res, 201, o);
    }
    if (method === 'PATCH' && name) {
      const o = this.find(r.name, r.namespaced ? ns : undefined, name);
      if (!o)
        return this.send(res, 404, status(404, 'NotFound', `${r.name} "${name}" not found`, { name, kind: r.name }));
      const patch = (await this.body(req)) as { metadata?: { labels?: Record<string, string> } };
      o.metadata.labels = { ...o.metadata.labels, ...patch.metadata?.labels };
      this.stamp(o);
      return this.send(res, 200, o);
    }
    if (method === 'DELETE' && name) {
      const i = items.findIndex((x) => x.metadata.name === name && (!r.namespaced || x.metadata.namespace === ns));
      if (i < 0)
        return this.send(res, 404, status(404, 'NotFound', `${r.name} "${name}" not found`, { name, kind: r.name }));
      const [o] = items.splice(i, 1);
      if (r.name === 'pods') {
        for (const e of this.execs.get(`${ns}/${name}`) ?? []) this.kill(e);
        // The kubelet's part: its processes killed, its network namespace gone, before the answer.
        const sb = this.sandboxes.get(`${ns}/${name}`);
        if (sb) await this.teardown(sb);
      }
      return this.send(res, 200, o);
    }
    return this.send(
      res,
      405,
      status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
    );
  }

  /** The Status Pod Security admission answers for a pod its namespace's level forbids (baseline checks only). */
  private podSecurityViolations(pod: Obj): Obj | undefined {
    if (!this.o.podSecurity) return undefined;
    const ns = this.find('namespaces', undefined, pod.metadata.namespace as string);
    const level = ns?.metadata.labels?.['pod-security.kubernetes.io/enforce'] ?? 'baseline';
    if (level === 'privileged') return undefined;
    const spec = pod.spec as {
      hostNetwork?: boolean;
      hostPID?: boolean;
      volumes?: { name: string; hostPath?: unknown }[];
      containers: { name: string; securityContext?: { privileged?: boolean } }[];
    };
    const v: string[] = [];
    const hostNs = [spec.hostNetwork ? 'hostNetwork=true' : '', spec.hostPID ? 'hostPID=true' : ''].filter(Boolean);
    if (hostNs.length) v.push(`host namespaces (${hostNs.join(', ')})`);
    const hp = (spec.volumes ?? []).filter((x) => x.hostPath).map((x) => `"${x.name}"`);
    if (hp.length) v.push(`hostPath volumes (volume${hp.length > 1 ? 's' : ''} ${hp.join(', ')})`);
    const priv = spec.containers.filter((c) => c.securityContext?.privileged).map((c) => `"${c.name}"`);
    if (priv.length)
      v.push(
        `privileged (container${priv.length > 1 ? 's' : ''} ${priv.join(', ')} must not set securityContext.privileged=true)`,
      );
    if (!v.length) return undefined;
    return status(
      403,
      'Forbidden',
      `pods "${pod.metadata.name}" is forbidden: violates PodSecurity "${level}:latest": ${v.join(', ')}`,
      { name: pod.metadata.name, kind: 'pods' },
    );
  }

  private fieldsMatch(o: Obj, selector: string | null): boolean {
    if (!selector) return true;
    return selector.split(',').every((req) => {
      const [k, v] = req.split('=');
      if (k === 'metadata.name') return o.metadata.name === v;
      if (k === 'metadata.namespace') return o.metadata.namespace === v;
      if (k === 'spec.nodeName') return (o.spec as { nodeName?: string })?.nodeName === v;
      return true;
    });
  }

  /** The kubelet's view of a new pod: Pending, then Running (or stuck, or ErrImagePull), then Succeeded. */
  private admitPod(pod: Obj): void {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    this.created.push(key);
    const spec = pod.spec as PodSpec;
    defaultPodSpec(spec);
    pod.status = { phase: 'Pending', qosClass: 'Burstable' };
    const node = spec.nodeName;
    if (!node || !this.find('nodes', undefined, node) || this.o.deadNodes?.has(node)) return; // no kubelet picks it up
    const nodeIp = ((this.find('nodes', undefined, node)?.status as { addresses?: { address: string }[] })?.addresses ??
      [])[0]?.address;
    pod.status = {
      phase: 'Pending',
      hostIP: nodeIp,
      ...(nodeIp ? { hostIPs: [{ ip: nodeIp }] } : {}),
      startTime: now(),
      conditions: [condition('PodScheduled', true)],
      containerStatuses: spec.containers.map((c) => waiting(c, { reason: 'ContainerCreating' })),
      qosClass: 'Burstable',
    };
    this.later(pod, this.o.startDelayMs ?? 150, () => this.track(this.startPod(pod, node, nodeIp)));
  }

  /** Runs `fn` after `ms` unless the pod is gone by then (or the server closed). */
  private later(pod: Obj, ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.alive(pod)) fn();
    }, ms);
    this.timers.add(t);
  }

  /** The pod object is still the stored one (not deleted, the server not closed). */
  private alive(pod: Obj): boolean {
    return !this.closed && this.find('pods', pod.metadata.namespace, pod.metadata.name) === pod;
  }

  /** Kubelet work close() must wait for; its failure is recorded, never thrown. */
  private track(work: Promise<void>): void {
    const p = work.catch((e) => {
      this.kubeletErrors.push(String((e as Error)?.message ?? e));
    });
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** The pod's sandbox (its own namespace, or its node's), its containers started, Running. */
  private async startPod(pod: Obj, node: string, nodeIp: string | undefined): Promise<void> {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const spec = pod.spec as PodSpec;
    const st = pod.status as Record<string, unknown>;
    this.stamp(pod);
    const unpullable = spec.containers.filter((c) => this.o.unpullable?.(c.image));
    if (unpullable.length) {
      st.containerStatuses = spec.containers.map((c) =>
        unpullable.includes(c)
          ? waiting(c, {
              reason: 'ErrImagePull',
              message: `failed to pull and unpack image "${c.image}": failed to resolve reference "${c.image}": ${c.image}: not found`,
            })
          : waiting(c, { reason: 'ContainerCreating' }),
      );
      return;
    }
    const sb: Sandbox = {
      key,
      netns: this.o.nodeNetns.get(node) as string,
      hostname: node,
      procs: new Map(),
      torn: false,
    };
    const plan = this.o.labPlan;
    if (plan && !spec.hostNetwork && plan.nodes.some((n) => n.name === node)) {
      try {
        sb.attached = await attachPod(plan, node, pod.metadata.namespace as string);
      } catch (e) {
        const why = (e as Error).message;
        this.kubeletErrors.push(`${key}: no pod network namespace: ${why}`);
        st.containerStatuses = spec.containers.map((c) =>
          waiting(c, { reason: 'ContainerCreating', message: `Failed to create pod sandbox: ${why}` }),
        );
        this.stamp(pod);
        return;
      }
      sb.netns = sb.attached.netns;
      sb.hostname = pod.metadata.name;
    }
    this.sandboxes.set(key, sb);
    if (!this.alive(pod)) {
      await this.teardown(sb);
      return;
    }
    const podIp = sb.attached?.ip ?? nodeIp;
    const startedAt = now();
    st.phase = 'Running';
    st.podIP = podIp;
    st.podIPs = podIp ? [{ ip: podIp }] : [];
    st.containerStatuses = spec.containers.map((c) => ({
      name: c.name,
      image: c.image,
      imageID: `${c.image}@sha256:${'0'.repeat(64)}`,
      containerID: `containerd://${'1'.repeat(64)}`,
      ready: !c.readinessProbe,
      restartCount: 0,
      started: true,
      lastState: {},
      state: { running: { startedAt } },
    }));
    for (const c of spec.containers) {
      const sleepS = sleepSeconds(c);
      if (sleepS !== undefined) {
        this.later(pod, sleepS * 1000, () => this.containerExited(pod, c.name, 0));
        continue;
      }
      const argv = [...(c.command ?? []), ...(c.args ?? [])];
      // No command: the image's entrypoint, which the fake does not have; the container just "runs".
      if (argv.length) this.startProcess(pod, sb, c, argv);
    }
    this.setConditions(pod);
    this.stamp(pod);
    for (const c of spec.containers) if (c.readinessProbe) this.track(this.probeReady(pod, sb, c));
  }

  private logDir(): string {
    if (this.o.logDir) {
      mkdirSync(this.o.logDir, { recursive: true });
      return this.o.logDir;
    }
    this.logDirMade ??= mkdtempSync(join(tmpdir(), 'netdoctor-fake-kubelet-'));
    return this.logDirMade;
  }

  /** A container's command as a detached process (its own process group) in the sandbox's namespace. */
  private startProcess(pod: Obj, sb: Sandbox, c: Container, argv: string[]): void {
    const spec = pod.spec as PodSpec;
    const fd = openSync(join(this.logDir(), `${pod.metadata.namespace}_${pod.metadata.name}_${c.name}.log`), 'a');
    let child: ChildProcess;
    try {
      child = spawn(
        'ip',
        ['netns', 'exec', sb.netns, 'unshare', '--uts', 'sh', '-c', SET_HOSTNAME, sb.hostname, ...argv],
        {
          env: this.containerEnv(spec, c, sb.hostname),
          detached: true,
          stdio: ['ignore', fd, fd],
        },
      );
    } finally {
      closeSync(fd);
    }
    sb.procs.set(c.name, child);
    const exited = (code: number) => {
      if (!sb.torn) this.containerExited(pod, c.name, code);
    };
    child.on('error', (e) => {
      this.kubeletErrors.push(`${sb.key}: container ${c.name} did not start: ${e.message}`);
      exited(128);
    });
    child.on('exit', (code, signal) => exited(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 9) : 9)));
  }

  /** A container ended: terminated; the pod Succeeded (all exited 0) or Failed once every container has ended. */
  private containerExited(pod: Obj, container: string, exitCode: number): void {
    if (!this.alive(pod)) return;
    const st = pod.status as { phase?: string; containerStatuses?: ContainerStatus[] };
    const statuses = st.containerStatuses ?? [];
    const cs = statuses.find((x) => x.name === container);
    if (!cs || cs.state.terminated) return;
    cs.state = {
      terminated: {
        exitCode,
        reason: exitCode === 0 ? 'Completed' : 'Error',
        startedAt: cs.state.running?.startedAt ?? now(),
        finishedAt: now(),
        ...(cs.containerID ? { containerID: cs.containerID } : {}),
      },
    };
    cs.ready = false;
    cs.started = false;
    if (statuses.every((x) => x.state.terminated))
      st.phase = statuses.every((x) => x.state.terminated?.exitCode === 0) ? 'Succeeded' : 'Failed';
    this.setConditions(pod);
    this.stamp(pod);
  }

  /** The pod's conditions from its phase and its containers' readiness (as the kubelet's status manager sets them). */
  private setConditions(pod: Obj): void {
    const st = pod.status as { phase?: string; containerStatuses?: ContainerStatus[]; conditions?: Condition[] };
    const statuses = st.containerStatuses ?? [];
    const done = st.phase === 'Succeeded' || st.phase === 'Failed';
    const ready = st.phase === 'Running' && statuses.every((x) => x.ready);
    const notReady = statuses.filter((x) => !x.ready).map((x) => x.name);
    const reason = done ? 'PodCompleted' : 'ContainersNotReady';
    const message = done ? undefined : `containers with unready status: [${notReady.join(' ')}]`;
    const next = [
      condition('PodReadyToStartContainers', !done),
      condition('Initialized', true, done ? reason : undefined),
      condition('Ready', ready, ready ? undefined : reason, ready ? undefined : message),
      condition('ContainersReady', ready, ready ? undefined : reason, ready ? undefined : message),
      condition('PodScheduled', true),
    ];
    // A condition keeps its transition time while its status does not change.
    for (const c of next) {
      const old = st.conditions?.find((x) => x.type === c.type);
      if (old && old.status === c.status) c.lastTransitionTime = old.lastTransitionTime;
    }
    st.conditions = next;
  }

  /** Polls a container's readinessProbe (tcpSocket: the port listens in the pod's namespace) until it passes. */
  private async probeReady(pod: Obj, sb: Sandbox, c: Container): Promise<void> {
    const probe = c.readinessProbe?.tcpSocket?.port;
    const port = typeof probe === 'string' ? c.ports?.find((p) => p.name === probe)?.containerPort : probe;
    const cs = () =>
      ((pod.status as { containerStatuses?: ContainerStatus[] }).containerStatuses ?? []).find(
        (x) => x.name === c.name,
      );
    const pass = (ok: boolean) => {
      const s = cs();
      if (!s?.state.running || !this.alive(pod)) return;
      s.ready = ok;
      this.setConditions(pod);
      this.stamp(pod);
    };
    // Other probe kinds (exec, httpGet) are not run: such a container is ready once it started.
    if (port === undefined) return pass(!c.readinessProbe?.tcpSocket);
    const timeoutMs = this.o.readyTimeoutMs ?? 20_000;
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
      if (sb.torn || !this.alive(pod) || !cs()?.state.running) return;
      const r = await run('ip', ['netns', 'exec', sb.netns, 'ss', '-Hltn', 'sport', '=', `:${port}`], {
        timeoutMs: 5_000,
      });
      if (r.status === 0 && r.stdout.trim()) return pass(true);
      await sleep(100);
    }
    this.kubeletErrors.push(
      `${sb.key}: container ${c.name} not ready: nothing listens on TCP port ${port} after ${timeoutMs / 1000} s` +
        ` (${this.containerLog(pod.metadata.namespace as string, pod.metadata.name, c.name)
          .trim()
          .slice(-300)})`,
    );
  }

  /** Kills a pod's processes (by process group), waits for them, and removes its own namespace. */
  private teardown(sb: Sandbox): Promise<void> {
    sb.down ??= (async () => {
      sb.torn = true;
      if (this.sandboxes.get(sb.key) === sb) this.sandboxes.delete(sb.key);
      const waits: Promise<void>[] = [];
      for (const child of sb.procs.values()) {
        if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
        waits.push(
          new Promise<void>((resolve) => {
            const t = setTimeout(resolve, 5_000);
            child.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
          }),
        );
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await Promise.all(waits);
      if (sb.attached) await detachPod(sb.attached);
    })();
    return sb.down;
  }

  /** The env of an exec'd command or a container's process: the container's env on this machine's PATH. */
  private containerEnv(spec: PodSpec, container: Container | undefined, hostname: string): Record<string, string> {
    const node = spec.nodeName as string;
    const path = (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter);
    // `node` resolves to the node running these tests when it is not on PATH already.
    if (!path.includes(dirname(process.execPath))) path.push(dirname(process.execPath));
    const binDir = this.o.nodePath?.get(node);
    if (binDir) path.unshift(binDir);
    const env: Record<string, string> = { PATH: path.join(delimiter), HOME: '/root', HOSTNAME: hostname };
    const root = this.o.nodeRoots?.get(node);
    for (const e of container?.env ?? []) {
      let v = e.value ?? '';
      for (const vm of container?.volumeMounts ?? []) {
        const vol = spec.volumes?.find((x) => x.name === vm.name);
        if (vol?.hostPath?.path === '/' && root && (v === vm.mountPath || v.startsWith(`${vm.mountPath}/`)))
          v = root + v.slice(vm.mountPath.length);
      }
      env[e.name] = v;
    }
    return env;
  }

  /** The container a request names (`?container=`), or the Status refusing it. */
  private chooseContainer(pod: Obj, container: string | null): string | Obj {
    const names = (pod.spec as PodSpec).containers.map((c) => c.name);
    const name = pod.metadata.name;
    if (container === null || container === '') {
      if (names.length === 1) return names[0] as string;
      return status(
        400,
        'BadRequest',
        `a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]`,
      );
    }
    if (!names.includes(container))
      return status(400, 'BadRequest', `container ${container} is not valid for pod ${name}`);
    return container;
  }

  private kill(e: Exec): void {
    if (e.child.pid && e.child.exitCode === null) {
      try {
        process.kill(-e.child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): unknown {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
    const reject = (code: number, body: Obj | string) => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      socket.end(
        `HTTP/1.1 ${code} ${code === 401 ? 'Unauthorized' : code === 403 ? 'Forbidden' : code === 404 ? 'Not Found' : 'Bad Request'}\r\nContent-Type: ${typeof body === 'string' ? 'text/plain' : 'application/json'}\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
      );
    };
    this.requests.push(`UPGRADE ${url.pathname}`);
    if (!this.authenticated(req)) return reject(401, status(401, 'Unauthorized', 'Unauthorized'));
    if (!m) return reject(404, '404 page not found\n');
    const ns = decodeURIComponent(m[1] as string);
    const name = decodeURIComponent(m[2] as string);
    const deny = this.denied('create', 'pods/exec', ns, name);
    if (deny) return reject(403, deny);
    const pod = this.find('pods', ns, name);
    if (!pod) return reject(404, status(404, 'NotFound', `pods "${name}" not found`, { name, kind: 'pods' }));
    const phase = (pod.status as { phase?: string }).phase;
    if (phase !== 'Running')
      return reject(400, status(400, 'BadRequest', `pod ${name} is not running (phase ${phase})`));
    const command = url.searchParams.getAll('command');
    if (command.length === 0) return reject(400, status(400, 'BadRequest', 'you must specify at least 1 command'));
    const container = this.chooseContainer(pod, url.searchParams.get('container'));
    if (typeof container !== 'string') return reject(400, container);
    const cs = ((pod.status as { containerStatuses?: ContainerStatus[] }).containerStatuses ?? []).find(
      (x) => x.name === container,
    );
    if (cs && !cs.state.running)
      return reject(
        400,
        status(400, 'BadRequest', `unable to upgrade connection: container not found ("${container}")`),
      );
    this.wss.handleUpgrade(req, socket, head, (ws) =>
      this.runExec(ws, pod, container, command, url.searchParams.get('stdin') === 'true'),
    );
  }

  private runExec(ws: WebSocket, pod: Obj, containerName: string, command: string[], stdin: boolean): void {
    const spec = pod.spec as PodSpec & { nodeName: string };
    const sb = this.sandboxes.get(`${pod.metadata.namespace}/${pod.metadata.name}`);
    // A pod of the pod network runs in its own namespace, with its own hostname; a hostNetwork pod in its node's.
    const netns = sb?.netns ?? (this.o.nodeNetns.get(spec.nodeName) as string);
    const hostname = sb?.hostname ?? spec.nodeName;
    const container = spec.containers.find((c) => c.name === containerName);
    const env = this.containerEnv(spec, container, hostname);
    const base64 = ws.protocol.includes('base64');
    const out = (channel: number, data: Buffer) => {
      if (ws.readyState !== ws.OPEN) return;
      if (base64) ws.send(`${channel}${data.toString('base64')}`);
      else ws.send(Buffer.concat([Buffer.from([channel]), data]));
    };
    // The pod's hostname (a UTS namespace of its own): node X's for a hostNetwork pod on X, else the pod's name.
    const child = spawn(
      'ip',
      ['netns', 'exec', netns, 'unshare', '--uts', 'sh', '-c', SET_HOSTNAME, hostname, ...command],
      {
        env,
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    const exec: Exec = { child };
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (!this.execs.has(key)) this.execs.set(key, new Set());
    this.execs.get(key)?.add(exec);
    child.stdin.on('error', () => {});
    if (!stdin) child.stdin.end();
    child.stdout.on('data', (c: Buffer) => out(1, c));
    child.stderr.on('data', (c: Buffer) => out(2, c));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      let channel: number;
      let payload: Buffer;
      if (isBinary) {
        channel = data[0] as number;
        payload = data.subarray(1);
      } else {
        channel = (data[0] as number) - 0x30;
        payload = Buffer.from(data.subarray(1).toString('latin1'), 'base64');
      }
      if (channel === 0 && stdin) child.stdin.write(payload);
      else if (channel === 255 && payload[0] === 0 && ws.protocol === 'v5.channel.k8s.io') child.stdin.end();
    });
    ws.on('close', () => this.kill(exec));
    child.on('error', () => {});
    child.on('close', (code, signal) => {
      this.execs.get(key)?.delete(exec);
      const st =
        code === 0
          ? { metadata: {}, status: 'Success' }
          : {
              metadata: {},
              status: 'Failure',
              message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${code ?? 137}`,
              reason: 'NonZeroExitCode',
              details: { causes: [{ reason: 'ExitCode', message: String(code ?? (signal ? 137 : 1)) }] },
            };
      out(3, Buffer.from(JSON.stringify(st)));
      if (ws.readyState === ws.OPEN) ws.close(1000);
    });
  }
}

/** A self-signed certificate for 127.0.0.1 (openssl), valid one day. */
function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'netdoctor-fake-tls-'));
  try {
    const r = spawnSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1']
        .concat(['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=fake-apiserver'])
        .concat(['-addext', 'subjectAltName=IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:TRUE'])
        .concat(['-addext', 'keyUsage=critical,digitalSignature,keyCertSign']),
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`openssl could not make a certificate: ${r.stderr || r.error}`);
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A kubeconfig for the fake server (YAML, as kubectl writes it), trusting its certificate. */
export function kubeconfigFor(url: string, token: string, caPem: string, context = 'fake'): string {
  return `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}
    server: ${url}
  name: ${context}-cluster
contexts:
- context:
    cluster: ${context}-cluster
    user: ${context}-user
  name: ${context}
current-context: ${context}
preferences: {}
users:
- name: ${context}-user
  user:
    token: ${token}
`;
}
