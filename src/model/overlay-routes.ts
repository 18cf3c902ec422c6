/**
 * The routes a node needs to the other nodes' pods, from the overlay's own records: flannel's leases (vxlan:
 * `<subnet> via <subnet>.0 dev flannel.1 onlink`; host-gw and DirectRouting: `<subnet> via <peer IP>`), Calico's pods
 * (IP-in-IP: via the peer's node IP on tunl0; VXLAN: on vxlan.calico; BGP without encapsulation: via the peer's node
 * IP on the uplink). Each target carries a probe address and a test of the kernel's answer (`routeGet`), so a check
 * asks what the kernel really does instead of comparing route text.
 */
import { type Cidr, cidrContains, formatCidr, parseCidr, parseIp } from '../core/ip.js';
import type { Route } from '../parse/ip-route.js';
import { type RouteGetOk, routeGet } from '../route/get.js';
import type { ClusterModel, NodeModel } from './cluster.js';
import { flannelLeases, flannelNetConf, leaseOf, subnetEnv } from './flannel.js';
import { addressIn, clusterPodCidrs, type SourcedCidr } from './pod-network.js';

export interface PeerTarget {
  /** The peer node's name, or the lease when no node snapshot or object matches it. */
  peer: string;
  peerIp?: string;
  /** The peer's pod subnet (flannel), or the probed pod's /32 (Calico). */
  subnet: Cidr;
  subnetText: string;
  /** An address inside the subnet to ask the kernel about. */
  probe: string;
  /** The route as it should read. */
  expected: string;
  /** The command that puts it in place (runnable as is). */
  add: string;
  /** The device the route leaves by. */
  dev: string;
  /** Where the expectation comes from (the lease, the pod), as evidence text. */
  source: string;
  /** Whether the kernel's answer is the right one. */
  accepts(r: RouteGetOk): boolean;
}

export type OverlayKind = 'flannel-vxlan' | 'flannel-host-gw' | 'calico-ipip' | 'calico-vxlan' | 'calico-bgp';

function flannelKind(cluster: ClusterModel): 'flannel-vxlan' | 'flannel-host-gw' | undefined {
  const conf = flannelNetConf(cluster);
  const leases = flannelLeases(cluster);
  const backend = conf?.backend ?? leases?.leases.find((l) => l.backendType)?.backendType?.toLowerCase();
  if (backend === 'vxlan') return 'flannel-vxlan';
  if (backend === 'host-gw') return 'flannel-host-gw';
  return undefined;
}

/** The overlay whose routes netdoctor knows how to expect, if any. */
export function routedOverlay(cluster: ClusterModel): OverlayKind | undefined {
  const f = flannelKind(cluster);
  if (f) return f;
  const o = cluster.overlay;
  if (o?.cni === 'calico') return o.mode === 'vxlan' ? 'calico-vxlan' : 'calico-ipip';
  return undefined;
}

/** The device and gateway the node reaches an underlay address by. */
function underlayPath(node: NodeModel, ip: string): { dev: string; gateway?: string } | undefined {
  const r = routeGet(node.routing, { dst: ip });
  return r.ok && r.type === 'unicast' ? { dev: r.dev, ...(r.gateway ? { gateway: r.gateway } : {}) } : undefined;
}

function flannelTargets(
  cluster: ClusterModel,
  node: NodeModel,
  kind: 'flannel-vxlan' | 'flannel-host-gw',
): PeerTarget[] {
  const leases = flannelLeases(cluster);
  if (!leases) return [];
  const own = leaseOf(leases, node);
  const ownSubnet = subnetEnv(node)?.subnet;
  const directRouting = flannelNetConf(cluster)?.directRouting === true;
  const out: PeerTarget[] = [];
  for (const l of leases.leases) {
    if (l === own || l.node === node.name) continue;
    if (ownSubnet && cidrContains(l.subnet, { family: 4, value: ownSubnet.network })) continue;
    const base = addressIn(l.subnet, 0);
    const peer = l.node ?? `lease ${l.text}${l.publicIp ? ` (${l.publicIp})` : ''}`;
    const probe = addressIn(l.subnet, 1);
    const direct = l.publicIp ? underlayPath(node, l.publicIp) : undefined;
    const common = {
      peer,
      ...(l.publicIp ? { peerIp: l.publicIp } : {}),
      subnet: l.subnet,
      subnetText: l.text,
      probe,
      source: l.source,
    };
    if (kind === 'flannel-vxlan') {
      // DirectRouting: a peer on the same link is routed to directly, as host-gw does.
      const onLink = directRouting && direct && !direct.gateway && l.publicIp;
      if (onLink) {
        out.push({
          ...common,
          dev: direct.dev,
          expected: `${l.text} via ${l.publicIp} dev ${direct.dev}`,
          add: `ip route replace ${l.text} via ${l.publicIp} dev ${direct.dev}`,
          accepts: (r) => r.gateway === l.publicIp || (r.dev === 'flannel.1' && r.gateway === base),
        });
      } else
        out.push({
          ...common,
          dev: 'flannel.1',
          expected: `${l.text} via ${base} dev flannel.1 onlink`,
          add: `ip route replace ${l.text} via ${base} dev flannel.1 onlink`,
          accepts: (r) => r.dev === 'flannel.1' && r.gateway === base,
        });
    } else if (l.publicIp && direct) {
      out.push({
        ...common,
        dev: direct.dev,
        expected: `${l.text} via ${l.publicIp} dev ${direct.dev}`,
        add: `ip route replace ${l.text} via ${l.publicIp} dev ${direct.dev}`,
        accepts: (r) => r.gateway === l.publicIp,
      });
    }
  }
  return out;
}

function calicoTargets(cluster: ClusterModel, node: NodeModel, kind: 'calico-ipip' | 'calico-vxlan'): PeerTarget[] {
  const out: PeerTarget[] = [];
  const byNode = new Map<string, { ip: string; pod: string }>();
  for (const p of cluster.ofKind('Pod')) {
    const spec = (p.spec ?? {}) as { nodeName?: string; hostNetwork?: boolean };
    const ip = (p.status as { podIP?: string } | undefined)?.podIP;
    if (!spec.nodeName || spec.hostNetwork || !ip || spec.nodeName === node.name || byNode.has(spec.nodeName)) continue;
    if (parseIp(ip)?.family !== 4) continue;
    byNode.set(spec.nodeName, { ip, pod: `${p.metadata.namespace}/${p.metadata.name}` });
  }
  for (const [peerName, pod] of byNode) {
    const peer = cluster.node(peerName);
    const kube = cluster.ofKind('Node').find((n) => n.metadata.name === peerName);
    const peerIp =
      kube?.metadata.annotations?.['projectcalico.org/IPv4Address']?.split('/')[0] ??
      peer?.nodeIp ??
      ((kube?.status?.addresses as { type: string; address: string }[] | undefined) ?? []).find(
        (a) => a.type === 'InternalIP',
      )?.address;
    if (!peerIp) continue;
    const tunnelAddr = kube?.metadata.annotations?.['projectcalico.org/IPv4VXLANTunnelAddr'];
    const dev = kind === 'calico-ipip' ? 'tunl0' : 'vxlan.calico';
    const gw = kind === 'calico-ipip' ? peerIp : (tunnelAddr ?? peerIp);
    const subnet = parseCidr(pod.ip) as Cidr;
    out.push({
      peer: peerName,
      peerIp,
      subnet,
      subnetText: pod.ip,
      probe: pod.ip,
      dev,
      expected: `<block of ${pod.ip}> via ${gw} dev ${dev} onlink proto bird`,
      add: `kubectl -n kube-system delete pod -l k8s-app=calico-node --field-selector spec.nodeName=${node.name}`,
      source: `pod ${pod.pod} ${pod.ip} on ${peerName} (${peerIp})`,
      accepts: (r) =>
        // Encapsulated, or (CrossSubnet / BGP) routed straight to the peer.
        (r.dev === dev && (kind === 'calico-vxlan' ? !tunnelAddr || r.gateway === tunnelAddr : r.gateway === peerIp)) ||
        r.gateway === peerIp,
    });
  }
  return out;
}

/** What the node's routes to every other node's pods should be. Empty when the overlay's records are not in the bundle. */
export function peerTargets(cluster: ClusterModel, node: NodeModel): PeerTarget[] {
  const kind = routedOverlay(cluster);
  if (kind === 'flannel-vxlan' || kind === 'flannel-host-gw') return flannelTargets(cluster, node, kind);
  if (kind === 'calico-ipip' || kind === 'calico-vxlan') return calicoTargets(cluster, node, kind);
  return [];
}

/** Every pod subnet some node owns: the leases, the nodes' spec.podCIDR and their FLANNEL_SUBNET. */
export function ownedSubnets(cluster: ClusterModel): SourcedCidr[] {
  const out: SourcedCidr[] = [];
  for (const l of flannelLeases(cluster)?.leases ?? []) out.push({ cidr: l.subnet, text: l.text, source: l.source });
  for (const n of cluster.ofKind('Node')) {
    const c = (n.spec as { podCIDR?: string } | undefined)?.podCIDR;
    const cidr = c ? parseCidr(c) : undefined;
    if (cidr)
      out.push({ cidr, text: formatCidr(cidr), source: `node/${n.metadata.name} spec.podCIDR`, node: n.metadata.name });
  }
  for (const n of cluster.nodes) {
    const s = subnetEnv(n)?.subnet;
    if (s) out.push({ cidr: s, text: formatCidr(s), source: `${n.name}: /run/flannel/subnet.env`, node: n.name });
  }
  return out;
}

/** Whether a route is one of the overlay's (through its device, or into the cluster's pod network). */
export function isOverlayRoute(cluster: ClusterModel, r: Route): boolean {
  const devs = [r.dev, ...(r.nexthops ?? []).map((n) => n.dev)].filter(Boolean) as string[];
  if (devs.some((d) => /^(flannel\.\d+|tunl0|vxlan\.calico)$/.test(d))) return true;
  return clusterPodCidrs(cluster).some(
    (c) => c.cidr.prefix <= r.dst.prefix && cidrContains(c.cidr, { family: 4, value: r.dst.network }),
  );
}
