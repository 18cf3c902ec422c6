/**
 * `ct` expressions: conntrack state, status (the DNAT/SNAT bits), mark, direction and the original tuple. A packet
 * without a conntrack entry (invalid, untracked) has only a state; every other key fails the rule, as in the kernel.
 */
import type { Packet } from '../model.js';
import type { CompileContext, Getter } from './context.js';
import {
  ABSENT,
  CT_DIR,
  CT_STATE,
  CT_STATUS,
  type Got,
  INET_PROTO,
  INET_SERVICE,
  IPV4,
  IPV6,
  MARK,
  NF_PROTO,
  RAW,
  type Val,
} from './types.js';

const STATE_BITS: Record<Packet['state'], number> = { invalid: 1, established: 2, related: 4, new: 8, untracked: 64 };

const hasCt = (p: Packet) => p.state !== 'invalid' && p.state !== 'untracked';

/**
 * The status bits: dnat/snat come from the packet; the rest follow from the state where they can (a new connection
 * is not confirmed and has seen no reply) and are left open where they can't (assured, expected).
 */
function ctStatus(p: Packet): Got {
  if (!hasCt(p)) return ABSENT;
  const nat = (p.ctDnat ? 32 : 0) | (p.ctSnat ? 16 : 0);
  const expected = p.state === 'related' ? [0, 1] : [0];
  const open: number[] = [];
  if (p.state === 'new') {
    for (const e of expected) open.push(nat | e);
  } else {
    // seen-reply and confirmed are set once the reply was seen; assured may or may not be.
    for (const e of expected) for (const assured of [0, 4]) open.push(nat | e | 2 | 8 | assured);
  }
  if (open.length === 1) return open[0] as number;
  return { unknown: 'ct status bits other than dnat/snat are not fully known', possible: open };
}

function ctText(json: Record<string, unknown>): string {
  const key = String(json.key);
  const dir = typeof json.dir === 'string' ? `${json.dir} ` : '';
  const fam = typeof json.family === 'string' && !key.includes(' ') ? `${json.family} ` : '';
  return `ct ${dir}${fam}${key}`;
}

export function compileCt(json: Record<string, unknown>, ctx: CompileContext): Getter {
  const text = ctText(json);
  let key = String(json.key);
  const dir = typeof json.dir === 'string' ? json.dir : undefined;
  // `ct original ip saddr` is `{"key": "ip saddr", "dir": "original"}` (older nft: key "saddr", family "ip").
  let fam = typeof json.family === 'string' ? json.family : undefined;
  const sp = key.indexOf(' ');
  if (sp > 0) {
    fam = key.slice(0, sp);
    key = key.slice(sp + 1);
  }
  const unsupported = (why: string): Getter => {
    ctx.unsupported(`ct ${key}`, why);
    const u = { unknown: why };
    return { type: RAW, text, get: (p) => (key === 'state' || hasCt(p) ? u : ABSENT) };
  };
  const withCt = (f: (p: Packet) => Got) => (p: Packet) => (hasCt(p) ? f(p) : ABSENT);
  switch (key) {
    case 'state':
      return { type: CT_STATE, text, get: (p) => STATE_BITS[p.state] };
    case 'status':
      return { type: CT_STATUS, text, get: ctStatus };
    case 'mark':
      return { type: MARK, text, get: withCt((p) => p.ctmark >>> 0) };
    case 'direction': {
      const both: readonly Val[] = [0, 1];
      // A new connection's first packet goes the original way; later packets may go either way (as `--ctdir`).
      return {
        type: CT_DIR,
        text,
        get: withCt((p) =>
          p.state === 'new' ? 0 : { unknown: "the packet's conntrack direction is not known", possible: both },
        ),
      };
    }
    case 'l3proto':
      return { type: NF_PROTO, text, get: withCt((p) => (p.family === 4 ? 2 : 10)) };
    case 'protocol':
    case 'proto':
      return { type: INET_PROTO, text, get: withCt((p) => p.proto) };
    case 'saddr':
    case 'daddr':
    case 'proto-src':
    case 'proto-dst': {
      if (dir !== 'original') return unsupported(`ct ${dir ?? ''} ${key} (the reply tuple is not modelled)`);
      if (key === 'proto-src' || key === 'proto-dst') {
        const src = key === 'proto-src';
        return {
          type: INET_SERVICE,
          text,
          get: withCt((p) => {
            const v = src ? p.sport : (p.origDport ?? p.dport);
            return v === undefined ? { unknown: `the connection's original ${key} is not known` } : v;
          }),
        };
      }
      const v6 = fam === 'ip6';
      const src = key === 'saddr';
      return {
        type: v6 ? IPV6 : IPV4,
        text,
        get: withCt((p) => {
          if (p.family !== (v6 ? 6 : 4)) return ABSENT;
          return (src ? p.src : (p.origDst ?? p.dst)).value;
        }),
      };
    }
    default:
      return unsupported(`ct ${key} (not modelled)`);
  }
}
