/**
 * Typed views of the Pods, Nodes and Namespaces of a bundle, and lookups by name and IP. Built once per cluster
 * (cached on the object list), so a trace over thousands of flows does not rescan the objects.
 */
import { normalizeIp } from '../core/ip.js';
import type { ClusterModel } from '../model/cluster.js';
import type { KubeObject, NodeAddress } from '../model/kube.js';
import { closeMatches, NotFoundError } from './names.js';
import type { Labels } from './selectors.js';

/** Anything that holds the bundle's objects: a ClusterModel, or a bare list in tests. */
export type KubeSource = Pick<ClusterModel, 'objects'>;

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export function asProtocol(p: unknown): Protocol {
  const s = typeof p === 'string' ? p.toUpperCase() : 'TCP';
  return s === 'UDP' || s === 'SCTP' ? s : 'TCP';
}

export interface ContainerPort {
  container: string;
  /** An IANA_SVC_NAME, unique in the pod; what a named targetPort or NetworkPolicy port refers to. */
  name?: string;
  containerPort: number;
  protocol: Protocol;
  hostPort?: number;
}

export interface PodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface PodInfo {
  namespace: string;
  name: string;
  labels: Labels;
  /** status.podIP, normalised (IPv6 in canonical form). */
  ip?: string;
  /** status.podIPs (dual stack), normalised; includes `ip`. */
  ips: string[];
  nodeName?: string;
  /** status.hostIP: the node's address (also the pod's own address when hostNetwork). */
  hostIP?: string;
  hostNetwork: boolean;
  phase?: string;
  /** The Ready condition: true, false, or undefined when the pod has no status. */
  ready: boolean | undefined;
  /** The pod is being deleted (metadata.deletionTimestamp). */
  terminating: boolean;
  conditions: PodCondition[];
  containerPorts: ContainerPort[];
  object: KubeObject;
}

export interface NodeInfo {
  name: string;
  /** The InternalIP (else the first address), normalised. */
  internalIP?: string;
  /** Every status.addresses IP, normalised (hostnames left out). */
  ips: string[];
  podCIDRs: string[];
  labels: Labels;
  ready: boolean | undefined;
  unschedulable: boolean;
  object: KubeObject;
}

export interface NamespaceInfo {
  name: string;
  /** The Namespace object's labels, or only the `kubernetes.io/metadata.name` label the API server sets on every one. */
  labels: Labels;
  /** False when the bundle has no Namespace object for it and the labels are implied. */
  fromObject: boolean;
}

const asRecord = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const asString = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const ip = (v: unknown): string | undefined => {
  const s = asString(v);
  return s ? (normalizeIp(s) ?? s) : undefined;
};

export function podInfo(o: KubeObject): PodInfo {
  const spec = asRecord(o.spec);
  const status = asRecord(o.status);
  const ips = asArray(status.podIPs)
    .map((p) => ip(asRecord(p).ip))
    .filter((s): s is string => !!s);
  const primary = ip(status.podIP) ?? ips[0];
  if (primary && !ips.includes(primary)) ips.unshift(primary);
  const conditions: PodCondition[] = asArray(status.conditions).map((c) => {
    const r = asRecord(c);
    const reason = asString(r.reason);
    const message = asString(r.message);
    return {
      type: String(r.type ?? ''),
      status: String(r.status ?? ''),
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
    };
  });
  const readyCond = conditions.find((c) => c.type === 'Ready');
  const containerPorts: ContainerPort[] = [];
  // Init containers' ports are not serving ports; sidecars (restartPolicy Always) are.
  const containers = [
    ...asArray(spec.containers),
    ...asArray(spec.initContainers).filter((c) => asRecord(c).restartPolicy === 'Always'),
  ];
  for (const c of containers) {
    const cr = asRecord(c);
    for (const p of asArray(cr.ports)) {
      const pr = asRecord(p);
      const n = Number(pr.containerPort);
      if (!Number.isInteger(n)) continue;
      const name = asString(pr.name);
      const hostPort = Number(pr.hostPort);
      containerPorts.push({
        container: String(cr.name ?? ''),
        ...(name ? { name } : {}),
        containerPort: n,
        protocol: asProtocol(pr.protocol),
        ...(Number.isInteger(hostPort) && hostPort > 0 ? { hostPort } : {}),
      });
    }
  }
  const nodeName = asString(spec.nodeName);
  const hostIP = ip(status.hostIP);
  const phase = asString(status.phase);
  return {
    namespace: o.metadata.namespace ?? 'default',
    name: o.metadata.name,
    labels: o.metadata.labels ?? {},
    ...(primary ? { ip: primary } : {}),
    ips,
    ...(nodeName ? { nodeName } : {}),
    ...(hostIP ? { hostIP } : {}),
    hostNetwork: spec.hostNetwork === true,
    ...(phase ? { phase } : {}),
    ready: readyCond ? readyCond.status === 'True' : undefined,
    terminating: !!(o.metadata as unknown as Record<string, unknown>).deletionTimestamp,
    conditions,
    containerPorts,
    object: o,
  };
}

export function nodeInfo(o: KubeObject): NodeInfo {
  const spec = asRecord(o.spec);
  const status = asRecord(o.status);
  const addrs = asArray(status.addresses) as NodeAddress[];
  const ips = addrs
    .filter((a) => a && a.type !== 'Hostname' && a.type !== 'InternalDNS' && a.type !== 'ExternalDNS')
    .map((a) => ip(a.address))
    .filter((s): s is string => !!s && normalizeIp(s) !== undefined);
  const internal = ip(addrs.find((a) => a?.type === 'InternalIP')?.address) ?? ips[0];
  const podCIDRs = asArray(spec.podCIDRs).map(String);
  const podCIDR = asString(spec.podCIDR);
  if (podCIDR && !podCIDRs.includes(podCIDR)) podCIDRs.unshift(podCIDR);
  const readyCond = asArray(status.conditions)
    .map(asRecord)
    .find((c) => c.type === 'Ready');
  return {
    name: o.metadata.name,
    ...(internal ? { internalIP: internal } : {}),
    ips,
    podCIDRs,
    labels: o.metadata.labels ?? {},
    ready: readyCond ? readyCond.status === 'True' : undefined,
    unschedulable: spec.unschedulable === true,
    object: o,
  };
}

/** The objects of a bundle, indexed. */
export class KubeIndex {
  readonly pods: PodInfo[];
  readonly nodes: NodeInfo[];
  readonly services: KubeObject[];
  readonly endpointSlices: KubeObject[];
  readonly endpoints: KubeObject[];
  readonly networkPolicies: KubeObject[];
  private readonly namespaceObjects = new Map<string, KubeObject>();
  private readonly podsByKey = new Map<string, PodInfo>();
  private readonly podsByIp = new Map<string, PodInfo[]>();

  constructor(readonly objects: readonly KubeObject[]) {
    const of = (kind: string) => objects.filter((o) => o.kind === kind);
    this.pods = of('Pod').map(podInfo);
    this.nodes = of('Node').map(nodeInfo);
    this.services = of('Service');
    this.endpointSlices = of('EndpointSlice');
    this.endpoints = of('Endpoints');
    this.networkPolicies = of('NetworkPolicy');
    for (const n of of('Namespace')) this.namespaceObjects.set(n.metadata.name, n);
    for (const p of this.pods) {
      this.podsByKey.set(`${p.namespace}/${p.name}`, p);
      for (const a of p.ips) {
        const list = this.podsByIp.get(a) ?? [];
        list.push(p);
        this.podsByIp.set(a, list);
      }
    }
  }

  pod(namespace: string, name: string): PodInfo | undefined {
    return this.podsByKey.get(`${namespace}/${name}`);
  }

  podsIn(namespace: string): PodInfo[] {
    return this.pods.filter((p) => p.namespace === namespace);
  }

  /** Pods holding this IP, live pod-network pods first (hostNetwork pods share their node's address). */
  podsWithIp(address: string): PodInfo[] {
    const key = normalizeIp(address) ?? address;
    const list = this.podsByIp.get(key) ?? [];
    return [...list].sort((a, b) => rankPod(a) - rankPod(b));
  }

  node(name: string): NodeInfo | undefined {
    return this.nodes.find((n) => n.name === name);
  }

  namespace(name: string): NamespaceInfo {
    const o = this.namespaceObjects.get(name);
    return {
      name,
      // The API server has set this label on every namespace since 1.21 (and it cannot be changed).
      labels: { ...(o?.metadata.labels ?? {}), 'kubernetes.io/metadata.name': name },
      fromObject: !!o,
    };
  }

  /** Every namespace the bundle mentions (objects and Namespace objects). */
  namespaceNames(): string[] {
    const s = new Set<string>(this.namespaceObjects.keys());
    for (const o of this.objects) if (o.metadata.namespace) s.add(o.metadata.namespace);
    return [...s].sort();
  }

  get hasNamespaceObjects(): boolean {
    return this.namespaceObjects.size > 0;
  }
}

/** Live pod-network pods first, then host-network ones, then finished (Succeeded/Failed) pods whose IP may be reused. */
function rankPod(p: PodInfo): number {
  if (p.phase === 'Succeeded' || p.phase === 'Failed') return 2;
  return p.hostNetwork ? 1 : 0;
}

const cache = new WeakMap<readonly KubeObject[], KubeIndex>();

/** The index of a cluster's objects (built once per object list). */
export function kubeIndex(cluster: KubeSource): KubeIndex {
  let idx = cache.get(cluster.objects);
  if (!idx) {
    idx = new KubeIndex(cluster.objects);
    cache.set(cluster.objects, idx);
  }
  return idx;
}

/** A pod by namespace and name; NotFoundError with close matches (same namespace first) when absent. */
export function findPod(cluster: KubeSource, namespace: string, name: string): PodInfo {
  const idx = kubeIndex(cluster);
  const p = idx.pod(namespace, name);
  if (p) return p;
  const same = closeMatches(
    name,
    idx.podsIn(namespace).map((x) => x.name),
  ).map((n) => `${namespace}/${n}`);
  const elsewhere = idx.pods.filter((x) => x.name === name).map((x) => `${x.namespace}/${x.name}`);
  throw new NotFoundError('pod', `${namespace}/${name}`, [...elsewhere, ...same].slice(0, 3));
}

/**
 * The pod that owns an IP on the pod network: a running, non-hostNetwork pod. Host-network pods are left out (the
 * address is their node's), and so are finished pods (their IP may already belong to another pod).
 */
export function podByIp(cluster: KubeSource, address: string): PodInfo | undefined {
  return kubeIndex(cluster)
    .podsWithIp(address)
    .find((p) => !p.hostNetwork && p.phase !== 'Succeeded' && p.phase !== 'Failed');
}

/** A Node object by name; NotFoundError with close matches when absent. */
export function nodeByName(cluster: KubeSource, name: string): NodeInfo {
  const idx = kubeIndex(cluster);
  const n = idx.node(name);
  if (n) return n;
  throw new NotFoundError(
    'node',
    name,
    closeMatches(
      name,
      idx.nodes.map((x) => x.name),
    ),
  );
}

/** The node one of whose status.addresses is this IP. */
export function nodeByIp(cluster: KubeSource, address: string): NodeInfo | undefined {
  const key = normalizeIp(address) ?? address;
  return kubeIndex(cluster).nodes.find((n) => n.ips.includes(key));
}

/** Why a pod is not ready, from its conditions and container statuses, in kubectl's words. */
export function notReadyReasons(pod: PodInfo): string[] {
  const out: string[] = [];
  if (pod.terminating) out.push('terminating (deletionTimestamp set)');
  if (pod.phase && pod.phase !== 'Running') out.push(`phase ${pod.phase}`);
  for (const c of pod.conditions) {
    if (c.status === 'True' || !['Ready', 'ContainersReady', 'PodScheduled', 'Initialized'].includes(c.type)) continue;
    if (c.type === 'Ready' && pod.conditions.some((x) => x.type === 'ContainersReady' && x.status !== 'True')) continue;
    out.push(`${c.type}=${c.status}${c.reason ? ` (${c.reason}${c.message ? `: ${c.message}` : ''})` : ''}`);
  }
  const status = asRecord(pod.object.status);
  for (const cs of [...asArray(status.initContainerStatuses), ...asArray(status.containerStatuses)]) {
    const r = asRecord(cs);
    const state = asRecord(r.state);
    const name = String(r.name ?? '');
    const restarts = Number(r.restartCount ?? 0);
    const waiting = asRecord(state.waiting);
    const terminated = asRecord(state.terminated);
    if (asString(waiting.reason))
      out.push(
        `container ${name} waiting: ${waiting.reason}${asString(waiting.message) ? ` (${waiting.message})` : ''}${restarts ? `, ${restarts} restarts` : ''}`,
      );
    else if (asString(terminated.reason) && r.ready !== true)
      out.push(`container ${name} terminated: ${terminated.reason} (exit code ${terminated.exitCode ?? '?'})`);
    else if (r.ready === false && state.running)
      out.push(
        `container ${name} running but not ready (readiness probe failing?)${restarts ? `, ${restarts} restarts` : ''}`,
      );
  }
  return out;
}
