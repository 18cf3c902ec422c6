/**
 * Services as kube-proxy sees them: the Service's virtual addresses and ports, its endpoints (from EndpointSlices,
 * discovery.k8s.io/v1 or v1beta1; from the Endpoints object on clusters without slices), the pods its selector
 * matches, and each pod's target port (a named targetPort resolved against the pod's container ports, as the
 * endpoints controller does with `podutil.FindPort`: same name and same protocol).
 */
import { normalizeIp, parseIp } from '../core/ip.js';
import type { KubeObject } from '../model/kube.js';
import { closeMatches, NotFoundError } from './names.js';
import { asProtocol, type ContainerPort, type KubeSource, kubeIndex, type PodInfo, type Protocol } from './objects.js';
import { mapSelectorMatches } from './selectors.js';

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
export type TrafficPolicy = 'Cluster' | 'Local';

export interface ServicePort {
  /** '' when the service has a single unnamed port. */
  name: string;
  port: number;
  protocol: Protocol;
  /** A number, or the name of a container port; defaults to `port`. */
  targetPort: number | string;
  nodePort?: number;
  appProtocol?: string;
  /** Position in spec.ports (0-based), for JSON patches. */
  index: number;
}

export interface ServiceInfo {
  namespace: string;
  name: string;
  type: ServiceType;
  /** spec.clusterIP normalised; undefined for headless (`None`) and ExternalName services. */
  clusterIP?: string;
  /** spec.clusterIPs (dual stack), normalised, without `None`. */
  clusterIPs: string[];
  headless: boolean;
  externalName?: string;
  externalIPs: string[];
  /** status.loadBalancer.ingress[].ip */
  loadBalancerIPs: string[];
  ports: ServicePort[];
  /** spec.selector; undefined (or empty) means endpoints are managed by hand. */
  selector?: Record<string, string>;
  externalTrafficPolicy: TrafficPolicy;
  internalTrafficPolicy: TrafficPolicy;
  sessionAffinity: 'None' | 'ClientIP';
  sessionAffinityTimeoutSeconds?: number;
  healthCheckNodePort?: number;
  publishNotReadyAddresses: boolean;
  object: KubeObject;
}

export interface EndpointSource {
  kind: 'EndpointSlice' | 'Endpoints';
  /** The object's name (a slice's generated name, or the Service's name for Endpoints). */
  name: string;
}

export interface ServiceEndpoint {
  /** Normalised address (IPv6 canonical). */
  ip: string;
  family: 4 | 6;
  /** The endpoint's port for this service port (the resolved targetPort); undefined when the object lists none. */
  port?: number;
  protocol: Protocol;
  /** Ready: kube-proxy sends new connections here. Endpoints' notReadyAddresses are not ready. */
  ready: boolean;
  /** Serving: passes readiness even while terminating (kube-proxy falls back to these when nothing is ready). */
  serving: boolean;
  terminating: boolean;
  nodeName?: string;
  zone?: string;
  targetRef?: { kind: string; namespace?: string; name: string };
  /** The pod of targetRef, when the bundle holds it. */
  pod?: PodInfo;
  source: EndpointSource;
}

/** How one selected pod answers one service port. */
export interface PodTarget {
  pod: PodInfo;
  /** The container port the targetPort resolves to on this pod; undefined for a name the pod does not declare. */
  port?: number;
  /** Whether the pod declares the port (name or number, with the service port's protocol). */
  declared: boolean;
  containerPort?: ContainerPort;
}

export interface ResolvedServicePort extends ServicePort {
  endpoints: ServiceEndpoint[];
  /** One entry per selected pod, in the order of `ResolvedService.pods`. */
  targets: PodTarget[];
}

export interface ResolvedService {
  service: ServiceInfo;
  /** The ports asked for (all when no port was given). */
  ports: ResolvedServicePort[];
  /** Pods of the namespace the selector matches (any phase); [] for a service without selector. */
  pods: PodInfo[];
  /** Where the endpoints came from: EndpointSlices when the bundle has any for the service, else Endpoints. */
  endpointSource: 'EndpointSlice' | 'Endpoints' | 'none';
  /** The EndpointSlice/Endpoints objects read. */
  endpointObjects: KubeObject[];
}

const asRecord = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const asString = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const normIp = (s: string): string => normalizeIp(s) ?? s;
const intOrString = (v: unknown): number | string | undefined => {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && v !== '') return /^\d+$/.test(v) ? Number(v) : v;
  return undefined;
};

const parsed = new WeakMap<KubeObject, ServiceInfo>();

/** The typed view of a Service object (parsed once per object). */
export function serviceInfo(o: KubeObject): ServiceInfo {
  let info = parsed.get(o);
  if (!info) {
    info = parseService(o);
    parsed.set(o, info);
  }
  return info;
}

function parseService(o: KubeObject): ServiceInfo {
  const spec = asRecord(o.spec);
  const status = asRecord(o.status);
  const type = (['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const).find((t) => t === spec.type);
  const rawIp = asString(spec.clusterIP);
  const headless = rawIp === 'None';
  const clusterIPs = asArray(spec.clusterIPs)
    .map(String)
    .filter((s) => s !== 'None')
    .map(normIp);
  const clusterIP = rawIp && !headless ? normIp(rawIp) : clusterIPs[0];
  if (clusterIP && !clusterIPs.includes(clusterIP)) clusterIPs.unshift(clusterIP);
  const ports: ServicePort[] = asArray(spec.ports).map((p, index) => {
    const r = asRecord(p);
    const port = Number(r.port);
    const nodePort = Number(r.nodePort);
    const appProtocol = asString(r.appProtocol);
    return {
      name: String(r.name ?? ''),
      port,
      protocol: asProtocol(r.protocol),
      targetPort: intOrString(r.targetPort) ?? port,
      ...(Number.isInteger(nodePort) && nodePort > 0 ? { nodePort } : {}),
      ...(appProtocol ? { appProtocol } : {}),
      index,
    };
  });
  const selector = spec.selector ? (asRecord(spec.selector) as Record<string, string>) : undefined;
  const externalName = asString(spec.externalName);
  const hc = Number(spec.healthCheckNodePort);
  const affinityTimeout = Number(asRecord(asRecord(spec.sessionAffinityConfig).clientIP).timeoutSeconds);
  return {
    namespace: o.metadata.namespace ?? 'default',
    name: o.metadata.name,
    type: type ?? 'ClusterIP',
    ...(clusterIP ? { clusterIP } : {}),
    clusterIPs,
    headless,
    ...(externalName ? { externalName } : {}),
    externalIPs: asArray(spec.externalIPs).map(String).map(normIp),
    loadBalancerIPs: asArray(asRecord(status.loadBalancer).ingress)
      .map((i) => asString(asRecord(i).ip))
      .filter((s): s is string => !!s)
      .map(normIp),
    ports,
    ...(selector ? { selector } : {}),
    externalTrafficPolicy: spec.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
    internalTrafficPolicy: spec.internalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
    sessionAffinity: spec.sessionAffinity === 'ClientIP' ? 'ClientIP' : 'None',
    ...(Number.isFinite(affinityTimeout) ? { sessionAffinityTimeoutSeconds: affinityTimeout } : {}),
    ...(Number.isInteger(hc) && hc > 0 ? { healthCheckNodePort: hc } : {}),
    publishNotReadyAddresses: spec.publishNotReadyAddresses === true,
    object: o,
  };
}

/** A Service by namespace and name, or undefined. */
export function getService(cluster: KubeSource, namespace: string, name: string): ServiceInfo | undefined {
  const o = kubeIndex(cluster).services.find(
    (s) => s.metadata.name === name && (s.metadata.namespace ?? 'default') === namespace,
  );
  return o ? serviceInfo(o) : undefined;
}

/** Every Service of the bundle. */
export function listServices(cluster: KubeSource): ServiceInfo[] {
  return kubeIndex(cluster).services.map(serviceInfo);
}

/** Pods of the service's namespace its selector matches (any phase). */
export function selectedPods(cluster: KubeSource, svc: ServiceInfo): PodInfo[] {
  if (!svc.selector || Object.keys(svc.selector).length === 0) return [];
  return kubeIndex(cluster)
    .podsIn(svc.namespace)
    .filter((p) => mapSelectorMatches(svc.selector, p.labels));
}

/** How a pod answers a service port: `podutil.FindPort` (a name must match a container port's name and protocol). */
export function resolveTargetPort(pod: PodInfo, port: Pick<ServicePort, 'targetPort' | 'protocol'>): PodTarget {
  const tp = port.targetPort;
  if (typeof tp === 'string') {
    const cp = pod.containerPorts.find((c) => c.name === tp && c.protocol === port.protocol);
    return cp ? { pod, port: cp.containerPort, declared: true, containerPort: cp } : { pod, declared: false };
  }
  const cp = pod.containerPorts.find((c) => c.containerPort === tp && c.protocol === port.protocol);
  return { pod, port: tp, declared: !!cp, ...(cp ? { containerPort: cp } : {}) };
}

function sliceServiceName(o: KubeObject): string | undefined {
  return o.metadata.labels?.['kubernetes.io/service-name'];
}

/** Endpoints of one service port from the service's EndpointSlices (v1 and v1beta1 shapes). */
function endpointsFromSlices(slices: KubeObject[], port: ServicePort, pods: Map<string, PodInfo>): ServiceEndpoint[] {
  const out: ServiceEndpoint[] = [];
  for (const s of slices) {
    const addressType = asString(s.addressType);
    if (addressType === 'FQDN') continue;
    // A slice port matches by name and protocol; an unnamed service port is '' (or absent) in the slice.
    const sp = asArray(s.ports)
      .map(asRecord)
      .find((p) => String(p.name ?? '') === port.name && asProtocol(p.protocol) === port.protocol);
    if (asArray(s.ports).length > 0 && !sp) continue;
    const portNum = sp ? Number(sp.port) : Number.NaN;
    for (const e of asArray(s.endpoints)) {
      const r = asRecord(e);
      const first = asString(asArray(r.addresses)[0]);
      const parsed = first ? parseIp(first) : undefined;
      if (!first || !parsed) continue;
      const cond = asRecord(r.conditions);
      // API: a nil `ready` means ready (unknown state is treated as ready); nil `serving` is the same as `ready`.
      const ready = cond.ready !== false;
      const serving = cond.serving === undefined || cond.serving === null ? ready : cond.serving !== false;
      const topology = asRecord(r.topology);
      const nodeName = asString(r.nodeName) ?? asString(topology['kubernetes.io/hostname']) ?? undefined;
      const zone = asString(r.zone) ?? asString(topology['topology.kubernetes.io/zone']) ?? undefined;
      const ref = asRecord(r.targetRef);
      out.push(
        makeEndpoint(first, parsed.family, portNum, port.protocol, ready, serving, cond.terminating === true, {
          nodeName,
          zone,
          ref,
          pods,
          source: { kind: 'EndpointSlice', name: s.metadata.name },
        }),
      );
    }
  }
  return dedupe(out);
}

/** Endpoints of one service port from an Endpoints object (old clusters; slices mirror it on new ones). */
function endpointsFromEndpoints(ep: KubeObject, port: ServicePort, pods: Map<string, PodInfo>): ServiceEndpoint[] {
  const out: ServiceEndpoint[] = [];
  for (const subset of asArray(ep.subsets)) {
    const ss = asRecord(subset);
    const ports = asArray(ss.ports).map(asRecord);
    const sp = ports.find((p) => String(p.name ?? '') === port.name && asProtocol(p.protocol) === port.protocol);
    if (ports.length > 0 && !sp) continue;
    const portNum = sp ? Number(sp.port) : Number.NaN;
    for (const [list, ready] of [
      [ss.addresses, true],
      [ss.notReadyAddresses, false],
    ] as const) {
      for (const a of asArray(list)) {
        const r = asRecord(a);
        const addr = asString(r.ip);
        const parsed = addr ? parseIp(addr) : undefined;
        if (!addr || !parsed) continue;
        out.push(
          makeEndpoint(addr, parsed.family, portNum, port.protocol, ready, ready, false, {
            nodeName: asString(r.nodeName),
            zone: undefined,
            ref: asRecord(r.targetRef),
            pods,
            source: { kind: 'Endpoints', name: ep.metadata.name },
          }),
        );
      }
    }
  }
  return dedupe(out);
}

function makeEndpoint(
  address: string,
  family: 4 | 6,
  port: number,
  protocol: Protocol,
  ready: boolean,
  serving: boolean,
  terminating: boolean,
  extra: {
    nodeName: string | undefined;
    zone: string | undefined;
    ref: Record<string, unknown>;
    pods: Map<string, PodInfo>;
    source: EndpointSource;
  },
): ServiceEndpoint {
  const refName = asString(extra.ref.name);
  const refKind = asString(extra.ref.kind) ?? 'Pod';
  const refNs = asString(extra.ref.namespace);
  const pod = refName && refKind === 'Pod' ? extra.pods.get(`${refNs ?? ''}/${refName}`) : undefined;
  const nodeName = extra.nodeName ?? pod?.nodeName;
  return {
    ip: normIp(address),
    family,
    ...(Number.isInteger(port) ? { port } : {}),
    protocol,
    ready,
    serving,
    terminating,
    ...(nodeName ? { nodeName } : {}),
    ...(extra.zone ? { zone: extra.zone } : {}),
    ...(refName ? { targetRef: { kind: refKind, ...(refNs ? { namespace: refNs } : {}), name: refName } } : {}),
    ...(pod ? { pod } : {}),
    source: extra.source,
  };
}

/** kube-proxy keys endpoints by ip:port; a transition can list one in two slices. The first, ready-most, wins. */
function dedupe(list: ServiceEndpoint[]): ServiceEndpoint[] {
  const seen = new Map<string, ServiceEndpoint>();
  for (const e of list) {
    const k = `${e.ip}|${e.port ?? ''}`;
    const prev = seen.get(k);
    if (!prev || (!prev.ready && e.ready)) seen.set(k, e);
  }
  return [...seen.values()];
}

function portMatches(p: ServicePort, want: number | string | undefined, protocol: Protocol | undefined): boolean {
  if (protocol && p.protocol !== protocol) return false;
  if (want === undefined) return true;
  if (typeof want === 'number') return p.port === want;
  return /^\d+$/.test(want) ? p.port === Number(want) : p.name === want;
}

function formatPorts(svc: ServiceInfo): string {
  return svc.ports.map((p) => `${p.name ? `${p.name} ` : ''}${p.port}/${p.protocol}`).join(', ') || 'no ports';
}

/** The endpoint objects of a service: its EndpointSlices (label kubernetes.io/service-name), else its Endpoints. */
export function endpointObjects(
  cluster: KubeSource,
  svc: Pick<ServiceInfo, 'namespace' | 'name'>,
): { source: ResolvedService['endpointSource']; objects: KubeObject[] } {
  const idx = kubeIndex(cluster);
  const slices = idx.endpointSlices.filter(
    (s) => (s.metadata.namespace ?? 'default') === svc.namespace && sliceServiceName(s) === svc.name,
  );
  if (slices.length) return { source: 'EndpointSlice', objects: slices };
  const ep = idx.endpoints.find(
    (e) => (e.metadata.namespace ?? 'default') === svc.namespace && e.metadata.name === svc.name,
  );
  return ep ? { source: 'Endpoints', objects: [ep] } : { source: 'none', objects: [] };
}

/** Resolve an already-found Service (every port, or those matching `port`/`protocol`). */
export function resolveServiceInfo(
  cluster: KubeSource,
  svc: ServiceInfo,
  port?: number | string,
  protocol?: Protocol,
): ResolvedService {
  const idx = kubeIndex(cluster);
  const pods = selectedPods(cluster, svc);
  const { source, objects } = endpointObjects(cluster, svc);
  const podMap = new Map<string, PodInfo>();
  for (const p of idx.podsIn(svc.namespace)) {
    podMap.set(`${p.namespace}/${p.name}`, p);
    // targetRef without namespace (hand-written Endpoints) means the service's namespace
    podMap.set(`/${p.name}`, p);
  }
  const ports = svc.ports
    .filter((p) => portMatches(p, port, protocol))
    .map((p) => ({
      ...p,
      endpoints:
        source === 'EndpointSlice'
          ? endpointsFromSlices(objects, p, podMap)
          : source === 'Endpoints'
            ? endpointsFromEndpoints(objects[0] as KubeObject, p, podMap)
            : [],
      targets: pods.map((pod) => resolveTargetPort(pod, p)),
    }));
  return { service: svc, ports, pods, endpointSource: source, endpointObjects: objects };
}

/**
 * A Service with its endpoints, selected pods and target ports. `port` is a service port number or name (not the
 * target port, not a nodePort); all ports when absent. NotFoundError (with close matches) for an unknown service or
 * a port the service does not have.
 */
export function resolveService(
  cluster: KubeSource,
  namespace: string,
  name: string,
  port?: number | string,
  protocol?: Protocol,
): ResolvedService {
  const svc = getService(cluster, namespace, name);
  if (!svc) {
    const all = kubeIndex(cluster).services;
    const same = closeMatches(
      name,
      all.filter((s) => (s.metadata.namespace ?? 'default') === namespace).map((s) => s.metadata.name),
    ).map((n) => `${namespace}/${n}`);
    const elsewhere = all
      .filter((s) => s.metadata.name === name)
      .map((s) => `${s.metadata.namespace ?? 'default'}/${s.metadata.name}`);
    throw new NotFoundError('service', `${namespace}/${name}`, [...elsewhere, ...same].slice(0, 3));
  }
  const resolved = resolveServiceInfo(cluster, svc, port, protocol);
  if (port !== undefined && resolved.ports.length === 0) {
    const names = svc.ports.flatMap((p) => [String(p.port), ...(p.name ? [p.name] : [])]);
    throw new NotFoundError(
      'service port',
      `${namespace}/${name}:${port}${protocol ? `/${protocol}` : ''}`,
      closeMatches(String(port), names).map((n) => `${namespace}/${name}:${n}`),
      `it has ${formatPorts(svc)}`,
    );
  }
  return resolved;
}

/** What an address is on the service side: a ClusterIP, an external IP or a load-balancer ingress IP. */
export interface ServiceAddressMatch {
  service: ServiceInfo;
  via: 'clusterIP' | 'externalIP' | 'loadBalancerIP';
}

/** The Service whose ClusterIP (or externalIP / load-balancer IP) is this address. */
export function serviceByIp(cluster: KubeSource, address: string): ServiceAddressMatch | undefined {
  const key = normIp(address);
  for (const o of kubeIndex(cluster).services) {
    const s = serviceInfo(o);
    if (s.clusterIPs.includes(key)) return { service: s, via: 'clusterIP' };
    if (s.externalIPs.includes(key)) return { service: s, via: 'externalIP' };
    if (s.loadBalancerIPs.includes(key)) return { service: s, via: 'loadBalancerIP' };
  }
  return undefined;
}

/** The Service (and port) that owns a nodePort for a protocol. */
export function serviceByNodePort(
  cluster: KubeSource,
  nodePort: number,
  protocol: Protocol = 'TCP',
): { service: ServiceInfo; port: ServicePort } | undefined {
  for (const o of kubeIndex(cluster).services) {
    const s = serviceInfo(o);
    const p = s.ports.find((x) => x.nodePort === nodePort && x.protocol === protocol);
    if (p) return { service: s, port: p };
  }
  return undefined;
}

/** What kube-proxy does with a new connection to a service port arriving at (or leaving from) a node. */
export interface ProxyChoice {
  /** The endpoints kube-proxy load-balances over (every one is a possible branch). */
  endpoints: ServiceEndpoint[];
  /** `ready`: ready endpoints; `terminating`: none ready, so serving-but-terminating ones (kube-proxy ≥ 1.26). */
  using: 'ready' | 'terminating' | 'none';
  /** Whether the choice was restricted to endpoints on the node (externalTrafficPolicy/internalTrafficPolicy Local). */
  localOnly: boolean;
  /**
   * With no endpoint: `reject` (the service has no usable endpoint anywhere: ICMP port unreachable, the client sees
   * "connection refused") or `drop` (traffic policy Local and none on this node: the client sees a timeout).
   */
  whenNone?: 'reject' | 'drop';
}

/**
 * The endpoints kube-proxy (iptables/nftables/ipvs modes, 1.26+) picks for a new connection.
 * `external`: the packet came to a NodePort, an externalIP or a load-balancer IP (externalTrafficPolicy applies);
 * otherwise it is for the ClusterIP (internalTrafficPolicy applies). `node`: where kube-proxy runs — the node that
 * received the packet, or for ClusterIP traffic the node of the client. `family`: the packet's IP family (dual-stack
 * Services list endpoints of both; each family's proxier uses its own).
 */
export function proxyEndpoints(
  svc: Pick<ServiceInfo, 'externalTrafficPolicy' | 'internalTrafficPolicy'>,
  port: Pick<ResolvedServicePort, 'endpoints'>,
  opts: { node?: string; external: boolean; family?: 4 | 6 },
): ProxyChoice {
  const localOnly = opts.external ? svc.externalTrafficPolicy === 'Local' : svc.internalTrafficPolicy === 'Local';
  // kube-proxy runs one proxier per IP family: an IPv4 ClusterIP only ever reaches IPv4 endpoints.
  const endpoints = opts.family ? port.endpoints.filter((e) => e.family === opts.family) : port.endpoints;
  const pick = (list: ServiceEndpoint[]): Omit<ProxyChoice, 'localOnly' | 'whenNone'> => {
    const ready = list.filter((e) => e.ready);
    if (ready.length) return { endpoints: ready, using: 'ready' };
    const serving = list.filter((e) => e.serving && e.terminating);
    if (serving.length) return { endpoints: serving, using: 'terminating' };
    return { endpoints: [], using: 'none' };
  };
  const all = pick(endpoints);
  if (!localOnly) return { ...all, localOnly, ...(all.using === 'none' ? { whenNone: 'reject' as const } : {}) };
  const local = pick(endpoints.filter((e) => e.nodeName !== undefined && e.nodeName === opts.node));
  if (local.using !== 'none') return { ...local, localOnly };
  return { ...local, localOnly, whenNone: all.using === 'none' ? 'reject' : 'drop' };
}

/** The nodes that host at least one endpoint kube-proxy would use for this port (ready, else serving-terminating). */
export function nodesWithLocalEndpoints(port: Pick<ResolvedServicePort, 'endpoints'>): string[] {
  const ready = port.endpoints.filter((e) => e.ready && e.nodeName);
  const nodes = new Set<string>();
  for (const e of ready) nodes.add(e.nodeName as string);
  // Per node, kube-proxy falls back to the node's serving terminating endpoints when it has no ready ones.
  for (const e of port.endpoints) if (e.serving && e.terminating && e.nodeName) nodes.add(e.nodeName);
  return [...nodes].sort();
}

/** Why a Service cannot take a new connection, in the terms the service checks use; `ok` when it can. */
export type ServiceState =
  | 'ok'
  /** ExternalName: a DNS alias, no proxying. */
  | 'external-name'
  /** No selector and no endpoint objects: endpoints are managed by hand and there are none. */
  | 'no-endpoints'
  /** The selector matches no pod of the namespace (and no endpoint exists). */
  | 'selector-matches-nothing'
  /** Endpoints exist (or pods match) but none is ready or serving. */
  | 'no-ready-endpoints'
  /** None ready, but terminating endpoints still serve (kube-proxy falls back to them). */
  | 'terminating-only';

/**
 * The state of a resolved Service (over the ports resolved), with one sentence for a trace or an error message, e.g.
 * `service default/web has no ready endpoint (2 not ready)`.
 */
export function serviceState(resolved: ResolvedService): { state: ServiceState; text: string } {
  const svc = resolved.service;
  const ref = `service ${svc.namespace}/${svc.name}`;
  if (svc.type === 'ExternalName')
    return { state: 'external-name', text: `${ref} is an ExternalName alias for ${svc.externalName ?? '?'}` };
  const eps = resolved.ports.flatMap((p) => p.endpoints);
  if (eps.some((e) => e.ready)) return { state: 'ok', text: `${ref} has ready endpoints` };
  if (eps.some((e) => e.serving && e.terminating))
    return { state: 'terminating-only', text: `${ref} has no ready endpoint; only terminating ones still serve` };
  if (eps.length)
    return { state: 'no-ready-endpoints', text: `${ref} has no ready endpoint (${eps.length} not ready)` };
  const hasSelector = !!svc.selector && Object.keys(svc.selector).length > 0;
  if (!hasSelector) return { state: 'no-endpoints', text: `${ref} has no selector and no endpoints` };
  const live = resolved.pods.filter((p) => p.phase !== 'Succeeded' && p.phase !== 'Failed');
  if (live.length === 0)
    return {
      state: 'selector-matches-nothing',
      text: `${ref} has no endpoints: its selector ${Object.entries(svc.selector ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(',')} matches no pod of namespace ${svc.namespace}`,
    };
  return {
    state: 'no-ready-endpoints',
    text: `${ref} has no endpoints: ${live.length} pod${live.length === 1 ? '' : 's'} match${live.length === 1 ? 'es' : ''} its selector but ${live.length === 1 ? 'is' : 'are'} not endpoints (not ready, no IP, or no such target port)`,
  };
}
