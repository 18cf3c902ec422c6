/**
 * Random but kernel-loadable iptables rulesets for differential testing of the netfilter simulator. Chains form a
 * DAG (jumps and gotos only go one level deeper, at most `maxDepth` levels), so there are no loops; every match and
 * target is restricted to the tables and hooks the kernel allows it in. Addresses and interfaces come from small
 * pools so that packets built from them hit rules often.
 *
 * With `canonical: true` (the default) the text is exactly what `iptables-save` prints back after loading it; with
 * `canonical: false` rules use the spellings people type (`-p 6`, `--syn`, icmp type names, implicit `-m tcp`,
 * `--or-mark`, netmasks, unsorted state lists), which iptables-restore accepts and iptables-save rewrites.
 */

import { formatPrefix, intToIp, lastAddress, maskOf, type Prefix, parsePrefix, prefixSize } from './ipv4.js';
import { Random } from './random.js';
import { type Backend, SaveDocument, type SaveTable, saveString, type TableName } from './save-writer.js';

/** Networks the generated rules (and packets) draw addresses from. */
export const SYNTH_NETWORKS: readonly string[] = [
  '10.1.0.0/16',
  '10.1.2.0/24',
  '10.2.0.0/16',
  '10.244.0.0/16',
  '10.244.1.0/24',
  '10.96.0.0/12',
  '192.0.2.0/24',
  '198.51.100.0/24',
  '203.0.113.0/24',
];

/** Interfaces the generated rules (and packets) use; `+` wildcards expand to the concrete names listed here. */
export const SYNTH_INTERFACES: readonly string[] = ['eth0', 'eth1', 'cni0', 'flannel.1', 'cali12345678', 'docker0'];
const IFACE_PATTERNS = [...SYNTH_INTERFACES, 'eth+', 'cali+', 'docker+', 'flannel+'];

export interface RandomRulesetOptions {
  /** Text exactly as iptables-save prints it back (default true); false uses hand-typed spellings. */
  canonical?: boolean;
  /** Tables to fill besides filter. Default: each of nat, mangle, raw with probability 1/2. */
  tables?: TableName[];
  /** User chains in filter. Default 2-6. */
  userChains?: number;
  /** Rules per chain (inclusive range), not counting jumps to sub-chains. Default [1, 8]. */
  rulesPerChain?: [number, number];
  /** Deepest level of user chains below a built-in chain. Default 3. */
  maxDepth?: number;
  /** Probability that a built-in filter chain has policy DROP. Default 0.3. */
  dropPolicy?: number;
  backend?: Backend;
}

export interface RandomRulesetResult {
  text: string;
  /** Rules per `table/chain`, handy for checking what the kernel loaded. */
  ruleCounts: Record<string, number>;
}

type Hook = 'PREROUTING' | 'INPUT' | 'FORWARD' | 'OUTPUT' | 'POSTROUTING';

interface ChainInfo {
  name: string;
  level: number;
  /** Built-in hooks that can reach this chain (empty for an unreferenced chain). */
  hooks: Set<Hook>;
  builtin: boolean;
}

interface Ctx {
  rng: Random;
  canonical: boolean;
  table: TableName;
  chain: ChainInfo;
}

const CT_STATES = ['INVALID', 'NEW', 'RELATED', 'ESTABLISHED', 'UNTRACKED', 'SNAT', 'DNAT'];
const STATE_STATES = ['INVALID', 'NEW', 'RELATED', 'ESTABLISHED', 'UNTRACKED'];
const ADDR_TYPES = ['UNICAST', 'LOCAL', 'BROADCAST', 'MULTICAST'];
const TCP_FLAGS = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG'];
const REJECT_WITH = [
  'icmp-net-unreachable',
  'icmp-host-unreachable',
  'icmp-port-unreachable',
  'icmp-proto-unreachable',
  'icmp-net-prohibited',
  'icmp-host-prohibited',
  'icmp-admin-prohibited',
];
/** [name, type, code] for the icmp match; code undefined means "any code". */
const ICMP_TYPES: readonly (readonly [string, number, number | undefined])[] = [
  ['echo-reply', 0, undefined],
  ['destination-unreachable', 3, undefined],
  ['network-unreachable', 3, 0],
  ['host-unreachable', 3, 1],
  ['port-unreachable', 3, 3],
  ['fragmentation-needed', 3, 4],
  ['host-prohibited', 3, 10],
  ['source-quench', 4, undefined],
  ['redirect', 5, undefined],
  ['echo-request', 8, undefined],
  ['time-exceeded', 11, undefined],
  ['ttl-zero-during-transit', 11, 0],
  ['parameter-problem', 12, undefined],
  ['timestamp-request', 13, undefined],
];
/** Other protocols: [canonical name, number]. */
const OTHER_PROTOS: readonly (readonly [string, number])[] = [
  ['sctp', 132],
  ['gre', 47],
  ['ipencap', 4],
  ['esp', 50],
  ['ah', 51],
  ['udplite', 136],
];
const PORTS = [22, 53, 80, 123, 179, 443, 2379, 4789, 6443, 8080, 8443, 8472, 9090, 10250, 30000, 32767];
const COMMENTS = ['allow web', 'k8s', 'block-bad', 'from "outside"', 'vxlan', 'ssh', 'overlay/8472', 'legacy rule'];
const LOG_PREFIXES = ['DROP: ', 'fw-in ', 'nd', 'REJECTED ', 'k8s:'];

export function randomRuleset(seed: number, opts: RandomRulesetOptions = {}): RandomRulesetResult {
  const rng = new Random(seed);
  const canonical = opts.canonical ?? true;
  const maxDepth = Math.max(1, opts.maxDepth ?? 3);
  const [rmin, rmax] = opts.rulesPerChain ?? [1, 8];
  const doc = new SaveDocument();

  // filter
  const filter = doc.table('filter');
  const dropP = opts.dropPolicy ?? 0.3;
  for (const c of ['INPUT', 'FORWARD', 'OUTPUT'] as const) if (rng.chance(dropP)) filter.policy(c, 'DROP');
  const filterDag = new ChainDag(['INPUT', 'FORWARD', 'OUTPUT']);
  filterDag.addUserChains(rng, ['INPUT', 'FORWARD', 'OUTPUT'], opts.userChains ?? rng.int(2, 6), maxDepth, 'U');
  fillTable(filter, filterDag, rng, canonical, rmin, rmax);

  const extra = opts.tables ?? (['nat', 'mangle', 'raw'] as TableName[]).filter(() => rng.chance(0.5));
  if (extra.includes('raw')) {
    const dag = new ChainDag(['PREROUTING', 'OUTPUT']);
    dag.addUserChains(rng, ['PREROUTING', 'OUTPUT'], rng.int(0, 1), 1, 'RAW');
    fillTable(doc.table('raw'), dag, rng, canonical, 0, 3);
  }
  if (extra.includes('mangle')) {
    const hooks: Hook[] = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'];
    const dag = new ChainDag(hooks);
    dag.addUserChains(rng, hooks, rng.int(0, 2), 2, 'MANGLE');
    fillTable(doc.table('mangle'), dag, rng, canonical, 0, 3);
  }
  if (extra.includes('nat')) {
    // DNAT-side and SNAT-side user chains are kept apart so every target stays valid where it runs.
    const dag = new ChainDag(['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING']);
    dag.addUserChains(rng, ['PREROUTING', 'OUTPUT'], rng.int(0, 2), 2, 'DNAT');
    dag.addUserChains(rng, ['POSTROUTING'], rng.int(0, 1), 1, 'SNAT');
    fillTable(doc.table('nat'), dag, rng, canonical, 0, 4);
  }

  const ruleCounts: Record<string, number> = {};
  for (const t of ['raw', 'mangle', 'nat', 'filter'] as const) {
    if (!doc.has(t)) continue;
    const table = doc.table(t);
    for (const c of table.chainOrder()) ruleCounts[`${t}/${c}`] = table.rulesOf(c).length;
  }
  return { text: doc.render({ backend: opts.backend, seed }), ruleCounts };
}

/** Built-in chains plus user chains in levels 1..maxDepth; a user chain's parents sit one level up. */
class ChainDag {
  readonly chains: ChainInfo[];
  readonly parents = new Map<string, string[]>();
  /** The built-in chains each user chain descends from (its root set). */
  private readonly roots = new Map<string, Set<Hook>>();

  constructor(builtins: Hook[]) {
    this.chains = builtins.map((h) => ({ name: h, level: 0, hooks: new Set([h]), builtin: true }));
    for (const h of builtins) this.roots.set(h, new Set([h]));
  }

  /** Adds `count` chains that descend only from `roots`; each gets 1-2 parents (5% none: a dead chain). */
  addUserChains(rng: Random, roots: Hook[], count: number, maxDepth: number, prefix: string): void {
    const rootSet = new Set(roots);
    const names = ['ALLOW', 'BLOCK', 'SVC', 'LOG', 'EDGE', 'POD', 'NODE', 'MGMT', 'OVERLAY', 'HOST'];
    const family: ChainInfo[] = this.chains.filter((c) => c.builtin && rootSet.has(c.name as Hook));
    for (let i = 0; i < count; i++) {
      const deepest = Math.max(0, ...family.map((c) => c.level));
      const level = rng.int(1, Math.min(maxDepth, deepest + 1));
      const candidates = family.filter((c) => c.level === level - 1);
      const info: ChainInfo = { name: `${prefix}-${rng.pick(names)}-${i}`, level, hooks: new Set(), builtin: false };
      const ps = rng.chance(0.05) ? [] : rng.sample(candidates, rng.chance(0.2) ? 2 : 1);
      for (const p of ps) for (const h of p.hooks) info.hooks.add(h);
      this.parents.set(
        info.name,
        ps.map((p) => p.name),
      );
      this.chains.push(info);
      family.push(info);
    }
  }
}

function fillTable(table: SaveTable, dag: ChainDag, rng: Random, canonical: boolean, rmin: number, rmax: number): void {
  const rulesByChain = new Map<string, string[]>();
  for (const chain of dag.chains) {
    table.chain(chain.name);
    const ctx: Ctx = { rng, canonical, table: table.name, chain };
    const list: string[] = [];
    const n = rng.int(rmin, rmax);
    for (let i = 0; i < n; i++) list.push(randomRule(ctx, undefined));
    rulesByChain.set(chain.name, list);
  }
  // Jumps/gotos to sub-chains, inserted at random positions of their parents.
  for (const chain of dag.chains) {
    for (const p of dag.parents.get(chain.name) ?? []) {
      const parent = dag.chains.find((c) => c.name === p) as ChainInfo;
      const ctx: Ctx = { rng, canonical, table: table.name, chain: parent };
      const list = rulesByChain.get(p) as string[];
      const verb = rng.chance(0.3) ? '-g' : '-j';
      list.splice(rng.int(0, list.length), 0, randomRule(ctx, { text: `${verb} ${chain.name}` }));
    }
  }
  for (const chain of dag.chains) for (const r of rulesByChain.get(chain.name) ?? []) table.add(chain.name, r);
}

const INPUT_SIDE: ReadonlySet<Hook> = new Set(['PREROUTING', 'INPUT', 'FORWARD']);
const OUTPUT_SIDE: ReadonlySet<Hook> = new Set(['FORWARD', 'OUTPUT', 'POSTROUTING']);

function allIn(hooks: Set<Hook>, allowed: ReadonlySet<Hook>): boolean {
  for (const h of hooks) if (!allowed.has(h)) return false;
  return true;
}

interface Proto {
  name: string;
  num: number;
  negated: boolean;
}

/** One rule: header options, matches, target. `target` forces the verdict (used for jumps to sub-chains). */
function randomRule(ctx: Ctx, target: Verdict | undefined): string {
  const { rng, canonical } = ctx;
  const hooks = ctx.chain.hooks;
  const head: string[] = [];
  const matches: string[] = [];
  const neg = (p: number) => (rng.chance(p) ? '! ' : '');

  if (rng.chance(0.35)) head.push(`${neg(0.2)}-s ${randomAddress(rng, canonical)}`);
  if (rng.chance(0.35)) head.push(`${neg(0.2)}-d ${randomAddress(rng, canonical)}`);
  if (allIn(hooks, INPUT_SIDE) && rng.chance(0.25)) head.push(`${neg(0.2)}-i ${rng.pick(IFACE_PATTERNS)}`);
  if (allIn(hooks, OUTPUT_SIDE) && rng.chance(0.25)) head.push(`${neg(0.2)}-o ${rng.pick(IFACE_PATTERNS)}`);

  // The verdict is chosen before the protocol because some targets need one (tcp-reset, DNAT with a port, TCPMSS).
  const verdict = target ?? randomTarget(ctx);
  let proto: Proto | undefined;
  const needs = verdict.needsProto;
  if (needs || rng.chance(0.6)) {
    const kind =
      needs ??
      rng.weighted<'tcp' | 'udp' | 'icmp' | 'other'>([
        ['tcp', 0.4],
        ['udp', 0.3],
        ['icmp', 0.15],
        ['other', 0.15],
      ]);
    if (kind === 'other') {
      const [name, num] = rng.pick(OTHER_PROTOS);
      proto = { name, num, negated: false };
    } else {
      proto = { name: kind, num: kind === 'tcp' ? 6 : kind === 'udp' ? 17 : 1, negated: !needs && rng.chance(0.05) };
    }
    const spelled = !canonical && rng.chance(0.4) ? String(proto.num) : proto.name;
    head.push(`${proto.negated ? '! ' : ''}-p ${spelled}`);
  }

  if (proto && !proto.negated) addProtoMatches(ctx, proto, matches, verdict.needsSyn === true);
  if (rng.chance(0.3)) matches.push(conntrackMatch(rng, canonical, 'conntrack'));
  else if (rng.chance(0.1)) matches.push(conntrackMatch(rng, canonical, 'state'));
  if (rng.chance(0.1)) {
    const value = rng.pick([0x1, 0x4000, 0x10000, 0x40000, 0xff]);
    const mask = rng.pick([undefined, value, 0xffff, 0xf0000]);
    matches.push(
      `-m mark ${neg(0.2)}--mark 0x${value.toString(16)}${mask === undefined ? '' : `/0x${mask.toString(16)}`}`,
    );
  }
  if (rng.chance(0.1)) {
    const parts: string[] = [];
    const dir = rng.weighted<'src' | 'dst' | 'both'>([
      ['src', 0.3],
      ['dst', 0.6],
      ['both', 0.1],
    ]);
    if (dir !== 'dst') parts.push(`${neg(0.2)}--src-type ${rng.pick(ADDR_TYPES)}`);
    if (dir !== 'src') parts.push(`${neg(0.2)}--dst-type ${rng.pick(ADDR_TYPES)}`);
    matches.push(`-m addrtype ${parts.join(' ')}`);
  }
  if (rng.chance(0.08)) {
    const parts: string[] = [];
    if (rng.chance(0.6)) parts.push(`${neg(0.2)}--src-range ${randomRange(rng)}`);
    if (parts.length === 0 || rng.chance(0.4)) parts.push(`${neg(0.2)}--dst-range ${randomRange(rng)}`);
    matches.push(`-m iprange ${parts.join(' ')}`);
  }
  if (rng.chance(0.15)) matches.push(`-m comment --comment ${saveString(rng.pick(COMMENTS))}`);

  const parts = [...head, ...matches];
  if (verdict.text) parts.push(verdict.text);
  return parts.join(' ');
}

interface Verdict {
  text: string;
  needsProto?: 'tcp' | 'udp';
  needsSyn?: boolean;
}

function randomTarget(ctx: Ctx): Verdict {
  const { rng, canonical, table, chain } = ctx;
  const hooks = chain.hooks;
  const userChain = !chain.builtin;
  if (rng.chance(0.02)) return { text: '' }; // accounting rule without a target
  const ret: [Verdict, number] = [{ text: '-j RETURN' }, userChain ? 0.12 : 0.02];
  const log: [Verdict, number] = [{ text: logTarget(rng, canonical) }, 0.08];
  const markT: [Verdict, number] = [{ text: markTarget(rng, canonical) }, 0.07];
  if (table === 'filter') {
    const rejectWith = rng.chance(0.15) ? 'tcp-reset' : rng.pick(REJECT_WITH);
    let reject: Verdict;
    if (rejectWith === 'tcp-reset') reject = { text: '-j REJECT --reject-with tcp-reset', needsProto: 'tcp' };
    else if (!canonical && rejectWith === 'icmp-port-unreachable' && rng.chance(0.5)) reject = { text: '-j REJECT' };
    else reject = { text: `-j REJECT --reject-with ${rejectWith}` };
    return rng.weighted([[{ text: '-j ACCEPT' }, 0.3], [{ text: '-j DROP' }, 0.22], [reject, 0.15], ret, log, markT]);
  }
  if (table === 'raw') {
    return rng.weighted([
      [{ text: canonical || rng.chance(0.5) ? '-j CT --notrack' : '-j NOTRACK' }, 0.4],
      [{ text: '-j ACCEPT' }, 0.3],
      [{ text: '-j DROP' }, 0.1],
      ret,
      markT,
    ]);
  }
  if (table === 'mangle') {
    const mss: [Verdict, number] = [
      { text: '-j TCPMSS --clamp-mss-to-pmtu', needsProto: 'tcp', needsSyn: true },
      allIn(hooks, new Set<Hook>(['FORWARD', 'OUTPUT', 'POSTROUTING'])) && hooks.size > 0 ? 0.1 : 0,
    ];
    const connmark: [Verdict, number] = [
      {
        text: rng.chance(0.5)
          ? '-j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff'
          : `-j CONNMARK --set-xmark 0x${rng.pick([1, 2, 0x100]).toString(16)}/0xffffffff`,
      },
      0.1,
    ];
    return rng.weighted([
      [{ text: markTarget(rng, canonical) }, 0.4],
      connmark,
      mss,
      [{ text: '-j ACCEPT' }, 0.1],
      [{ text: '-j DROP' }, 0.05],
      ret,
      log,
    ]);
  }
  // nat
  const dnatSide = allIn(hooks, new Set<Hook>(['PREROUTING', 'OUTPUT'])) && hooks.size > 0;
  const snatSide = allIn(hooks, new Set<Hook>(['POSTROUTING', 'INPUT'])) && hooks.size > 0;
  const host = intToIp(randomHost(rng, parsePrefix(rng.pick(SYNTH_NETWORKS))));
  const port = rng.pick(PORTS);
  const p = rng.pick(['tcp', 'udp'] as const);
  return rng.weighted<Verdict>([
    [{ text: `-j DNAT --to-destination ${host}:${port}`, needsProto: p }, dnatSide ? 0.3 : 0],
    [{ text: `-j DNAT --to-destination ${host}` }, dnatSide ? 0.1 : 0],
    [{ text: `-j REDIRECT --to-ports ${port}`, needsProto: p }, dnatSide ? 0.1 : 0],
    [{ text: `-j SNAT --to-source ${host}` }, snatSide ? 0.25 : 0],
    [
      { text: rng.chance(0.5) ? '-j MASQUERADE' : '-j MASQUERADE --random-fully' },
      hooks.has('POSTROUTING') && hooks.size === 1 ? 0.25 : 0,
    ],
    [{ text: '-j ACCEPT' }, 0.15],
    ret,
  ]);
}

function logTarget(rng: Random, canonical: boolean): string {
  let t = '-j LOG';
  if (rng.chance(0.7)) t += ` --log-prefix ${saveString(rng.pick(LOG_PREFIXES))}`;
  const level = rng.pick([4, 4, 6, 7, 3]);
  if (!canonical && rng.chance(0.3)) t += ` --log-level ${level === 4 ? 'warning' : level}`;
  else if (level !== 4) t += ` --log-level ${level}`;
  return t;
}

function markTarget(rng: Random, canonical: boolean): string {
  const value = rng.pick([0x1, 0x2, 0x4000, 0x10000, 0x40000, 0x100]);
  const form = rng.pick(['set-xmark', 'or', 'xor', 'set', 'and'] as const);
  const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;
  if (canonical) {
    switch (form) {
      case 'or':
        return `-j MARK --set-xmark ${hex(value)}/${hex(value)}`;
      case 'xor':
        return `-j MARK --set-xmark ${hex(value)}/0x0`;
      case 'set':
        return `-j MARK --set-xmark ${hex(value)}/0xffffffff`;
      case 'and':
        return `-j MARK --set-xmark 0x0/${hex(~value)}`;
      default:
        return `-j MARK --set-xmark ${hex(value)}/${hex(rng.pick([0xffff, 0xf0000, value]))}`;
    }
  }
  switch (form) {
    case 'or':
      return `-j MARK --or-mark ${hex(value)}`;
    case 'xor':
      return `-j MARK --xor-mark ${hex(value)}`;
    case 'set':
      return `-j MARK --set-mark ${hex(value)}`;
    case 'and':
      return `-j MARK --and-mark ${hex(~value)}`;
    default:
      return `-j MARK --set-xmark ${hex(value)}/${hex(rng.pick([0xffff, 0xf0000, value]))}`;
  }
}

function addProtoMatches(ctx: Ctx, proto: Proto, out: string[], needSyn: boolean): void {
  const { rng, canonical } = ctx;
  const neg = (p: number) => (rng.chance(p) ? '! ' : '');
  const ported = proto.name === 'tcp' || proto.name === 'udp' || proto.name === 'sctp' || proto.name === 'udplite';
  if (ported) {
    const singleMatchName = proto.name === 'udplite' ? undefined : proto.name;
    const opts: string[] = [];
    let useMultiport = false;
    if (singleMatchName && rng.chance(0.25)) opts.push(`${neg(0.2)}--sport ${randomPortSpec(rng)}`);
    if (singleMatchName && rng.chance(0.55)) opts.push(`${neg(0.2)}--dport ${randomPortSpec(rng)}`);
    else if (rng.chance(0.35)) useMultiport = true;
    if (proto.name === 'tcp' && (needSyn || rng.chance(0.15))) opts.push(tcpFlags(rng, canonical, needSyn));
    if (opts.length > 0 && singleMatchName) {
      // Hand-typed rules often leave the protocol match implicit; iptables adds `-m tcp` itself.
      out.push(canonical || rng.chance(0.5) ? `-m ${singleMatchName} ${opts.join(' ')}` : opts.join(' '));
    }
    if (useMultiport) {
      const opt = rng.pick(['--dports', '--dports', '--sports', '--ports']);
      out.push(`-m multiport ${neg(0.2)}${opt} ${randomPortList(rng)}`);
    }
  } else if (proto.name === 'icmp' && rng.chance(0.6)) {
    const [name, type, code] = rng.pick(ICMP_TYPES);
    const any = rng.chance(0.05);
    const n = neg(0.15);
    const spec = any
      ? 'any'
      : !canonical && rng.chance(0.5)
        ? name
        : code === undefined
          ? String(type)
          : `${type}/${code}`;
    out.push(canonical || rng.chance(0.5) ? `-m icmp ${n}--icmp-type ${spec}` : `${n}--icmp-type ${spec}`);
  }
}

function tcpFlags(rng: Random, canonical: boolean, needSyn: boolean): string {
  if (needSyn) return '--tcp-flags SYN,RST SYN';
  if (!canonical && rng.chance(0.4)) return `${rng.chance(0.2) ? '! ' : ''}--syn`;
  if (rng.chance(0.3)) return `${rng.chance(0.2) ? '! ' : ''}--tcp-flags FIN,SYN,RST,ACK SYN`;
  const mask = TCP_FLAGS.filter(() => rng.chance(0.5));
  if (mask.length === 0) mask.push('SYN');
  const comp = mask.filter(() => rng.chance(0.4));
  const compText = comp.length === 0 ? 'NONE' : comp.join(',');
  const maskText = mask.length === TCP_FLAGS.length && !canonical && rng.chance(0.5) ? 'ALL' : mask.join(',');
  return `${rng.chance(0.15) ? '! ' : ''}--tcp-flags ${maskText} ${compText}`;
}

function conntrackMatch(rng: Random, canonical: boolean, kind: 'conntrack' | 'state'): string {
  const all = kind === 'conntrack' ? CT_STATES : STATE_STATES;
  const common = [['ESTABLISHED', 'RELATED'], ['NEW'], ['INVALID'], ['RELATED', 'ESTABLISHED'], ['NEW', 'ESTABLISHED']];
  let picked: string[] = rng.chance(0.6) ? [...rng.pick(common)] : all.filter(() => rng.chance(0.3));
  if (picked.length === 0) picked = ['NEW'];
  // iptables-save lists states in bit order; people type them in any order.
  const ordered = canonical ? all.filter((s) => picked.includes(s)) : rng.shuffle(picked);
  const n = rng.chance(0.15) ? '! ' : '';
  return kind === 'conntrack'
    ? `-m conntrack ${n}--ctstate ${ordered.join(',')}`
    : `-m state ${n}--state ${ordered.join(',')}`;
}

function randomPortSpec(rng: Random): string {
  const p = rng.pick(PORTS);
  if (rng.chance(0.3)) {
    const hi = Math.min(65535, p + rng.pick([1, 9, 99, 1000]));
    return `${p}:${hi}`;
  }
  return String(p);
}

/** multiport list: at most 15 ports, a range counting as two. */
function randomPortList(rng: Random): string {
  const items: string[] = [];
  let used = 0;
  const want = rng.int(1, 5);
  const ports = rng.shuffle(PORTS);
  for (const p of ports) {
    if (items.length >= want) break;
    if (rng.chance(0.3) && used + 2 <= 15) {
      items.push(`${p}:${Math.min(65535, p + rng.pick([1, 10, 100]))}`);
      used += 2;
    } else if (used + 1 <= 15) {
      items.push(String(p));
      used += 1;
    }
  }
  return items.join(',');
}

function randomHost(rng: Random, net: Prefix): number {
  const size = prefixSize(net);
  return size <= 2 ? net.network : (net.network + rng.int(1, size - 2)) >>> 0;
}

/** A prefix inside one of the pool networks, printed as iptables-save does (`a.b.c.d/len`). */
function randomAddress(rng: Random, canonical: boolean): string {
  const base = parsePrefix(rng.pick(SYNTH_NETWORKS));
  const len = rng.weighted<number>([
    [base.prefix, 0.35],
    [Math.min(32, base.prefix + 4), 0.1],
    [Math.max(base.prefix, 24), 0.15],
    [rng.int(Math.max(base.prefix, 25), 30), 0.1],
    [32, 0.3],
  ]);
  const host = randomHost(rng, base);
  const net: Prefix = { network: (host & maskOf(len)) >>> 0, prefix: len };
  if (canonical) return formatPrefix(net);
  if (len === 32) return intToIp(net.network);
  if (rng.chance(0.2)) return `${intToIp(net.network)}/${intToIp(maskOf(len))}`;
  return formatPrefix(net);
}

function randomRange(rng: Random): string {
  const base = parsePrefix(rng.pick(SYNTH_NETWORKS));
  const a = randomHost(rng, base);
  const b = Math.min(lastAddress(base), a + rng.int(0, 40));
  return `${intToIp(a)}-${intToIp(b)}`;
}
