/** `-m icmp --icmp-type` and `-m icmp6 --icmpv6-type`: type names, numbers and `type/code`. */
import type { MatchResult, NodeEnv, Packet } from '../model.js';
import { allOf, defineMatch, MatchError, type MatchModule, single } from './define.js';

/** Names iptables accepts, as [type, code] (code -1: any code; type -1: any type). */
const ICMP: Record<string, [number, number]> = {
  any: [-1, -1],
  'echo-reply': [0, -1],
  pong: [0, -1],
  'destination-unreachable': [3, -1],
  'network-unreachable': [3, 0],
  'host-unreachable': [3, 1],
  'protocol-unreachable': [3, 2],
  'port-unreachable': [3, 3],
  'fragmentation-needed': [3, 4],
  'source-route-failed': [3, 5],
  'network-unknown': [3, 6],
  'host-unknown': [3, 7],
  'network-prohibited': [3, 9],
  'host-prohibited': [3, 10],
  'TOS-network-unreachable': [3, 11],
  'TOS-host-unreachable': [3, 12],
  'communication-prohibited': [3, 13],
  'host-precedence-violation': [3, 14],
  'precedence-cutoff': [3, 15],
  'source-quench': [4, -1],
  redirect: [5, -1],
  'network-redirect': [5, 0],
  'host-redirect': [5, 1],
  'TOS-network-redirect': [5, 2],
  'TOS-host-redirect': [5, 3],
  'echo-request': [8, -1],
  ping: [8, -1],
  'router-advertisement': [9, -1],
  'router-solicitation': [10, -1],
  'time-exceeded': [11, -1],
  'ttl-exceeded': [11, -1],
  'ttl-zero-during-transit': [11, 0],
  'ttl-zero-during-reassembly': [11, 1],
  'parameter-problem': [12, -1],
  'ip-header-bad': [12, 0],
  'required-option-missing': [12, 1],
  'timestamp-request': [13, -1],
  'timestamp-reply': [14, -1],
  'address-mask-request': [17, -1],
  'address-mask-reply': [18, -1],
};

const ICMP6: Record<string, [number, number]> = {
  'destination-unreachable': [1, -1],
  'no-route': [1, 0],
  'communication-prohibited': [1, 1],
  'beyond-scope': [1, 2],
  'address-unreachable': [1, 3],
  'port-unreachable': [1, 4],
  'failed-policy': [1, 5],
  'reject-route': [1, 6],
  'packet-too-big': [2, -1],
  'time-exceeded': [3, -1],
  'ttl-exceeded': [3, -1],
  'parameter-problem': [4, -1],
  'echo-request': [128, -1],
  ping: [128, -1],
  'echo-reply': [129, -1],
  pong: [129, -1],
  'router-solicitation': [133, -1],
  'router-advertisement': [134, -1],
  'neighbour-solicitation': [135, -1],
  'neighbor-solicitation': [135, -1],
  'neighbour-advertisement': [136, -1],
  'neighbor-advertisement': [136, -1],
  redirect: [137, -1],
};

export function parseIcmpType(text: string, v6 = false): [number, number] {
  const names = v6 ? ICMP6 : ICMP;
  const named = names[text] ?? Object.entries(names).find(([k]) => k.toLowerCase() === text.toLowerCase())?.[1];
  if (named) return named;
  const m = /^(\d{1,3})(?:\/(\d{1,3}))?$/.exec(text);
  if (!m) throw new MatchError(`unknown ICMP${v6 ? 'v6' : ''} type "${text}"`);
  return [Number(m[1]), m[2] === undefined ? -1 : Number(m[2])];
}

export function icmpModule(name: string, option: string, proto: number, v6: boolean): MatchModule {
  return defineMatch({
    name,
    options: [option],
    compile(opts) {
      const tests: ((pkt: Packet, env: NodeEnv) => MatchResult)[] = [(pkt) => pkt.proto === proto];
      const canon: string[] = [];
      for (const o of opts) {
        if (o.name !== option) throw new MatchError(`${name}: unknown option --${o.name}`);
        const [type, code] = parseIcmpType(single(o), v6);
        const neg = o.negated;
        tests.push(
          (pkt) =>
            (type === -1 || ((pkt.icmpType ?? 8) === type && (code === -1 || (pkt.icmpCode ?? 0) === code))) !== neg,
        );
        const text = type === -1 ? 'any' : code === -1 ? String(type) : `${type}/${code}`;
        canon.push(`${neg ? '! ' : ''}--${option} ${text}`);
      }
      return { test: allOf(tests), canonical: `-m ${name} ${canon.join(' ')}`.trim() };
    },
  });
}

export default icmpModule('icmp', 'icmp-type', 1, false);
