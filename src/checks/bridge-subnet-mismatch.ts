/**
 * bridge-subnet-mismatch: the pod bridge (docker0, cni0) is addressed outside the node's flannel lease or
 * FLANNEL_SUBNET (seed 004: after flannel took a new lease, docker0 stayed on 172.17.98.1/24 until docker restarted).
 */
import { type Cidr, cidrContains, formatCidr, parseIp } from '../core/ip.js';
import type { Evidence } from '../core/vocabulary.js';
import type { ClusterModel, NodeModel } from '../model/cluster.js';
import { flannelLeases, leaseOf, restartFlannel, runsFlannel, subnetEnv } from '../model/flannel.js';
import { podBridges } from '../model/pod-network.js';
import { defineCheck } from './define.js';

function bridgeFix(node: NodeModel, bridge: string): string[] {
  if (bridge === 'docker0') return ['systemctl restart docker'];
  // The CNI bridge plugin refuses a bridge that has another address ("cni0 already has an IP address different
  // from ..."): delete it; it is re-created on the right subnet with the next pod, so the node's pods are re-created.
  return [
    `ip link delete ${bridge}`,
    `kubectl delete pod --all-namespaces --field-selector spec.nodeName=${node.name}`,
  ];
}

export default defineCheck({
  id: 'bridge-subnet-mismatch',
  title: "The pod bridge is not on the node's flannel subnet",
  severity: 'error',
  seeds: ['004'],
  summary: "docker0/cni0's address is outside the node's lease or FLANNEL_SUBNET (or FLANNEL_SUBNET is not the lease)",
  docs: `flannel writes the node's lease to /run/flannel/subnet.env (FLANNEL_SUBNET=10.244.3.1/24); Docker
(\`--bip\`) or the CNI bridge plugin address the pod bridge from it when they start. When flannel takes a new lease
— the old one expired, etcd lost it (seed 004) — the bridge keeps the old subnet until the runtime restarts: pods get
addresses no other node routes to this node, so they are unreachable from other nodes and their replies to them are
lost. With the CNI bridge plugin new pods fail to start instead ("cni0 already has an IP address different from ...").

netdoctor compares each pod bridge's IPv4 address with the node's lease (etcd or spec.podCIDR with the kube subnet
manager) and with FLANNEL_SUBNET, and FLANNEL_SUBNET with the lease.

Confirm by hand: \`ip -4 addr show docker0\` (or cni0) against \`cat /run/flannel/subnet.env\`. Fix: restart flannel if
subnet.env is stale, then restart the runtime (docker0) or delete cni0 so it is re-created on the new subnet.`,
  run(cluster: ClusterModel, { emit }) {
    const leases = flannelLeases(cluster);
    for (const node of cluster.nodes) {
      if (!runsFlannel(cluster, node)) continue;
      const env = subnetEnv(node);
      const lease = leases ? leaseOf(leases, node) : undefined;
      if (!env?.subnet && !lease && !leases) continue;
      const evidence: Evidence[] = [];
      const fix: string[] = [];
      const refs: { what: string; cidr: Cidr; source: string }[] = [];
      if (lease) refs.push({ what: 'its lease', cidr: lease.subnet, source: lease.source });
      if (env?.subnet)
        refs.push({
          what: 'FLANNEL_SUBNET',
          cidr: env.subnet,
          source: `/run/flannel/subnet.env FLANNEL_SUBNET=${env.vars.FLANNEL_SUBNET}`,
        });
      let envStale = false;
      if (lease && env?.subnet && formatCidr(lease.subnet) !== formatCidr(env.subnet)) {
        envStale = true;
        evidence.push({
          kind: 'file',
          node: node.name,
          path: '/run/flannel/subnet.env',
          text: `/run/flannel/subnet.env FLANNEL_SUBNET=${env.vars.FLANNEL_SUBNET}`,
          detail: `not the node's lease ${lease.text} (${lease.source})`,
        });
      }
      const bad: string[] = [];
      for (const b of podBridges(cluster, node))
        for (const a of b.addresses) {
          const ip = parseIp(a.address);
          if (!ip) continue;
          // In the lease, the bridge is right: a stale subnet.env alone is fixed by restarting flannel.
          if (lease && cidrContains(lease.subnet, ip)) continue;
          const outside = refs.filter((r) => !cidrContains(r.cidr, ip));
          const noLease = leases && !lease;
          if (outside.length === 0 && !noLease) continue;
          const holder = leases?.leases.find((l) => cidrContains(l.subnet, ip));
          bad.push(b.name);
          evidence.unshift({
            kind: 'interface',
            node: node.name,
            device: b.name,
            address: `${a.address}/${a.prefixlen}`,
            text: `${b.name} ${a.address}/${a.prefixlen}`,
            detail: [
              ...outside.map((r) => `not in ${r.what} ${formatCidr(r.cidr)} (${r.source})`),
              ...(noLease ? [`${node.name} has no lease in ${leases.where}`] : []),
              ...(holder && holder.node !== node.name
                ? [`${formatCidr(holder.subnet)} is leased to ${holder.node ?? holder.publicIp}`]
                : noLease && !holder
                  ? [`no lease holds ${formatCidr(a.cidr)}: no other node routes it here`]
                  : []),
            ].join('; '),
          });
          for (const f of bridgeFix(node, b.name)) fix.push(f);
        }
      if (bad.length === 0 && !envStale) continue;
      if (envStale || (leases && !lease)) fix.unshift(restartFlannel(cluster, node));
      if (fix.length === 0) fix.push(restartFlannel(cluster, node));
      const first = evidence[0];
      emit({
        node: node.name,
        title: bad.length
          ? `${node.name}: ${first?.text} is not on the node's flannel subnet (${lease ? lease.text : 'no lease'})`
          : `${node.name}: /run/flannel/subnet.env says ${env?.vars.FLANNEL_SUBNET}, the lease is ${lease?.text}`,
        detail:
          `Pods on ${node.name} get addresses from the bridge's subnet, but the other nodes route ${node.name}'s lease, not ` +
          'that subnet, to it: traffic from other nodes to those pods goes elsewhere or nowhere, and replies to them are lost.',
        evidence,
        fix: [...new Set(fix)],
      });
    }
  },
});
