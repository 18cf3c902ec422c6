/**
 * `fib` lookups. `fib daddr type` answers from the node's own addresses (NodeEnv.local) like `-m addrtype`; the
 * route-dependent answers (reverse path, output interface) are unknown.
 */
import type { Ip } from '../../core/ip.js';
import { addressType } from '../matches/addrtype.js';
import type { NodeEnv } from '../model.js';
import type { CompileContext, Getter } from './context.js';
import { FIB_ADDRTYPE, type Got, IFNAME, RAW, type Val } from './types.js';

/** fib_addrtype values a non-local unicast address can still have, depending on routes we may not see. */
const ROUTED: readonly Val[] = [1, 6, 7, 8, 9];

const TYPE_NUM: Record<string, number> = { UNSPEC: 0, UNICAST: 1, LOCAL: 2, BROADCAST: 3, MULTICAST: 5 };

function fibText(json: Record<string, unknown>): string {
  const flags = (Array.isArray(json.flags) ? json.flags : [json.flags]).filter(
    (f) => typeof f === 'string',
  ) as string[];
  // nft prints the address first, then the modifiers: `fib saddr . mark . iif oif`.
  const order = ['saddr', 'daddr', 'mark', 'iif', 'oif'];
  flags.sort((a, b) => order.indexOf(a) - order.indexOf(b));
  return `fib ${flags.join(' . ')} ${String(json.result)}`;
}

export function compileFib(json: Record<string, unknown>, ctx: CompileContext): Getter {
  const text = fibText(json);
  const flags = (Array.isArray(json.flags) ? json.flags : [json.flags]).filter(
    (f) => typeof f === 'string',
  ) as string[];
  const result = String(json.result);
  const addr: 'src' | 'dst' = flags.includes('saddr') ? 'src' : 'dst';
  if (result === 'type') {
    const perIface = flags.includes('iif') || flags.includes('oif');
    return {
      type: FIB_ADDRTYPE,
      text,
      get: (p, env: NodeEnv): Got => {
        const ip: Ip = p[addr];
        const t = addressType(ip, env);
        if (t === undefined)
          return {
            unknown: `whether ${addr === 'src' ? 'the source' : 'the destination'} is a local address is not known (give the node's addresses)`,
          };
        // Restricted to one interface, a local address may belong to another interface: then the answer is open.
        if (perIface && t === 'LOCAL')
          return { unknown: `${text}: which interface holds the address is not known`, possible: [2, ...ROUTED] };
        if (t === 'UNICAST') return { unknown: `${text}: the route type is not known`, possible: ROUTED };
        return TYPE_NUM[t] ?? { unknown: `${text}: address type ${t}` };
      },
    };
  }
  // `fib saddr . iif oif missing` (reverse path filter), `fib daddr oif`: routing decides.
  ctx.unsupported(`fib ${result}`, `fib ... ${result} lookups (they depend on the node's routes)`);
  const u = { unknown: `${text} depends on the node's routes` };
  return { type: result === 'oifname' || result === 'oif' ? IFNAME : RAW, text, get: () => u };
}
