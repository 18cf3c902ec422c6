/** Builders for Kubernetes objects as `kubectl get -o json` prints them, for in-memory bundles. */
import type { KubeObject } from '../../src/model/kube.js';

export interface PodSpec {
  ns?: string;
  labels?: Record<string, string>;
  ip?: string;
  ips?: string[];
  node?: string;
  hostIP?: string;
  hostNetwork?: boolean;
  ready?: boolean;
  phase?: string;
  /** [name?, port, protocol?] */
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
  containerStatuses?: Record<string, unknown>[];
  deleting?: boolean;
}

export function pod(name: string, o: PodSpec = {}): KubeObject {
  const ready = o.ready ?? true;
  const ips = o.ips ?? (o.ip ? [o.ip] : []);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: o.ns ?? 'default',
      labels: o.labels ?? {},
      ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    } as KubeObject['metadata'],
    spec: {
      ...(o.node ? { nodeName: o.node } : {}),
      ...(o.hostNetwork ? { hostNetwork: true } : {}),
      containers: [{ name: 'app', image: 'app:1', ...(o.ports ? { ports: o.ports } : {}) }],
    },
    status: {
      phase: o.phase ?? 'Running',
      ...(o.hostIP ? { hostIP: o.hostIP } : {}),
      ...(ips[0] ? { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) } : {}),
      conditions: o.conditions ?? [
        { type: 'Initialized', status: 'True' },
        { type: 'Ready', status: ready ? 'True' : 'False' },
        { type: 'ContainersReady', status: ready ? 'True' : 'False' },
        { type: 'PodScheduled', status: 'True' },
      ],
      ...(o.containerStatuses ? { containerStatuses: o.containerStatuses } : {}),
    },
  };
}

export interface SvcPort {
  name?: string;
  port: number;
  protocol?: string;
  targetPort?: number | string;
  nodePort?: number;
}

export interface SvcSpec {
  ns?: string;
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  selector?: Record<string, string> | null;
  ports?: SvcPort[];
  externalTrafficPolicy?: string;
  internalTrafficPolicy?: string;
  sessionAffinity?: string;
  externalIPs?: string[];
  lbIPs?: string[];
  publishNotReadyAddresses?: boolean;
}

export function svc(name: string, o: SvcSpec = {}): KubeObject {
  const type = o.type ?? 'ClusterIP';
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: o.ns ?? 'default' },
    spec: {
      type,
      clusterIP: o.clusterIP ?? '10.96.0.100',
      ...(o.clusterIPs ? { clusterIPs: o.clusterIPs } : {}),
      ports: (o.ports ?? [{ port: 80, targetPort: 8080 }]).map((p) => ({ protocol: 'TCP', ...p })),
      ...(o.selector === null ? {} : { selector: o.selector ?? { app: name } }),
      ...(type === 'NodePort' || type === 'LoadBalancer'
        ? { externalTrafficPolicy: o.externalTrafficPolicy ?? 'Cluster' }
        : {}),
      internalTrafficPolicy: o.internalTrafficPolicy ?? 'Cluster',
      sessionAffinity: o.sessionAffinity ?? 'None',
      ...(o.externalIPs ? { externalIPs: o.externalIPs } : {}),
      ...(o.publishNotReadyAddresses ? { publishNotReadyAddresses: true } : {}),
    },
    status: { loadBalancer: o.lbIPs ? { ingress: o.lbIPs.map((ip) => ({ ip })) } : {} },
  };
}

export interface SliceEndpoint {
  ip: string;
  ready?: boolean | null;
  serving?: boolean | null;
  terminating?: boolean;
  node?: string;
  pod?: string;
}

/** A discovery.k8s.io/v1 EndpointSlice (v1beta1 shape with `beta`: topology instead of nodeName). */
export function slice(
  service: string,
  endpoints: SliceEndpoint[],
  ports: { name?: string; port: number; protocol?: string }[],
  o: { ns?: string; name?: string; addressType?: string; beta?: boolean } = {},
): KubeObject {
  const ns = o.ns ?? 'default';
  return {
    apiVersion: o.beta ? 'discovery.k8s.io/v1beta1' : 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: o.name ?? `${service}-abcde`, namespace: ns, labels: { 'kubernetes.io/service-name': service } },
    addressType: o.addressType ?? 'IPv4',
    endpoints: endpoints.map((e) => {
      const conditions: Record<string, unknown> = {};
      if (e.ready !== null) conditions.ready = e.ready ?? true;
      if (e.serving !== null && !o.beta) conditions.serving = e.serving ?? e.ready ?? true;
      if (!o.beta) conditions.terminating = e.terminating ?? false;
      return {
        addresses: [e.ip],
        conditions,
        ...(e.node ? (o.beta ? { topology: { 'kubernetes.io/hostname': e.node } } : { nodeName: e.node }) : {}),
        ...(e.pod ? { targetRef: { kind: 'Pod', namespace: ns, name: e.pod } } : {}),
      };
    }),
    ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' })),
  };
}

/** A v1 Endpoints object with one subset. */
export function endpoints(
  service: string,
  ready: SliceEndpoint[],
  notReady: SliceEndpoint[],
  ports: { name?: string; port: number; protocol?: string }[],
  ns = 'default',
): KubeObject {
  const addr = (e: SliceEndpoint) => ({
    ip: e.ip,
    ...(e.node ? { nodeName: e.node } : {}),
    ...(e.pod ? { targetRef: { kind: 'Pod', namespace: ns, name: e.pod } } : {}),
  });
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: service, namespace: ns },
    subsets: [
      {
        ...(ready.length ? { addresses: ready.map(addr) } : {}),
        ...(notReady.length ? { notReadyAddresses: notReady.map(addr) } : {}),
        ports: ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, protocol: p.protocol ?? 'TCP' })),
      },
    ],
  };
}

export function namespace(name: string, labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } },
  };
}

export function netpol(name: string, spec: Record<string, unknown>, ns = 'default'): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: ns }, spec };
}

export function node(name: string, ip: string, extra: { podCIDR?: string } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    spec: extra.podCIDR ? { podCIDR: extra.podCIDR, podCIDRs: [extra.podCIDR] } : {},
    status: {
      addresses: [
        { type: 'InternalIP', address: ip },
        { type: 'Hostname', address: name },
      ],
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

/** A KubeSource from objects (what the library needs of a ClusterModel). */
export function objects(...list: KubeObject[]): { objects: KubeObject[] } {
  return { objects: list };
}
