/**
 * pod-cidr-overlap: the pod network overlaps a network the nodes sit on, the service range, or another node's pod
 * subnet (seed 001: pods in 172.28.x while the node's eth1 is 172.28.128.103/24 — "No route to host" between pods).
 */
import { type Cidr, cidrContains, cidrsOverlap, formatCidr, parseCidr } from '../core/ip.js';
import type { Evidence } from '../core/vocabulary.js';
import type { ClusterModel, NodeModel } from '../model/cluster.js';
import { flannelNetConf } from '../model/flannel.js';
import {
  allPodCidrs,
  bridges,
  clusterPodCidrs,
  isPodDeviceName,
  nodePodSubnets,
  type SourcedCidr,
  serviceCidrs,
  serviceClusterIps,
} from '../model/pod-network.js';
import { defineCheck } from './define.js';

interface HostNet {
  device: string;
  address: string;
  net: Cidr;
}

/** The node's own networks: addresses on devices that are not part of the pod network. */
function hostNetworks(cluster: ClusterModel, node: NodeModel): HostNet[] {
  const pod = [...allPodCidrs(cluster)].map((c) => c.cidr);
  const all = bridges(node);
  const unused = new Set(all.filter((b) => b.ports.length === 0).map((b) => b.name));
  const podBridge = new Set(all.filter((b) => b.ports.length > 0).map((b) => b.name));
  const out: HostNet[] = [];
  for (const a of node.addresses) {
    if (a.family !== 4 || a.ifname === 'lo') continue;
    // An unused docker0 (a containerd node with Docker installed) still owns its routes: it counts.
    if (isPodDeviceName(a.ifname) && !(a.ifname === 'docker0' && unused.has('docker0'))) continue;
    const net = parseCidr(`${a.address}/${a.prefixlen}`);
    if (!net) continue;
    // A bridge of another name that pods hang off, addressed in the pod network, is the pod bridge.
    if (podBridge.has(a.ifname) && pod.some((c) => cidrsOverlap(c, net))) continue;
    out.push({ device: a.ifname, address: a.address, net });
  }
  return out;
}

const CANDIDATES = ['10.244.0.0/16', '10.42.0.0/16', '172.20.0.0/16', '10.200.0.0/16', '192.168.128.0/17'];

/** A pod range that overlaps nothing the bundle shows, to suggest. */
function freeRange(taken: Cidr[], size: number): string | undefined {
  for (const c of CANDIDATES) {
    const cidr = parseCidr(c) as Cidr;
    const wanted = parseCidr(`${c.split('/')[0]}/${Math.min(size, cidr.prefix)}`) as Cidr;
    if (!taken.some((t) => cidrsOverlap(t, wanted))) return formatCidr(wanted);
  }
  return undefined;
}

function podEvidence(c: SourcedCidr): Evidence {
  return { kind: 'config', text: `${c.text} (${c.source})`, cidr: c.text, detail: 'pod network' };
}

function changeNetworkFix(cluster: ClusterModel, suggestion: string | undefined): string[] {
  const net = suggestion ?? '<a free range>';
  const out: string[] = [];
  const flannel = flannelNetConf(cluster);
  const cm = cluster.configMap('kube-flannel-cfg');
  if (flannel && cm)
    out.push(
      `kubectl -n ${cm.metadata.namespace ?? 'kube-system'} edit configmap kube-flannel-cfg   # net-conf.json: "Network": "${net}"`,
    );
  return out;
}

export default defineCheck({
  id: 'pod-cidr-overlap',
  title: 'The pod network overlaps a host network, the service range, or another node',
  severity: 'critical',
  seeds: ['001'],
  summary: "pod CIDRs overlap a node's own network, the service CIDR (or a ClusterIP), or each other",
  docs: `Pod addresses must be unique and routed to the overlay. When the pod network (flannel's Network,
kube-controller-manager's --cluster-cidr, node spec.podCIDR, Calico's pools) overlaps a network a node is attached
to, the node's connected route for that network and the overlay's routes fight over the same addresses: a pod's
packet to a pod in the overlapping part leaves by the host interface and ARPs for an address nobody there has ("No
route to host", seed 001), and the hosts of that network become unreachable from pods. Overlapping the service range
makes ClusterIPs and pod IPs ambiguous; two nodes with overlapping pod subnets send each other's pods' traffic to the
wrong node.

netdoctor compares every pod prefix the bundle names (with where it was read) against each node's addresses on
non-pod interfaces (and an unused docker0, which keeps its route), the service CIDR when a flag or ServiceCIDR object
names it (else the Services' ClusterIPs themselves), and every other node's pod subnet. Prefixes that only touch
(10.244.0.0/16 next to 10.245.0.0/16) do not overlap and are no finding.

Confirm by hand: \`kubectl get nodes -o jsonpath='{..podCIDR}'\`, \`ip -4 addr\` on the nodes. Fix: choose a pod range
that overlaps nothing (it is set when the cluster is created: flannel's net-conf.json, kubeadm's podSubnet) —
moving it means re-creating the nodes' pod subnets.`,
  run(cluster: ClusterModel, { emit }) {
    const clusterCidrs = clusterPodCidrs(cluster);
    const pods = allPodCidrs(cluster);
    if (pods.length === 0) return;
    const services = serviceCidrs(cluster);
    const clusterIps = serviceClusterIps(cluster);
    const taken: Cidr[] = [...services.map((s) => s.cidr)];
    for (const n of cluster.nodes) for (const h of hostNetworks(cluster, n)) taken.push(h.net);
    const size = clusterCidrs[0]?.cidr.prefix ?? 16;
    const suggestion = freeRange(taken, size);

    // A node's own networks.
    for (const node of cluster.nodes) {
      const hits: { host: HostNet; pod: SourcedCidr }[] = [];
      for (const host of hostNetworks(cluster, node))
        for (const pod of pods) {
          if (cidrsOverlap(pod.cidr, host.net) && !hits.some((h) => h.host === host && h.pod.text === pod.text))
            hits.push({ host, pod });
        }
      if (hits.length === 0) continue;
      const evidence: Evidence[] = [];
      for (const h of hits) {
        evidence.push({
          kind: 'interface',
          node: node.name,
          device: h.host.device,
          address: h.host.address,
          cidr: formatCidr(h.host.net),
          text: `${h.host.device} ${h.host.address}/${h.host.net.prefix} (network ${formatCidr(h.host.net)})`,
          detail: `overlaps the pod prefix ${h.pod.text}${cidrContains(h.pod.cidr, { family: 4, value: h.host.net.network }) && h.pod.cidr.prefix <= h.host.net.prefix ? `: the whole network is inside the pod range` : ''}`,
        });
      }
      for (const p of [...new Set(hits.map((h) => h.pod))]) evidence.push(podEvidence(p));
      const first = hits[0] as { host: HostNet; pod: SourcedCidr };
      emit({
        node: node.name,
        title: `${node.name}: the pod network ${first.pod.text} overlaps ${first.host.device}'s network ${formatCidr(first.host.net)}`,
        detail:
          `${node.name} is attached to ${formatCidr(first.host.net)} on ${first.host.device}, inside the pod network ${first.pod.text}. ` +
          'Packets to pod addresses in the overlapping part follow the connected route out of the host interface and ' +
          'find nobody ("No route to host"), and pods cannot reach the hosts of that network.' +
          (suggestion ? ` ${suggestion} overlaps nothing this bundle shows.` : '') +
          ' kube-controller-manager --cluster-cidr (kubeadm: networking.podSubnet) must name the same range, and the ' +
          "nodes' pod subnets are re-assigned only when the nodes register again.",
        evidence,
        fix: changeNetworkFix(cluster, suggestion),
      });
    }

    // The service range, or the ClusterIPs themselves.
    const svcHits: Evidence[] = [];
    for (const s of services)
      for (const p of pods)
        if (cidrsOverlap(s.cidr, p.cidr))
          svcHits.push({
            kind: 'config',
            text: `service CIDR ${s.text} (${s.source})`,
            cidr: s.text,
            detail: `overlaps the pod prefix ${p.text} (${p.source})`,
          });
    if (services.length === 0)
      for (const ip of clusterIps) {
        const p = pods.find((c) => cidrContains(c.cidr, ip.ip));
        if (p && svcHits.length < 5)
          svcHits.push({
            kind: 'object',
            object: `service/${ip.service}`,
            text: `service/${ip.service} clusterIP ${ip.text}`,
            detail: `inside the pod prefix ${p.text} (${p.source})`,
          });
      }
    if (svcHits.length)
      emit({
        severity: 'error',
        title: 'The pod network overlaps the Services’ ClusterIP range',
        detail:
          'ClusterIPs and pod IPs share addresses: a packet to such an address is DNATed by kube-proxy as a Service ' +
          'or routed to a pod depending on the node, and an address can be handed out twice.',
        evidence: svcHits,
        fix: changeNetworkFix(cluster, suggestion),
      });

    // Nodes' pod subnets among themselves.
    const nodeSubnets = cluster.nodes.flatMap((n) => nodePodSubnets(n));
    const seen = new Set<string>();
    for (const a of nodeSubnets)
      for (const b of nodeSubnets) {
        if (a.node === b.node || !cidrsOverlap(a.cidr, b.cidr)) continue;
        const key = [a.node, b.node].sort().join(' ');
        if (seen.has(key)) continue;
        seen.add(key);
        emit({
          title: `Nodes ${a.node} and ${b.node} have overlapping pod subnets (${a.text}, ${b.text})`,
          detail:
            'Two nodes hand out pod addresses from overlapping ranges: the other nodes route those addresses to one ' +
            'of them only, so pods of the other are unreachable and addresses may be used twice.',
          evidence: [
            { kind: 'config', node: a.node, text: `${a.text} (${a.source})`, cidr: a.text },
            { kind: 'config', node: b.node, text: `${b.text} (${b.source})`, cidr: b.text },
          ],
          fix: [`kubectl get nodes -o custom-columns=NAME:.metadata.name,PODCIDR:.spec.podCIDR`],
        });
      }
  },
});
