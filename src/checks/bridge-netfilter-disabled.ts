/**
 * bridge-netfilter-disabled: pods hang off a Linux bridge but bridged traffic skips iptables (seed 001:
 * `net.bridge.bridge-nf-call-iptables = 0`, or br_netfilter not loaded so the key does not exist). kube-proxy's DNAT
 * of a Service is then never undone for a reply that stays on the bridge, and NetworkPolicy does not see it.
 */
import type { Evidence } from '../core/vocabulary.js';
import type { ClusterModel } from '../model/cluster.js';
import { podBridges } from '../model/pod-network.js';
import { defineCheck } from './define.js';

const KEY = 'net.bridge.bridge-nf-call-iptables';
const MODULES_FILE = '/etc/modules-load.d/br_netfilter.conf';
const SYSCTL_FILE = '/etc/sysctl.d/99-kubernetes-bridge-nf.conf';

export default defineCheck({
  id: 'bridge-netfilter-disabled',
  title: 'Bridged pod traffic bypasses iptables (bridge-nf-call-iptables off)',
  severity: 'error',
  seeds: ['001'],
  summary: 'pods hang off a Linux bridge but net.bridge.bridge-nf-call-iptables is 0 or br_netfilter is not loaded',
  docs: `Pods attached to a Linux bridge (cni0 of the bridge/flannel CNI, docker0) talk to pods of the same node through
the bridge, at layer 2. Only with \`net.bridge.bridge-nf-call-iptables = 1\` (the br_netfilter module) do those
frames pass iptables. kube-proxy depends on it: a pod that calls a Service whose chosen endpoint is on the same node
is DNATed on the way in, but the endpoint's reply goes straight back over the bridge, is never un-NATed, and the
client drops it (connection refused, host unreachable or a timeout — intermittently, depending on which endpoint
was chosen). NetworkPolicy implemented with iptables misses that traffic too. kubeadm's preflight checks for it.

netdoctor reports a node whose bridge has pod veths while the sysctl is 0 or absent (absent: the module is not
loaded; /proc/modules confirms it when collected). A bridge's own \`nf_call_iptables\` option (\`ip -d link\`) turns
it on for that bridge alone, and counts.

Confirm by hand: \`sysctl net.bridge.bridge-nf-call-iptables\` ("cannot stat" means the module is not loaded); \`lsmod
| grep br_netfilter\`. Fix: \`modprobe br_netfilter\`, set the sysctl to 1, and make both persistent.`,
  run(cluster: ClusterModel, { emit }) {
    for (const node of cluster.nodes) {
      const sys = node.sysctl;
      if (sys.size === 0) continue;
      const value = sys.get(KEY);
      if (value !== undefined && value !== '0') continue;
      const bridges = podBridges(cluster, node).filter(
        (b) => b.ports.length > 0 && b.nfCallIptables !== 1 && b.addresses.length > 0,
      );
      if (bridges.length === 0) continue;
      const loaded = value !== undefined || [...sys.keys()].some((k) => k.startsWith('net.bridge.'));
      const modules = node.fileContent('/proc/modules');
      const evidence: Evidence[] = [
        {
          kind: 'sysctl',
          node: node.name,
          key: KEY,
          value: value ?? 'missing',
          text: value !== undefined ? `${KEY} = ${value}` : `${KEY}: no such key in \`sysctl -a\``,
          detail:
            value !== undefined
              ? 'bridged IPv4 traffic does not pass iptables'
              : 'no net.bridge.* keys at all: the br_netfilter module is not loaded',
        },
      ];
      if (!loaded && modules !== undefined && !/^br_netfilter\s/m.test(modules))
        evidence.push({
          kind: 'file',
          node: node.name,
          path: '/proc/modules',
          text: '/proc/modules lists no br_netfilter',
        });
      for (const b of bridges)
        evidence.push({
          kind: 'interface',
          node: node.name,
          device: b.name,
          text: `${b.name} ${b.addresses.map((a) => `${a.address}/${a.prefixlen}`).join(' ')}: ${b.ports.length} pod port(s) (${b.ports
            .slice(0, 4)
            .map((p) => p.name)
            .join(', ')}${b.ports.length > 4 ? ', ...' : ''})`,
          detail: `pods on this bridge reach each other without passing iptables${b.nfCallIptables === 0 ? " (the bridge's own nf_call_iptables is 0 too)" : ''}`,
        });
      const fix = [
        ...(loaded ? [] : ['modprobe br_netfilter']),
        `sysctl -w ${KEY}=1`,
        ...(loaded ? [] : [`echo br_netfilter > ${MODULES_FILE}`]),
        `echo '${KEY} = 1' > ${SYSCTL_FILE} && sysctl -p ${SYSCTL_FILE}`,
      ];
      const names = bridges.map((b) => b.name).join(', ');
      emit({
        node: node.name,
        title: loaded
          ? `${node.name}: traffic between pods on ${names} bypasses iptables (${KEY} = ${value})`
          : `${node.name}: br_netfilter is not loaded, so traffic between pods on ${names} bypasses iptables`,
        detail:
          `Pods on ${node.name} hang off the bridge ${names}, but bridged frames do not pass iptables. A pod that calls a ` +
          'Service whose endpoint is on the same node gets the reply straight from the endpoint, un-NATed, and drops ' +
          'it (refused, unreachable or a timeout, depending on the endpoint chosen); NetworkPolicy rules miss that traffic.',
        evidence,
        fix,
      });
    }
  },
});
