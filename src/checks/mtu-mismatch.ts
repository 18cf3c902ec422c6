/**
 * mtu-mismatch: the overlay's MTU does not leave room for its header on the underlay (a 1450 VXLAN device over a 1400
 * underlay): small packets pass, full-size ones are dropped after encapsulation — pings work, bulk transfers and TLS
 * handshakes hang (a PMTU black hole).
 */
import type { Evidence } from '../core/vocabulary.js';
import type { ClusterModel, NodeModel } from '../model/cluster.js';
import { restartFlannel, subnetEnv } from '../model/flannel.js';
import { routedOverlay } from '../model/overlay-routes.js';
import { podBridges, uplink } from '../model/pod-network.js';
import type { Link } from '../parse/ip-link.js';
import { routeGet } from '../route/get.js';
import { defineCheck } from './define.js';

/** Bytes the encapsulation adds (IPv4 outer header): VXLAN/Geneve 50, flannel udp 28, WireGuard 60, IP-in-IP 20. */
const OVERHEAD: Record<string, number> = { vxlan: 50, geneve: 50, udp: 28, wireguard: 60, ipip: 20 };

interface Overlay {
  device?: string;
  overhead: number;
  what: string;
}

function overlayOf(cluster: ClusterModel): Overlay | undefined {
  const o = cluster.overlay;
  if (o) {
    const overhead = OVERHEAD[o.mode];
    if (overhead === undefined) return undefined;
    return { ...(o.device ? { device: o.device } : {}), overhead, what: `${o.cni} ${o.mode} (+${overhead} bytes)` };
  }
  if (routedOverlay(cluster) === 'flannel-host-gw') return { overhead: 0, what: 'flannel host-gw (no encapsulation)' };
  return undefined;
}

/** The underlay device the overlay's packets leave by: the tunnel's `dev`, the owner of its local address, the uplink. */
function underlay(node: NodeModel, dev: Link | undefined): Link | undefined {
  const byName = (n: string | undefined) => (n ? node.links.find((l) => l.name === n) : undefined);
  if (dev?.vxlan?.dev) return byName(dev.vxlan.dev);
  if (dev?.vxlan?.local) return byName(node.interfaceOf(dev.vxlan.local));
  const up = byName(uplink(node));
  if (up) return up;
  const r = routeGet(node.routing, { dst: '192.0.2.1' });
  return r.ok ? byName(r.dev) : undefined;
}

export default defineCheck({
  id: 'mtu-mismatch',
  title: "The overlay's MTU leaves no room for its header on the underlay",
  severity: 'error',
  seeds: ['001'],
  summary: 'pod/cni0/overlay MTU larger than the underlay MTU minus the overlay header (50 VXLAN, 20 IP-in-IP)',
  docs: `An overlay wraps each pod packet in an outer header: VXLAN and Geneve add 50 bytes, IP-in-IP 20, WireGuard 60.
The overlay device (flannel.1, tunl0, vxlan.calico) and the pods must therefore use an MTU at most the underlay's
minus that: 1450 on a 1500 network. When the underlay is smaller (a VPN, a cloud network with 1400 or jumbo frames
turned off after flannel started), full-size packets no longer fit once encapsulated and are dropped — usually
without the ICMP "fragmentation needed" that would let the sender adapt. Small packets pass: ping and DNS work, TCP
connects, then bulk transfers, TLS handshakes with certificates and large responses hang.

netdoctor reads the MTU of the overlay device, of the underlay device it sends on (the VXLAN device's \`dev\`, else the
owner of its local address or of the node IP), of the pod bridge and its veths, and FLANNEL_MTU, and reports each one
above underlay MTU minus the header. The overlay device over the limit is an error; only the pods' side over it is a
warning (the node then answers with ICMP and PMTU discovery adapts, if nothing filters ICMP).

Confirm by hand: \`ip -d link show flannel.1\` and the underlay, then \`ping -M do -s 1422 <pod on another node>\` from a
pod (1422 + 28 = 1450). Fix: lower the overlay device's MTU now; restart flannel so FLANNEL_MTU follows the underlay,
and re-create pods so they get it — or raise the underlay's MTU if the network carries it.`,
  run(cluster: ClusterModel, { emit }) {
    const overlay = overlayOf(cluster);
    if (!overlay) return;
    for (const node of cluster.nodes) {
      if (node.links.length === 0) continue;
      const dev = overlay.device ? node.links.find((l) => l.name === overlay.device) : undefined;
      if (overlay.device && !dev) continue;
      const under = underlay(node, dev);
      if (!under?.mtu) continue;
      const max = under.mtu - overlay.overhead;
      const over: { name: string; mtu: number; what: string }[] = [];
      if (dev?.mtu && dev.mtu > max) over.push({ name: dev.name, mtu: dev.mtu, what: 'overlay device' });
      for (const b of podBridges(cluster, node)) {
        if (b.mtu && b.mtu > max) over.push({ name: b.name, mtu: b.mtu, what: 'pod bridge' });
        const big = b.ports.filter((p) => (p.mtu ?? 0) > max);
        if (big.length)
          over.push({
            name: big.length === 1 ? (big[0] as Link).name : `${big.length} pod veths (${(big[0] as Link).name}, ...)`,
            mtu: Math.max(...big.map((p) => p.mtu ?? 0)),
            what: 'pod veth',
          });
      }
      const cali = node.links.filter((l) => /^cali/.test(l.name) && (l.mtu ?? 0) > max);
      if (cali.length)
        over.push({
          name:
            cali.length === 1 ? (cali[0] as Link).name : `${cali.length} pod veths (${(cali[0] as Link).name}, ...)`,
          mtu: Math.max(...cali.map((p) => p.mtu ?? 0)),
          what: 'pod veth',
        });
      const env = subnetEnv(node);
      if (env?.mtu && env.mtu > max) over.push({ name: 'FLANNEL_MTU', mtu: env.mtu, what: '/run/flannel/subnet.env' });
      if (over.length === 0) continue;
      const deviceOver = over.some((o) => o.what === 'overlay device') || (!dev && over.length > 0);
      const evidence: Evidence[] = [
        {
          kind: 'interface',
          node: node.name,
          device: under.name,
          mtu: under.mtu,
          text: `${under.name} mtu ${under.mtu}`,
          detail: `the underlay: ${overlay.what} leaves at most ${max} for pod packets`,
        },
        ...over.map((o) => ({
          kind: o.what === '/run/flannel/subnet.env' ? 'file' : 'interface',
          node: node.name,
          device: o.name,
          mtu: o.mtu,
          text: o.what === '/run/flannel/subnet.env' ? `FLANNEL_MTU=${o.mtu}` : `${o.name} mtu ${o.mtu}`,
          detail: `${o.what}: ${o.mtu} > ${max} (${under.mtu} − ${overlay.overhead})`,
        })),
      ];
      const fix: string[] = [];
      // When the other nodes' underlays carry the overlay and this one's is the odd one out, its underlay is what
      // is wrong: lowering only its overlay device would leave the peers' full-size packets to it vanishing.
      const peerMtus = cluster.nodes
        .filter((n) => n !== node && n.links.length > 0)
        .map((n) => {
          const d = overlay.device ? n.links.find((l) => l.name === overlay.device) : undefined;
          return underlay(n, d)?.mtu;
        })
        .filter((m): m is number => m !== undefined);
      const needed = (dev?.mtu ?? max) + overlay.overhead;
      const deviceTooBig = dev !== undefined && (dev.mtu ?? 0) > max;
      const peersCarry = deviceTooBig && peerMtus.length > 0 && peerMtus.every((m) => m >= needed);
      if (peersCarry) {
        evidence.push({
          kind: 'interface',
          node: node.name,
          text: `the other nodes' underlay mtu: ${[...new Set(peerMtus)].join(', ')}`,
          detail: `they carry ${needed}-byte outer packets; ${node.name}'s ${under.name} is the odd one out`,
        });
        fix.push(`ip link set dev ${under.name} mtu ${Math.min(...peerMtus)}`);
      } else if (dev && deviceTooBig) fix.push(`ip link set dev ${dev.name} mtu ${max}`);
      if (cluster.overlay?.cni === 'flannel' || routedOverlay(cluster)?.startsWith('flannel'))
        fix.push(restartFlannel(cluster, node));
      const worst = over[0] as { name: string; mtu: number };
      emit({
        node: node.name,
        severity: deviceOver ? 'error' : 'warning',
        title: `${node.name}: ${worst.name} mtu ${worst.mtu} does not fit ${under.name} mtu ${under.mtu} with ${overlay.what}`,
        detail:
          `${overlay.what} on ${under.name} (mtu ${under.mtu}) carries pod packets of at most ${max} bytes, but ` +
          `${over.map((o) => `${o.name} (${o.mtu})`).join(', ')} ${over.length === 1 ? 'is' : 'are'} larger. ` +
          (deviceOver
            ? 'Full-size packets are dropped after encapsulation: ping and small requests work, large transfers hang.'
            : 'Pods send packets the overlay must refuse; this works only while ICMP "fragmentation needed" reaches them.'),
        evidence,
        fix,
      });
    }
  },
});
