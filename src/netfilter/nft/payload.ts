/**
 * Payload expressions (`ip saddr`, `tcp dport`, `th dport`, `icmp type`...). A header field of a protocol the packet
 * does not carry fails the rule, as the kernel's implicit dependency (`meta l4proto tcp` before `tcp dport`) does.
 */
import type { Packet } from '../model.js';
import type { CompileContext, Getter } from './context.js';
import {
  ABSENT,
  DSCP,
  type Got,
  ICMP_CODE,
  ICMP_TYPE,
  ICMPV6_CODE,
  ICMPV6_TYPE,
  INET_PROTO,
  INET_SERVICE,
  INTEGER,
  IPV4,
  IPV6,
  type NftType,
  RAW,
  TCP_FLAG,
  type Unknown,
} from './types.js';

/** Protocols whose transport header starts with 16-bit source and destination ports. */
const PORT_PROTOS = new Set([6, 17, 33, 132, 136]);

const L4: Record<string, number> = { tcp: 6, udp: 17, udplite: 136, sctp: 132, dccp: 33, icmp: 1, icmpv6: 58 };

function unknownGetter(text: string, why: string): Getter {
  const u: Unknown = { unknown: why };
  return { type: RAW, text, get: () => u };
}

function field(type: NftType, text: string, get: (pkt: Packet) => Got): Getter {
  return { type, text, get };
}

export function compilePayload(json: Record<string, unknown>, ctx: CompileContext): Getter {
  const protocol = json.protocol;
  const name = json.field;
  if (typeof protocol !== 'string' || typeof name !== 'string') {
    // The raw form `@nh,96,32`: offsets into headers netdoctor does not lay out byte by byte.
    const text = `@${String(json.base)},${String(json.offset)},${String(json.len)}`;
    ctx.unsupported('payload raw', 'raw payload expressions @base,offset,length (not modelled)');
    return unknownGetter(text, `raw payload ${text} is not modelled`);
  }
  const text = `${protocol} ${name}`;
  const missing = (why = `${text} (not modelled)`) => {
    ctx.unsupported(`payload ${text}`, why);
    return unknownGetter(text, why);
  };
  const unknownIf = (v: number | undefined, what: string): Got =>
    v === undefined ? { unknown: `the packet's ${what} is not known` } : v;
  switch (protocol) {
    case 'ip': {
      const v4 = (f: (pkt: Packet) => Got) => (pkt: Packet) => (pkt.family === 4 ? f(pkt) : ABSENT);
      switch (name) {
        case 'saddr':
          return field(
            IPV4,
            text,
            v4((p) => p.src.value as number),
          );
        case 'daddr':
          return {
            ...field(
              IPV4,
              text,
              v4((p) => p.dst.value as number),
            ),
            dstAddr: true,
          };
        case 'protocol':
          return field(
            INET_PROTO,
            text,
            v4((p) => p.proto),
          );
        case 'version':
          return field(
            INTEGER,
            text,
            v4(() => 4),
          );
        case 'length':
          return field(
            INTEGER,
            text,
            v4((p) => unknownIf(p.length, 'length')),
          );
        case 'ttl':
          return field(
            INTEGER,
            text,
            v4((p) => unknownIf(p.ttl, 'TTL')),
          );
        case 'dscp':
          return field(
            DSCP,
            text,
            v4((p) => unknownIf(p.dscp, 'DSCP')),
          );
        default:
          return missing();
      }
    }
    case 'ip6': {
      const v6 = (f: (pkt: Packet) => Got) => (pkt: Packet) => (pkt.family === 6 ? f(pkt) : ABSENT);
      switch (name) {
        case 'saddr':
          return field(
            IPV6,
            text,
            v6((p) => p.src.value as bigint),
          );
        case 'daddr':
          return {
            ...field(
              IPV6,
              text,
              v6((p) => p.dst.value as bigint),
            ),
            dstAddr: true,
          };
        case 'nexthdr':
          // Packets are modelled without extension headers: the next header is the transport protocol.
          return field(
            INET_PROTO,
            text,
            v6((p) => p.proto),
          );
        case 'version':
          return field(
            INTEGER,
            text,
            v6(() => 6),
          );
        case 'hoplimit':
          return field(
            INTEGER,
            text,
            v6((p) => unknownIf(p.ttl, 'hop limit')),
          );
        case 'dscp':
          return field(
            DSCP,
            text,
            v6((p) => unknownIf(p.dscp, 'DSCP')),
          );
        case 'length':
          return field(
            INTEGER,
            text,
            v6((p) =>
              p.length === undefined ? { unknown: "the packet's length is not known" } : Math.max(0, p.length - 40),
            ),
          );
        default:
          return missing();
      }
    }
    case 'th': {
      if (name !== 'sport' && name !== 'dport') return missing();
      const sport = name === 'sport';
      return field(INET_SERVICE, text, (p) => {
        if (PORT_PROTOS.has(p.proto)) {
          const v = sport ? p.sport : p.dport;
          return v === undefined ? { unknown: `the packet's ${name} is not known` } : v;
        }
        // The first 4 bytes of an ICMP header are type, code and checksum.
        if ((p.proto === 1 || p.proto === 58) && sport && p.icmpType !== undefined)
          return ((p.icmpType << 8) | (p.icmpCode ?? 0)) >>> 0;
        return { unknown: `th ${name} of a protocol ${p.proto} packet reads bytes netdoctor does not know` };
      });
    }
    default:
      break;
  }
  const proto = L4[protocol];
  if (proto === undefined) return missing(`${protocol} headers (not modelled)`);
  const needs = (p: Packet) => p.proto === proto && (proto !== 1 || p.family === 4) && (proto !== 58 || p.family === 6);
  if (name === 'sport' || name === 'dport') {
    if (!PORT_PROTOS.has(proto)) return missing();
    const sport = name === 'sport';
    return field(INET_SERVICE, text, (p) => {
      if (!needs(p)) return ABSENT;
      const v = sport ? p.sport : p.dport;
      return v === undefined ? { unknown: `the packet's ${name} is not known` } : v;
    });
  }
  if (protocol === 'tcp' && name === 'flags')
    return field(TCP_FLAG, text, (p) => (needs(p) ? unknownIf(p.tcpFlags, 'TCP flags') : ABSENT));
  if (protocol === 'icmp' || protocol === 'icmpv6') {
    if (name === 'type')
      return field(protocol === 'icmp' ? ICMP_TYPE : ICMPV6_TYPE, text, (p) =>
        needs(p) ? unknownIf(p.icmpType, 'ICMP type') : ABSENT,
      );
    if (name === 'code')
      return field(protocol === 'icmp' ? ICMP_CODE : ICMPV6_CODE, text, (p) =>
        needs(p) ? unknownIf(p.icmpCode, 'ICMP code') : ABSENT,
      );
  }
  return missing();
}
