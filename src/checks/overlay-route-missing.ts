/**
 * overlay-route-missing: a node has no route to another node's pods (seed 002: after NetworkManager was restarted
 * flannel's routes to the other nodes were gone; seed 004: node 05 had none to the leased subnets).
 */
import type { Evidence } from '../core/vocabulary.js';
import type { ClusterModel } from '../model/cluster.js';
import { restartFlannel } from '../model/flannel.js';
import { type PeerTarget, peerTargets, routedOverlay } from '../model/overlay-routes.js';
import { routeGet } from '../route/get.js';
import { defineCheck } from './define.js';

export default defineCheck({
  id: 'overlay-route-missing',
  title: "A node has no route to another node's pods",
  severity: 'critical',
  seeds: ['002', '004'],
  summary: "no route to a peer's pod subnet: the kernel sends it to the default gateway or finds none",
  docs: `Each node needs one route per other node's pod subnet, which the overlay agent writes from its records:
flannel VXLAN \`10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink\` per lease, flannel host-gw \`10.244.2.0/24 via
<peer node IP>\`, Calico \`<block> via <peer> dev tunl0 proto bird onlink\` (IP-in-IP) or on vxlan.calico. Without it
the packet follows the default route to the underlay's gateway, which knows nothing of pod addresses: pods on the
two nodes cannot talk, Services whose endpoints are there time out, and NodePorts answer only on the node that hosts
the pod (seed 004). NetworkManager taking over the CNI devices and restarting deletes these routes (seed 002).

netdoctor asks the node's routing (\`ip route get\` semantics, policy rules included) where a packet to an address in
each peer's subnet goes, and reports the subnets whose answer is not the overlay's route: no route at all, or a wider
route such as the default one. A route that exists but points the wrong way is overlay-route-stale.

Confirm by hand: \`ip route get 10.244.2.1\` on the node. Fix: the routes below put traffic back at once; restart the
overlay agent so it writes them itself (and see networkmanager-manages-cni if NetworkManager removed them).`,
  run(cluster: ClusterModel, { emit }) {
    const kind = routedOverlay(cluster);
    if (!kind) return;
    for (const node of cluster.nodes) {
      if (!node.output('ip-route')) continue;
      const missing: { t: PeerTarget; got: string; detail: string }[] = [];
      for (const t of peerTargets(cluster, node)) {
        const r = routeGet(node.routing, { dst: t.probe });
        if (r.ok) {
          if (r.type !== 'unicast' || t.accepts(r)) continue;
          // A route as specific as the subnet is there but wrong: overlay-route-stale reports it.
          if (r.route && r.route.dst.prefix >= t.subnet.prefix) continue;
          missing.push({
            t,
            got: `ip route get ${t.probe}: ${r.text}`,
            detail: r.route ? `follows ${r.route.text}` : 'no route of the overlay',
          });
        } else missing.push({ t, got: `ip route get ${t.probe}: ${r.message}`, detail: r.reason });
      }
      if (missing.length === 0) continue;
      const evidence: Evidence[] = [];
      for (const m of missing) {
        evidence.push({
          kind: 'route',
          node: node.name,
          subnet: m.t.subnetText,
          peer: m.t.peer,
          text: m.got,
          detail: `no route to ${m.t.peer}'s pods ${m.t.subnetText}: ${m.detail}; expected ${m.t.expected}`,
        });
        evidence.push({ kind: 'lease', node: m.t.peer, text: m.t.source });
      }
      const peers = [...new Set(missing.map((m) => m.t.peer))];
      const flannel = kind.startsWith('flannel');
      const fix = flannel
        ? [...missing.map((m) => m.t.add), restartFlannel(cluster, node)]
        : [missing[0]?.t.add as string];
      emit({
        node: node.name,
        title: `${node.name} has no route to the pods of ${peers.join(', ')} (${missing.map((m) => m.t.subnetText).join(', ')})`,
        detail:
          `${node.name}'s routing table has no overlay route to ${missing.length === 1 ? 'that subnet' : 'those subnets'}: ` +
          'packets to pods there leave by the default route to a gateway that knows nothing of pod addresses, so pods ' +
          `on ${node.name} cannot reach them, Services with endpoints there time out from ${node.name}, and NodePorts on ` +
          `${node.name} fail for those endpoints.`,
        evidence,
        fix,
      });
    }
  },
});
