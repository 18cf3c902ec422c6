/**
 * rp-filter-strict: strict reverse-path filtering drops overlay traffic that arrives on another device than the one
 * the node would answer by (asymmetric paths: one node sends a peer's pods through the tunnel, the peer answers over
 * the underlay, as with DirectRouting or CrossSubnet on one side only, or a second NIC). Symmetric overlays pass
 * rp_filter=1 untouched, and then netdoctor stays quiet.
 */
import { cidrContains, type Ip, parseIp } from '../core/ip.js';
import type { Evidence } from '../core/vocabulary.js';
import type { ClusterModel } from '../model/cluster.js';
import { peerTargets } from '../model/overlay-routes.js';
import { podAddress, uplink } from '../model/pod-network.js';
import { sysctlKey } from '../parse/sysctl.js';
import { routeGet } from '../route/get.js';
import { devConf } from '../route/state.js';
import { defineCheck } from './define.js';

const TUNNEL = /^(flannel\.\d+|tunl0|vxlan\.calico|cilium_vxlan)$/;

interface Drop {
  peer: string;
  iif: string;
  src: string;
  dst: string;
  how: string;
  back: string;
  reason: string;
}

export default defineCheck({
  id: 'rp-filter-strict',
  title: 'Strict reverse-path filtering drops asymmetric overlay traffic',
  severity: 'error',
  seeds: ['001'],
  summary:
    'rp_filter=1 (max of all and the device) where a peer sends overlay traffic in by a device the node routes back by another',
  docs: `With \`rp_filter = 1\` (strict) the kernel drops a packet when the route back to its source does not leave by the
device it arrived on; the effective value is the larger of \`net.ipv4.conf.all.rp_filter\` and the device's own, so
setting either to 2 makes it loose. Overlays whose nodes route to each other symmetrically (every node sends every
peer's pods through flannel.1 or tunl0) pass strict filtering — most distributions default to 1 and that is fine.
It breaks when the paths differ: one node sends through the tunnel while the peer answers over the underlay (flannel
DirectRouting or Calico CrossSubnet on some nodes only, a static route someone added), or the outer packets come in
on a second NIC. The drops are silent (only \`nstat\`'s IPReversePathFilter counter shows them).

netdoctor takes each pair of nodes, finds from the sending node's routes which device a pod packet (and the outer
packet of the overlay) arrives on at the receiving node, and asks the receiving node's input routing, reverse-path
check included, whether it accepts it. Only a refusal by the reverse-path filter is reported.

Confirm by hand: \`ip route get <local pod> from <remote pod> iif flannel.1\` answers "Invalid argument" (older
kernels "Invalid cross-device link"); \`nstat -az TcpExtIPReversePathFilter\`. Fix: make the paths symmetric, or set
the arriving device to loose mode (2).`,
  run(cluster: ClusterModel, { emit }) {
    const nodes = cluster.nodes.filter((n) => n.output('ip-route') && n.sysctl.size > 0);
    for (const node of nodes) {
      const local = podAddress(cluster, node);
      const drops: Drop[] = [];
      const targets = peerTargets(cluster, node);
      for (const peer of nodes) {
        if (peer === node) continue;
        const remote = podAddress(cluster, peer);
        // Inner packets: a pod on the peer to a pod here, arriving where the peer's route sends it.
        if (local && remote) {
          const out = routeGet(peer.routing, { dst: local });
          let iif: string | undefined;
          if (out.ok && out.type === 'unicast') {
            if (TUNNEL.test(out.dev)) iif = out.dev;
            else if (out.gateway && node.nodeIp === out.gateway) iif = uplink(node);
          }
          if (iif && node.routing.devices.has(iif)) {
            const r = routeGet(node.routing, { dst: local, src: remote, iif });
            const back = routeGet(node.routing, { dst: remote });
            // When this node's own route back is not the overlay's (missing, stale, a host network over the pod
            // range), that route is the cause and the route checks name it; the filter only finishes the packet off.
            const own = targets.find((t) => cidrContains(t.subnet, parseIp(remote) as Ip));
            const ownWrong = own !== undefined && (!back.ok || back.type !== 'unicast' || !own.accepts(back));
            if (!r.ok && /reverse-path filter/.test(r.reason) && !ownWrong) {
              drops.push({
                peer: peer.name,
                iif,
                src: remote,
                dst: local,
                how: `${peer.name}: ip route get ${local}: ${out.ok ? out.text : out.message}`,
                back: `${node.name}: ip route get ${remote}: ${back.ok ? back.text : back.message}`,
                reason: r.reason,
              });
            }
          }
        }
        // Outer packets of the overlay: the peer's address to this node's, on the device holding this node's address.
        const from = peer.nodeIp;
        const to = node.nodeIp;
        const up = uplink(node);
        if (from && to && up && cluster.overlay) {
          const r = routeGet(node.routing, { dst: to, src: from, iif: up });
          if (!r.ok && /reverse-path filter/.test(r.reason)) {
            const back = routeGet(node.routing, { dst: from });
            drops.push({
              peer: peer.name,
              iif: up,
              src: from,
              dst: to,
              how: `${cluster.overlay.cni} ${cluster.overlay.mode} packets from ${peer.name} arrive on ${up}`,
              back: `${node.name}: ip route get ${from}: ${back.ok ? back.text : back.message}`,
              reason: r.reason,
            });
          }
        }
      }
      if (drops.length === 0) continue;
      const devices = [...new Set(drops.map((d) => d.iif))];
      const evidence: Evidence[] = [];
      const all = node.sysctl.get('net.ipv4.conf.all.rp_filter');
      for (const dev of devices) {
        const key = sysctlKey('net.ipv4.conf', dev, 'rp_filter');
        const own = node.sysctl.get(key);
        evidence.push({
          kind: 'sysctl',
          node: node.name,
          key,
          value: own ?? '(unset)',
          device: dev,
          text: `${key} = ${own ?? '(unset)'}, net.ipv4.conf.all.rp_filter = ${all ?? '(unset)'}`,
          detail: `effective rp_filter on ${dev}: ${devConf(node.routing, 4, dev, 'rp_filter', 'max')} (strict)`,
        });
      }
      for (const d of drops)
        evidence.push({
          kind: 'route-get',
          node: node.name,
          peer: d.peer,
          device: d.iif,
          text: `ip route get ${d.dst} from ${d.src} iif ${d.iif}: RTNETLINK answers: Invalid argument`,
          detail: `${d.reason}. ${d.how}; ${d.back}`,
        });
      const persist = '/etc/sysctl.d/99-kubernetes-rp-filter.conf';
      const keys = devices.map((d) => sysctlKey('net.ipv4.conf', d, 'rp_filter'));
      emit({
        node: node.name,
        title: `${node.name} drops traffic from ${[...new Set(drops.map((d) => d.peer))].join(', ')} arriving on ${devices.join(', ')}: strict rp_filter on an asymmetric path`,
        detail:
          `Packets from ${[...new Set(drops.map((d) => d.peer))].join(', ')} arrive at ${node.name} on ${devices.join(', ')}, ` +
          `but ${node.name} routes its answers back by another device, and strict reverse-path filtering drops them ` +
          'silently. Make the overlay routes symmetric on both nodes, or relax the filter on the arriving device.',
        evidence,
        fix: [
          ...keys.map((k) => `sysctl -w ${k}=2`),
          `printf '${keys.map((k) => `${k} = 2\\n`).join('')}' > ${persist}`,
        ],
      });
    }
  },
});
