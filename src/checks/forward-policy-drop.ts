/**
 * forward-policy-drop: the filter FORWARD chain drops pod traffic between nodes — Docker's `:FORWARD DROP` (since
 * Docker 1.13) with no accept for the pod network, or a firewall's catch-all REJECT at the end of FORWARD. Pods reach
 * their own node, and nothing routed through it.
 */
import type { Evidence } from '../core/vocabulary.js';
import type { ClusterModel } from '../model/cluster.js';
import { clusterPodCidrs, nodePodSubnets, podAddress } from '../model/pod-network.js';
import type { Table } from '../netfilter/model.js';
import { makePacket } from '../netfilter/packet.js';
import { type EvalResult, simulate } from '../netfilter/simulate.js';
import { routeGet } from '../route/get.js';
import { defineCheck } from './define.js';

/** A FORWARD rule that drops whatever reaches it: no address, interface or protocol condition. */
function catchAll(text: string | undefined): boolean {
  return text !== undefined && /^-A FORWARD( -m comment --comment ("[^"]*"|\S+))? -j (DROP|REJECT)\b/.test(text);
}

interface Blocked {
  peer: string;
  direction: 'out' | 'in';
  src: string;
  dst: string;
  inDev: string;
  outDev: string;
  result: EvalResult;
}

export default defineCheck({
  id: 'forward-policy-drop',
  title: 'The FORWARD chain drops pod traffic between nodes',
  severity: 'critical',
  seeds: ['001'],
  summary: 'filter FORWARD policy DROP (Docker style) or a catch-all REJECT, without accepts for the pod network',
  docs: `Traffic between a pod and anything off its node is forwarded by the node and passes the filter table's FORWARD
chain. Docker sets that chain's policy to DROP (since 1.13) and accepts only what leaves docker0 and replies to it;
RHEL-style firewalls end FORWARD with \`-j REJECT --reject-with icmp-host-prohibited\`. Without rules that accept the
pod network (flannel adds them since 0.10 in FLANNEL-FWD, kube-proxy with --cluster-cidr in KUBE-FORWARD), pods can
open connections out but nothing from another node's pods gets in: cross-node pod traffic and Services backed by pods
elsewhere time out, or see "host unreachable" from a REJECT.

netdoctor sends a pod-to-pod packet of each pair of nodes through the node's forward path in the netfilter simulator
(both iptables backends and native nft, in hook order), in both directions, with the devices the node's routes give
it, and reports the chain policy or catch-all rule that drops it. A drop by a rule that targets specific traffic (a
NetworkPolicy chain, for example) is not this check's business.

Confirm by hand: \`iptables -S FORWARD\` (\`-P FORWARD DROP\`), \`iptables -L FORWARD -nv\` counters. Fix: accept the pod
network in FORWARD (the commands below), or keep Docker out of the pod network's way (\`"iptables": false\` is rarely
right; upgrade flannel / set kube-proxy's clusterCIDR so they add the accepts).`,
  run(cluster: ClusterModel, { emit }) {
    const cidrs = clusterPodCidrs(cluster);
    for (const node of cluster.nodes) {
      if (!node.hasNetfilter || !node.output('ip-route')) continue;
      const local = podAddress(cluster, node);
      if (!local) continue;
      const toLocal = routeGet(node.routing, { dst: local });
      if (!toLocal.ok || toLocal.type !== 'unicast') continue;
      const podDev = toLocal.dev;
      const blocked: Blocked[] = [];
      for (const peer of cluster.nodes) {
        if (peer === node) continue;
        const remote = podAddress(cluster, peer);
        if (!remote) continue;
        const toRemote = routeGet(node.routing, { dst: remote });
        if (!toRemote.ok || toRemote.type !== 'unicast' || toRemote.dev === podDev) continue;
        const via = toRemote.dev;
        for (const [direction, src, dst, inDev, outDev] of [
          ['out', local, remote, podDev, via],
          ['in', remote, local, via, podDev],
        ] as const) {
          const pkt = makePacket({ proto: 'tcp', src, dst, dport: 8080, in: inDev, out: outDev, state: 'new' });
          const r = simulate(node.netfilter.ruleset, pkt, 'forward', node.netfilter.env, { node: node.name });
          if (r.verdict !== 'drop' && r.verdict !== 'reject') continue;
          const d = r.decisive;
          if (!d || !(d.kind === 'policy' || (d.kind === 'rule' && catchAll(d.text)))) continue;
          blocked.push({ peer: peer.name, direction, src, dst, inDev, outDev, result: r });
        }
      }
      if (blocked.length === 0) continue;
      const first = blocked[0] as Blocked;
      const d = first.result.decisive;
      if (!d) continue;
      const evidence: Evidence[] = [
        {
          kind: d.kind,
          node: node.name,
          table: d.table,
          chain: d.chain,
          ...(d.index !== undefined ? { index: d.index } : {}),
          ...(d.policy ? { policy: d.policy } : {}),
          ...(d.source ? { source: d.source } : {}),
          text: d.kind === 'policy' ? `${d.chain} policy ${d.policy}` : (d.text ?? ''),
          detail: `decides the forwarded pod packets below: ${first.result.verdict}${first.result.reject ? ` (${first.result.reject.with})` : ''}`,
        },
        ...blocked.map((b) => ({
          kind: 'packet',
          node: node.name,
          peer: b.peer,
          direction: b.direction,
          text: `tcp ${b.src} → ${b.dst}:8080 NEW, in ${b.inDev} out ${b.outDev}: ${b.result.verdict}`,
          detail:
            b.direction === 'in'
              ? `a pod on ${b.peer} to a pod on ${node.name}`
              : `a pod on ${node.name} to a pod on ${b.peer}`,
        })),
      ];
      const accepted = [...new Set(blocked.map((b) => b.direction))].length === 1;
      const table = node.netfilter.ruleset.tables.find((t: Table) => t.label === d.table);
      const nets = cidrs.length
        ? cidrs.map((c) => c.text)
        : [...new Set([node, ...cluster.nodes].flatMap((n) => nodePodSubnets(n).map((c) => c.text)))];
      const fix: string[] = [];
      for (const net of nets) {
        if (table?.backend === 'nft') {
          const fam = table.family === 'ip6' ? 'ip6' : 'ip';
          fix.push(`nft insert rule ${table.family} ${table.name} ${d.chain} ${fam} saddr ${net} accept`);
          fix.push(`nft insert rule ${table.family} ${table.name} ${d.chain} ${fam} daddr ${net} accept`);
        } else {
          const tool = table?.tool ?? 'iptables';
          fix.push(`${tool} -I FORWARD -s ${net} -j ACCEPT`, `${tool} -I FORWARD -d ${net} -j ACCEPT`);
        }
      }
      const where =
        d.kind === 'policy' ? `the ${d.table}/${d.chain} policy ${d.policy}` : `${d.table}/${d.chain} #${d.index}`;
      const peers = [...new Set(blocked.map((b) => b.peer))];
      emit({
        node: node.name,
        title: `${node.name}: ${where} drops pod traffic ${accepted && first.direction === 'in' ? 'from' : accepted ? 'to' : 'to and from'} ${peers.join(', ')}`,
        detail:
          `Pod packets forwarded by ${node.name} fall through the FORWARD chain to ${where}. ` +
          (accepted && first.direction === 'in'
            ? `Pods on ${node.name} can open connections out, but connections from other nodes' pods to them are dropped`
            : 'Cross-node pod traffic is dropped') +
          ': Services with endpoints there time out. Accept the pod network in FORWARD.',
        evidence,
        fix,
      });
    }
  },
});
