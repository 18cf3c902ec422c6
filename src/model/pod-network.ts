/**
 * The pod network of a cluster as its own settings declare it: the cluster-wide pod CIDRs (flannel's Network,
 * kube-proxy's clusterCIDR, Calico pools, Cilium's cluster pool, controller-manager flags), each node's pod subnet
 * (spec.podCIDR, FLANNEL_SUBNET), the service CIDR when a flag or object names it, and which devices of a node carry
 * pod traffic. Pure functions of the cluster model; nothing is guessed from defaults.
 */
import {
  type Cidr,
  cidrContains,
  cidrsOverlap,
  formatCidr,
  formatIp,
  type Ip,
  parseCidr,
  parseIp,
} from '../core/ip.js';
import type { Link } from '../parse/ip-link.js';
import type { ClusterModel, NodeModel } from './cluster.js';
import { flannelNetConf, subnetEnv } from './flannel.js';
import type { KubeObject } from './kube.js';

/** A prefix with where it was read, as evidence text. */
export interface SourcedCidr {
  cidr: Cidr;
  /** `10.244.0.0/16` */
  text: string;
  /** Where it was read: `ConfigMap kube-flannel/kube-flannel-cfg net-conf.json Network`. */
  source: string;
  node?: string;
}

function sourced(text: string, source: string, node?: string): SourcedCidr | undefined {
  const cidr = parseCidr(text.trim());
  if (!cidr || !text.includes('/')) return undefined;
  return { cidr, text: formatCidr(cidr), source, ...(node !== undefined ? { node } : {}) };
}

/** `--flag=value` or `--flag value` in a list of argv words or a command line. */
export function flagValue(words: string[], flag: string): string | undefined {
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    if (w.startsWith(`${flag}=`)) return w.slice(flag.length + 1);
    if (w === flag && i + 1 < words.length) return words[i + 1];
  }
  return undefined;
}

/** Every container's command and args of a pod, as words. */
function podWords(pod: KubeObject): string[] {
  const containers = ((pod.spec?.containers ?? []) as { command?: string[]; args?: string[] }[]) ?? [];
  return containers.flatMap((c) => [...(c.command ?? []), ...(c.args ?? [])]).flatMap((w) => w.split(/\s+/));
}

/** The static control-plane pods (kube-apiserver-<node>, kube-controller-manager-<node>) when cluster.json has them. */
function controlPlanePods(cluster: ClusterModel, component: string): KubeObject[] {
  return cluster
    .ofKind('Pod')
    .filter(
      (p) =>
        p.metadata.namespace === 'kube-system' &&
        (p.metadata.labels?.component === component || p.metadata.name.startsWith(`${component}-`)),
    );
}

function splitCidrs(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `clusterCIDR: 10.244.0.0/16` in kube-proxy's config.conf (YAML, one line). */
function yamlScalar(text: string, key: string): string | undefined {
  const m = new RegExp(`^\\s*${key}:\\s*["']?([^"'\\s#]+)`, 'm').exec(text);
  return m?.[1];
}

/** The cluster-wide pod CIDRs every source names, de-duplicated by prefix (the first source kept, others appended). */
export function clusterPodCidrs(cluster: ClusterModel): SourcedCidr[] {
  const out: SourcedCidr[] = [];
  const add = (c: SourcedCidr | undefined) => {
    if (c?.cidr.family !== 4) return;
    const known = out.find((o) => o.text === c.text);
    if (known) {
      if (!known.source.includes(c.source)) known.source += `; ${c.source}`;
    } else out.push(c);
  };
  const flannel = flannelNetConf(cluster);
  if (flannel?.network) add(sourced(flannel.network, flannel.source));
  const etcdConfig = cluster.bundle.etcd?.config;
  if (etcdConfig) {
    try {
      const net = (JSON.parse(etcdConfig) as { Network?: string }).Network;
      if (net) add(sourced(net, `etcd ${cluster.bundle.etcd?.prefix ?? ''}/config Network`));
    } catch {
      // A broken config is the lease checks' business.
    }
  }
  for (const n of cluster.nodes) {
    const env = subnetEnv(n);
    if (env?.network) add(sourced(formatCidr(env.network), `${n.name}: /run/flannel/subnet.env FLANNEL_NETWORK`));
  }
  const kp = cluster.configMap('kube-proxy');
  for (const [key, text] of Object.entries(kp?.data ?? {})) {
    const v = yamlScalar(text, 'clusterCIDR');
    if (v)
      for (const c of splitCidrs(v))
        add(sourced(c, `ConfigMap ${kp?.metadata.namespace}/kube-proxy ${key} clusterCIDR`));
  }
  for (const p of controlPlanePods(cluster, 'kube-controller-manager')) {
    const v = flagValue(podWords(p), '--cluster-cidr');
    if (v) for (const c of splitCidrs(v)) add(sourced(c, `pod kube-system/${p.metadata.name} --cluster-cidr`));
  }
  for (const n of cluster.nodes) {
    const ps = n.output('processes') ?? '';
    for (const line of ps.split('\n')) {
      if (!/kube-proxy/.test(line)) continue;
      const v = flagValue(line.trim().split(/\s+/), '--cluster-cidr');
      if (v) for (const c of splitCidrs(v)) add(sourced(c, `${n.name}: kube-proxy --cluster-cidr`));
    }
  }
  const calico = cluster.ofKind('DaemonSet').find((d) => d.metadata.name === 'calico-node');
  const calicoEnv = (
    (calico?.spec as { template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } } })
      ?.template?.spec?.containers ?? []
  ).flatMap((c) => c.env ?? []);
  const pool = calicoEnv.find((e) => e.name === 'CALICO_IPV4POOL_CIDR')?.value;
  if (pool) add(sourced(pool, 'DaemonSet calico-node CALICO_IPV4POOL_CIDR'));
  for (const ip of cluster.ofKind('IPPool')) {
    const c = (ip.spec as { cidr?: string; disabled?: boolean } | undefined)?.cidr;
    if (c && !(ip.spec as { disabled?: boolean }).disabled) add(sourced(c, `IPPool ${ip.metadata.name} spec.cidr`));
  }
  const cilium = cluster.configMap('cilium-config');
  const cpool = cilium?.data?.['cluster-pool-ipv4-cidr'];
  if (cpool)
    for (const c of cpool.split(/[\s,]+/).filter(Boolean))
      add(sourced(c, 'ConfigMap cilium-config cluster-pool-ipv4-cidr'));
  return out;
}

/** The service CIDR when a flag or object names it (kube-apiserver / controller-manager flags, ServiceCIDR objects). */
export function serviceCidrs(cluster: ClusterModel): SourcedCidr[] {
  const out: SourcedCidr[] = [];
  const add = (c: SourcedCidr | undefined) => {
    if (c && c.cidr.family === 4 && !out.some((o) => o.text === c.text)) out.push(c);
  };
  for (const component of ['kube-apiserver', 'kube-controller-manager'])
    for (const p of controlPlanePods(cluster, component)) {
      const v = flagValue(podWords(p), '--service-cluster-ip-range');
      if (v)
        for (const c of splitCidrs(v)) add(sourced(c, `pod kube-system/${p.metadata.name} --service-cluster-ip-range`));
    }
  for (const o of cluster.ofKind('ServiceCIDR'))
    for (const c of ((o.spec as { cidrs?: string[] } | undefined)?.cidrs ?? []) as string[])
      add(sourced(c, `ServiceCIDR ${o.metadata.name}`));
  return out;
}

/** The ClusterIPs of the cluster's Services (headless ones have none). */
export function serviceClusterIps(cluster: ClusterModel): { ip: Ip; text: string; service: string }[] {
  const out: { ip: Ip; text: string; service: string }[] = [];
  for (const s of cluster.ofKind('Service')) {
    const spec = (s.spec ?? {}) as { clusterIP?: string; clusterIPs?: string[] };
    const ips = spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : []);
    for (const t of ips) {
      const ip = t === 'None' ? undefined : parseIp(t);
      if (ip && ip.family === 4)
        out.push({ ip, text: formatIp(ip), service: `${s.metadata.namespace ?? 'default'}/${s.metadata.name}` });
    }
  }
  return out;
}

/** A node's own pod subnets: spec.podCIDR(s) and FLANNEL_SUBNET. */
export function nodePodSubnets(node: NodeModel): SourcedCidr[] {
  const out: SourcedCidr[] = [];
  const add = (c: SourcedCidr | undefined) => {
    if (c && c.cidr.family === 4 && !out.some((o) => o.text === c.text)) out.push(c);
  };
  const spec = (node.kube?.spec ?? {}) as { podCIDR?: string; podCIDRs?: string[] };
  for (const c of spec.podCIDRs ?? (spec.podCIDR ? [spec.podCIDR] : []))
    add(sourced(c, `node/${node.name} spec.podCIDR`, node.name));
  const env = subnetEnv(node);
  if (env?.subnet)
    add(sourced(formatCidr(env.subnet), `${node.name}: /run/flannel/subnet.env FLANNEL_SUBNET`, node.name));
  return out;
}

/** Names of devices that belong to the pod network by convention (bridges, tunnels, pod veths). */
export const POD_DEVICE_PATTERNS: readonly RegExp[] = [
  /^cni\d*$/,
  /^cbr\d*$/,
  /^docker0$/,
  /^flannel[.-]?/,
  /^cali/,
  /^tunl\d+$/,
  /^vxlan\.calico$/,
  /^vxlan-v6\.calico$/,
  /^veth/,
  /^cilium_/,
  /^lxc/,
  /^kube-ipvs0$/,
  /^kube-bridge$/,
  /^weave$/,
  /^nodelocaldns$/,
];

export function isPodDeviceName(name: string): boolean {
  return POD_DEVICE_PATTERNS.some((p) => p.test(name));
}

export interface BridgeInfo {
  name: string;
  mtu?: number;
  /** IPv4 addresses of the bridge. */
  addresses: { address: string; prefixlen: number; cidr: Cidr }[];
  /** Ports (veths of pods). */
  ports: Link[];
  /** `nf_call_iptables` of the bridge itself (`ip -d link`), when shown. */
  nfCallIptables?: number;
}

/** The node's Linux bridges with their IPv4 addresses and ports. */
export function bridges(node: NodeModel): BridgeInfo[] {
  const links = node.links;
  const out: BridgeInfo[] = [];
  for (const l of links) {
    if (l.kind !== 'bridge') continue;
    const iface = node.interfaces.find((i) => i.name === l.name);
    const addresses = (iface?.addresses ?? [])
      .filter((a) => a.family === 4)
      .map((a) => ({
        address: a.local,
        prefixlen: a.prefixlen,
        cidr: parseCidr(`${a.local}/${a.prefixlen}`) as Cidr,
      }));
    const nf = l.info?.nf_call_iptables;
    out.push({
      name: l.name,
      ...(l.mtu !== undefined ? { mtu: l.mtu } : {}),
      addresses,
      ports: links.filter((p) => p.master === l.name),
      ...(typeof nf === 'number' ? { nfCallIptables: nf } : {}),
    });
  }
  return out;
}

/**
 * The bridges pods hang off: a bridge with veth ports, or one whose address is in the pod network (the node's own pod
 * subnet or a cluster pod CIDR). An unused docker0 on 172.17.0.1/16 of a containerd node is not one.
 */
export function podBridges(cluster: ClusterModel, node: NodeModel): BridgeInfo[] {
  const pod = [...clusterPodCidrs(cluster), ...nodePodSubnets(node)].map((c) => c.cidr);
  return bridges(node).filter(
    (b) =>
      b.ports.some((p) => p.kind === 'veth' || p.name.startsWith('veth')) ||
      b.addresses.some((a) => pod.some((c) => cidrsOverlap(c, a.cidr))),
  );
}

/** An address inside a prefix: the network plus `offset` (clamped to the prefix). */
export function addressIn(c: Cidr, offset: number): string {
  const size = c.prefix >= 32 ? 1 : 2 ** (32 - c.prefix);
  const off = Math.min(offset, size - 1);
  return formatIp({ family: 4, value: ((c.network as number) + off) >>> 0 });
}

/** The interface holding the node's own address (the uplink), when known. */
export function uplink(node: NodeModel): string | undefined {
  const ip = node.nodeIp;
  return ip ? node.interfaceOf(ip) : undefined;
}

export function inAny(ip: Ip, cidrs: Cidr[]): boolean {
  return cidrs.some((c) => cidrContains(c, ip));
}

/** Every pod prefix the cluster knows: the cluster CIDRs and each node's own subnet. */
export function allPodCidrs(cluster: ClusterModel): SourcedCidr[] {
  return [...clusterPodCidrs(cluster), ...cluster.nodes.flatMap((n) => nodePodSubnets(n))];
}

/** Services reached from outside the node (NodePort, LoadBalancer): their traffic is forwarded to pods. */
export function externalServices(cluster: ClusterModel): string[] {
  return cluster
    .ofKind('Service')
    .filter((s) => ['NodePort', 'LoadBalancer'].includes((s.spec as { type?: string } | undefined)?.type ?? ''))
    .map((s) => `${s.metadata.namespace ?? 'default'}/${s.metadata.name}`);
}

/**
 * The devices of a node that carry pod traffic into the forwarding path, each with why: the devices routes to pod
 * prefixes leave by (the pod bridge, the overlay device, Calico's cali* veths, the uplink under host-gw), and the
 * uplink when NodePort/LoadBalancer traffic from outside is forwarded to pods. A device no pod traffic uses is not one.
 */
export function podTrafficDevices(cluster: ClusterModel, node: NodeModel): Map<string, string> {
  const out = new Map<string, string>();
  const pod = allPodCidrs(cluster).map((c) => c.cidr);
  const routes = node.routing.v4.tables.get('main')?.routes ?? [];
  if (pod.length && routes.length) {
    for (const r of routes) {
      if (r.type !== 'unicast' || !pod.some((c) => cidrsOverlap(c, r.dst))) continue;
      const devs = r.nexthops ? r.nexthops.map((n) => n.dev) : [r.dev];
      for (const d of devs) if (d && d !== 'lo' && !out.has(d)) out.set(d, `route ${r.text}`);
    }
  } else {
    for (const l of node.links)
      if (isPodDeviceName(l.name) && !l.master && l.name !== 'kube-ipvs0' && l.kind !== 'dummy')
        out.set(l.name, `${l.kind ?? 'device'} ${l.name} of the pod network`);
  }
  const up = uplink(node);
  const ext = externalServices(cluster);
  if (up && !out.has(up) && ext.length)
    out.set(up, `NodePort/LoadBalancer services (${ext.slice(0, 3).join(', ')}) are forwarded from ${up} to pods`);
  return out;
}

/** A pod address on a node: a running pod's IP from cluster.json, else an address of the node's pod subnet. */
export function podAddress(cluster: ClusterModel, node: NodeModel): string | undefined {
  for (const p of cluster.ofKind('Pod')) {
    const spec = (p.spec ?? {}) as { nodeName?: string; hostNetwork?: boolean };
    const ip = (p.status as { podIP?: string } | undefined)?.podIP;
    if (spec.nodeName === node.name && !spec.hostNetwork && ip && !ip.includes(':')) return ip;
  }
  const s = nodePodSubnets(node)[0];
  return s ? addressIn(s.cidr, 2) : undefined;
}
