/**
 * Packets for the differential harness, aimed at what the rules mention: the addresses at and just outside each prefix
 * (first, last, one before, one after), ports ±1 and range ends, interface names that do and just do not match a
 * `+` wildcard, marks with and without the masked bits, negated matches from both sides. Each packet is built around
 * one rule (its chain tells the path), the fields the rule does not name are drawn from the pools of the whole ruleset.
 * Pure and seeded: the same ruleset, hints and seed give the same packets.
 */
import { parseCidr } from '../../src/core/ip.js';
import type { Hook, Rule, Ruleset } from '../../src/netfilter/model.js';
import { Random } from '../../src/synth/random.js';
import type { OraclePacket } from '../kernel/oracle.js';

export interface PacketHints {
  family: 4 | 6;
  /** the node's own addresses (the oracle's `localAddresses`): input destinations, output sources */
  nodeAddresses: string[];
  /** concrete interface names of the node (beside the ones the rules name) */
  interfaces: string[];
  /** more addresses worth sending from or to (pods, peers, services) */
  addresses?: string[];
  ports?: number[];
  marks?: number[];
  /** `ipset save` text: members of the sets rules match are addresses worth trying */
  ipsetSave?: string;
}

/** What one rule asks of a packet, as candidate values (matching and near misses). */
interface RuleWants {
  paths: OraclePacket['path'][];
  proto?: 'tcp' | 'udp' | 'icmp';
  /** the rule needs a protocol the oracle cannot send (ipencap, esp, sctp...) */
  otherProto?: boolean;
  src: string[];
  dst: string[];
  dport: number[];
  sport: number[];
  in: string[];
  out: string[];
  marks: number[];
  icmpTypes: number[];
  established: boolean;
  srcLocal: boolean;
  dstLocal: boolean;
}

// ------------------------------------------------------------------ addresses

const V4_BAD: [number, number][] = [
  [0x00000000, 8], // 0/8
  [0x7f000000, 8], // 127/8
  [0xa9fe0000, 16], // 169.254/16 (the oracle's own are in there)
  [0xe0000000, 3], // 224/4 multicast, 240/4 reserved, broadcast
];

function v4num(s: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (!m) return undefined;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return undefined;
  return ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) >>> 0;
}
function v4str(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** An address the kernel routes like any other (no martian, multicast, loopback or oracle-owned address). */
export function usableAddress(a: string): boolean {
  const v = v4num(a);
  if (v !== undefined) {
    for (const [net, len] of V4_BAD) if (len === 0 || v >>> (32 - len) === net >>> (32 - len)) return false;
    return true;
  }
  const c = parseCidr(a);
  if (c?.family !== 6) return false;
  const x = c.network as bigint;
  const top16 = Number(x >> 112n);
  if (x <= 1n) return false; // :: and ::1
  if (top16 >= 0xfe80 && top16 <= 0xfebf) return false; // link-local
  if (top16 >>> 8 === 0xff) return false; // multicast
  if (x >> 32n === 0xffffn) return false; // v4-mapped
  if (x >> 96n === 0n) return false; // v4-compatible, ::/96
  if (x >> 64n === 0xfd6e646b0000ffffn) return false; // the oracle's own
  return true;
}

function v6str(x: bigint): string {
  const g: string[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((x >> BigInt(i * 16)) & 0xffffn).toString(16));
  return g.join(':');
}

/** Boundary addresses of a prefix: first, last, one before, one after, one inside. */
export function prefixEdges(text: string, rng: Random): string[] {
  const c = parseCidr(text);
  if (!c) return [];
  if (c.family === 4) {
    const net = c.network as number;
    const size = 2 ** (32 - c.prefix);
    const last = net + size - 1;
    const out = [net, last, net - 1, last + 1];
    if (size > 2) out.push(net + 1 + rng.int(0, size - 3));
    return out.filter((v) => v >= 0 && v <= 0xffffffff).map(v4str);
  }
  const net = c.network as bigint;
  const size = 1n << BigInt(128 - c.prefix);
  const last = net + size - 1n;
  const out = [net, last, net - 1n, last + 1n];
  if (size > 2n) out.push(net + 1n + (BigInt(rng.int(0, 1_000_000)) % (size - 2n)));
  return out.filter((v) => v >= 0n && v < 1n << 128n).map(v6str);
}

function rangeEdges(from: string, to: string, rng: Random): string[] {
  const a = v4num(from);
  const b = v4num(to);
  if (a === undefined || b === undefined) return [];
  const out = [a, b, a - 1, b + 1];
  if (b - a > 1) out.push(a + 1 + rng.int(0, b - a - 2));
  return out.filter((v) => v >= 0 && v <= 0xffffffff).map(v4str);
}

// ------------------------------------------------------------------ ports, interfaces, marks

function portEdges(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:[:-](\d+))?$/.exec(part.trim());
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    out.push(a - 1, a, a + 1, b - 1, b, b + 1);
    if (b - a > 4) out.push(Math.floor((a + b) / 2));
  }
  return [...new Set(out.filter((p) => p >= 1 && p <= 65535))];
}

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** Concrete names for an interface pattern: the name itself, or for `x+` the bare prefix, a long and a near-miss name. */
function ifaceNames(pattern: string, rng: Random): string[] {
  if (pattern.endsWith('+') || pattern.endsWith('*')) {
    const p = pattern.slice(0, -1);
    const hex = () => rng.int(0, 0xffffff).toString(16).padStart(6, '0');
    const out = [`${p}${hex()}`.slice(0, 15), `${p}0`.slice(0, 15)];
    if (p.length > 0) out.push(p, `${p.slice(0, -1)}${p.endsWith('x') ? 'y' : 'x'}${hex()}`.slice(0, 15));
    else out.push(`eth${rng.int(0, 9)}`);
    return out.filter((n) => IFNAME.test(n) && n !== 'lo');
  }
  const near = /\d$/.test(pattern) ? pattern.replace(/\d$/, (d) => String((Number(d) + 1) % 10)) : `${pattern}1`;
  return [pattern, near].filter((n) => IFNAME.test(n));
}

function markEdges(spec: string): number[] {
  const [v, m] = spec.split('/');
  const value = Number(v) >>> 0;
  const mask = m === undefined ? 0xffffffff : Number(m) >>> 0;
  if (!Number.isFinite(value) || !Number.isFinite(mask)) return [];
  const low = mask & -mask;
  return [value, (value ^ low) >>> 0, (value | ((~mask >>> 0) & 0x1)) >>> 0, 0];
}

const ICMP_NAMES: Record<string, number> = {
  'echo-request': 8,
  'echo-reply': 0,
  'timestamp-request': 13,
  'destination-unreachable': 3,
  'time-exceeded': 11,
  any: 8,
};

// ------------------------------------------------------------------ what rules ask for

function tokens(text: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1] !== undefined ? `"${m[1]}"` : (m[2] as string));
  return out;
}

const PATHS_OF_HOOK: Record<Hook, OraclePacket['path'][]> = {
  prerouting: ['input', 'forward'],
  input: ['input'],
  forward: ['forward'],
  output: ['output'],
  postrouting: ['forward', 'output'],
};

/** The hooks from which each chain of each table can be reached (jumps and gotos followed). */
function chainHooks(ruleset: Ruleset): Map<string, Set<Hook>> {
  const out = new Map<string, Set<Hook>>();
  for (const t of ruleset.tables) {
    const edges = new Map<string, Set<string>>();
    for (const c of t.chains.values()) {
      const to = new Set<string>();
      for (const r of c.rules)
        for (const m of r.text.matchAll(/(?:^|\s)(?:-j|-g|--jump|--goto|jump|goto)\s+("?)([^\s"]+)\1/g))
          if (t.chains.has(m[2] as string)) to.add(m[2] as string);
      edges.set(c.name, to);
    }
    for (const c of t.chains.values()) {
      if (!c.hook) continue;
      const seen = new Set<string>([c.name]);
      const todo = [c.name];
      for (let guard = 0; todo.length && guard < 100_000; guard++) {
        const n = todo.pop() as string;
        const key = `${t.label} ${n}`;
        const hooks = out.get(key) ?? new Set<Hook>();
        hooks.add(c.hook);
        out.set(key, hooks);
        for (const next of edges.get(n) ?? []) {
          if (seen.has(next)) continue;
          seen.add(next);
          todo.push(next);
        }
      }
    }
  }
  return out;
}

function ipsetMembers(save: string | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of (save ?? '').split('\n')) {
    const m = /^add (\S+) (\S+)/.exec(line.trim());
    if (!m) continue;
    const first = (m[2] as string).split(',')[0] as string;
    const list = out.get(m[1] as string) ?? [];
    list.push(first);
    out.set(m[1] as string, list);
  }
  return out;
}

function ruleWants(rule: Rule, paths: OraclePacket['path'][], sets: Map<string, string[]>, rng: Random): RuleWants {
  const w: RuleWants = {
    paths,
    src: [],
    dst: [],
    dport: [],
    sport: [],
    in: [],
    out: [],
    marks: [],
    icmpTypes: [],
    established: false,
    srcLocal: false,
    dstLocal: false,
  };
  const tk = tokens(rule.text);
  const val = (i: number): string => {
    let j = i + 1;
    if (tk[j] === '!=' || tk[j] === '!' || tk[j] === '==') j++;
    if (tk[j] === '{') {
      const parts: string[] = [];
      for (j++; j < tk.length && tk[j] !== '}'; j++) parts.push((tk[j] as string).replace(/,$/, ''));
      return parts.filter(Boolean).join(',');
    }
    return (tk[j] ?? '').replace(/^"|"$/g, '');
  };
  const addrs = (v: string): string[] =>
    v.split(',').flatMap((a) => {
      const r = /^([\d.]+)-([\d.]+)$/.exec(a);
      return r ? rangeEdges(r[1] as string, r[2] as string, rng) : prefixEdges(a, rng);
    });
  const proto = (v: string) => {
    const p = v.toLowerCase();
    if (p === 'tcp' || p === '6') w.proto = 'tcp';
    else if (p === 'udp' || p === '17') w.proto = 'udp';
    else if (p === 'icmp' || p === '1' || p === 'icmpv6' || p === 'ipv6-icmp' || p === '58') w.proto = 'icmp';
    else if (p !== 'all' && p !== '0' && !p.includes(',')) w.otherProto = true;
  };
  for (let i = 0; i < tk.length; i++) {
    const t = tk[i] as string;
    const prev = tk[i - 1];
    switch (t) {
      case '-s':
      case '--source':
      case '--src':
        w.src.push(...addrs(val(i)));
        break;
      case '-d':
      case '--destination':
      case '--dst':
        w.dst.push(...addrs(val(i)));
        break;
      case 'saddr':
        w.src.push(...addrs(val(i)));
        break;
      case 'daddr':
        if (prev === 'fib') break;
        w.dst.push(...addrs(val(i)));
        break;
      case '--src-range':
        w.src.push(...addrs(val(i)));
        break;
      case '--dst-range':
        w.dst.push(...addrs(val(i)));
        break;
      case '-p':
      case '--protocol':
      case 'l4proto':
      case 'protocol':
        proto(val(i));
        break;
      case 'tcp':
      case 'udp':
        if (tk[i + 1] === 'dport' || tk[i + 1] === 'sport') proto(t);
        break;
      case '-i':
      case '--in-interface':
      case 'iifname':
        w.in.push(...ifaceNames(val(i), rng));
        break;
      case '-o':
      case '--out-interface':
      case 'oifname':
        w.out.push(...ifaceNames(val(i), rng));
        break;
      case '--dport':
      case '--dports':
      case '--destination-port':
      case '--destination-ports':
      case 'dport':
        w.dport.push(...portEdges(val(i)));
        break;
      case '--sport':
      case '--sports':
      case '--source-port':
      case '--source-ports':
      case 'sport':
        w.sport.push(...portEdges(val(i)));
        break;
      case '--ports':
        w.dport.push(...portEdges(val(i)));
        w.sport.push(...portEdges(val(i)));
        break;
      case '--mark':
        w.marks.push(...markEdges(val(i)));
        break;
      case 'mark':
        if (prev === 'meta' && /^0x[0-9a-f]+$|^\d+$/i.test(val(i))) w.marks.push(...markEdges(val(i)));
        break;
      case '--icmp-type':
      case '--icmpv6-type': {
        const v = val(i).split('/')[0] as string;
        const n = /^\d+$/.test(v) ? Number(v) : ICMP_NAMES[v];
        if (n !== undefined) w.icmpTypes.push(n);
        w.proto = 'icmp';
        break;
      }
      case '--ctstate':
      case '--state':
      case 'state':
        if (/ESTABLISHED|established/.test(val(i))) w.established = true;
        break;
      case '--match-set': {
        const members = sets.get(val(i).replace(/^"|"$/g, '')) ?? [];
        const dims = (tk[i + 2] ?? 'src').split(',');
        const edges = members.slice(0, 6).flatMap((m) => prefixEdges(m, rng));
        if (dims[0] === 'dst') w.dst.push(...edges);
        else w.src.push(...edges);
        break;
      }
      case '--src-type':
        if (/LOCAL/.test(val(i))) w.srcLocal = true;
        break;
      case '--dst-type':
        if (/LOCAL/.test(val(i))) w.dstLocal = true;
        break;
      default:
        break;
    }
  }
  return w;
}

// ------------------------------------------------------------------ packets

export interface GeneratedPackets {
  packets: OraclePacket[];
  /** packets left out because the oracle cannot send them, by reason */
  excluded: Map<string, number>;
}

/** Why the oracle cannot send this packet, or undefined when it can. */
export function inexpressible(p: OraclePacket, nodeAddresses: Set<string>): string | undefined {
  if (p.path !== 'output' && (!p.in || p.in === 'lo' || !IFNAME.test(p.in))) return `in interface ${p.in ?? '-'}`;
  if (p.path !== 'input' && (!p.out || p.out === 'lo' || !IFNAME.test(p.out))) return `out interface ${p.out ?? '-'}`;
  if (!usableAddress(p.src)) return 'martian/loopback/multicast source';
  if (!usableAddress(p.dst)) return 'martian/loopback/multicast destination';
  if ((p.src.includes(':') ? 6 : 4) !== (p.dst.includes(':') ? 6 : 4)) return 'mixed families';
  if (p.path === 'output' && nodeAddresses.has(p.dst)) return 'output to the node itself (via lo)';
  if (p.path !== 'input' && p.natDst && nodeAddresses.has(p.natDst))
    return 'DNAT to the node itself off the input path';
  if (p.path === 'forward' && nodeAddresses.has(p.dst) && !p.natDst) return 'forwarding to a node address';
  return undefined;
}

/**
 * Packets for a ruleset: `count` of them, each aimed at a rule (or, one in five, at nothing in particular), plus the
 * `extra` ones given by the caller. Packets the oracle cannot send are counted in `excluded` and left out.
 */
export function generatePackets(
  ruleset: Ruleset,
  hints: PacketHints,
  count: number,
  seed: number,
  extra: OraclePacket[] = [],
): GeneratedPackets {
  const rng = new Random(seed);
  const fam = hints.family;
  const famName = fam === 4 ? 'ip' : 'ip6';
  const nodeSet = new Set(hints.nodeAddresses);
  const sets = ipsetMembers(hints.ipsetSave);
  const hooks = chainHooks(ruleset);
  const wants: RuleWants[] = [];
  for (const t of ruleset.tables) {
    if (t.family !== famName && t.family !== 'inet') continue;
    for (const c of t.chains.values()) {
      const h = hooks.get(`${t.label} ${c.name}`);
      if (!h) continue; // unreachable chain
      const paths = [...new Set([...h].flatMap((x) => PATHS_OF_HOOK[x]))];
      for (const r of c.rules) wants.push(ruleWants(r, paths, sets, rng));
    }
  }
  const sameFamily = (a: string) => (fam === 4 ? !a.includes(':') : a.includes(':'));
  // pools from the whole ruleset
  const poolAddr = [...new Set([...wants.flatMap((w) => [...w.src, ...w.dst]), ...(hints.addresses ?? [])])].filter(
    (a) => sameFamily(a) && usableAddress(a),
  );
  if (poolAddr.length === 0)
    poolAddr.push(
      ...(fam === 4 ? ['192.0.2.10', '198.51.100.20', '203.0.113.30'] : ['2001:db8::10', '2001:db8:1::20']),
    );
  const poolPorts = [
    ...new Set([...wants.flatMap((w) => [...w.dport, ...w.sport]), ...(hints.ports ?? []), 22, 53, 80, 443, 8472]),
  ];
  const poolIfaces = [
    ...new Set(
      [...wants.flatMap((w) => [...w.in, ...w.out]), ...hints.interfaces].filter((n) => n !== 'lo' && IFNAME.test(n)),
    ),
  ].slice(0, 40);
  if (poolIfaces.length === 0) poolIfaces.push('eth0', 'eth1');
  const poolMarks = [...new Set([...wants.flatMap((w) => w.marks), ...(hints.marks ?? [])])];
  const node = hints.nodeAddresses.filter(sameFamily);

  const pickOr = <T>(list: T[], fallback: () => T, p = 0.85): T =>
    list.length && rng.chance(p) ? rng.pick(list) : fallback();
  const excluded = new Map<string, number>();
  const packets: OraclePacket[] = [];
  const seen = new Set<string>();
  const push = (p: OraclePacket) => {
    const why = inexpressible(p, nodeSet);
    if (why) {
      excluded.set(why, (excluded.get(why) ?? 0) + 1);
      return;
    }
    const key = JSON.stringify(p);
    if (seen.has(key)) return;
    seen.add(key);
    packets.push(p);
  };
  for (const p of extra) push(p);

  for (let n = 0, guard = 0; n < count && guard < count * 4; guard++) {
    const w: RuleWants | undefined = wants.length && rng.chance(0.8) ? rng.pick(wants) : undefined;
    if (w?.otherProto) {
      excluded.set('protocol other than tcp/udp/icmp', (excluded.get('protocol other than tcp/udp/icmp') ?? 0) + 1);
      n++;
      continue;
    }
    const path = w?.paths.length ? rng.pick(w.paths) : rng.pick(['input', 'forward', 'output'] as const);
    const proto =
      w?.proto ??
      (w?.dport.length || w?.sport.length
        ? rng.pick(['tcp', 'udp'] as const)
        : rng.weighted([
            ['tcp', 5],
            ['udp', 3],
            ['icmp', 2],
          ] as const));
    const state: OraclePacket['state'] = rng.chance(w?.established ? 0.5 : 0.2) ? 'established' : 'new';
    let src = pickOr(w?.src ?? [], () => rng.pick(poolAddr));
    let dst = pickOr(w?.dst ?? [], () => rng.pick(poolAddr));
    if (path === 'input' && (w?.dstLocal || !w?.dst.length) && node.length && rng.chance(0.6)) dst = rng.pick(node);
    if (path === 'output' && node.length && (w?.srcLocal || !w?.src.length) && rng.chance(0.7)) src = rng.pick(node);
    if (path !== 'input' && nodeSet.has(dst))
      dst = rng.pick(
        poolAddr.filter((a) => !nodeSet.has(a)).concat(fam === 4 ? ['198.51.100.77'] : ['2001:db8:77::1']),
      );
    const p: OraclePacket = { path, proto, src, dst, state };
    if (proto !== 'icmp') {
      p.sport = pickOr(w?.sport ?? [], () => (rng.chance(0.3) ? rng.pick(poolPorts) : rng.int(32768, 60999)));
      p.dport = pickOr(w?.dport ?? [], () => rng.pick(poolPorts));
    } else {
      // query types only: conntrack tracks them as NEW/ESTABLISHED (errors would be INVALID or RELATED)
      const t = w?.icmpTypes.length ? rng.pick(w.icmpTypes) : undefined;
      p.icmpType = fam === 6 ? 128 : t === 13 ? 13 : state === 'new' && rng.chance(0.1) ? 13 : 8;
    }
    if (path !== 'output') p.in = pickOr(w?.in ?? [], () => rng.pick(poolIfaces));
    if (path !== 'input') p.out = pickOr(w?.out ?? [], () => rng.pick(poolIfaces));
    if (w?.marks.length ? rng.chance(0.8) : poolMarks.length && rng.chance(0.1))
      p.mark = rng.pick(w?.marks.length ? w.marks : poolMarks);
    if (state === 'established' && poolMarks.length && rng.chance(0.2)) p.ctMark = rng.pick(poolMarks);
    push(p);
    n++;
  }
  return { packets, excluded };
}
