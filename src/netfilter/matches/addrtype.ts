/** `-m addrtype --src-type/--dst-type TYPES`: LOCAL and the rest come from the node's own addresses. */
import type { Ip } from '../../core/ip.js';
import { formatIp } from '../../core/ip.js';
import type { MatchResult, NodeEnv, Packet } from '../model.js';
import { allOf, defineMatch, MatchError, single, unknownChoice } from './define.js';

const TYPES = [
  'UNSPEC',
  'UNICAST',
  'LOCAL',
  'BROADCAST',
  'ANYCAST',
  'MULTICAST',
  'BLACKHOLE',
  'UNREACHABLE',
  'PROHIBIT',
  'THROW',
  'NAT',
  'XRESOLVE',
];

/** The kernel's route type of an address on this node, or undefined when the node's addresses are not known. */
export function addressType(ip: Ip, env: NodeEnv): string | undefined {
  if (ip.family === 4) {
    const v = ip.value as number;
    if (v === 0) return 'UNSPEC';
    if (v === 0xffffffff) return 'BROADCAST';
    if (v >>> 28 === 0xe) return 'MULTICAST';
  } else if ((ip.value as bigint) >> 120n === 0xffn) return 'MULTICAST';
  if (!env.local) return undefined;
  const text = formatIp(ip);
  if (env.local.has(text)) return 'LOCAL';
  if (ip.family === 4 && (ip.value as number) >>> 24 === 127) return 'LOCAL';
  if (env.broadcast?.has(text)) return 'BROADCAST';
  return 'UNICAST';
}

export default defineMatch({
  name: 'addrtype',
  options: ['src-type', 'dst-type', 'limit-iface-in', 'limit-iface-out'],
  compile(opts) {
    const tests: ((pkt: Packet, env: NodeEnv) => MatchResult)[] = [];
    const canon: string[] = [];
    const limited = opts.some((o) => o.name.startsWith('limit-iface'));
    for (const o of opts) {
      if (o.name.startsWith('limit-iface')) {
        canon.push(`--${o.name}`);
        continue;
      }
      const types = single(o)
        .split(',')
        .map((t) => t.toUpperCase());
      for (const t of types) if (!TYPES.includes(t)) throw new MatchError(`unknown address type "${t}"`);
      const field = o.name === 'src-type' ? 'src' : 'dst';
      const neg = o.negated;
      tests.push((pkt, env) => {
        if (limited) return unknownChoice('addrtype --limit-iface needs per-interface routes');
        const t = addressType(pkt[field], env);
        if (t === undefined)
          return unknownChoice(`whether ${formatIp(pkt[field])} is local is not known (give the node's addresses)`);
        return types.includes(t) !== neg;
      });
      canon.push(`${neg ? '! ' : ''}--${o.name} ${TYPES.filter((t) => types.includes(t)).join(',')}`);
    }
    return { test: allOf(tests), canonical: `-m addrtype ${canon.sort().join(' ')}` };
  },
});
