/**
 * flannel-lease-missing: a node runs flannel but holds no lease (seed 004: etcd's /coreos.com/network/subnets had
 * entries for 03 and 06 only; node 05 kept using its old subnet, which no other node routes to).
 */

import { formatCidr } from '../core/ip.js';
import type { Evidence } from '../core/vocabulary.js';
import type { ClusterModel, NodeModel } from '../model/cluster.js';
import { flannelLeases, leaseOf, nodeAddresses, restartFlannel, runsFlannel, subnetEnv } from '../model/flannel.js';
import { podBridges } from '../model/pod-network.js';
import { defineCheck } from './define.js';

/** The command that makes the container runtime re-create the pod bridge on the node's new subnet. */
export function restartRuntime(cluster: ClusterModel, node: NodeModel): string {
  const ps = node.output('processes') ?? '';
  const docker = podBridges(cluster, node).some((b) => b.name === 'docker0') || /dockerd/.test(ps);
  return docker ? 'systemctl restart docker' : 'systemctl restart containerd';
}

export default defineCheck({
  id: 'flannel-lease-missing',
  title: 'A node runs flannel without a lease',
  severity: 'critical',
  seeds: ['004'],
  summary:
    'a flannel node has no lease in etcd (/coreos.com/network/subnets) or no podCIDR/annotations (kube subnet manager)',
  docs: `flannel gives each node a subnet lease — a key \`/coreos.com/network/subnets/<subnet>\` in etcd naming the node's
public IP and VTEP MAC, or with the kube subnet manager the Node's spec.podCIDR plus flannel's annotations — and every
other node writes its route, neighbour and fdb entries from the leases. A node whose lease expired or was deleted
(etcd restored, flannel stopped past the lease TTL) keeps its bridge and pods on the old subnet, but no other node
routes to it: NodePorts work only on the node hosting the pod, and cross-node traffic to its pods times out (seed 004).
With the kube subnet manager, a node without spec.podCIDR makes flannel fail to start ("pod cidr not assigned").

netdoctor lists the leases (etcd/subnets.json of the bundle, or the Node objects) and reports each node that runs
flannel (subnet.env, flannel.1, flanneld, or a flannel pod) without one, with what the node itself still uses.

Confirm by hand: \`etcdctl ls /coreos.com/network/subnets\` (v2) or \`etcdctl get --prefix /coreos.com/network/subnets\`;
\`kubectl get node <node> -o jsonpath='{.spec.podCIDR}'\`. Fix: restart flannel on the node so it acquires a lease,
then, with Docker, restart it so docker0 moves to the new subnet (seed 004); a cni0 left on the old subnet is
bridge-subnet-mismatch's finding once flannel has its lease.`,
  run(cluster: ClusterModel, { emit }) {
    const leases = flannelLeases(cluster);
    if (!leases) return;
    for (const node of cluster.nodes) {
      if (!runsFlannel(cluster, node)) continue;
      if (leaseOf(leases, node)) continue;
      const env = subnetEnv(node);
      const addrs = [...nodeAddresses(node)];
      const evidence: Evidence[] = [];
      if (leases.store === 'etcd') {
        evidence.push({
          kind: 'lease',
          text: `${leases.where}: ${leases.leases.map((l) => `${l.text} → ${l.publicIp ?? '?'}`).join(', ') || 'no leases'}`,
          detail: `no lease has ${node.name}'s address (${addrs.join(', ') || 'unknown'})`,
        });
      } else {
        const spec = (node.kube?.spec ?? {}) as { podCIDR?: string };
        const ann = node.kube?.metadata.annotations ?? {};
        evidence.push({
          kind: 'object',
          node: node.name,
          object: `node/${node.name}`,
          text: `node/${node.name}: spec.podCIDR ${spec.podCIDR ?? '(none)'}, flannel.alpha.coreos.com/public-ip ${ann['flannel.alpha.coreos.com/public-ip'] ?? '(none)'}`,
          detail: spec.podCIDR
            ? 'flannel has not registered this node (no flannel annotations)'
            : 'no pod CIDR is assigned to the node: flannel cannot take a lease ("pod cidr not assigned")',
        });
      }
      if (env?.subnet)
        evidence.push({
          kind: 'file',
          node: node.name,
          path: '/run/flannel/subnet.env',
          text: `/run/flannel/subnet.env FLANNEL_SUBNET=${env.vars.FLANNEL_SUBNET}`,
          detail: `the node still uses ${formatCidr(env.subnet)}, which no lease gives it`,
        });
      for (const b of podBridges(cluster, node))
        for (const a of b.addresses)
          evidence.push({
            kind: 'interface',
            node: node.name,
            device: b.name,
            text: `${b.name} ${a.address}/${a.prefixlen}`,
            detail: 'the pod bridge, on a subnet no other node routes to',
          });
      const noCidr = leases.store === 'kube' && !(node.kube?.spec as { podCIDR?: string } | undefined)?.podCIDR;
      emit({
        node: node.name,
        title: `${node.name} runs flannel but has no lease in ${leases.where}`,
        detail:
          `No flannel lease names ${node.name}, so no other node has a route, neighbour or fdb entry for its pods: ` +
          `traffic to pods on ${node.name} from other nodes times out, and its NodePorts work only for pods on ${node.name} itself.`,
        evidence,
        fix: noCidr
          ? [
              `kubectl get node ${node.name} -o jsonpath='{.spec.podCIDR}'   # empty: kube-controller-manager needs --allocate-node-cidrs=true --cluster-cidr`,
              restartFlannel(cluster, node),
            ]
          : [
              restartFlannel(cluster, node),
              ...(restartRuntime(cluster, node) === 'systemctl restart docker' ? ['systemctl restart docker'] : []),
            ],
      });
    }
  },
});
