/**
 * overlay-route-stale: a node's route to pod addresses points the wrong way, or goes to a pod subnet no node owns
 * (seed 004: node 05 routed 172.17.59.0/24 and 172.17.61.0/24 into flannel.1 while etcd leased 172.17.9.0/24 and
 * 172.17.83.0/24 — leftovers of leases that expired).
 */
import { cidrsOverlap } from '../core/ip.js';
import type { Evidence } from '../core/vocabulary.js';
import type { ClusterModel } from '../model/cluster.js';
import { flannelLeases, restartFlannel } from '../model/flannel.js';
import { isOverlayRoute, ownedSubnets, peerTargets, routedOverlay } from '../model/overlay-routes.js';
import { isPodDeviceName } from '../model/pod-network.js';
import { routeGet } from '../route/get.js';
import { defineCheck } from './define.js';

export default defineCheck({
  id: 'overlay-route-stale',
  title: 'A node routes pod addresses the wrong way, or to a pod subnet no node owns',
  severity: 'error',
  seeds: ['004'],
  summary:
    "a route to a peer's pods through the wrong gateway or device, or an overlay route to a subnet nobody leases",
  docs: `The overlay agent writes one route per peer from its records (flannel's leases, Calico's blocks). When a lease
expires and is handed out again — flannel lost its etcd lease, a node re-registered — routes written from the old
records linger: a route to a subnet no node owns any more sends traffic into the tunnel towards a VTEP that does not
exist (seed 004: 172.17.59.0/24 and 172.17.61.0/24 on node 05), and a route whose gateway is an old peer sends the
right subnet to the wrong node. Pods then reach some nodes and not others, and the stale routes hide the real ones.

netdoctor asks the node's routing where a packet to each peer's subnet goes and reports an answer with a route as
specific as the subnet that does not lead to the peer (the wrong gateway or device); and it lists the node's overlay
routes (through flannel.1, tunl0, vxlan.calico, or into the cluster's pod network) whose destination overlaps no
lease, no node's spec.podCIDR and no node's FLANNEL_SUBNET.

Confirm by hand: \`ip route\` on the node against \`etcdctl ls /coreos.com/network/subnets\` or \`kubectl get nodes -o
jsonpath='{..podCIDR}'\`. Fix: delete or replace the routes below, then restart the overlay agent so its routes come
from the current leases.`,
  run(cluster: ClusterModel, { emit }) {
    const kind = routedOverlay(cluster);
    if (!kind) return;
    const flannel = kind.startsWith('flannel');
    const owned = flannel && flannelLeases(cluster) ? ownedSubnets(cluster) : [];
    for (const node of cluster.nodes) {
      if (!node.output('ip-route')) continue;
      const evidence: Evidence[] = [];
      const fix: string[] = [];
      const wrong: string[] = [];
      for (const t of peerTargets(cluster, node)) {
        const r = routeGet(node.routing, { dst: t.probe });
        if (!r.ok || r.type !== 'unicast' || t.accepts(r) || !r.route || r.route.dst.prefix < t.subnet.prefix) continue;
        // A host network's own connected route over a pod subnet is the overlap pod-cidr-overlap reports.
        if (r.route.protocol === 'kernel' && r.route.dev && !isPodDeviceName(r.route.dev)) continue;
        wrong.push(t.subnetText);
        evidence.push({
          kind: 'route',
          node: node.name,
          subnet: t.subnetText,
          peer: t.peer,
          route: r.route.text,
          text: r.route.text,
          detail: `ip route get ${t.probe}: ${r.text} — but ${t.subnetText} belongs to ${t.peer}; expected ${t.expected} (${t.source})`,
        });
        fix.push(t.add);
      }
      const unowned: string[] = [];
      if (owned.length)
        for (const r of node.routing.v4.tables.get('main')?.routes ?? []) {
          if (r.type !== 'unicast' || r.protocol === 'kernel' || r.dst.prefix === 0) continue;
          if (!isOverlayRoute(cluster, r)) continue;
          if (owned.some((o) => cidrsOverlap(o.cidr, r.dst))) continue;
          unowned.push(r.text);
          evidence.push({
            kind: 'route',
            node: node.name,
            route: r.text,
            text: r.text,
            detail: `no node owns ${r.text.split(' ')[0]}: it is in no lease, no spec.podCIDR, no FLANNEL_SUBNET`,
          });
          fix.push(`ip route del ${r.text}`);
        }
      if (evidence.length === 0) continue;
      const leases = flannelLeases(cluster);
      if (unowned.length && leases)
        evidence.push({
          kind: 'lease',
          text: `${leases.where}: ${leases.leases.map((l) => `${l.text}${l.publicIp ? ` → ${l.publicIp}` : ''}`).join(', ') || 'none'}`,
          detail: 'the subnets that are leased',
        });
      if (flannel) fix.push(restartFlannel(cluster, node));
      const parts = [
        ...(wrong.length ? [`routes ${wrong.join(', ')} the wrong way`] : []),
        ...(unowned.length ? [`routes ${unowned.map((u) => u.split(' ')[0]).join(', ')}, which no node owns`] : []),
      ];
      emit({
        node: node.name,
        title: `${node.name} ${parts.join(' and ')}`,
        detail:
          `${node.name} has overlay routes left from old records: traffic to these addresses is sent to the wrong ` +
          'node or into the tunnel towards a peer that is gone, so pods on some nodes are unreachable from here.',
        evidence,
        fix,
      });
    }
  },
});
