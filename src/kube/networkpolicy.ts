/**
 * NetworkPolicy (networking.k8s.io/v1) evaluated with Kubernetes semantics, whatever CNI enforces it:
 *
 * - A pod is isolated for a direction when a policy of its namespace selects it (`spec.podSelector`, `{}` = every pod)
 *   and lists that direction in `policyTypes`. Without `policyTypes` the API server defaults to Ingress, plus Egress
 *   when the policy has egress rules. A pod no policy isolates allows everything in that direction.
 * - An isolated pod allows what at least one rule of at least one selecting policy allows (policies are a union;
 *   order does not matter). An empty or missing rule list allows nothing (`ingress: []` = deny all).
 * - A rule allows a connection when one of its peers (`from`/`to`; empty or missing = every source/destination) and
 *   one of its ports (empty or missing = every port and protocol) match.
 * - A peer: `podSelector` alone = pods of the policy's namespace; `namespaceSelector` alone = every pod of the matching
 *   namespaces; both in ONE peer = pods matching podSelector in namespaces matching namespaceSelector (AND), which is
 *   not the same as two peers (OR). `ipBlock`: the CIDR minus its `except` CIDRs; pod selectors never match non-pod
 *   addresses. Namespace labels come from Namespace objects when the bundle has them; otherwise only the
 *   `kubernetes.io/metadata.name` label the API server sets on every namespace is known (noted as uncertainty when a
 *   selector needs other labels).
 * - A port: protocol (default TCP) and port (number, or a named port resolved against the DESTINATION pod's container
 *   ports — for egress too; an IP destination has no named ports), with `endPort` an inclusive range. A rule port
 *   without `port` matches every port of its protocol.
 * - Both ends must agree: egress at the source pod AND ingress at the destination pod.
 *
 * What policies cannot see, and how this module treats it:
 * - Traffic from the destination pod's own node (kubelet probes, the node's processes, host-network pods on it) is
 *   always allowed in, as the Kubernetes docs state for isolated pods. A source IP of that node (its addresses from
 *   the Node object, the pod's hostIP, or any address of the node's snapshot, e.g. cni0's) counts as the node.
 * - Host-network pods are not subject to policies (the spec leaves them undefined; CNIs treat their traffic as the
 *   node's): as a destination they are never isolated, as a peer they are their node's IP (matched only by ipBlock).
 * - Services: policies see the packet after kube-proxy's DNAT, so evaluate against the chosen endpoint pod and its
 *   target port, not the ClusterIP.
 * - Replies of an allowed connection are allowed (policies are stateful); only the first packet is decided here.
 * - ipBlock matching a pod's IP is left to the CNI by the spec (most match it); it is matched here and noted.
 */
import { cidrContains, normalizeIp, parseCidr, parseIp } from '../core/ip.js';
import type { Decisive } from '../core/vocabulary.js';
import type { ClusterModel } from '../model/cluster.js';
import type { KubeObject } from '../model/kube.js';
import { type KubeSource, kubeIndex, nodeByIp, type PodInfo, type Protocol, podByIp } from './objects.js';
import { formatSelector, type LabelSelector, type Labels, requirements, selectorMatches } from './selectors.js';

/** One end of a connection. */
export type Peer = PodPeer | IpPeer;

export interface PodPeer {
  kind: 'pod';
  namespace: string;
  name: string;
  labels: Labels;
  /** The pod's address (used for ipBlock peers). */
  ip?: string;
  /** The namespace's labels (Namespace object, or the implied kubernetes.io/metadata.name). */
  namespaceLabels: Labels;
  /** False when the namespace labels are implied (no Namespace object in the bundle). */
  namespaceLabelsKnown: boolean;
  /** The node the pod runs on. */
  nodeName?: string;
  /** The full pod, for named ports (destination) — optional for peers built by hand. */
  pod?: PodInfo;
}

export interface IpPeer {
  kind: 'ip';
  ip: string;
  /** The node that owns this address, when it is a node's (the node itself or a host-network pod on it). */
  node?: string;
}

export type PolicyProtocol = Protocol | 'ICMP';

export interface PolicyRef {
  namespace: string;
  name: string;
}

/** The rule that allowed a connection: which policy, which direction, which rule (0-based), which peer and port. */
export interface AllowingRule {
  policy: PolicyRef;
  direction: 'ingress' | 'egress';
  /** Index in spec.ingress / spec.egress. */
  rule: number;
  /** Index in from/to; undefined when the rule has no peers (every peer). */
  peer?: number;
  /** Index in ports; undefined when the rule has no ports (every port). */
  port?: number;
  /** The rule in words, e.g. `ingress[0]: from podSelector app=client, ports TCP/8080`. */
  text: string;
}

export interface DirectionDecision {
  direction: 'ingress' | 'egress';
  /** The pod the decision is about (source for egress, destination for ingress); undefined for an IP end. */
  pod?: PolicyRef;
  /** The node of that pod, where the CNI enforces the decision. */
  node?: string;
  /** Whether policies apply at all (false for an IP end or a host-network pod). */
  applies: boolean;
  /** Whether some policy isolates the pod in this direction. */
  isolated: boolean;
  allowed: boolean;
  /** The policies selecting the pod for this direction (the isolating ones). */
  selecting: PolicyRef[];
  /** Every rule that allows the connection (empty when not isolated or denied). */
  allowedBy: AllowingRule[];
  /** For a denial: the isolating policies, none of which allows it. */
  deniedBy: PolicyRef[];
  /** Why, in one sentence. */
  reason: string;
  /** What might make this answer wrong (implied namespace labels, ipBlock on a pod IP, invalid selectors). */
  uncertain: string[];
}

export interface PolicyEvaluation {
  /** Egress allowed at the source AND ingress allowed at the destination. */
  allowed: boolean;
  egress: DirectionDecision;
  ingress: DirectionDecision;
}

const asRecord = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const isSet = (v: unknown): boolean => v !== undefined && v !== null;

/** A pod as a policy peer: host-network pods are their node's IP. */
export function podPeer(cluster: KubeSource, pod: PodInfo): Peer {
  if (pod.hostNetwork)
    return { kind: 'ip', ip: pod.ip ?? pod.hostIP ?? '', ...(pod.nodeName ? { node: pod.nodeName } : {}) };
  const ns = kubeIndex(cluster).namespace(pod.namespace);
  return {
    kind: 'pod',
    namespace: pod.namespace,
    name: pod.name,
    labels: pod.labels,
    ...(pod.ip ? { ip: pod.ip } : {}),
    namespaceLabels: ns.labels,
    namespaceLabelsKnown: ns.fromObject,
    ...(pod.nodeName ? { nodeName: pod.nodeName } : {}),
    pod,
  };
}

/**
 * An address as a policy peer: the pod-network pod that owns it, else an IP (with the node that owns it, from Node
 * objects or, when given a ClusterModel, any address in a node snapshot).
 */
export function ipPeer(cluster: KubeSource, address: string): Peer {
  const ip = normalizeIp(address) ?? address;
  const pod = podByIp(cluster, ip);
  if (pod) return podPeer(cluster, pod);
  const node = nodeOwning(cluster, ip);
  return { kind: 'ip', ip, ...(node ? { node } : {}) };
}

function nodeOwning(cluster: KubeSource, ip: string): string | undefined {
  const n = nodeByIp(cluster, ip);
  if (n) return n.name;
  const nodes = (cluster as Partial<ClusterModel>).nodes;
  if (!Array.isArray(nodes)) return undefined;
  for (const m of nodes) {
    try {
      if (m.addresses.some((a) => (normalizeIp(a.address) ?? a.address) === ip)) return m.name;
    } catch {
      // a node snapshot that cannot be parsed owns nothing here
    }
  }
  return undefined;
}

interface ParsedPort {
  protocol: Protocol;
  port?: number | string;
  endPort?: number;
}

function parsePort(v: unknown): ParsedPort {
  const r = asRecord(v);
  const proto = typeof r.protocol === 'string' ? r.protocol.toUpperCase() : 'TCP';
  const p = r.port;
  const port =
    typeof p === 'number' ? p : typeof p === 'string' && p !== '' ? (/^\d+$/.test(p) ? Number(p) : p) : undefined;
  const endPort = typeof r.endPort === 'number' ? r.endPort : undefined;
  return {
    protocol: (proto === 'UDP' || proto === 'SCTP' ? proto : 'TCP') as Protocol,
    ...(port !== undefined ? { port } : {}),
    ...(endPort !== undefined ? { endPort } : {}),
  };
}

function describePort(p: ParsedPort): string {
  if (p.port === undefined) return `${p.protocol}/*`;
  return `${p.protocol}/${p.port}${p.endPort !== undefined ? `-${p.endPort}` : ''}`;
}

/** Whether a rule port matches: protocol, then number / range / named port of the destination pod. */
function portMatches(
  p: ParsedPort,
  port: number | undefined,
  protocol: PolicyProtocol,
  dst: Peer,
  uncertain: string[],
): boolean {
  if (protocol === 'ICMP' || p.protocol !== protocol) return false;
  if (p.port === undefined) return true;
  if (port === undefined) return false;
  if (typeof p.port === 'string') {
    // endPort with a named port is invalid (the API server rejects it).
    if (p.endPort !== undefined) return false;
    const pod = dst.kind === 'pod' ? dst.pod : undefined;
    if (dst.kind === 'pod' && !pod) uncertain.push(`named port ${p.port}: the destination pod's ports are unknown`);
    return !!pod?.containerPorts.some((c) => c.name === p.port && c.protocol === protocol && c.containerPort === port);
  }
  if (p.endPort !== undefined) return port >= p.port && port <= p.endPort;
  return port === p.port;
}

function selectorOf(v: unknown): LabelSelector | undefined {
  return isSet(v) ? (asRecord(v) as LabelSelector) : undefined;
}

/** Whether a from/to peer matches the other end of the connection. */
function peerMatches(peerSpec: unknown, policyNs: string, other: Peer, uncertain: string[]): boolean {
  const r = asRecord(peerSpec);
  const ipBlock = isSet(r.ipBlock) ? asRecord(r.ipBlock) : undefined;
  if (ipBlock) {
    const address = other.ip;
    const ip = address ? parseIp(address) : undefined;
    const cidr = typeof ipBlock.cidr === 'string' ? parseCidr(ipBlock.cidr) : undefined;
    if (!ip || !cidr) return false;
    if (!cidrContains(cidr, ip)) return false;
    for (const ex of asArray(ipBlock.except)) {
      const c = typeof ex === 'string' ? parseCidr(ex) : undefined;
      if (c && cidrContains(c, ip)) return false;
    }
    if (other.kind === 'pod')
      uncertain.push(
        `ipBlock ${ipBlock.cidr} matched pod ${other.namespace}/${other.name}'s IP ${address}: whether ipBlock applies to pod IPs is left to the CNI`,
      );
    return true;
  }
  const podSel = selectorOf(r.podSelector);
  const nsSel = selectorOf(r.namespaceSelector);
  if (!podSel && !nsSel) return false; // an empty peer is invalid
  if (other.kind !== 'pod') return false; // pod selectors never match non-pod addresses
  if (podSel) {
    if (!requirements(podSel)) uncertain.push(`invalid podSelector (${formatSelector(podSel)}) selects nothing`);
    if (!selectorMatches(podSel, other.labels)) return false;
  }
  if (nsSel) {
    if (!requirements(nsSel)) uncertain.push(`invalid namespaceSelector (${formatSelector(nsSel)}) selects nothing`);
    const matched = selectorMatches(nsSel, other.namespaceLabels);
    const needsMore = (requirements(nsSel) ?? []).some((q) => q.key !== 'kubernetes.io/metadata.name');
    if (!other.namespaceLabelsKnown && needsMore)
      uncertain.push(
        `namespaceSelector ${formatSelector(nsSel)} evaluated against namespace ${other.namespace} without its Namespace object (only kubernetes.io/metadata.name=${other.namespace} is known)`,
      );
    return matched;
  }
  return other.namespace === policyNs;
}

function describePeer(v: unknown): string {
  const r = asRecord(v);
  if (isSet(r.ipBlock)) {
    const b = asRecord(r.ipBlock);
    const ex = asArray(b.except).map(String);
    return `ipBlock ${String(b.cidr)}${ex.length ? ` except ${ex.join(',')}` : ''}`;
  }
  const parts: string[] = [];
  const ns = selectorOf(r.namespaceSelector);
  const pod = selectorOf(r.podSelector);
  if (ns) parts.push(`namespaceSelector ${formatSelector(ns) || '{} (every namespace)'}`);
  if (pod) parts.push(`podSelector ${formatSelector(pod) || '{} (every pod)'}`);
  return parts.join(' AND ');
}

export interface PolicyInfo {
  namespace: string;
  name: string;
  podSelector: LabelSelector;
  types: { ingress: boolean; egress: boolean };
  ingress: unknown[];
  egress: unknown[];
  object: KubeObject;
}

const parsed = new WeakMap<KubeObject, PolicyInfo>();

/** A NetworkPolicy with the API server's defaults applied (policyTypes); parsed once per object. */
export function policyInfo(o: KubeObject): PolicyInfo {
  let info = parsed.get(o);
  if (!info) {
    info = parsePolicy(o);
    parsed.set(o, info);
  }
  return info;
}

function parsePolicy(o: KubeObject): PolicyInfo {
  const spec = asRecord(o.spec);
  const declared = asArray(spec.policyTypes).map(String);
  const egress = asArray(spec.egress);
  const types =
    declared.length > 0
      ? { ingress: declared.includes('Ingress'), egress: declared.includes('Egress') }
      : { ingress: true, egress: egress.length > 0 };
  return {
    namespace: o.metadata.namespace ?? 'default',
    name: o.metadata.name,
    podSelector: asRecord(spec.podSelector) as LabelSelector,
    types,
    ingress: asArray(spec.ingress),
    egress,
    object: o,
  };
}

/** Every NetworkPolicy of the bundle, defaults applied. */
export function listPolicies(cluster: KubeSource): PolicyInfo[] {
  return kubeIndex(cluster).networkPolicies.map(policyInfo);
}

/** The policies that select a pod for a direction (isolate it). Host-network pods are never selected. */
export function policiesSelecting(
  cluster: KubeSource,
  pod: Pick<PodPeer, 'namespace' | 'labels'>,
  direction: 'ingress' | 'egress',
): PolicyInfo[] {
  return listPolicies(cluster).filter(
    (p) => p.namespace === pod.namespace && p.types[direction] && selectorMatches(p.podSelector, pod.labels),
  );
}

function decide(
  cluster: KubeSource,
  direction: 'ingress' | 'egress',
  self: Peer,
  other: Peer,
  dst: Peer,
  port: number | undefined,
  protocol: PolicyProtocol,
): DirectionDecision {
  const uncertain: string[] = [];
  if (self.kind !== 'pod') {
    const what = self.node ? `node ${self.node}` : `address ${self.ip}`;
    return {
      direction,
      applies: false,
      isolated: false,
      allowed: true,
      selecting: [],
      allowedBy: [],
      deniedBy: [],
      reason: `${direction === 'egress' ? 'the source' : 'the destination'} is ${what}, not a pod: NetworkPolicy does not apply`,
      uncertain,
    };
  }
  const ref = { namespace: self.namespace, name: self.name };
  const selecting = policiesSelecting(cluster, self, direction);
  const base = { direction, pod: ref, ...(self.nodeName ? { node: self.nodeName } : {}), applies: true, uncertain };
  if (selecting.length === 0)
    return {
      ...base,
      isolated: false,
      allowed: true,
      selecting: [],
      allowedBy: [],
      deniedBy: [],
      reason: `no NetworkPolicy selects ${self.namespace}/${self.name} for ${direction}: all ${direction} allowed`,
    };
  const refs = selecting.map((p) => ({ namespace: p.namespace, name: p.name }));
  // Traffic from the pod's own node is always allowed in (kubelet health checks).
  if (direction === 'ingress' && other.kind === 'ip' && other.node && other.node === self.nodeName)
    return {
      ...base,
      isolated: true,
      allowed: true,
      selecting: refs,
      allowedBy: [],
      deniedBy: [],
      reason: `from ${self.nodeName}, the pod's own node: always allowed in (kubelet probes), whatever the policies say`,
    };
  const allowedBy: AllowingRule[] = [];
  for (const pol of selecting) {
    const rules = direction === 'ingress' ? pol.ingress : pol.egress;
    rules.forEach((ruleSpec, ri) => {
      const rule = asRecord(ruleSpec);
      const peers = asArray(direction === 'ingress' ? rule.from : rule.to);
      const ports = asArray(rule.ports).map(parsePort);
      let peerIdx: number | undefined;
      if (peers.length > 0) {
        peerIdx = peers.findIndex((p) => peerMatches(p, pol.namespace, other, uncertain));
        if (peerIdx < 0) return;
      }
      let portIdx: number | undefined;
      if (ports.length > 0) {
        portIdx = ports.findIndex((p) => portMatches(p, port, protocol, dst, uncertain));
        if (portIdx < 0) return;
      }
      const peerText =
        peerIdx === undefined
          ? `${direction === 'ingress' ? 'from' : 'to'} anywhere`
          : `${direction === 'ingress' ? 'from' : 'to'} ${describePeer(peers[peerIdx])}`;
      const portText = portIdx === undefined ? 'any port' : `port ${describePort(ports[portIdx] as ParsedPort)}`;
      allowedBy.push({
        policy: { namespace: pol.namespace, name: pol.name },
        direction,
        rule: ri,
        ...(peerIdx !== undefined ? { peer: peerIdx } : {}),
        ...(portIdx !== undefined ? { port: portIdx } : {}),
        text: `${pol.namespace}/${pol.name} ${direction}[${ri}]: ${peerText}, ${portText}`,
      });
    });
  }
  const names = refs.map((r) => `${r.namespace}/${r.name}`).join(', ');
  const what = `${protocol}${port !== undefined && protocol !== 'ICMP' ? `/${port}` : ''}`;
  if (allowedBy.length)
    return {
      ...base,
      isolated: true,
      allowed: true,
      selecting: refs,
      allowedBy,
      deniedBy: [],
      reason: `allowed by ${allowedBy[0]?.text}`,
    };
  const otherText =
    other.kind === 'pod'
      ? `pod ${other.namespace}/${other.name}`
      : `${other.ip}${other.node ? ` (node ${other.node})` : ''}`;
  return {
    ...base,
    isolated: true,
    allowed: false,
    selecting: refs,
    allowedBy: [],
    deniedBy: refs,
    reason: `${self.namespace}/${self.name} is isolated for ${direction} by ${names}, and no rule allows ${what} ${direction === 'ingress' ? 'from' : 'to'} ${otherText}`,
  };
}

/**
 * Decide a new connection src → dst (dst:port/protocol after any Service DNAT) under the bundle's NetworkPolicies:
 * egress at the source pod, ingress at the destination pod. `port` is ignored (and may be undefined) for ICMP, which
 * only rules without ports allow.
 */
export function evaluatePolicies(
  cluster: KubeSource,
  src: Peer,
  dst: Peer,
  port: number | undefined,
  protocol: PolicyProtocol,
): PolicyEvaluation {
  const egress = decide(cluster, 'egress', src, dst, dst, port, protocol);
  const ingress = decide(cluster, 'ingress', dst, src, dst, port, protocol);
  egress.uncertain = [...new Set(egress.uncertain)];
  ingress.uncertain = [...new Set(ingress.uncertain)];
  return { allowed: egress.allowed && ingress.allowed, egress, ingress };
}

/**
 * The decisive object of a denied connection, for a trace verdict: kind `policy-object`, `policy` the isolating
 * policies (`ns/name`, comma-separated), on the node of the pod that denied it (egress is decided first, as the packet
 * leaves the source). Undefined when the connection is allowed. CNIs drop denied packets (the client times out);
 * a few reject — the bundle does not say which, so a trace should report a drop.
 */
export function policyDecisive(ev: PolicyEvaluation): Decisive | undefined {
  const d = !ev.egress.allowed ? ev.egress : !ev.ingress.allowed ? ev.ingress : undefined;
  if (!d) return undefined;
  const names = d.deniedBy.map((p) => `${p.namespace}/${p.name}`).join(', ');
  return {
    kind: 'policy-object',
    ...(d.node ? { node: d.node } : {}),
    policy: names,
    text: `NetworkPolicy ${names} (${d.direction})`,
    detail: d.reason,
  };
}
