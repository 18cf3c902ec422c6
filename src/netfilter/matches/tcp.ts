/** `-m tcp` (also implied by `-p tcp`): ports, flags, `--syn`. */
import type { Backend, MatchResult, NodeEnv, Packet } from '../model.js';
import { allOf, defineMatch, MatchError, negate, optText, type ParsedOption, single, unknownChoice } from './define.js';
import { inRange, parsePortRange, rangeText } from './ports.js';

const FLAGS: Record<string, number> = {
  FIN: 1,
  SYN: 2,
  RST: 4,
  PSH: 8,
  ACK: 16,
  URG: 32,
  ECE: 64,
  CWR: 128,
  ALL: 255,
  NONE: 0,
};
const ORDER = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'];

export function parseTcpFlags(text: string): number {
  let bits = 0;
  for (const f of text.toUpperCase().split(',')) {
    const b = FLAGS[f];
    if (b === undefined) throw new MatchError(`unknown TCP flag "${f}"`);
    bits |= b;
  }
  return bits;
}

export function tcpFlagsText(bits: number): string {
  if (bits === 0) return 'NONE';
  if (bits === 255) return 'FIN,SYN,RST,PSH,ACK,URG,ECE,CWR';
  return ORDER.filter((f) => (bits & (FLAGS[f] as number)) !== 0).join(',');
}

type Test = (pkt: Packet, env: NodeEnv) => MatchResult;

/** Port tests shared by tcp, udp, udplite and sctp. */
export function portTest(o: ParsedOption, proto: number): { test: Test; canonical: string } | undefined {
  const field =
    o.name === 'sport' || o.name === 'source-port'
      ? 'sport'
      : o.name === 'dport' || o.name === 'destination-port'
        ? 'dport'
        : undefined;
  if (!field) return undefined;
  const range = parsePortRange(single(o));
  const neg = o.negated;
  return {
    test: (pkt) => pkt.proto === proto && inRange(pkt[field], range) !== neg,
    canonical: optText({ ...o, name: field }, [rangeText(range)]),
  };
}

/**
 * The port tests of a tcp/udp match. iptables-nft (seen with 1.8.9) turns `! --sport A ! --dport B` of single ports
 * into one compare of both ports at once, `(sport, dport) != (A, B)`: the kernel then matches when EITHER port
 * differs, where iptables-legacy needs both to differ. The simulator does what the kernel does (proven against it).
 */
export function portTests(
  opts: ParsedOption[],
  proto: number,
  backend: Backend | undefined,
): { tests: Test[]; canonical: string[]; rest: ParsedOption[] } {
  const tests: Test[] = [];
  const canonical: string[] = [];
  const rest: ParsedOption[] = [];
  const ports: { o: ParsedOption; field: 'sport' | 'dport'; range: [number, number] }[] = [];
  for (const o of opts) {
    const port = portTest(o, proto);
    if (!port) {
      rest.push(o);
      continue;
    }
    canonical.push(port.canonical);
    const range = parsePortRange(single(o));
    ports.push({ o, field: o.name.startsWith('s') ? 'sport' : 'dport', range });
    tests.push(port.test);
  }
  const s = ports.find((p) => p.field === 'sport');
  const d = ports.find((p) => p.field === 'dport');
  if (
    backend === 'iptables-nft' &&
    ports.length === 2 &&
    s &&
    d &&
    s.o.negated &&
    d.o.negated &&
    s.range[0] === s.range[1] &&
    d.range[0] === d.range[1]
  ) {
    const sp = s.range[0];
    const dp = d.range[0];
    return { tests: [(pkt) => pkt.proto === proto && !(pkt.sport === sp && pkt.dport === dp)], canonical, rest };
  }
  return { tests, canonical, rest };
}

export default defineMatch({
  name: 'tcp',
  options: ['sport', 'source-port', 'dport', 'destination-port', 'tcp-flags', 'syn', 'tcp-option'],
  compile(opts, ctx) {
    const ports = portTests(opts, 6, ctx.backend);
    const tests: Test[] = [(pkt) => pkt.proto === 6, ...ports.tests];
    const canon: string[] = [...ports.canonical];
    for (const o of ports.rest) {
      if (o.name === 'tcp-flags' || o.name === 'syn') {
        let mask: number;
        let comp: number;
        if (o.name === 'syn') {
          mask = FLAGS.FIN | FLAGS.SYN | FLAGS.RST | FLAGS.ACK;
          comp = FLAGS.SYN;
        } else {
          if (o.values.length !== 2) throw new MatchError('--tcp-flags takes a mask and the flags that must be set');
          mask = parseTcpFlags(o.values[0] as string);
          comp = parseTcpFlags(o.values[1] as string);
        }
        const neg = o.negated;
        tests.push((pkt) => negate(((pkt.tcpFlags ?? 0) & mask) === comp, neg));
        canon.push(optText({ ...o, name: 'tcp-flags' }, [tcpFlagsText(mask), tcpFlagsText(comp)]));
        continue;
      }
      if (o.name === 'tcp-option') {
        tests.push(() => unknownChoice('TCP options of the packet are not known'));
        canon.push(optText(o));
        continue;
      }
      throw new MatchError(`tcp: unknown option --${o.name}`);
    }
    return { test: allOf(tests), canonical: `-m tcp ${canon.sort().join(' ')}`.trim() };
  },
});
