/**
 * Test packets for differential testing against the kernel, built from the values an iptables-save ruleset mentions:
 * for each rule a packet that matches it and near misses that differ in one dimension (an address just outside the
 * prefix, a port one off the range, another interface, protocol or state), plus some random packets.
 *
 * This is deliberately not an iptables parser: a light tokenizer pulls `-s/-d/-i/-o/-p/--sport/--dport/--dports/
 * --src-range/--icmp-type/--ctstate...` values out of `-A` lines and ignores everything else.
 *
 * Packets are grouped into batches with a consistent address plan, because the kernel oracle has to build a node
 * where all packets of a batch can be sent: an address is either owned by the node (input destinations, output
 * sources) or routed out of exactly one interface (forward/output destinations), never both; sources of arriving
 * packets are never the node's own addresses.
 */

import { intToIp, ipToInt, lastAddress, type Prefix, parsePrefix } from './ipv4.js';
import { Random } from './random.js';
import { SYNTH_INTERFACES, SYNTH_NETWORKS } from './random-ruleset.js';

export type PacketPath = 'input' | 'forward' | 'output';
export type PacketProto = 'tcp' | 'udp' | 'icmp';

export interface Packet {
  path: PacketPath;
  proto: PacketProto;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  /** ICMP type; only query types that conntrack tracks (8 echo-request, 0 echo-reply, 13 timestamp). */
  icmpType?: number;
  /** Input interface (input and forward). */
  in?: string;
  /** Output interface (forward and output). */
  out?: string;
  state: 'new' | 'established';
}

export interface PacketBatch {
  packets: Packet[];
  /** Addresses the node must own: input destinations and output sources. */
  localAddresses: string[];
  /** Forward/output destinations and the one interface each is routed out of. */
  routes: { dst: string; out: string }[];
  /** Every interface the batch names. */
  interfaces: string[];
}

export interface BoundaryPacketsOptions {
  /** Share of purely random packets (default 0.15). */
  randomShare?: number;
  /** Restrict to these paths. */
  paths?: PacketPath[];
  /** Extra interface names to use for random packets and near misses (default the synthetic pool). */
  interfaces?: string[];
  /** Networks random addresses are drawn from (default the synthetic pool). */
  networks?: string[];
  /** Upper bound on batches; packets that fit no batch are dropped. Default 64. */
  maxBatches?: number;
}

export interface BoundaryPacketsResult {
  /** All packets, batch by batch. */
  packets: Packet[];
  batches: PacketBatch[];
}

// ---------------------------------------------------------------- tokenizer

interface Neg<T> {
  value: T;
  neg: boolean;
}

interface PortRange {
  lo: number;
  hi: number;
}

/** What a rule says about the fields a packet has. */
export interface RuleFacts {
  table: string;
  chain: string;
  src?: Neg<Prefix>;
  dst?: Neg<Prefix>;
  srcRange?: Neg<PortRange>;
  dstRange?: Neg<PortRange>;
  in?: Neg<string>;
  out?: Neg<string>;
  proto?: Neg<string>;
  sports?: Neg<PortRange[]>;
  dports?: Neg<PortRange[]>;
  icmpType?: Neg<number>;
  states?: Neg<string[]>;
  /** `-j X` / `-g X` target name. */
  target?: string;
}

/** Splits a rule line like a shell would for iptables-restore: whitespace, double quotes, backslash escapes. */
export function tokenizeRule(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inToken = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inToken = true;
    } else if (ch === '"') {
      quoted = !quoted;
      inToken = true;
    } else if (!quoted && (ch === ' ' || ch === '\t')) {
      if (inToken) out.push(cur);
      cur = '';
      inToken = false;
    } else {
      cur += ch;
      inToken = true;
    }
  }
  if (inToken) out.push(cur);
  return out;
}

const PROTO_NUMBERS: Record<string, string> = { '6': 'tcp', '17': 'udp', '1': 'icmp' };
const ICMP_NAMES: Record<string, number> = {
  'echo-reply': 0,
  pong: 0,
  'destination-unreachable': 3,
  'source-quench': 4,
  redirect: 5,
  'echo-request': 8,
  ping: 8,
  'time-exceeded': 11,
  'parameter-problem': 12,
  'timestamp-request': 13,
  'timestamp-reply': 14,
};

function parsePortList(text: string): PortRange[] {
  const out: PortRange[] = [];
  for (const part of text.split(',')) {
    const [a, b] = part.split(':');
    const lo = a === '' || a === undefined ? 0 : Number(a);
    const hi = b === undefined ? lo : b === '' ? 65535 : Number(b);
    if (Number.isInteger(lo) && Number.isInteger(hi)) out.push({ lo: Math.min(lo, hi), hi: Math.max(lo, hi) });
  }
  return out;
}

function parseAddr(text: string): Prefix | undefined {
  try {
    const [addr, mask] = text.split('/');
    if (mask?.includes('.')) {
      const m = ipToInt(mask);
      let len = 0;
      while (len < 32 && m & (0x80000000 >>> len)) len++;
      return parsePrefix(`${addr}/${len}`);
    }
    return parsePrefix(text);
  } catch {
    return undefined;
  }
}

function parseRange(text: string): PortRange | undefined {
  const [a, b] = text.split('-');
  try {
    const lo = ipToInt(a as string);
    const hi = b === undefined ? lo : ipToInt(b);
    return { lo, hi };
  } catch {
    return undefined;
  }
}

/** Facts of every `-A` line of an iptables-save text. */
export function extractRuleFacts(text: string): RuleFacts[] {
  const facts: RuleFacts[] = [];
  let table = 'filter';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) {
      table = line.slice(1);
      continue;
    }
    if (!line.startsWith('-A ')) continue;
    const tok = tokenizeRule(line);
    const f: RuleFacts = { table, chain: tok[1] ?? '' };
    let neg = false;
    for (let i = 2; i < tok.length; i++) {
      const t = tok[i] as string;
      const next = tok[i + 1];
      if (t === '!') {
        neg = true;
        continue;
      }
      const take = <T>(value: T | undefined): Neg<T> | undefined => {
        i++;
        return value === undefined ? undefined : { value, neg };
      };
      switch (t) {
        case '-s':
        case '--source':
        case '--src':
          f.src = take(next ? parseAddr(next) : undefined);
          break;
        case '-d':
        case '--destination':
        case '--dst':
          f.dst = take(next ? parseAddr(next) : undefined);
          break;
        case '-i':
        case '--in-interface':
          f.in = take(next);
          break;
        case '-o':
        case '--out-interface':
          f.out = take(next);
          break;
        case '-p':
        case '--protocol':
          f.proto = take(next ? (PROTO_NUMBERS[next] ?? next.toLowerCase()) : undefined);
          break;
        case '--sport':
        case '--source-port':
        case '--sports':
        case '--source-ports':
          f.sports = take(next ? parsePortList(next) : undefined);
          break;
        case '--dport':
        case '--destination-port':
        case '--dports':
        case '--destination-ports':
          f.dports = take(next ? parsePortList(next) : undefined);
          break;
        case '--ports': {
          const v = take(next ? parsePortList(next) : undefined);
          f.sports = v;
          f.dports = v;
          break;
        }
        case '--src-range':
          f.srcRange = take(next ? parseRange(next) : undefined);
          break;
        case '--dst-range':
          f.dstRange = take(next ? parseRange(next) : undefined);
          break;
        case '--icmp-type': {
          const type = next === undefined ? undefined : (ICMP_NAMES[next] ?? Number.parseInt(next, 10));
          f.icmpType = take(type !== undefined && Number.isInteger(type) ? type : undefined);
          break;
        }
        case '--ctstate':
        case '--state':
          f.states = take(next?.split(','));
          break;
        case '-j':
        case '--jump':
        case '-g':
        case '--goto':
          f.target = next;
          i++;
          break;
        default:
          break;
      }
      neg = false;
    }
    facts.push(f);
  }
  return facts;
}

// ---------------------------------------------------------------- packet synthesis

const BUILTIN_PATHS: Record<string, PacketPath[]> = {
  INPUT: ['input'],
  FORWARD: ['forward'],
  OUTPUT: ['output'],
  PREROUTING: ['input', 'forward'],
  POSTROUTING: ['forward', 'output'],
};

/** Paths that can reach each chain, following -j/-g edges from the built-in chains of the same table. */
function chainPaths(facts: RuleFacts[]): Map<string, Set<PacketPath>> {
  const edges = new Map<string, Set<string>>();
  for (const f of facts) {
    if (!f.target) continue;
    const from = `${f.table}/${f.chain}`;
    const s = edges.get(from) ?? new Set<string>();
    edges.set(from, s);
    s.add(`${f.table}/${f.target}`);
  }
  const paths = new Map<string, Set<PacketPath>>();
  const visit = (node: string, path: PacketPath, depth: number) => {
    const s = paths.get(node) ?? new Set<PacketPath>();
    paths.set(node, s);
    if (s.has(path) || depth > 64) return;
    s.add(path);
    for (const n of edges.get(node) ?? []) visit(n, path, depth + 1);
  };
  const tables = new Set(facts.map((f) => f.table));
  for (const t of tables) {
    for (const [chain, ps] of Object.entries(BUILTIN_PATHS)) for (const p of ps) visit(`${t}/${chain}`, p, 0);
  }
  return paths;
}

/** Unicast addresses the oracle can use: not 0/8, 127/8, multicast, class E or broadcast. */
export function isUsableAddress(ip: number): boolean {
  const first = ip >>> 24;
  return first !== 0 && first !== 127 && first < 224;
}

class Synth {
  private readonly rng: Random;
  private readonly ifaces: string[];
  private readonly nets: Prefix[];

  constructor(rng: Random, ifaces: string[], nets: Prefix[]) {
    this.rng = rng;
    this.ifaces = ifaces;
    this.nets = nets;
  }

  randomAddress(): number {
    for (;;) {
      const net = this.rng.pick(this.nets);
      const size = lastAddress(net) - net.network + 1;
      const ip = (net.network + this.rng.int(0, size - 1)) >>> 0;
      if (isUsableAddress(ip)) return ip;
    }
  }

  /** An address inside (`inside`) or just outside the prefix, preferring its edges. */
  addressFor(p: Prefix, inside: boolean): number {
    const first = p.network;
    const last = lastAddress(p);
    const cands = inside
      ? [first, (first + 1) >>> 0, last, (last - 1) >>> 0, (first + this.rng.int(0, last - first)) >>> 0]
      : [(first - 1) >>> 0, (last + 1) >>> 0];
    const ok = cands.filter((c) => isUsableAddress(c) && (inside ? c >= first && c <= last : c < first || c > last));
    // A prefix with no usable address (224.0.0.0/4, 127.0.0.0/8) can't be probed from inside.
    return ok.length > 0 ? this.rng.pick(ok) : this.randomAddress();
  }

  addressInRange(r: PortRange, inside: boolean): number {
    const cands = inside
      ? [r.lo, r.hi, r.lo + Math.floor((r.hi - r.lo) / 2)]
      : [r.lo - 1, r.hi + 1].filter((x) => x >= 0 && x <= 0xffffffff);
    const ok = cands.filter((c) => isUsableAddress(c >>> 0));
    return ok.length > 0 ? this.rng.pick(ok) >>> 0 : this.randomAddress();
  }

  portFor(list: PortRange[] | undefined, inside: boolean): number {
    if (!list || list.length === 0) return this.randomPort();
    const r = this.rng.pick(list);
    if (inside) return this.rng.pick([r.lo, r.hi, r.lo + Math.floor((r.hi - r.lo) / 2)]);
    const outside = [r.lo - 1, r.hi + 1].filter(
      (x) => x >= 1 && x <= 65535 && !list.some((o) => x >= o.lo && x <= o.hi),
    );
    return outside.length > 0 ? this.rng.pick(outside) : this.randomPort();
  }

  randomPort(): number {
    return this.rng.chance(0.5) ? this.rng.pick([22, 53, 80, 443, 6443, 8080, 8472, 10250]) : this.rng.int(1024, 65535);
  }

  /** A concrete interface name matching `pattern` (or not). */
  ifaceFor(pattern: string | undefined, inside: boolean): string {
    if (pattern === undefined) return this.rng.pick(this.ifaces);
    const wildcard = pattern.endsWith('+');
    const stem = wildcard ? pattern.slice(0, -1) : pattern;
    const matches = (name: string) => (wildcard ? name.startsWith(stem) : name === pattern);
    if (inside) {
      const known = this.ifaces.filter(matches);
      if (known.length > 0) return this.rng.pick(known);
      const name = wildcard ? concreteFor(stem) : pattern;
      // Loopback can't carry the oracle's packets: a rule on `lo` only gets near misses.
      if (name !== 'lo') return name;
    }
    const others = this.ifaces.filter((n) => !matches(n));
    return others.length > 0 ? this.rng.pick(others) : 'eth9';
  }
}

/** A concrete name for a `stem+` wildcard: the stem and a digit (`eth+` → `eth0`). */
function concreteFor(stem: string): string {
  return `${stem === '' ? 'eth' : stem}0`.slice(0, 15);
}

const STATE_OF: Record<string, 'new' | 'established'> = { NEW: 'new', ESTABLISHED: 'established' };

function packetFromFacts(s: Synth, rng: Random, f: RuleFacts, paths: PacketPath[], miss: string | undefined): Packet {
  // A rule that names an interface restricts the path.
  let ps = paths;
  if (f.in) ps = ps.filter((p) => p !== 'output');
  if (f.out) ps = ps.filter((p) => p !== 'input');
  if (ps.length === 0) ps = paths.length > 0 ? paths : ['forward'];
  const path = rng.pick(ps);

  const want = (dim: string, positive: boolean) => (miss === dim ? !positive : positive);

  // protocol
  let proto: PacketProto;
  const named = f.proto?.value;
  const ported = f.sports !== undefined || f.dports !== undefined;
  const protoKnown = named === 'tcp' || named === 'udp' || named === 'icmp';
  if (f.proto && protoKnown) {
    const inside = want('proto', !f.proto.neg);
    proto = inside
      ? (named as PacketProto)
      : rng.pick((['tcp', 'udp', 'icmp'] as PacketProto[]).filter((p) => p !== named));
  } else if (ported) {
    proto = rng.pick(['tcp', 'udp']);
  } else {
    proto = rng.weighted<PacketProto>([
      ['tcp', 0.5],
      ['udp', 0.3],
      ['icmp', 0.2],
    ]);
  }

  const addr = (p: Neg<Prefix> | undefined, r: Neg<PortRange> | undefined, dim: string): number => {
    if (p) return s.addressFor(p.value, want(dim, !p.neg));
    if (r) return s.addressInRange(r.value, want(`${dim}range`, !r.neg));
    return s.randomAddress();
  };
  const src = addr(f.src, f.srcRange, 'src');
  let dst = addr(f.dst, f.dstRange, 'dst');
  while (dst === src) dst = s.randomAddress();

  const pkt: Packet = { path, proto, src: intToIp(src), dst: intToIp(dst), state: 'new' };
  if (proto === 'tcp' || proto === 'udp') {
    pkt.sport = f.sports ? s.portFor(f.sports.value, want('sport', !f.sports.neg)) : rng.int(1024, 65535);
    pkt.dport = f.dports ? s.portFor(f.dports.value, want('dport', !f.dports.neg)) : s.randomPort();
  } else {
    pkt.icmpType = rng.pick([8, 8, 13]);
  }
  if (path !== 'output') pkt.in = f.in ? s.ifaceFor(f.in.value, want('in', !f.in.neg)) : s.ifaceFor(undefined, true);
  if (path !== 'input')
    pkt.out = f.out ? s.ifaceFor(f.out.value, want('out', !f.out.neg)) : s.ifaceFor(undefined, true);
  if (pkt.in !== undefined && pkt.in === pkt.out) pkt.out = s.ifaceFor(pkt.in, false);

  if (f.states) {
    const inside = want('state', !f.states.neg);
    const named2 = f.states.value.map((x) => STATE_OF[x]).filter((x): x is 'new' | 'established' => x !== undefined);
    const pool: ('new' | 'established')[] = inside
      ? named2
      : (['new', 'established'] as const).filter((x) => !named2.includes(x));
    pkt.state = pool.length > 0 ? rng.pick(pool) : rng.pick(['new', 'established']);
  } else {
    pkt.state = rng.chance(0.75) ? 'new' : 'established';
  }
  // ICMP: only echo-request/timestamp start a connection; an echo-reply is always a reply.
  if (proto === 'icmp' && pkt.state === 'established' && rng.chance(0.5)) pkt.icmpType = 0;
  if (proto === 'icmp' && f.icmpType && (named === 'icmp' || !f.proto)) {
    const t = f.icmpType.value;
    if ([0, 8, 13].includes(t) && want('icmp', !f.icmpType.neg)) {
      pkt.icmpType = t;
      if (t === 0) pkt.state = 'established';
    } else if (t === 8 || t === 13 || t === 0) {
      pkt.icmpType = t === 8 ? 13 : 8;
    }
  }
  return pkt;
}

/** Dimensions a rule constrains, for near misses. */
function dimensions(f: RuleFacts): string[] {
  const d: string[] = [];
  if (f.src) d.push('src');
  if (f.dst) d.push('dst');
  if (f.srcRange) d.push('srcrange');
  if (f.dstRange) d.push('dstrange');
  if (f.in) d.push('in');
  if (f.out) d.push('out');
  if (f.proto && ['tcp', 'udp', 'icmp'].includes(f.proto.value)) d.push('proto');
  if (f.sports) d.push('sport');
  if (f.dports) d.push('dport');
  if (f.states) d.push('state');
  if (f.icmpType) d.push('icmp');
  return d;
}

// ---------------------------------------------------------------- batches

class BatchPlan {
  readonly packets: Packet[] = [];
  private readonly local = new Set<string>();
  private readonly routes = new Map<string, string>();
  private readonly foreignSources = new Set<string>();

  /** Adds the packet if it keeps the plan consistent. */
  tryAdd(p: Packet): boolean {
    const { src, dst } = p;
    if (src === dst) return false;
    if (p.path === 'input') {
      if (this.routes.has(dst) || this.foreignSources.has(dst) || this.local.has(src)) return false;
      this.local.add(dst);
      this.foreignSources.add(src);
    } else if (p.path === 'forward') {
      const r = this.routes.get(dst);
      if ((r !== undefined && r !== p.out) || this.local.has(dst) || this.local.has(src)) return false;
      this.routes.set(dst, p.out as string);
      this.foreignSources.add(src);
    } else {
      const r = this.routes.get(dst);
      if (
        (r !== undefined && r !== p.out) ||
        this.local.has(dst) ||
        this.routes.has(src) ||
        this.foreignSources.has(src)
      )
        return false;
      this.routes.set(dst, p.out as string);
      this.local.add(src);
    }
    this.packets.push(p);
    return true;
  }

  toBatch(): PacketBatch {
    const ifaces = new Set<string>();
    for (const p of this.packets) {
      if (p.in) ifaces.add(p.in);
      if (p.out) ifaces.add(p.out);
    }
    return {
      packets: this.packets,
      localAddresses: [...this.local].sort(),
      routes: [...this.routes].map(([dst, out]) => ({ dst, out })).sort((a, b) => (a.dst < b.dst ? -1 : 1)),
      interfaces: [...ifaces].sort(),
    };
  }
}

/**
 * `count` packets around the values `rulesetText` mentions (iptables-save format, any tables), deterministic from
 * `seed`, grouped into batches with a consistent address plan.
 */
export function boundaryPackets(
  rulesetText: string,
  seed: number,
  count: number,
  opts: BoundaryPacketsOptions = {},
): BoundaryPacketsResult {
  const rng = new Random(seed);
  const facts = extractRuleFacts(rulesetText);
  const chainPathMap = chainPaths(facts);

  // Concrete interface names: those the rules name, wildcard expansions, the pool.
  const ifaceSet = new Set<string>(opts.interfaces ?? SYNTH_INTERFACES);
  for (const f of facts) {
    for (const i of [f.in?.value, f.out?.value]) {
      if (!i || i === 'lo') continue;
      ifaceSet.add(i.endsWith('+') ? concreteFor(i.slice(0, -1)) : i);
    }
  }
  ifaceSet.delete('lo');
  const nets = (opts.networks ?? SYNTH_NETWORKS).map((n) => parsePrefix(n));
  const synth = new Synth(rng, [...ifaceSet].sort(), nets);
  const allowed = new Set<PacketPath>(opts.paths ?? ['input', 'forward', 'output']);

  const drafts: Packet[] = [];
  const randomCount = Math.round(count * (opts.randomShare ?? 0.15));
  const ruleCount = facts.length > 0 ? count - randomCount : 0;
  const order = rng.shuffle(facts.map((_, i) => i));
  let k = 0;
  while (drafts.length < ruleCount && order.length > 0) {
    const f = facts[order[k % order.length] as number] as RuleFacts;
    k++;
    const reach = [...(chainPathMap.get(`${f.table}/${f.chain}`) ?? [])].filter((p) => allowed.has(p));
    const paths = reach.length > 0 ? reach : [...allowed];
    drafts.push(packetFromFacts(synth, rng, f, paths, undefined));
    const dims = dimensions(f);
    if (dims.length > 0 && drafts.length < ruleCount) {
      drafts.push(packetFromFacts(synth, rng, f, paths, rng.pick(dims)));
    }
    if (k > ruleCount * 4 + facts.length) break;
  }
  while (drafts.length < count) {
    drafts.push(packetFromFacts(synth, rng, { table: 'filter', chain: '' }, [...allowed], undefined));
  }

  // Place packets into batches; a packet that conflicts everywhere opens a new batch.
  const plans: BatchPlan[] = [];
  const maxBatches = opts.maxBatches ?? 64;
  for (const p of drafts.slice(0, count)) {
    if (plans.some((b) => b.tryAdd(p))) continue;
    if (plans.length < maxBatches) {
      const b = new BatchPlan();
      if (b.tryAdd(p)) plans.push(b);
    }
  }
  const batches = plans.map((b) => b.toBatch());
  return { packets: batches.flatMap((b) => b.packets), batches };
}
