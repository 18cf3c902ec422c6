/**
 * vxlan-peer-mismatch: flannel VXLAN forwards by two tables flannel fills from the leases — the neighbour entry
 * `<subnet>.0 lladdr <VtepMAC>` and the fdb entry `<VtepMAC> dst <public IP>` on flannel.1. When they disagree with
 * the peers' records (a peer re-created flannel.1 with a new MAC, changed its IP, or the entries are gone), the inner
 * frame goes to a MAC nobody has or the outer packet to the wrong host, and pod traffic to that peer vanishes.
 */
import type { Evidence } from '../core/vocabulary.js';
import type { ClusterModel } from '../model/cluster.js';
import { flannelLeases, leaseOf, restartFlannel } from '../model/flannel.js';
import { peerTargets, routedOverlay } from '../model/overlay-routes.js';
import { addressIn } from '../model/pod-network.js';
import { parseBridgeFdb } from '../parse/bridge-fdb.js';
import { parseIpNeigh } from '../parse/ip-neigh.js';
import { defineCheck } from './define.js';

const DEV = 'flannel.1';

export default defineCheck({
  id: 'vxlan-peer-mismatch',
  title: "flannel.1's neighbour or fdb entries disagree with the peers' VTEPs",
  severity: 'critical',
  seeds: ['002', '004'],
  summary:
    "fdb/neigh entries on flannel.1 missing or different from the peers' VtepMAC and public IP (leases, annotations)",
  docs: `flannel's VXLAN backend does not learn: for each peer lease it writes a permanent neighbour entry
(\`10.244.2.0 dev flannel.1 lladdr <peer VtepMAC>\`) and an fdb entry (\`<peer VtepMAC> dev flannel.1 dst <peer public
IP>\`), taken from the lease (etcd) or the node's annotations \`flannel.alpha.coreos.com/backend-data\` (VtepMAC) and
\`public-ip\`. If the peer re-creates flannel.1 (a new MAC) or changes its address while the entries here stay, or
the entries were flushed, packets to that peer's pods are sent to a MAC or host that does not answer: ping to the
peer's pods fails although the route is right.

netdoctor compares, on each node, the neighbour and fdb entries of flannel.1 with every peer's lease, and the node's
own flannel.1 MAC with the VtepMAC its own lease announces (a mismatch there breaks every peer's traffic to it).

Confirm by hand: \`ip neigh show dev flannel.1\`, \`bridge fdb show dev flannel.1\`, \`kubectl get node -o yaml | grep -A3
Vtep\`. Fix: the entries below put traffic back at once; restart flannel so it rewrites them from the leases.`,
  run(cluster: ClusterModel, { emit }) {
    if (routedOverlay(cluster) !== 'flannel-vxlan') return;
    const leases = flannelLeases(cluster);
    if (!leases) return;
    for (const node of cluster.nodes) {
      const link = node.links.find((l) => l.name === DEV);
      if (!link) continue;
      const neighText = node.output('ip-neigh');
      const fdbText = node.output('bridge-fdb');
      const neigh = neighText !== undefined ? parseIpNeigh(neighText, `${node.file}#ip-neigh`).neighbours : undefined;
      const fdb = fdbText !== undefined ? parseBridgeFdb(fdbText, `${node.file}#bridge-fdb`).entries : undefined;
      const evidence: Evidence[] = [];
      const fix: string[] = [];
      const peers = new Set<string>();
      const own = leaseOf(leases, node);
      if (own?.vtepMac && link.mac && link.mac.toLowerCase() !== own.vtepMac) {
        evidence.push({
          kind: 'interface',
          node: node.name,
          device: DEV,
          mac: link.mac,
          text: `${DEV} link/ether ${link.mac}`,
          detail: `but its lease announces VtepMAC ${own.vtepMac} (${own.source}): every peer sends this node's pod traffic to ${own.vtepMac}`,
        });
        fix.push(restartFlannel(cluster, node));
      }
      const direct = new Set(
        peerTargets(cluster, node)
          .filter((t) => t.dev !== DEV)
          .map((t) => t.subnetText),
      );
      for (const l of leases.leases) {
        if (l === own || l.node === node.name || !l.vtepMac || !l.publicIp || direct.has(l.text)) continue;
        const gw = addressIn(l.subnet, 0);
        const peer = l.node ?? l.publicIp;
        if (neigh) {
          const e = neigh.find((n) => n.dev === DEV && n.dst === gw);
          if (!e?.lladdr || e.lladdr.toLowerCase() !== l.vtepMac) {
            peers.add(peer);
            evidence.push({
              kind: 'neigh',
              node: node.name,
              peer,
              text: e
                ? `${gw} dev ${DEV} lladdr ${e.lladdr ?? '(none)'} ${e.state.join(',')}`
                : `no neighbour ${gw} on ${DEV}`,
              detail: `${peer}'s VTEP is ${l.vtepMac} (${l.source})`,
            });
            fix.push(`ip neigh replace ${gw} dev ${DEV} lladdr ${l.vtepMac} nud permanent`);
          }
        }
        if (fdb) {
          const e = fdb.find((f) => f.dev === DEV && f.mac === l.vtepMac);
          if (!e || e.dst !== l.publicIp) {
            peers.add(peer);
            const stale = fdb.find((f) => f.dev === DEV && f.dst === l.publicIp && f.mac !== l.vtepMac);
            evidence.push({
              kind: 'fdb',
              node: node.name,
              peer,
              text: e
                ? `${e.mac} dev ${DEV} dst ${e.dst ?? '(none)'}`
                : `no fdb entry for ${l.vtepMac} on ${DEV}${stale ? ` (${l.publicIp} is reached by the old MAC ${stale.mac})` : ''}`,
              detail: `${peer}'s VTEP ${l.vtepMac} is at ${l.publicIp} (${l.source})`,
            });
            fix.push(`bridge fdb replace ${l.vtepMac} dev ${DEV} dst ${l.publicIp} self permanent`);
          }
        }
      }
      if (evidence.length === 0) continue;
      if (peers.size) fix.push(restartFlannel(cluster, node));
      const names = [...peers];
      emit({
        node: node.name,
        title: names.length
          ? `${node.name}: flannel.1's VXLAN entries for ${names.join(', ')} do not match their VTEPs`
          : `${node.name}: flannel.1's MAC is not the VtepMAC its lease announces`,
        detail:
          'flannel VXLAN sends each inner frame to the peer VTEP MAC from the neighbour table and the outer packet to the ' +
          'address from the fdb; with an entry missing or pointing elsewhere, pod traffic to that peer is sent into the ' +
          'void while the route looks right.',
        evidence,
        fix: [...new Set(fix)],
      });
    }
  },
});
