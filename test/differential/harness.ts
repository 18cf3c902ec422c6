/**
 * The differential harness: the kernel (test/kernel/oracle.ts) and the simulator (src/netfilter/simulate.ts) decide
 * the same packets against the same ruleset, and must give the same verdict and the same decisive rule or policy.
 *
 * - The simulator sees the ruleset as a node would dump it: iptables-save text (parsed by src/parse), native nft
 *   tables as the JSON the kernel itself prints (`nft -j list ruleset` from the oracle's router namespace, the
 *   oracle's own table removed), the `ipset save` text.
 * - Its node environment mirrors the oracle's namespace for each packet's batch: `local` is every address that was
 *   local there (loopback, interface addresses, `localAddresses`, the batch's input destinations).
 * - Agreement: same verdict and same decisive (family/table, chain, index or policy); when the simulator forks
 *   (statistic, limit, recent, numgen) the kernel's answer must be one of its branches. A simulator branch that is
 *   "uncertain" makes the packet uncertain: counted apart, never as agreement.
 * - Before the kernel is asked, each packet is simulated once to learn where a DNAT sends it (`natDst` and its
 *   alternatives, so the oracle routes every endpoint), and whether DNAT turns an input packet into a forwarded one
 *   or the other way round (the path is then changed so that kernel and simulator walk the same hooks).
 */
import { formatIp, normalizeIp } from '../../src/core/ip.js';
import type { ActionExpr, Expr, IpSet, MatchExpr, NodeEnv, Ruleset } from '../../src/netfilter/model.js';
import { makePacket } from '../../src/netfilter/packet.js';
import { type Branch, type EvalResult, simulate } from '../../src/netfilter/simulate.js';
import { loadRules, type RulesInput } from '../../src/parse/ruleset.js';
import { Random } from '../../src/synth/random.js';
import { type KernelDecision, kernelDecide, type OraclePacket, type OracleRuleset } from '../kernel/oracle.js';
import { generatePackets, inexpressible, type PacketHints } from './packets.js';

export interface DiffCase {
  name: string;
  family: 4 | 6;
  /** what the kernel loads */
  oracle: OracleRuleset;
  /** the native nft tables reach the simulator as the kernel's own `nft -j list ruleset` */
  nftFromKernel?: boolean;
  hints: PacketHints;
  /** packets chosen from the candidates (generated here from the rules, plus `candidates`) */
  packets: number;
  seed: number;
  /** more candidate packets (e.g. the synth boundary generator's) */
  candidates?: OraclePacket[];
  /** hand-aimed packets (services, NodePorts, overlay ports), always sent */
  extra?: OraclePacket[];
}

/**
 * Of the packets chosen from the candidates, at most this share may be ones the first simulation sees decided by a
 * chain policy: packets that fall through to a policy test little, and the harness must show that most decisions come
 * from rules. (A candidate is never dropped for any other reason; the kernel decides every packet sent on its own.)
 */
export const POLICY_SHARE = 0.3;

export type Outcome = 'agree' | 'disagree' | 'uncertain' | 'error';

export interface PacketResult {
  caseName: string;
  packet: OraclePacket;
  outcome: Outcome;
  kernel: KernelDecision;
  sim?: EvalResult;
  kernelKey: string;
  simKeys: string[];
}

export interface CaseResult {
  name: string;
  results: PacketResult[];
  excluded: Map<string, number>;
  /** candidates not sent because the policy share was full */
  policySkipped: number;
  /** the ruleset could not be loaded by the kernel (e.g. a corpus file iptables-restore refuses) */
  refused?: string;
  /** ruleset for the simulator, per batch JSON (nft) or the one parsed from text */
  rulesets: Map<string, Ruleset>;
  ipsets: Map<string, IpSet>;
  parseIssues: number;
  ms: number;
}

/** A change to the parsed ruleset (a broken simulator, for the mutation check). */
export type Mutant = (ruleset: Ruleset) => void;

const ORACLE_TABLE = 'ndoracle';

const stripped = new WeakMap<object, string>();
/** The batch's listing without the oracle's table, computed once per batch. */
function batchJson(batch: { nftJson: string }): string {
  let s = stripped.get(batch);
  if (s === undefined) {
    s = stripOracleTable(batch.nftJson);
    stripped.set(batch, s);
  }
  return s;
}

/** `nft -j list ruleset` without the oracle's own table. */
export function stripOracleTable(json: string): string {
  const doc = JSON.parse(json) as { nftables?: Record<string, Record<string, unknown>>[] };
  const items = (doc.nftables ?? []).filter((item) => {
    const body = Object.values(item)[0] as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object') return true;
    if ('table' in item) return body.name !== ORACLE_TABLE;
    return body.table !== ORACLE_TABLE;
  });
  return JSON.stringify({ nftables: items });
}

function inputsFor(c: DiffCase, nftJson: string | undefined): RulesInput[] {
  const backend = c.oracle.backend === 'legacy' ? 'iptables-legacy' : 'iptables-nft';
  const inputs: RulesInput[] = [];
  // Same order as the oracle's registration makes the kernel run them at equal priority: iptables first.
  if (c.oracle.iptablesSave?.trim())
    inputs.push({ name: `${c.name}:iptables`, text: c.oracle.iptablesSave, kind: 'iptables-save', backend, family: 4 });
  if (c.oracle.ip6tablesSave?.trim())
    inputs.push({
      name: `${c.name}:ip6tables`,
      text: c.oracle.ip6tablesSave,
      kind: 'iptables-save',
      backend,
      family: 6,
    });
  if (nftJson) inputs.push({ name: `${c.name}:nft-json`, text: nftJson, kind: 'nft-json' });
  if (c.oracle.ipsetSave?.trim())
    inputs.push({ name: `${c.name}:ipset`, text: c.oracle.ipsetSave, kind: 'ipset-save' });
  return inputs;
}

// ------------------------------------------------------------------ answers as comparable keys

const famName = (f: 4 | 6) => (f === 4 ? 'ip' : 'ip6');

export function kernelKey(k: KernelDecision): string {
  const d = k.decisive;
  const where = d.table ? `${d.family ?? '?'} ${d.table} ${d.chain}` : '(no base chain)';
  return `${k.verdict} ${where} ${d.kind === 'rule' ? `#${d.index}` : `policy ${(d.policy ?? '').toLowerCase()}`}`;
}

export function branchKey(b: Branch, family: 4 | 6): string {
  const d = b.decisive;
  if (!d) return `${b.verdict} (no decisive)`;
  let where = '(no base chain)';
  if (d.table) where = `${d.table.includes(' ') ? d.table : `${famName(family)} ${d.table}`} ${d.chain}`;
  return `${b.verdict} ${where} ${d.kind === 'rule' ? `#${d.index}` : `policy ${(d.policy ?? '').toLowerCase()}`}`;
}

// ------------------------------------------------------------------ simulation side

export function simPacket(p: OraclePacket) {
  return makePacket({
    path: p.path,
    proto: p.proto,
    src: p.src,
    dst: p.dst,
    ...(p.proto !== 'icmp' ? { sport: p.sport ?? 40000, dport: p.dport ?? 80 } : {}),
    ...(p.proto === 'icmp'
      ? { icmpType: p.icmpType ?? (p.src.includes(':') ? 128 : 8), icmpCode: p.icmpCode ?? 0 }
      : {}),
    ...(p.in ? { in: p.in } : {}),
    ...(p.out ? { out: p.out } : {}),
    state: p.state,
    ...(p.mark !== undefined ? { mark: p.mark } : {}),
    ...(p.ctMark !== undefined ? { ctmark: p.ctMark } : {}),
  });
}

function runSim(rs: Ruleset, p: OraclePacket, env: NodeEnv): EvalResult {
  return simulate(rs, simPacket(p), p.path, env, { maxBranches: 512 });
}

/**
 * Settle where a DNAT sends the packet and which path it then takes, from a first simulation with the addresses
 * the oracle will make local. Returns the packet to send, or a reason it cannot be sent.
 */
function settle(
  p0: OraclePacket,
  rs: Ruleset,
  ipsets: Map<string, IpSet>,
  hints: PacketHints,
  rng: Random,
): { packet: OraclePacket; decidedBy?: 'rule' | 'policy' } | string {
  const by = (r: EvalResult) =>
    (r.branches.some((b) => b.decisive?.kind === 'rule') ? 'rule' : 'policy') as 'rule' | 'policy';
  let p: OraclePacket = { ...p0 };
  const node = new Set(hints.nodeAddresses.map((a) => normalizeIp(a) ?? a));
  const ifaces = hints.interfaces.filter((i) => i !== 'lo');
  for (let round = 0; round < 3; round++) {
    const local = new Set(node);
    local.add('127.0.0.1');
    if (p.path === 'input') local.add(normalizeIp(p.natDst ?? p.dst) ?? p.dst);
    let r: EvalResult;
    try {
      r = runSim(rs, p, { local, ipsets });
    } catch {
      // reported when the packet is compared; the kernel still gets it, without DNAT hints
      return { packet: p };
    }
    const dsts = new Set<string>();
    let redirect = false;
    for (const b of r.branches) {
      if (b.rewrites.some((w) => w.kind === 'redirect')) redirect = true;
      const d = formatIp(b.packet.dst);
      if (d !== normalizeIp(p.dst)) dsts.add(d);
    }
    if (redirect) {
      if (p.path === 'output') return 'REDIRECT on output reroutes via lo';
      if (p.path === 'forward') {
        const { out: _o, natDst: _n, natDstAlternatives: _a, ...rest } = p;
        p = { ...rest, path: 'input' };
        continue;
      }
      return { packet: p, decidedBy: by(r) };
    }
    // no DNAT seen: the packet goes as it is (with the caller's natDst hints, if it gave some)
    if (dsts.size === 0) return { packet: p, decidedBy: by(r) };
    const [first, ...others] = [...dsts];
    const next: OraclePacket = { ...p, natDst: first as string };
    if (others.length) next.natDstAlternatives = others;
    else delete next.natDstAlternatives;
    const allLocal = [...dsts].every((d) => node.has(d));
    const noneLocal = [...dsts].every((d) => !node.has(d));
    if (!allLocal && !noneLocal) return 'DNAT branches go both to the node and elsewhere';
    if (p.path === 'input' && noneLocal) {
      // DNAT sends it elsewhere: the kernel forwards it.
      next.path = 'forward';
      next.out = ifaces.length ? rng.pick(ifaces) : 'eth1';
      p = next;
      continue;
    }
    if (p.path === 'forward' && allLocal) {
      const { out: _o, ...rest } = next;
      p = { ...rest, path: 'input' };
      continue;
    }
    if (p.path === 'output' && allLocal) return 'DNAT to the node itself on output (via lo)';
    if (JSON.stringify(next) === JSON.stringify(p)) return { packet: p, decidedBy: by(r) };
    p = next;
  }
  return 'path did not settle after DNAT';
}

// ------------------------------------------------------------------ one case

/** Which addresses the oracle makes local and which it routes out of which interface (see oracle.ts `prepare`). */
class AddressPlan {
  private readonly role = new Map<string, string>();

  private static needs(p: OraclePacket): [string, string][] {
    const fin = normalizeIp(p.natDst ?? p.dst) ?? p.dst;
    const all = [fin, ...(p.natDstAlternatives ?? []).map((a) => normalizeIp(a) ?? a)];
    if (p.path === 'input') return all.map((a) => [a, 'local']);
    const out: [string, string][] = all.map((a) => [a, `via ${p.out}`]);
    const dst = normalizeIp(p.dst) ?? p.dst;
    if (p.path === 'output' && dst !== fin) out.push([dst, `via ${p.out}`]);
    return out;
  }

  /** The interface this packet's routed addresses already leave by, if there is exactly one. */
  pinnedOut(p: OraclePacket): string | undefined {
    if (p.path === 'input') return undefined;
    const vias = new Set<string>();
    for (const [a] of AddressPlan.needs(p)) {
      const r = this.role.get(a);
      if (r?.startsWith('via ')) vias.add(r.slice(4));
    }
    return vias.size === 1 ? [...vias][0] : undefined;
  }

  fits(p: OraclePacket): boolean {
    return AddressPlan.needs(p).every(([a, r]) => (this.role.get(a) ?? r) === r);
  }

  add(p: OraclePacket): void {
    for (const [a, r] of AddressPlan.needs(p)) if (!this.role.has(a)) this.role.set(a, r);
  }
}

export interface RunOptions {
  prefix: string;
  /** oracle batches at once */
  parallel?: number;
}

export async function runCase(c: DiffCase, opts: RunOptions): Promise<CaseResult> {
  const t0 = Date.now();
  const rng = new Random(c.seed ^ 0x51ed);
  const rulesets = new Map<string, Ruleset>();
  let ipsets = new Map<string, IpSet>();
  let issues = 0;
  const parsed = (json: string | undefined): Ruleset => {
    const key = json ?? '';
    let rs = rulesets.get(key);
    if (!rs) {
      const loaded = loadRules(inputsFor(c, json));
      rs = loaded.ruleset;
      ipsets = loaded.ipsets;
      issues = rs.issues.filter((i) => i.severity === 'error').length;
      rulesets.set(key, rs);
    }
    return rs;
  };
  // The native tables as the kernel lists them: one packet is enough to get the listing.
  let firstJson: string | undefined;
  if (c.nftFromKernel) {
    const probe = await kernelDecide(
      c.oracle,
      [
        {
          path: 'input',
          proto: 'udp',
          src: c.family === 4 ? '192.0.2.1' : '2001:db8::1',
          dst: c.family === 4 ? '192.0.2.2' : '2001:db8::2',
          in: 'eth0',
          state: 'new',
        },
      ],
      { prefix: opts.prefix },
    );
    const b = probe[0]?.batch;
    if (!b) return refusedCase(c, probe[0]?.error ?? 'no listing from the kernel', t0);
    firstJson = stripOracleTable(b.nftJson);
  }
  const base = parsed(firstJson);
  const excluded = new Map<string, number>();
  const note = (why: string, n = 1) => excluded.set(why, (excluded.get(why) ?? 0) + n);
  const fixed = generatePackets(base, c.hints, 0, c.seed, c.extra ?? []);
  const gen = generatePackets(base, c.hints, c.packets * 2, c.seed, c.candidates ?? []);
  for (const g of [fixed, gen]) for (const [k, n] of g.excluded) note(k, n);
  const nodeSet = new Set(c.hints.nodeAddresses);
  const packets: OraclePacket[] = [];
  const seen = new Set<string>();
  const plan = new AddressPlan();
  /** The packet as it will be sent (settled), or undefined when it is left out (the reason is noted). */
  const prepare = (
    p: OraclePacket,
    fixedPacket = false,
  ): { packet: OraclePacket; decidedBy?: 'rule' | 'policy' } | undefined => {
    let s = settle(p, base, ipsets, c.hints, rng);
    if (typeof s === 'string') {
      note(s);
      return undefined;
    }
    // Keep one address plan for the whole ruleset where possible: every conflict (an address local for one packet
    // and routed for another, or routed out of two interfaces) costs the oracle another namespace pair.
    const pinned = plan.pinnedOut(s.packet);
    if (pinned && pinned !== s.packet.out) {
      const again = settle({ ...p, path: s.packet.path, out: pinned }, base, ipsets, c.hints, rng);
      if (typeof again !== 'string') s = again;
    }
    if (!fixedPacket && !plan.fits(s.packet)) {
      note('skipped: address plan conflict (another namespace pair would be needed)');
      return undefined;
    }
    const why = inexpressible(s.packet, nodeSet);
    if (why) {
      note(why);
      return undefined;
    }
    if (seen.has(JSON.stringify(s.packet))) return undefined;
    return s;
  };
  const send = (p: OraclePacket) => {
    seen.add(JSON.stringify(p));
    plan.add(p);
    packets.push(p);
  };
  for (const p of fixed.packets) {
    const s = prepare(p, true);
    if (s) send(s.packet);
  }
  // candidates interleaved: the caller's and the generated ones
  const pool: OraclePacket[] = [];
  const a = gen.packets.slice(0, c.candidates?.length ?? 0);
  const b = gen.packets.slice(a.length);
  for (let i = 0; i < Math.max(a.length, b.length); i++)
    pool.push(...(a[i] ? [a[i] as OraclePacket] : []), ...(b[i] ? [b[i] as OraclePacket] : []));
  let chosen = 0;
  let policies = 0;
  let skipped = 0;
  const quota = Math.round(c.packets * POLICY_SHARE);
  for (const p of pool) {
    if (chosen >= c.packets) break;
    const s = prepare(p);
    if (!s) continue;
    if (s.decidedBy === 'policy' && policies >= quota) {
      skipped++;
      continue;
    }
    if (s.decidedBy === 'policy') policies++;
    send(s.packet);
    chosen++;
  }

  const kernel = await kernelDecide(c.oracle, packets, { prefix: opts.prefix, parallel: opts.parallel ?? 1 });
  const refusal = kernel.find((k) => k.error && /restore|nft -f \(ruleset\)/.test(k.error));
  if (refusal && kernel.every((k) => k.error)) return refusedCase(c, refusal.error as string, t0);

  const results: PacketResult[] = [];
  const envs = new Map<string, NodeEnv>();
  packets.forEach((p, i) => {
    const k = kernel[i] as KernelDecision;
    const kKey = kernelKey(k);
    if (k.error || !k.batch) {
      results.push({ caseName: c.name, packet: p, outcome: 'error', kernel: k, kernelKey: kKey, simKeys: [] });
      return;
    }
    const rs = parsed(c.nftFromKernel ? batchJson(k.batch) : undefined);
    let env = envs.get(k.batch.name);
    if (!env) {
      env = { local: new Set(k.batch.local.map((a) => normalizeIp(a) ?? a)), ipsets };
      envs.set(k.batch.name, env);
    }
    results.push(compareOne(c.name, c.family, rs, p, k, env));
  });
  return {
    name: c.name,
    results,
    excluded,
    policySkipped: skipped,
    rulesets,
    ipsets,
    parseIssues: issues,
    ms: Date.now() - t0,
  };
}

function refusedCase(c: DiffCase, why: string, t0: number): CaseResult {
  return {
    name: c.name,
    results: [],
    excluded: new Map(),
    policySkipped: 0,
    refused: why,
    rulesets: new Map(),
    ipsets: new Map(),
    parseIssues: 0,
    ms: Date.now() - t0,
  };
}

export function compareOne(
  caseName: string,
  family: 4 | 6,
  rs: Ruleset,
  p: OraclePacket,
  k: KernelDecision,
  env: NodeEnv,
): PacketResult {
  const kKey = kernelKey(k);
  let sim: EvalResult;
  try {
    sim = runSim(rs, p, env);
  } catch (e) {
    const msg = (e as Error).stack?.split('\n').slice(0, 3).join(' ') ?? String(e);
    return {
      caseName,
      packet: p,
      outcome: 'disagree',
      kernel: k,
      kernelKey: kKey,
      simKeys: [`simulator threw: ${msg}`],
    };
  }
  const simKeys = [...new Set(sim.branches.map((b) => branchKey(b, family)))];
  let outcome: Outcome;
  if (sim.branches.some((b) => b.verdict === 'uncertain')) outcome = 'uncertain';
  else outcome = simKeys.includes(kKey) ? 'agree' : 'disagree';
  return { caseName, packet: p, outcome, kernel: k, sim, kernelKey: kKey, simKeys };
}

/** Re-simulate a finished case against a mutated copy of its ruleset(s); the kernel's answers are reused. */
export function rerunWithMutant(
  c: DiffCase,
  done: CaseResult,
  mutant: Mutant,
): { original: PacketResult; mutated: PacketResult }[] {
  const fresh = new Map<string, Ruleset>();
  const envs = new Map<string, NodeEnv>();
  const out: { original: PacketResult; mutated: PacketResult }[] = [];
  for (const r of done.results) {
    if (r.outcome === 'error' || !r.kernel.batch) continue;
    const json = c.nftFromKernel ? batchJson(r.kernel.batch) : undefined;
    const key = json ?? '';
    let rs = fresh.get(key);
    if (!rs) {
      rs = loadRules(inputsFor(c, json)).ruleset;
      mutant(rs);
      fresh.set(key, rs);
    }
    let env = envs.get(r.kernel.batch.name);
    if (!env) {
      env = { local: new Set(r.kernel.batch.local.map((a) => normalizeIp(a) ?? a)), ipsets: done.ipsets };
      envs.set(r.kernel.batch.name, env);
    }
    out.push({ original: r, mutated: compareOne(c.name, c.family, rs, r.packet, r.kernel, env) });
  }
  return out;
}

// ------------------------------------------------------------------ mutants

function mapExprs(rs: Ruleset, f: (e: Expr) => Expr): void {
  for (const t of rs.tables)
    for (const ch of t.chains.values())
      for (const r of ch.rules) for (let i = 0; i < r.exprs.length; i++) r.exprs[i] = f(r.exprs[i] as Expr);
}

/** `!` handling broken: every negated match tests the opposite. */
export const invertNegations: Mutant = (rs) =>
  mapExprs(rs, (e) => {
    if (e.kind !== 'match' || !e.canonical.startsWith('! ')) return e;
    const orig = e.test;
    const m: MatchExpr = {
      ...e,
      test: (pkt, env) => {
        const r = orig(pkt, env);
        return typeof r === 'boolean' ? !r : r;
      },
    };
    return m;
  });

/** `-i/-o` wildcards broken: `cali+` is taken as a literal name. */
export const literalWildcards: Mutant = (rs) =>
  mapExprs(rs, (e) => {
    if (e.kind !== 'match' || (e.name !== '-i' && e.name !== '-o') || !e.canonical.includes('+')) return e;
    const neg = e.canonical.startsWith('! ');
    const name = e.canonical.replace(/^! /, '').split(' ')[1] ?? '';
    const field = e.name === '-i' ? 'in' : 'out';
    const m: MatchExpr = { ...e, test: (pkt) => (pkt[field] === name) !== neg };
    return m;
  });

/** `-g` broken: a goto behaves like a jump (the caller's remaining rules run after the target chain ends). */
export const gotoAsJump: Mutant = (rs) =>
  mapExprs(rs, (e) => {
    if (e.kind !== 'action') return e;
    const orig = e.apply;
    const a: ActionExpr = {
      ...e,
      apply: (pkt, env, rw) => {
        const f = orig(pkt, env, rw);
        if (f && !Array.isArray(f) && f.kind === 'goto') return { kind: 'jump', chain: f.chain };
        return f;
      },
    };
    return a;
  });

// ------------------------------------------------------------------ all cases

/** Runs the cases, `concurrency` at a time (each kernelDecide call has its own namespaces). */
export async function runAll(cases: DiffCase[], opts: RunOptions & { concurrency?: number }): Promise<CaseResult[]> {
  const out: CaseResult[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    for (let guard = 0; guard <= cases.length; guard++) {
      const i = next++;
      if (i >= cases.length) return;
      out[i] = await runCase(cases[i] as DiffCase, opts);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 2, cases.length)) }, worker));
  return out;
}
