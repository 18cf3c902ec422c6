/**
 * Packet classes from rules: every protocol, port, address range, interface, conntrack state and mark a rule mentions
 * becomes a dimension with its boundary values (a port range's ends and the ports just outside, a prefix's first and
 * last address and the addresses just outside, both sides of a negation). A class is a packet described with the
 * comparison's tokens (`<node-ip>`, `<pod-subnet>`), built on each node with that node's own values.
 */
import { formatIpv4, formatIpv6, parseCidr, parseIp } from '../core/ip.js';
import type { CtState, Packet, Path } from '../netfilter/model.js';
import { makePacket } from '../netfilter/packet.js';
import type { Normaliser } from './identity.js';

export type Dim = 'proto' | 'dport' | 'sport' | 'src' | 'dst' | 'in' | 'out' | 'state' | 'mark';

/** An address: a literal or token prefix/host, and where in (or next to) it. */
export interface AddrRef {
  ref: string;
  pos: 'first' | 'last' | 'before' | 'after';
}

export interface ClassSpec {
  proto: string;
  sport?: number;
  dport?: number;
  src: AddrRef;
  dst: AddrRef;
  in?: string;
  out?: string;
  state: CtState;
  mark: number;
}

export type DimValue = string | number | AddrRef;

export interface Constraint {
  dim: Dim;
  negated: boolean;
  /** A value that satisfies the constraint. */
  witness: DimValue;
  /** Boundary values on both sides. */
  boundaries: DimValue[];
}

export const OUTSIDE_SRC = '198.51.100.7';
export const OUTSIDE_DST = '203.0.113.9';
const OTHER_IFACE = 'other0';
const STATES: CtState[] = ['new', 'established', 'related', 'invalid'];
const PORT_PROTOS = new Set(['tcp', 'udp', 'sctp', 'udplite']);

export const OUTSIDE_SRC6 = '2001:db8:100::7';
export const OUTSIDE_DST6 = '2001:db8:200::9';
const NODE6_FALLBACK = '2001:db8:ffff::1';

/** The usual packet of a path: from outside to the node (input), through it (forward), from it (output). */
export function defaultSpec(path: Path, family: 4 | 6 = 4): ClassSpec {
  const node: AddrRef = { ref: family === 4 ? '<node-ip>' : '<node-ip6>', pos: 'first' };
  const outside: AddrRef = { ref: family === 4 ? OUTSIDE_SRC : OUTSIDE_SRC6, pos: 'first' };
  const far: AddrRef = { ref: family === 4 ? OUTSIDE_DST : OUTSIDE_DST6, pos: 'first' };
  if (path === 'input')
    return { proto: 'tcp', dport: 9, src: outside, dst: node, in: '<uplink>', state: 'new', mark: 0 };
  if (path === 'output')
    return { proto: 'tcp', dport: 9, src: node, dst: outside, out: '<uplink>', state: 'new', mark: 0 };
  return { proto: 'tcp', dport: 9, src: outside, dst: far, in: '<uplink>', out: '<uplink>', state: 'new', mark: 0 };
}

/** Split a rule into words, keeping quoted strings whole. */
export function words(text: string): string[] {
  const out: string[] = [];
  const re = /"(?:[^"\\]|\\.)*"|\S+/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[0]);
  return out;
}

function portRanges(v: string): [number, number][] {
  const out: [number, number][] = [];
  for (const part of v.replace(/[{}]/g, '').split(/[,\s]+/)) {
    if (!part) continue;
    const m = /^(\d+)?(?:[:-](\d+)?)?$/.exec(part);
    if (!m) continue;
    const lo = m[1] !== undefined ? Number(m[1]) : 0;
    const hi = part.includes(':') || part.includes('-') ? (m[2] !== undefined ? Number(m[2]) : 65535) : lo;
    out.push([lo, hi]);
  }
  return out;
}

function portConstraint(dim: 'dport' | 'sport', v: string, negated: boolean): Constraint | undefined {
  const ranges = portRanges(v);
  if (!ranges.length) return undefined;
  const b = new Set<number>();
  for (const [lo, hi] of ranges) for (const p of [lo - 1, lo, hi, hi + 1]) if (p >= 1 && p <= 65535) b.add(p);
  const inside = (p: number) => ranges.some(([lo, hi]) => p >= lo && p <= hi);
  const boundaries = [...b];
  const witness = negated ? (boundaries.find((p) => !inside(p)) ?? 9) : (ranges[0] as [number, number])[0];
  return { dim, negated, witness, boundaries };
}

function addrConstraint(dim: 'src' | 'dst', v: string, negated: boolean): Constraint {
  const refs = v.split(',');
  const boundaries: AddrRef[] = [];
  for (const ref of refs)
    for (const pos of ['first', 'last', 'before', 'after'] as const)
      boundaries.push({ ref: ref.replace(/\/32$/, ''), pos });
  const first = refs[0]?.replace(/\/32$/, '') ?? v;
  const witness: AddrRef = negated ? { ref: first, pos: 'before' } : { ref: first, pos: 'first' };
  return { dim, negated, witness, boundaries };
}

function ifaceConstraint(dim: 'in' | 'out', v: string, negated: boolean): Constraint {
  const name = v.replace(/^"|"$/g, '').replace(/\+$/, '0').replace(/\*$/, '0');
  return { dim, negated, witness: negated ? OTHER_IFACE : name, boundaries: [name, OTHER_IFACE] };
}

function stateConstraint(v: string, negated: boolean): Constraint {
  const listed = v
    .toLowerCase()
    .split(',')
    .filter((s): s is CtState => (STATES as string[]).includes(s));
  const notListed = STATES.filter((s) => !listed.includes(s));
  const witness = negated ? (notListed[0] ?? 'new') : (listed[0] ?? 'new');
  return { dim: 'state', negated, witness, boundaries: [...listed, ...notListed.slice(0, 1)] };
}

function protoConstraint(v: string, negated: boolean): Constraint {
  const p = v.toLowerCase();
  const other = p === 'tcp' ? 'udp' : 'tcp';
  return { dim: 'proto', negated, witness: negated ? other : p, boundaries: [p, other] };
}

function markConstraint(v: string, negated: boolean): Constraint | undefined {
  const [val, mask] = v.split('/');
  const value = Number(val);
  const m = mask !== undefined ? Number(mask) : 0xffffffff;
  if (!Number.isFinite(value) || !Number.isFinite(m)) return undefined;
  const other = value === 0 ? m >>> 0 : 0;
  return { dim: 'mark', negated, witness: negated ? other : value >>> 0, boundaries: [value >>> 0, other] };
}

/** The constraints a rule states, read from its (normalised) text: iptables-save or nft syntax. */
export function constraintsOf(text: string): Constraint[] {
  const out: Constraint[] = [];
  const w = words(text);
  let neg = false;
  for (let i = 0; i < w.length; i++) {
    const t = w[i] as string;
    if (t === '!') {
      neg = true;
      continue;
    }
    const next = w[i + 1];
    const add = (c: Constraint | undefined) => {
      if (c) out.push(c);
      i++;
    };
    if (next !== undefined && next !== '!') {
      switch (t) {
        case '-p':
        case '--protocol':
          if (next !== 'all' && next !== '0') add(protoConstraint(next, neg));
          break;
        case '-s':
        case '--source':
          add(addrConstraint('src', next, neg));
          break;
        case '--src-range':
          add(addrConstraint('src', next.replace('-', ','), neg));
          break;
        case '-d':
        case '--destination':
          add(addrConstraint('dst', next, neg));
          break;
        case '--dst-range':
          add(addrConstraint('dst', next.replace('-', ','), neg));
          break;
        case '-i':
        case '--in-interface':
          add(ifaceConstraint('in', next, neg));
          break;
        case '-o':
        case '--out-interface':
          add(ifaceConstraint('out', next, neg));
          break;
        case '--dport':
        case '--destination-port':
        case '--dports':
        case '--destination-ports':
          add(portConstraint('dport', next, neg));
          break;
        case '--sport':
        case '--source-port':
        case '--sports':
        case '--source-ports':
          add(portConstraint('sport', next, neg));
          break;
        case '--ctstate':
        case '--state':
          add(stateConstraint(next, neg));
          break;
        case '--mark':
          add(markConstraint(next, neg));
          break;
        case '--dst-type':
          if (next === 'LOCAL') add(addrConstraint('dst', '<node-ip>', neg));
          break;
        case '--src-type':
          if (next === 'LOCAL') add(addrConstraint('src', '<node-ip>', neg));
          break;
      }
    }
    if (t !== '!') neg = false;
  }
  if (!text.startsWith('-')) out.push(...nftConstraints(text));
  return out;
}

/** The common nft expressions (native tables: firewalld, kube-proxy nftables mode). */
function nftConstraints(text: string): Constraint[] {
  const out: Constraint[] = [];
  const set = '(\\{[^}]*\\}|"[^"]*"|\\S+)';
  for (const m of text.matchAll(new RegExp(`\\b(tcp|udp|sctp|th) (dport|sport) (!= )?${set}`, 'g'))) {
    const c = portConstraint(m[2] === 'dport' ? 'dport' : 'sport', m[4] as string, m[3] !== undefined);
    if (c) out.push(c);
    if (m[1] !== 'th') out.push(protoConstraint(m[1] as string, false));
  }
  for (const m of text.matchAll(new RegExp(`\\bmeta l4proto (!= )?${set}`, 'g')))
    out.push(protoConstraint((m[2] as string).replace(/[{}\s]/g, '').split(',')[0] as string, m[1] !== undefined));
  for (const m of text.matchAll(new RegExp(`\\bip6? (saddr|daddr) (!= )?${set}`, 'g')))
    if (!(m[3] as string).startsWith('@'))
      out.push(
        addrConstraint(m[1] === 'saddr' ? 'src' : 'dst', (m[3] as string).replace(/[{}\s]/g, ''), m[2] !== undefined),
      );
  for (const m of text.matchAll(new RegExp(`\\b(iifname|oifname) (!= )?${set}`, 'g')))
    out.push(ifaceConstraint(m[1] === 'iifname' ? 'in' : 'out', m[3] as string, m[2] !== undefined));
  for (const m of text.matchAll(new RegExp(`\\bct state (!= )?${set}`, 'g')))
    out.push(stateConstraint((m[2] as string).replace(/[{}\s]/g, ''), m[1] !== undefined));
  return out;
}

export function applyValue(spec: ClassSpec, dim: Dim, v: DimValue): ClassSpec {
  const s: ClassSpec = { ...spec };
  switch (dim) {
    case 'proto':
      s.proto = String(v);
      break;
    case 'dport':
      s.dport = Number(v);
      break;
    case 'sport':
      s.sport = Number(v);
      break;
    case 'src':
      s.src = v as AddrRef;
      break;
    case 'dst':
      s.dst = v as AddrRef;
      break;
    case 'in':
      s.in = String(v);
      break;
    case 'out':
      s.out = String(v);
      break;
    case 'state':
      s.state = v as CtState;
      break;
    case 'mark':
      s.mark = Number(v);
      break;
  }
  // A port constraint implies a protocol with ports.
  if ((dim === 'dport' || dim === 'sport') && !PORT_PROTOS.has(s.proto)) s.proto = 'tcp';
  return s;
}

export function specKey(s: ClassSpec): string {
  return JSON.stringify([s.proto, s.sport, s.dport, s.src, s.dst, s.in, s.out, s.state, s.mark]);
}

/** A class's address on a node: undefined when the node has no such value (a token it lacks). */
function addressOn(ref: AddrRef, norm: Normaliser): string | undefined {
  const v = norm.resolve(ref.ref);
  if (v === undefined) return undefined;
  const host = v.split('/')[0] as string;
  const ip = parseIp(host);
  if (!ip) return undefined;
  const bits = ip.family === 4 ? 32 : 128;
  const c = parseCidr(v.includes('/') ? v : `${host}/${bits}`);
  if (!c) return undefined;
  const size = 1n << BigInt(bits - c.prefix);
  const net = BigInt(c.network);
  const inner = c.prefix < bits - 1 ? 1n : 0n;
  const modulus = 1n << BigInt(bits);
  const at = (x: bigint) => {
    const w = (x + modulus) % modulus;
    return ip.family === 4 ? formatIpv4(Number(w)) : formatIpv6(w);
  };
  switch (ref.pos) {
    case 'first':
      return at(net + inner);
    case 'last':
      return at(net + size - 1n - inner);
    case 'before':
      return at(net - 1n);
    case 'after':
      return at(net + size);
  }
}

/** The class as a packet on one node, with that node's values; undefined when it has no such packet. */
export function packetOn(spec: ClassSpec, norm: Normaliser): Packet | undefined {
  // A node without a (collected) IPv6 address is still asked about IPv6: at a documentation address.
  const orFallback = (r: AddrRef) => addressOn(r, norm) ?? (r.ref === '<node-ip6>' ? NODE6_FALLBACK : undefined);
  const src = orFallback(spec.src);
  const dst = orFallback(spec.dst);
  if (!src || !dst) return undefined;
  const iface = (n: string | undefined) => (n === undefined ? undefined : (norm.resolve(n) ?? n));
  const inIf = iface(spec.in);
  const outIf = iface(spec.out);
  try {
    return makePacket({
      proto: spec.proto,
      src,
      dst,
      ...(PORT_PROTOS.has(spec.proto) ? { dport: spec.dport ?? 9, sport: spec.sport ?? 40000 } : {}),
      ...(inIf ? { in: inIf } : {}),
      ...(outIf ? { out: outIf } : {}),
      state: spec.state,
      mark: spec.mark,
    });
  } catch {
    return undefined;
  }
}

/** The class in the operator's words, relative to the path's usual packet: `udp/8472 NEW from 10.0.0.0`. */
export function describeSpec(spec: ClassSpec, path: Path, norm: Normaliser, family: 4 | 6 = 4): string {
  const d = defaultSpec(path, family);
  const parts: string[] = [];
  parts.push(PORT_PROTOS.has(spec.proto) ? `${spec.proto}/${spec.dport ?? 9}` : spec.proto);
  parts.push(spec.state.toUpperCase());
  if (spec.sport !== undefined && PORT_PROTOS.has(spec.proto)) parts.push(`sport ${spec.sport}`);
  const addr = (r: AddrRef) => addressOn(r, norm) ?? r.ref;
  if (JSON.stringify(spec.src) !== JSON.stringify(d.src)) parts.push(`from ${addr(spec.src)}`);
  if (JSON.stringify(spec.dst) !== JSON.stringify(d.dst)) parts.push(`to ${addr(spec.dst)}`);
  if (spec.in !== d.in && spec.in !== undefined) parts.push(`in ${norm.resolve(spec.in) ?? spec.in}`);
  if (spec.out !== d.out && spec.out !== undefined) parts.push(`out ${norm.resolve(spec.out) ?? spec.out}`);
  if (spec.mark) parts.push(`mark 0x${spec.mark.toString(16)}`);
  return parts.join(' ');
}
