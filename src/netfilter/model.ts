/**
 * The netfilter model every parser produces and the simulator walks. iptables rules (both backends) and native
 * nftables rules compile to the same shape: a rule is a list of expressions evaluated in order — matches that may stop
 * the rule, and actions (targets, nft statements) that change the packet or end the chain.
 */

import type { ParseIssue } from '../core/errors.js';
import type { Ip, IpFamily } from '../core/ip.js';
import type { RejectInfo } from '../core/vocabulary.js';

export type Hook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
export type Path = 'input' | 'forward' | 'output';
export type CtState = 'new' | 'established' | 'related' | 'invalid' | 'untracked';

/** Where a rule set came from: the iptables backend that holds it, or native nftables. */
export type Backend = 'iptables-nft' | 'iptables-legacy' | 'nft';

/** A packet as netfilter sees it at one point of its path. Mutable copies are made per branch. */
export interface Packet {
  family: IpFamily;
  /** IP protocol number (6 tcp, 17 udp, 1 icmp, 58 icmpv6, ...). */
  proto: number;
  src: Ip;
  dst: Ip;
  sport?: number;
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
  /** TCP flag bits (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ECE 64, CWR 128). */
  tcpFlags?: number;
  in?: string;
  out?: string;
  state: CtState;
  /** Conntrack status: the connection was destination/source NATed (the DNAT/SNAT virtual states). */
  ctDnat?: boolean;
  ctSnat?: boolean;
  /** The connection's original destination, before DNAT (`--ctorigdst`). */
  origDst?: Ip;
  origDport?: number;
  mark: number;
  ctmark: number;
  length?: number;
  ttl?: number;
  dscp?: number;
  /** Bridge ports, when the packet is bridged (physdev). */
  physIn?: string;
  physOut?: string;
  bridged?: boolean;
}

/** What the node tells the simulator about itself. */
export interface NodeEnv {
  /** The node's own addresses (`addrtype LOCAL`, `fib daddr type local`); undefined when not known. */
  local?: Set<string>;
  /** Broadcast addresses of the node's interfaces. */
  broadcast?: Set<string>;
  ipsets?: Map<string, IpSet>;
}

export interface IpSet {
  name: string;
  type: string;
  family?: IpFamily;
  /** Membership test for the given dimensions (`src`, `dst`, `src,dst`...). undefined = cannot tell. */
  test(pkt: Packet, dims: ('src' | 'dst')[]): boolean | undefined;
}

/** A match that cannot decide alone. `random`: the kernel picks (statistic, numgen, limit); `unknown`: we can't tell. */
export interface Choice {
  choice: 'random' | 'unknown';
  why: string;
}
export type MatchResult = boolean | Choice;

export interface MatchExpr {
  kind: 'match';
  /** Module or expression name (`tcp`, `conntrack`, `-s`, nft `meta l4proto`). */
  name: string;
  test(pkt: Packet, env: NodeEnv): MatchResult;
  /** Canonical text for comparing models (whitespace and defaults normalised). */
  canonical: string;
}

/** How an action ends (or does not end) the walk of a chain. */
export type Flow =
  | { kind: 'continue' }
  | { kind: 'accept' }
  | { kind: 'drop' }
  | { kind: 'reject'; reject: RejectInfo }
  | { kind: 'return' }
  | { kind: 'jump'; chain: string }
  | { kind: 'goto'; chain: string }
  /** Userspace decides (NFQUEUE) or an unknown target: the outcome can't be told. */
  | { kind: 'unknown'; why: string };

export interface Rewrite {
  kind: 'dnat' | 'snat' | 'masquerade' | 'redirect' | 'mark' | 'connmark' | 'notrack' | 'other';
  detail: string;
}

export interface ActionExpr {
  kind: 'action';
  name: string;
  canonical: string;
  /**
   * Apply the action to the packet (it may change it) and say how the chain goes on. An array of flows is a choice the
   * kernel makes at random (nft `numgen ... vmap`), each element one branch; null means "no verdict, next rule".
   */
  apply(pkt: Packet, env: NodeEnv, rewrites: Rewrite[]): Flow | Flow[] | null;
  /** nat actions only run on a connection's first packet; the parser marks them so. */
  natOnly?: boolean;
  /** The chains this action may jump or go to (a `-j CHAIN`, an nft `jump`, every chain a verdict map names). */
  jumps?: readonly string[];
}

export type Expr = MatchExpr | ActionExpr;

export interface Counters {
  packets: string;
  bytes: string;
}

export interface Rule {
  table: string;
  chain: string;
  /** 1-based position in the chain as the dump lists it. */
  index: number;
  /** The rule as written (for iptables: the `-A` line without counters). */
  text: string;
  source: { file: string; line: number };
  exprs: Expr[];
  counters?: Counters;
  /** Canonical text of the rule's semantics, independent of how it was spelled. */
  canonical: string;
  /** The destination this rule requires exactly (a host prefix, not negated), used to index large chains. */
  exactDst?: string;
  /** The nft rule handle, when known. */
  handle?: number;
}

export interface Chain {
  name: string;
  /** Base chains: the hook, priority and policy. User chains have none. */
  hook?: Hook;
  priority?: number;
  /** nft chain type (filter, nat, route); iptables tables map to one. */
  type?: 'filter' | 'nat' | 'route';
  policy?: 'ACCEPT' | 'DROP';
  counters?: Counters;
  rules: Rule[];
  source?: { file: string; line: number };
  /** Built lazily for large chains: rules by exact destination, and the rest. */
  index?: ChainIndex;
}

export interface ChainIndex {
  /** For each destination: the positions of the rules that can match a packet to it, in chain order. */
  byDst: Map<string, number[]>;
  /** Rules without an exact destination (the list for any other destination). */
  others: number[];
}

export interface Table {
  /** `filter`, `nat`... for iptables; the nft table name for native tables. */
  name: string;
  /** nft family (`ip`, `ip6`, `inet`, `arp`, `bridge`, `netdev`); iptables tables are `ip` or `ip6`. */
  family: string;
  backend: Backend;
  chains: Map<string, Chain>;
  /** The label used in verdicts: `filter` for iptables, `inet firewalld` for native nft. */
  label: string;
  /** The command that changes this table on the node (`iptables-nft`, `iptables-legacy`, `iptables`, `nft`). */
  tool?: string;
}

export interface Ruleset {
  tables: Table[];
  issues: ParseIssue[];
  /** The files it was read from. */
  files: string[];
}

export const PROTOCOLS: Record<string, number> = {
  all: 0,
  icmp: 1,
  igmp: 2,
  ipip: 4,
  ipencap: 4,
  tcp: 6,
  egp: 8,
  udp: 17,
  ipv6: 41,
  gre: 47,
  esp: 50,
  ah: 51,
  icmpv6: 58,
  'ipv6-icmp': 58,
  ospf: 89,
  pim: 103,
  vrrp: 112,
  l2tp: 115,
  sctp: 132,
  mh: 135,
  udplite: 136,
  mpls: 137,
};

export function protocolName(n: number): string {
  for (const [name, num] of Object.entries(PROTOCOLS)) if (num === n && name !== 'ipencap') return name;
  return String(n);
}

/** Parse a protocol name or number; undefined when unknown. */
export function parseProtocol(text: string): number | undefined {
  const t = text.toLowerCase();
  if (t in PROTOCOLS) return PROTOCOLS[t];
  if (/^\d{1,3}$/.test(t) && Number(t) <= 255) return Number(t);
  return undefined;
}
