/** Every iptables match module netdoctor knows, by name. */
import addrtype from './addrtype.js';
import comment from './comment.js';
import connmark from './connmark.js';
import conntrack from './conntrack.js';
import type { MatchModule } from './define.js';
import icmp from './icmp.js';
import icmp6 from './icmp6.js';
import iprange from './iprange.js';
import length from './length.js';
import mark from './mark.js';
import multiport from './multiport.js';
import { opaqueModules, unknownModule } from './opaque.js';
import physdev from './physdev.js';
import pkttype from './pkttype.js';
import policy from './policy.js';
import set from './set.js';
import state from './state.js';
import statistic from './statistic.js';
import tcp from './tcp.js';
import udp from './udp.js';

const modules = new Map<string, MatchModule>();
/** Modules met in dumps that netdoctor does not know, made once each. */
const unknown = new Map<string, MatchModule>();
for (const m of [
  tcp,
  udp,
  icmp,
  icmp6,
  multiport,
  comment,
  conntrack,
  state,
  mark,
  connmark,
  statistic,
  addrtype,
  set,
  physdev,
  iprange,
  pkttype,
  policy,
  length,
  ...opaqueModules,
]) {
  modules.set(m.name, m);
  for (const a of m.aliases ?? []) modules.set(a, m);
}
modules.set('ipv6-icmp', icmp6);
modules.set('icmpv6', icmp6);

export function matchModule(name: string): MatchModule {
  let m = modules.get(name) ?? unknown.get(name);
  if (!m) {
    m = unknownModule(name);
    unknown.set(name, m);
  }
  return m;
}

export function isKnownMatch(name: string): boolean {
  return modules.has(name);
}

/** The module `-p PROTO` implies for its options (`-p tcp --dport 80`). */
export function implicitModule(proto: number | undefined): MatchModule | undefined {
  switch (proto) {
    case 6:
      return tcp;
    case 17:
      return udp;
    case 1:
      return icmp;
    case 58:
      return icmp6;
    default:
      return undefined;
  }
}

export function knownMatchNames(): string[] {
  return [...new Set([...modules.values()].map((m) => m.name))].sort();
}
