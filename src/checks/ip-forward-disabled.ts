/**
 * ip-forward-disabled: the node does not forward IPv4 (seed 001: `net.ipv4.ip_forward = 0`, reset by a security scan
 * or never made persistent), or forwarding is off on a device pod traffic arrives on. Routed pod traffic then dies in
 * the node's input routing with "No route to host".
 */
import type { Evidence } from '../core/vocabulary.js';
import type { ClusterModel, NodeModel } from '../model/cluster.js';
import { addressIn, nodePodSubnets, podTrafficDevices } from '../model/pod-network.js';
import { sysctlKey } from '../parse/sysctl.js';
import { routeGet } from '../route/get.js';
import { devConf } from '../route/state.js';
import { defineCheck } from './define.js';

const PERSIST = '/etc/sysctl.d/99-kubernetes-ip-forward.conf';

/** What the kernel answers for a pod's packet to a pod on another node, as `ip route get ... iif <bridge>` shows. */
function routedPodPacket(cluster: ClusterModel, node: NodeModel, iif: string): Evidence | undefined {
  const own = nodePodSubnets(node)[0];
  const other = cluster.nodes.flatMap((n) => (n === node ? [] : nodePodSubnets(n)))[0];
  if (!own || !other) return undefined;
  const src = addressIn(own.cidr, 2);
  const dst = addressIn(other.cidr, 2);
  const r = routeGet(node.routing, { dst, src, iif });
  if (r.ok) return undefined;
  return {
    kind: 'route-get',
    node: node.name,
    text: `ip route get ${dst} from ${src} iif ${iif}: ${r.message}`,
    detail: r.reason,
  };
}

export default defineCheck({
  id: 'ip-forward-disabled',
  title: 'The node does not forward IPv4 packets',
  severity: 'critical',
  seeds: ['001'],
  summary: 'net.ipv4.ip_forward = 0, or forwarding off on a device pod traffic arrives on (cni0, flannel.1, ...)',
  docs: `Every packet between a pod and anything outside its node is routed by the node: it arrives on the pod bridge
(cni0, docker0), on a Calico cali* veth or on the overlay device (flannel.1, tunl0, vxlan.calico) and leaves by
another device. The kernel forwards it only when forwarding is on for the device it arrived on
(\`net.ipv4.conf.<dev>.forwarding\`; \`net.ipv4.ip_forward\` sets all of them at once). With it off, pods reach
only their own node: connections to pods on other nodes, to Services backed by them and to the outside time out, and
\`ip route get <remote pod> from <local pod> iif cni0\` answers "No route to host". A security scan that resets the
setting, or a \`sysctl -w\` never written to /etc/sysctl.d, brings it back after a reboot.

netdoctor reads the node's sysctls and reports ip_forward = 0, or forwarding = 0 on a device pod traffic arrives on
(a device that routes to pod prefixes leave by, and the uplink when NodePort or LoadBalancer services forward
outside traffic to pods). Forwarding off on a device no pod traffic uses is no finding.

Confirm by hand: \`sysctl net.ipv4.ip_forward net.ipv4.conf.all.forwarding\`. Fix: \`sysctl -w
net.ipv4.ip_forward=1\` now, and a file in /etc/sysctl.d so it survives reboots.`,
  run(cluster: ClusterModel, { emit }) {
    for (const node of cluster.nodes) {
      const sys = node.sysctl;
      if (sys.size === 0) continue;
      const global = sys.get('net.ipv4.ip_forward');
      const devices = podTrafficDevices(cluster, node);
      const firstPodDev = [...devices.keys()].find((d) => /^(cni|cbr|docker|cali)/.test(d)) ?? [...devices.keys()][0];
      if (global === '0') {
        const evidence: Evidence[] = [
          {
            kind: 'sysctl',
            node: node.name,
            key: 'net.ipv4.ip_forward',
            value: '0',
            text: 'net.ipv4.ip_forward = 0',
            detail: 'IPv4 forwarding is off on every device of the node',
          },
        ];
        const all = sys.get('net.ipv4.conf.all.forwarding');
        if (all !== undefined)
          evidence.push({
            kind: 'sysctl',
            node: node.name,
            key: 'net.ipv4.conf.all.forwarding',
            value: all,
            text: `net.ipv4.conf.all.forwarding = ${all}`,
          });
        const probe = firstPodDev ? routedPodPacket(cluster, node, firstPodDev) : undefined;
        if (probe) evidence.push(probe);
        emit({
          node: node.name,
          title: `${node.name} does not forward IPv4: net.ipv4.ip_forward = 0`,
          detail:
            `IP forwarding is off on ${node.name}, so the kernel routes nothing between its devices: pods on ${node.name} ` +
            'reach only the node itself; connections to pods on other nodes, to Services and to the outside time out ' +
            '(SYNs are sent again and again, no answer), and traffic from other nodes to its pods is dropped.',
          evidence,
          fix: [
            'sysctl -w net.ipv4.ip_forward=1',
            `echo 'net.ipv4.ip_forward = 1' > ${PERSIST} && sysctl -p ${PERSIST}`,
          ],
        });
        continue;
      }
      const off: { dev: string; why: string; key: string }[] = [];
      for (const [dev, why] of devices) {
        if (devConf(node.routing, 4, dev, 'forwarding', 'dev') !== 0) continue;
        off.push({ dev, why, key: sysctlKey('net.ipv4.conf', dev, 'forwarding') });
      }
      if (off.length === 0) continue;
      const evidence: Evidence[] = off.map((o) => ({
        kind: 'sysctl',
        node: node.name,
        key: o.key,
        value: '0',
        device: o.dev,
        text: `${o.key} = 0`,
        detail: `pod traffic arrives on ${o.dev}: ${o.why}`,
      }));
      if (global !== undefined)
        evidence.push({
          kind: 'sysctl',
          node: node.name,
          key: 'net.ipv4.ip_forward',
          value: global,
          text: `net.ipv4.ip_forward = ${global}`,
          detail: 'on globally, but the device settings above override it for packets arriving there',
        });
      const probe = routedPodPacket(cluster, node, off[0]?.dev as string);
      if (probe) evidence.push(probe);
      const names = off.map((o) => o.dev).join(', ');
      emit({
        node: node.name,
        title: `${node.name} does not forward packets arriving on ${names} (forwarding = 0)`,
        detail:
          `IPv4 forwarding is on for ${node.name} but off on ${names}, where pod traffic arrives: the kernel refuses to route ` +
          'those packets on (No route to host), so pod traffic through them times out.',
        evidence,
        fix: [
          ...off.map((o) => `sysctl -w ${o.key}=1`),
          `printf '${off.map((o) => `${o.key} = 1\\n`).join('')}' > ${PERSIST} && sysctl -p ${PERSIST}`,
        ],
      });
    }
  },
});
