/**
 * `meta` expressions: protocol numbers, interfaces, marks and the like. Keys whose value lives outside the packet
 * model (socket owner, cgroup, CPU) are unknown, never guessed.
 */
import { addressType } from '../matches/addrtype.js';
import type { CompileContext, Getter } from './context.js';
import { ABSENT, ETHER_TYPE, GID, IFNAME, INET_PROTO, INTEGER, MARK, NF_PROTO, PKT_TYPE, RAW, UID } from './types.js';

/** Keys `nft list` prints without the `meta` keyword. */
const UNQUALIFIED = new Set(['iif', 'oif', 'iifname', 'oifname', 'iifgroup', 'oifgroup']);

function metaText(key: string): string {
  return UNQUALIFIED.has(key) ? key : `meta ${key}`;
}

export function compileMeta(json: Record<string, unknown>, ctx: CompileContext): Getter {
  const key = String(json.key);
  const text = metaText(key);
  switch (key) {
    case 'l4proto':
      return { type: INET_PROTO, text, get: (p) => p.proto };
    case 'nfproto':
      return { type: NF_PROTO, text, get: (p) => (p.family === 4 ? 2 : 10) };
    case 'protocol':
      return { type: ETHER_TYPE, text, get: (p) => (p.family === 4 ? 0x0800 : 0x86dd) };
    case 'iifname':
      // No input interface (locally generated packets): the kernel compares an empty name.
      return { type: IFNAME, text, get: (p) => p.in ?? '' };
    case 'oifname':
      return { type: IFNAME, text, get: (p) => p.out ?? '' };
    case 'iif':
      // An interface index; the packet model names interfaces, and the dump prints the name.
      return { type: IFNAME, text, get: (p) => p.in ?? ABSENT };
    case 'oif':
      return { type: IFNAME, text, get: (p) => p.out ?? ABSENT };
    case 'mark':
      return { type: MARK, text, get: (p) => p.mark >>> 0 };
    case 'length':
      return { type: INTEGER, text, get: (p) => p.length ?? { unknown: "the packet's length is not known" } };
    case 'pkttype':
      return {
        type: PKT_TYPE,
        text,
        get: (p, env) => {
          const t = addressType(p.dst, env);
          if (t === 'MULTICAST') return 2;
          if (t === 'BROADCAST') return 1;
          // A routed or local unicast packet is addressed to this host at layer 2.
          return p.bridged ? { unknown: 'the packet type of a bridged frame is not known' } : 0;
        },
      };
    case 'skuid':
    case 'skgid':
      return {
        type: key === 'skuid' ? UID : GID,
        text,
        // A forwarded packet has no local socket; on input (early demux) and output the socket's owner is not known.
        get: (p) =>
          p.in !== undefined && p.out !== undefined
            ? ABSENT
            : { unknown: `meta ${key}: the owner of the socket is not known` },
      };
    default: {
      const why = `meta ${key} (not modelled)`;
      ctx.unsupported(`meta ${key}`, why);
      const u = { unknown: why };
      return { type: RAW, text, get: () => u };
    }
  }
}
