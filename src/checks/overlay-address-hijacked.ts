/**
 * overlay-address-hijacked: the overlay device's address, or pod addresses, are claimed by a route that is not the
 * kernel's own (seed 002: `ip route get 10.187.0.0` answered `local 10.187.0.0 dev lo` after NetworkManager took over
 * flannel.1; replies to the node's own traffic into the overlay then went astray).
 */
import { cidrContains, cidrsOverlap, formatCidr, parseIp } from '../core/ip.js';
import type { Evidence } from '../core/vocabulary.js';
import type { ClusterModel, NodeModel } from '../model/cluster.js';
import { restartFlannel, subnetEnv } from '../model/flannel.js';
import { addressIn, allPodCidrs, bridges } from '../model/pod-network.js';
import type { Route } from '../parse/ip-route.js';
import { routeGet } from '../route/get.js';
import { defineCheck } from './define.js';

const OVERLAY_DEVICE = /^(flannel\.\d+|vxlan\.calico|tunl0|cilium_vxlan)$/;

/** The route the kernel adds for an address of a device: `local A dev D table local proto kernel scope host`. */
function isOwnAddressRoute(node: NodeModel, r: Route): boolean {
  if (r.type !== 'local' || r.protocol !== 'kernel' || !r.dev) return false;
  // A wider local route (an address with a prefix on lo) claims more than the address: not the device's own.
  if (r.dst.prefix !== (r.family === 4 ? 32 : 128)) return false;
  const text = formatCidr(r.dst).split('/')[0];
  return node.interfaces.some((i) => i.name === r.dev && i.addresses.some((a) => a.local === text));
}

function del(r: Route): string {
  return `ip route del ${r.text}`;
}

export default defineCheck({
  id: 'overlay-address-hijacked',
  title: "The overlay device's address or pod addresses are claimed by a foreign route",
  severity: 'critical',
  seeds: ['002'],
  summary:
    '`ip route get <flannel.1 address>` is decided by a route that is not the kernel’s own (e.g. local ... dev lo)',
  docs: `The overlay device holds one address of the node's pod subnet (flannel.1: 10.244.N.0/32), which the node uses as
the source of its own packets into the overlay; the kernel adds the matching \`local\` route in the local table, on
that device. When something else claims the address or the pod subnet — NetworkManager managing flannel.1 and cni0
re-adding addresses and routes as it sees fit (seed 002: \`ip route get 10.187.0.0\` answered \`local ... dev lo\`), a
stray \`local\` route over the pod range — replies for the node and for pods are delivered to the wrong place, and
connections from and to the node's pods hang in SYN retransmits.

netdoctor asks the node's routing what decides the overlay device's address (it must be the kernel's own local route
on that device; the old kernels' network broadcast route of the pod bridge is tolerated), and lists \`local\` routes
over pod addresses that are not the kernel's own routes of a device address. A device that lost its address is
reported too.

Confirm by hand: \`ip route get 10.244.N.0\` and \`ip route show table local | grep 10.244\`. Fix: delete the foreign
routes, give the device back its route, keep NetworkManager away from CNI devices (networkmanager-manages-cni), and
restart the overlay agent so it re-adds its routes.`,
  run(cluster: ClusterModel, { emit }) {
    const pods = allPodCidrs(cluster).map((c) => c.cidr);
    for (const node of cluster.nodes) {
      if (!node.output('ip-route') || !node.output('ip-addr')) continue;
      const evidence: Evidence[] = [];
      const fix: string[] = [];
      const foreign = new Set<Route>();
      let hijackedAddress: string | undefined;
      for (const dev of node.interfaces.filter((i) => OVERLAY_DEVICE.test(i.name))) {
        const v4 = dev.addresses.filter((a) => a.family === 4);
        if (v4.length === 0) {
          const sub = /^flannel\./.test(dev.name) ? subnetEnv(node)?.subnet : undefined;
          if (!sub) continue;
          const want = addressIn(sub, 0);
          const holder = node.interfaces.find(
            (i) => i.name !== dev.name && i.addresses.some((x) => x.family === 4 && x.local === want),
          );
          const r = routeGet(node.routing, { dst: want });
          if (r.ok || holder)
            evidence.push({
              kind: 'route-get',
              node: node.name,
              device: dev.name,
              address: want,
              text: `ip route get ${want}: ${r.ok ? r.text : r.message}`,
              detail: holder
                ? `${want}/32 sits on ${holder.name}, not on ${dev.name}`
                : `${dev.name} does not hold ${want}`,
            });
          evidence.push({
            kind: 'interface',
            node: node.name,
            device: dev.name,
            text: `${dev.name} has no IPv4 address`,
            detail: `flannel gives it ${want}/32 (the network address of FLANNEL_SUBNET ${formatCidr(sub)})`,
          });
          if (holder) fix.push(`ip addr del ${want}/32 dev ${holder.name}`);
          fix.push(`ip addr add ${want}/32 dev ${dev.name}`);
          hijackedAddress ??= want;
          continue;
        }
        for (const a of v4) {
          const r = routeGet(node.routing, { dst: a.local });
          const ok = r.ok && r.type === 'local' && r.route?.dev === dev.name;
          const ip = parseIp(a.local);
          // Kernels before 5.x added a broadcast route for a subnet's network address; flannel's X.0 then meets cni0's.
          const oldBroadcast =
            r.ok &&
            r.type === 'broadcast' &&
            ip !== undefined &&
            bridges(node).some(
              (b) =>
                b.name === r.route?.dev &&
                b.addresses.some((x) => cidrContains(x.cidr, ip) && x.cidr.network === ip.value),
            );
          if (ok || oldBroadcast) continue;
          hijackedAddress ??= a.local;
          evidence.push({
            kind: 'route-get',
            node: node.name,
            device: dev.name,
            address: a.local,
            text: `ip route get ${a.local}: ${r.ok ? r.text : r.message}`,
            detail: r.ok
              ? `decided by ${r.route ? `\`${r.route.text}\`` : 'the kernel'}, not by ${dev.name}'s own local route`
              : r.reason,
            ...(r.ok && r.route ? { route: r.route.text } : {}),
          });
          if (r.ok && r.route && !isOwnAddressRoute(node, r.route)) foreign.add(r.route);
          const own = (node.routing.v4.tables.get('local')?.routes ?? []).some(
            (x) => x.type === 'local' && x.dev === dev.name && formatCidr(x.dst) === `${a.local}/32`,
          );
          if (!own) {
            evidence.push({
              kind: 'route',
              node: node.name,
              text: `no \`local ${a.local} dev ${dev.name}\` in the local table`,
              detail: `the kernel's route for ${dev.name}'s address is gone`,
            });
            fix.push(
              `ip route add local ${a.local} dev ${dev.name} table local proto kernel scope host src ${a.local}`,
            );
          }
        }
      }
      // Local routes over pod addresses that are not a device's own.
      if (pods.length)
        for (const table of node.routing.v4.tables.values())
          for (const r of table.routes) {
            if (r.type !== 'local' || isOwnAddressRoute(node, r) || foreign.has(r)) continue;
            if (!pods.some((c) => cidrsOverlap(c, r.dst))) continue;
            foreign.add(r);
            evidence.push({
              kind: 'route',
              node: node.name,
              route: r.text,
              text: r.text,
              detail:
                'a local route over pod addresses that is not the kernel’s route of a device address: packets to them are delivered to the node itself',
            });
          }
      if (evidence.length === 0) continue;
      for (const r of foreign)
        if (!evidence.some((e) => e.route === r.text))
          evidence.push({ kind: 'route', node: node.name, route: r.text, text: r.text, detail: 'the foreign route' });
      const fixes = [...[...foreign].map(del), ...fix];
      if (node.links.some((l) => /^flannel\./.test(l.name))) fixes.push(restartFlannel(cluster, node));
      emit({
        node: node.name,
        title: hijackedAddress
          ? `${node.name}: the overlay address ${hijackedAddress} is not routed to its device (${evidence[0]?.text})`
          : `${node.name}: a local route claims pod addresses (${[...foreign].map((r) => r.text.split(' dev ')[0]).join(', ')})`,
        detail:
          `On ${node.name} a route that is not the kernel's own decides where packets for the overlay's address or for pod ` +
          'addresses go. Replies to the node’s own connections into the overlay (and traffic to the pods covered) are ' +
          'delivered to the wrong place: connections hang in SYN retransmits although the packets arrive. This is what ' +
          'NetworkManager does to CNI devices it manages (seed 002).',
        evidence,
        fix: fixes,
      });
    }
  },
});
