/**
 * nft datatypes: how a JSON constant (`"10.0.0.1"`, `"tcp"`, `8472`, `"established"`) becomes a value that can be
 * compared with what the packet carries, and how a value prints back in nft syntax. Integers are JS numbers (at most
 * 32 bits), IPv6 addresses bigints, interface names strings.
 */
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../../core/ip.js';
import { SERVICES } from '../matches/ports.js';
import { parseProtocol, protocolName } from '../model.js';

export type Val = number | bigint | string;

/** The packet has no such header: the expression fails and the rule stops (the kernel's NFT_BREAK). */
export const ABSENT: unique symbol = Symbol('absent');
export type Absent = typeof ABSENT;

/** The value is not known. `possible`: the values it can take (then a test can still be decided if all agree). */
export interface Unknown {
  unknown: string;
  possible?: readonly Val[];
  /** The kernel picks the value at random (numgen, jhash): a choice, not a gap in our knowledge. */
  random?: boolean;
}
export type Got = Val | Absent | Unknown;

export function isUnknown(g: Got): g is Unknown {
  return typeof g === 'object' && g !== null;
}

export interface NftType {
  name: string;
  /** Flag types: `ct state`, `ct status`, `tcp flags` (a plain list means OR, `in` means "any bit set"). */
  bitmask?: boolean;
  /** Parse one JSON scalar; undefined when it is not a value of this type. */
  parse(v: unknown): Val | undefined;
  format(v: Val): string;
  /** A prefix (`10.0.0.0/8`) as the inclusive range it covers. */
  prefix?(addr: unknown, len: number): [Val, Val] | undefined;
}

function intOf(v: unknown, max: number): number | undefined {
  let n: number | undefined;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string') {
    if (/^0x[0-9a-f]+$/i.test(v)) n = Number.parseInt(v, 16);
    else if (/^\d+$/.test(v)) n = Number(v);
  }
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > max) return undefined;
  return n;
}

function symbolic(
  name: string,
  bits: number,
  symbols: Record<string, number>,
  opts: { bitmask?: boolean; hex?: boolean } = {},
): NftType {
  const max = bits >= 32 ? 0xffffffff : 2 ** bits - 1;
  const names = new Map<number, string>();
  for (const [k, v] of Object.entries(symbols)) if (!names.has(v)) names.set(v, k);
  const t: NftType = {
    name,
    parse(v) {
      if (typeof v === 'string' && v in symbols) return symbols[v];
      return intOf(v, max);
    },
    format(v) {
      const n = v as number;
      const known = names.get(n);
      if (known !== undefined) return known;
      if (opts.bitmask) {
        // A combination of flags prints as `syn,ack`.
        const parts: string[] = [];
        let rest = n;
        for (const [k, bit] of Object.entries(symbols)) {
          if (bit !== 0 && (rest & bit) === bit && names.get(bit) === k) {
            parts.push(k);
            rest &= ~bit;
          }
        }
        if (rest === 0 && parts.length) return parts.join(',');
      }
      return opts.hex ? `0x${n.toString(16).padStart(Math.ceil(bits / 4), '0')}` : String(n);
    },
  };
  if (opts.bitmask) t.bitmask = true;
  return t;
}

export const IPV4: NftType = {
  name: 'ipv4_addr',
  parse: (v) => (typeof v === 'string' ? parseIpv4(v) : undefined),
  format: (v) => formatIpv4(v as number),
  prefix(addr, len) {
    const a = typeof addr === 'string' ? parseIpv4(addr) : undefined;
    if (a === undefined || !Number.isInteger(len) || len < 0 || len > 32) return undefined;
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    const lo = (a & mask) >>> 0;
    return [lo, (lo | (~mask >>> 0)) >>> 0];
  },
};

const ALL128 = (1n << 128n) - 1n;
export const IPV6: NftType = {
  name: 'ipv6_addr',
  parse: (v) => (typeof v === 'string' ? parseIpv6(v) : undefined),
  format: (v) => formatIpv6(v as bigint),
  prefix(addr, len) {
    const a = typeof addr === 'string' ? parseIpv6(addr) : undefined;
    if (a === undefined || !Number.isInteger(len) || len < 0 || len > 128) return undefined;
    const host = len === 128 ? 0n : (1n << BigInt(128 - len)) - 1n;
    const lo = a & (ALL128 ^ host);
    return [lo, lo | host];
  },
};

const PROTO_NAMES: Record<number, string> = {
  1: 'icmp',
  6: 'tcp',
  17: 'udp',
  58: 'ipv6-icmp',
  132: 'sctp',
  136: 'udplite',
};

export const INET_PROTO: NftType = {
  name: 'inet_proto',
  parse(v) {
    if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 255 ? v : undefined;
    return typeof v === 'string' ? parseProtocol(v) : undefined;
  },
  // nft prints 58 as `ipv6-icmp` (the /etc/protocols name).
  format: (v) => PROTO_NAMES[v as number] ?? protocolName(v as number),
};

export const INET_SERVICE: NftType = {
  name: 'inet_service',
  parse(v) {
    if (typeof v === 'string' && v in SERVICES) return SERVICES[v];
    return intOf(v, 65535);
  },
  format: (v) => String(v),
};

export const IFNAME: NftType = {
  name: 'ifname',
  parse: (v) => (typeof v === 'string' ? v : undefined),
  format: (v) => `"${String(v)}"`,
};

export const MARK: NftType = symbolic('mark', 32, {}, { hex: true });
export const INTEGER: NftType = symbolic('integer', 32, {});

export const CT_STATE = symbolic(
  'ct_state',
  32,
  { invalid: 1, established: 2, related: 4, new: 8, untracked: 64 },
  { bitmask: true },
);
export const CT_STATUS = symbolic(
  'ct_status',
  32,
  { expected: 1, 'seen-reply': 2, assured: 4, confirmed: 8, snat: 16, dnat: 32, dying: 512 },
  { bitmask: true },
);
export const CT_DIR = symbolic('ct_dir', 8, { original: 0, reply: 1 });
export const NF_PROTO = symbolic('nf_proto', 8, { ipv4: 2, ipv6: 10 });
export const ETHER_TYPE = symbolic(
  'ether_type',
  16,
  { ip: 0x0800, arp: 0x0806, ip6: 0x86dd, vlan: 0x8100, '8021q': 0x8100, '8021ad': 0x88a8 },
  { hex: true },
);
export const TCP_FLAG = symbolic(
  'tcp_flag',
  8,
  { fin: 1, syn: 2, rst: 4, psh: 8, ack: 16, urg: 32, ecn: 64, cwr: 128 },
  { bitmask: true },
);
export const PKT_TYPE = symbolic('pkt_type', 8, { host: 0, unicast: 0, broadcast: 1, multicast: 2, other: 3 });
export const FIB_ADDRTYPE = symbolic('fib_addrtype', 32, {
  unspec: 0,
  unicast: 1,
  local: 2,
  broadcast: 3,
  anycast: 4,
  multicast: 5,
  blackhole: 6,
  unreachable: 7,
  prohibit: 8,
  throw: 9,
  nat: 10,
  xresolve: 11,
});
export const ICMP_TYPE = symbolic('icmp_type', 8, {
  'echo-reply': 0,
  'destination-unreachable': 3,
  'source-quench': 4,
  redirect: 5,
  'echo-request': 8,
  'router-advertisement': 9,
  'router-solicitation': 10,
  'time-exceeded': 11,
  'parameter-problem': 12,
  'timestamp-request': 13,
  'timestamp-reply': 14,
  'info-request': 15,
  'info-reply': 16,
  'address-mask-request': 17,
  'address-mask-reply': 18,
});
export const ICMPV6_TYPE = symbolic('icmpv6_type', 8, {
  'destination-unreachable': 1,
  'packet-too-big': 2,
  'time-exceeded': 3,
  'parameter-problem': 4,
  'echo-request': 128,
  'echo-reply': 129,
  'mld-listener-query': 130,
  'mld-listener-report': 131,
  'mld-listener-done': 132,
  'mld-listener-reduction': 132,
  'nd-router-solicit': 133,
  'nd-router-advert': 134,
  'nd-neighbor-solicit': 135,
  'nd-neighbor-advert': 136,
  'nd-redirect': 137,
  'router-renumbering': 138,
  'ind-neighbor-solicit': 141,
  'ind-neighbor-advert': 142,
  'mld2-listener-report': 143,
});
export const ICMP_CODE = symbolic('icmp_code', 8, {
  'net-unreachable': 0,
  'host-unreachable': 1,
  'prot-unreachable': 2,
  'port-unreachable': 3,
  'frag-needed': 4,
  'net-prohibited': 9,
  'host-prohibited': 10,
  'admin-prohibited': 13,
});
export const ICMPV6_CODE = symbolic('icmpv6_code', 8, {
  'no-route': 0,
  'admin-prohibited': 1,
  'addr-unreachable': 3,
  'port-unreachable': 4,
  'policy-fail': 5,
  'reject-route': 6,
});
export const DSCP = symbolic('dscp', 8, {
  cs0: 0,
  cs1: 8,
  cs2: 16,
  cs3: 24,
  cs4: 32,
  cs5: 40,
  cs6: 48,
  cs7: 56,
  df: 0,
  be: 0,
  lephb: 1,
  af11: 10,
  af12: 12,
  af13: 14,
  af21: 18,
  af22: 20,
  af23: 22,
  af31: 26,
  af32: 28,
  af33: 30,
  af41: 34,
  af42: 36,
  af43: 38,
  va: 44,
  ef: 46,
});
export const UID = symbolic('uid', 32, {});
export const GID = symbolic('gid', 32, {});

/** A type we don't model: constants are kept as written, so only exact comparisons are meaningful. */
export const RAW: NftType = {
  name: 'raw',
  parse: (v) => (typeof v === 'number' || typeof v === 'string' ? v : typeof v === 'boolean' ? Number(v) : undefined),
  format: (v) => (typeof v === 'string' ? v : String(v)),
};

/** Named set types (`type ipv4_addr . inet_proto . inet_service`). */
export const TYPES_BY_NAME: Record<string, NftType> = {
  ipv4_addr: IPV4,
  ipv6_addr: IPV6,
  inet_proto: INET_PROTO,
  inet_service: INET_SERVICE,
  ifname: IFNAME,
  mark: MARK,
  integer: INTEGER,
  ct_state: CT_STATE,
  ct_status: CT_STATUS,
  ct_dir: CT_DIR,
  nf_proto: NF_PROTO,
  ether_type: ETHER_TYPE,
  tcp_flag: TCP_FLAG,
  pkt_type: PKT_TYPE,
  fib_addrtype: FIB_ADDRTYPE,
  icmp_type: ICMP_TYPE,
  icmpv6_type: ICMPV6_TYPE,
  icmp_code: ICMP_CODE,
  icmpv6_code: ICMPV6_CODE,
  dscp: DSCP,
  uid: UID,
  gid: GID,
  iface_index: IFNAME,
};

/** Parse a constant, also OR-ing a list of flags (`["syn","ack"]`, `{"|": ["syn","ack"]}`). */
export function parseConstant(type: NftType, v: unknown): Val | undefined {
  if (Array.isArray(v) || (typeof v === 'object' && v !== null && '|' in v)) {
    const items = Array.isArray(v) ? v : ((v as Record<string, unknown>)['|'] as unknown[]);
    if (!Array.isArray(items)) return undefined;
    let acc = 0;
    for (const item of items) {
      const one = parseConstant(type, item);
      if (typeof one !== 'number') return undefined;
      acc = (acc | one) >>> 0;
    }
    return acc;
  }
  return type.parse(v);
}

export function compareVals(a: Val, b: Val): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
