/**
 * overlay-port-blocked: a node's firewall drops the overlay's encapsulated packets from its peers (seed 000: the new
 * node allowed tcp/8472, flannel's VXLAN is udp/8472, and the final REJECT caught it).
 */
import { formatIp, parseIp } from '../core/ip.js';
import type { Decisive, Evidence } from '../core/vocabulary.js';
import type { ClusterModel, NodeModel } from '../model/cluster.js';
import { deviceLocal, devicePort, type OverlaySpec } from '../model/overlay.js';
import type { Expr, Packet, Rule, Table } from '../netfilter/model.js';
import { protocolName } from '../netfilter/model.js';
import { makePacket } from '../netfilter/packet.js';
import { reachableChains } from '../netfilter/reach.js';
import { simulate } from '../netfilter/simulate.js';
import { defineCheck } from './define.js';

interface Blocked {
  peer: NodeModel;
  peerIp: string;
  decisive: Decisive;
  rejectWith?: string;
  packet: Packet;
}

/** What the overlay packet from `from` to `to` looks like on the wire. */
function outerPacket(
  overlay: OverlaySpec,
  from: NodeModel,
  fromIp: string,
  toIp: string,
  inIf: string | undefined,
): Packet {
  const port = (overlay.device ? devicePort(from, overlay.device) : undefined) ?? overlay.port;
  return makePacket({
    proto: overlay.proto,
    src: fromIp,
    dst: toIp,
    // VXLAN's source port is a hash of the inner flow: any port in the ephemeral range.
    ...(overlay.proto === 17 ? { sport: 40000, dport: port ?? 0 } : {}),
    ...(inIf ? { in: inIf } : {}),
    state: 'new',
  });
}

function peerAddress(node: NodeModel, overlay: OverlaySpec): string | undefined {
  return node.nodeIp ?? (overlay.device ? deviceLocal(node, overlay.device) : undefined);
}

function ruleEvidence(node: string, table: string, rule: Rule, why: string): Evidence {
  return {
    kind: 'rule',
    node,
    table,
    chain: rule.chain,
    index: rule.index,
    text: rule.text,
    detail: why,
    source: rule.source,
  };
}

const isAccept = (r: Rule) =>
  r.exprs.some((e) => e.kind === 'action' && e.name === 'ACCEPT') || r.text.endsWith(' accept');

function holds(exprs: Expr[], pkt: Packet, node: NodeModel): boolean {
  const env = node.netfilter.env;
  return exprs.every((e) => e.kind !== 'match' || e.test(pkt, env) === true);
}

/**
 * ACCEPT rules on the receiving node that nearly let the packet in: the same port with another protocol (seed 000's
 * `-p tcp --dport 8472`), or the right protocol and port from sources that miss the peer.
 */
function nearMisses(node: NodeModel, pkt: Packet): Evidence[] {
  const out: Evidence[] = [];
  const { ruleset } = node.netfilter;
  // Only chains the packet can reach on its way in: a FORWARD-only chain is no near miss.
  for (const step of reachableChains(ruleset, pkt.family, 'input')) {
    for (const rule of step.chain.rules) {
      if (!isAccept(rule)) continue;
      const matches = rule.exprs.filter((e) => e.kind === 'match');
      if (holds(matches, pkt, node)) continue;
      const otherProto = pkt.proto === 17 ? 6 : 17;
      if (pkt.dport !== undefined && holds(matches, { ...pkt, proto: otherProto }, node)) {
        out.push(
          ruleEvidence(
            node.name,
            step.table.label,
            rule,
            `near miss: accepts ${protocolName(otherProto)}/${pkt.dport}, but the overlay sends ${protocolName(pkt.proto)}/${pkt.dport}`,
          ),
        );
        continue;
      }
      const withoutSource = matches.filter((e) => e.name !== '-s' && !/^ip6? saddr/.test(e.canonical));
      if (withoutSource.length < matches.length && withoutSource.length > 0 && holds(withoutSource, pkt, node)) {
        const src = matches.find((e) => !withoutSource.includes(e));
        out.push(
          ruleEvidence(
            node.name,
            step.table.label,
            rule,
            `near miss: accepts ${protocolName(pkt.proto)}/${pkt.dport ?? ''} only from ${src?.canonical.replace(/^(! )?-s /, '$1')}, which does not include ${formatIp(pkt.src)}`,
          ),
        );
      }
    }
  }
  return out;
}

function tableOf(node: NodeModel, label: string | undefined): Table | undefined {
  return node.netfilter.ruleset.tables.find((t) => t.label === label);
}

/** Commands that let the overlay in, runnable as they are on the node. */
function fixes(node: NodeModel, overlay: OverlaySpec, blocked: Blocked[]): string[] {
  const first = blocked[0] as Blocked;
  const table = tableOf(node, first.decisive.table);
  const peers = [...new Set(blocked.map((b) => b.peerIp))].sort();
  const proto = protocolName(overlay.proto);
  const port = first.packet.dport;
  const out: string[] = [];
  if (table?.backend === 'nft') {
    const fam = table.family === 'ip6' ? 'ip6' : 'ip';
    const base = [...table.chains.values()].find((c) => c.hook === 'input')?.name ?? 'input';
    out.push(
      `nft insert rule ${table.family} ${table.name} ${base} ${fam} saddr { ${peers.join(', ')} } ${port !== undefined ? `${proto} dport ${port}` : `meta l4proto ${overlay.proto}`} accept`,
    );
  } else {
    const tool = table?.tool ?? 'iptables';
    out.push(
      `${tool} -I INPUT -s ${peers.join(',')} -p ${proto}${port !== undefined ? ` -m ${proto} --dport ${port}` : ''} -j ACCEPT`,
    );
  }
  const firewalld =
    node.output('firewalld-state')?.trim() === 'running' ||
    node.netfilter.ruleset.tables.some(
      (t) => t.name === 'firewalld' || t.chains.has('IN_public_allow') || t.chains.has('INPUT_ZONES'),
    );
  if (firewalld && port !== undefined)
    out.push(`firewall-cmd --permanent --add-port=${port}/${proto} && firewall-cmd --reload`);
  return out;
}

export default defineCheck({
  id: 'overlay-port-blocked',
  title: "The overlay's packets between nodes are dropped by a firewall",
  severity: 'critical',
  seeds: ['000', '001'],
  summary: "a node's firewall drops or rejects the encapsulated (VXLAN/IP-in-IP) packets its peers send it",
  docs: `Pods on different nodes talk through the overlay: flannel and Cilium wrap each packet in UDP (VXLAN, port 8472
on Linux by default; Calico VXLAN 4789; Geneve 6081), Calico IP-in-IP in IP protocol 4. The receiving node's kernel
passes that outer packet through PREROUTING and INPUT before it decapsulates it, so a host firewall that does not
accept it cuts every pod on that node off from the other nodes — while pods on one node, and the node itself, still
work. Users see timeouts (the ICMP error of a REJECT goes to the sending node's kernel, not to the pod), DNS lookups
that take seconds (the first nameserver, the cluster DNS, does not answer), and a new node that gets no traffic.

netdoctor simulates the outer packet of every ordered pair of nodes through the receiving node's netfilter (both
iptables backends and native nftables) with the protocol and port the cluster is configured with, and reports the
rule that drops it, with the rules that nearly accepted it (the right port with the wrong protocol is the classic).

Confirm by hand: on the receiving node, \`iptables -I INPUT 1 -j LOG\` and look for \`DPT=8472\` from the peer, or
\`tcpdump -ni eth0 udp port 8472\` on both ends. Fix: accept the overlay from the peers (the commands in the finding),
and make it permanent in the firewall's own configuration (firewalld: \`--add-port=8472/udp\`).`,
  run(cluster: ClusterModel, { emit }) {
    const overlay = cluster.overlay;
    if (!overlay) return;
    const nodes = cluster.nodes.filter((n) => n.hasNetfilter);
    for (const to of nodes) {
      const toIp = peerAddress(to, overlay);
      if (!toIp) continue;
      const inIf = to.interfaceOf(toIp);
      const blocked: Blocked[] = [];
      for (const from of cluster.nodes) {
        if (from === to) continue;
        const fromIp = peerAddress(from, overlay);
        if (!fromIp) continue;
        const pkt = outerPacket(overlay, from, fromIp, toIp, inIf);
        const r = simulate(to.netfilter.ruleset, pkt, 'input', to.netfilter.env, { node: to.name });
        if ((r.verdict === 'drop' || r.verdict === 'reject') && r.decisive)
          blocked.push({
            peer: from,
            peerIp: fromIp,
            decisive: r.decisive,
            ...(r.reject ? { rejectWith: r.reject.with } : {}),
            packet: pkt,
          });
      }
      if (blocked.length === 0) continue;
      const first = blocked[0] as Blocked;
      const d = first.decisive;
      const what = `${protocolName(first.packet.proto)}${first.packet.dport !== undefined ? `/${first.packet.dport}` : ''}`;
      const verb = first.rejectWith ? 'rejects' : 'drops';
      const where =
        d.kind === 'rule' ? `${d.table}/${d.chain} #${d.index}` : `the ${d.table}/${d.chain} policy ${d.policy}`;
      const evidence: Evidence[] = [
        {
          kind: d.kind === 'rule' ? 'rule' : 'policy',
          node: to.name,
          text: d.kind === 'rule' ? (d.text ?? '') : `${d.chain} policy ${d.policy}`,
          table: d.table,
          chain: d.chain,
          ...(d.index !== undefined ? { index: d.index } : {}),
          ...(d.source ? { source: d.source } : {}),
          detail: `decides the overlay packet ${formatIp(first.packet.src)} → ${toIp} ${what}: ${verb}${first.rejectWith ? ` (${first.rejectWith})` : ''}`,
        },
        ...nearMisses(to, first.packet),
      ];
      // How a node that accepts the same packet does it: the difference an operator would look for.
      for (const other of nodes) {
        if (other === to || other === first.peer) continue;
        const otherIp = peerAddress(other, overlay);
        const dst = otherIp ? parseIp(otherIp) : undefined;
        if (!otherIp || !dst) continue;
        const inOther = other.interfaceOf(otherIp);
        const pkt: Packet = { ...first.packet, dst, ...(inOther ? { in: inOther } : {}) };
        const r = simulate(other.netfilter.ruleset, pkt, 'input', other.netfilter.env, { node: other.name });
        if (r.verdict === 'accept' && r.decisive?.kind === 'rule') {
          evidence.push({
            kind: 'rule',
            node: other.name,
            text: r.decisive.text ?? '',
            table: r.decisive.table,
            chain: r.decisive.chain,
            index: r.decisive.index,
            ...(r.decisive.source ? { source: r.decisive.source } : {}),
            detail: `on ${other.name} the same overlay packet is accepted by this rule`,
          });
          break;
        }
      }
      evidence.push({
        kind: 'config',
        text: overlay.source,
        detail: `${overlay.cni} ${overlay.mode}: ${what} between nodes`,
      });
      const peers = blocked.map((b) => `${b.peer.name} (${b.peerIp})`);
      emit({
        node: to.name,
        title: `${to.name} ${verb} ${overlay.cni} ${overlay.mode} traffic (${what}) from ${blocked.length === cluster.nodes.length - 1 ? 'every other node' : peers.join(', ')}`,
        detail:
          `The ${overlay.cni} overlay carries pod traffic between nodes as ${what}. On ${to.name}, ${where} ${verb} it${first.rejectWith ? ` with ${first.rejectWith}` : ''}, ` +
          `so pods on ${to.name} cannot reach or be reached from pods on ${peers.join(', ')}: connections time out (the ICMP error goes to the peer's kernel, not to the pod), ` +
          'cluster DNS answers only from the fallback nameserver, and Services whose endpoints are there fail.',
        evidence,
        fix: fixes(to, overlay, blocked),
      });
    }
  },
});
