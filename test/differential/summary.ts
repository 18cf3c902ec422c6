/**
 * What the differential harness prints: counts, disagreements with both answers (the kernel's trace, the simulator's
 * chain ends per branch), uncertain packets, oracle errors, packets left out, and coverage: how often each match
 * module and target was in the decisive rule, and the share of decisions made by rules rather than chain policies.
 */
import type { Expr, Rule, Ruleset } from '../../src/netfilter/model.js';
import { type CaseResult, type DiffCase, type PacketResult, POLICY_SHARE } from './harness.js';

export interface Summary {
  rulesets: number;
  refused: { name: string; why: string }[];
  sent: number;
  compared: number;
  agree: number;
  disagree: PacketResult[];
  uncertain: PacketResult[];
  errors: PacketResult[];
  excluded: Map<string, number>;
  /** generated candidates not sent because the share of policy-decided packets was full */
  policySkipped: number;
  /** agreed packets where the simulator forked into different answers (the kernel's was one of them) */
  forked: number;
  /** decisions (agreed ones) made by a rule / by a chain policy */
  byRule: number;
  byPolicy: number;
  /** match module or expression name → decisive rules (agreed decisions) that had it */
  matches: Map<string, number>;
  targets: Map<string, number>;
  verdicts: Map<string, number>;
  paths: Map<string, number>;
  protos: Map<string, number>;
  states: Map<string, number>;
}

const bump = (m: Map<string, number>, k: string, n = 1) => m.set(k, (m.get(k) ?? 0) + n);

/** The rule the kernel named, found in the simulator's parsed model. */
export function findRule(rs: Ruleset | undefined, r: PacketResult, family: 4 | 6): Rule | undefined {
  const d = r.kernel.decisive;
  if (!rs || d.kind !== 'rule' || d.index === undefined) return undefined;
  const fam = family === 4 ? 'ip' : 'ip6';
  for (const t of rs.tables) {
    const iptables = t.backend !== 'nft';
    const sameTable = iptables ? d.family === fam && t.name === d.table : t.family === d.family && t.name === d.table;
    if (!sameTable) continue;
    const c = t.chains.get(d.chain);
    if (c) return c.rules[d.index - 1];
  }
  return undefined;
}

function exprLabel(e: Expr): string {
  return e.name;
}

export function summarize(cases: DiffCase[], done: CaseResult[]): Summary {
  const s: Summary = {
    rulesets: 0,
    refused: [],
    sent: 0,
    compared: 0,
    agree: 0,
    disagree: [],
    uncertain: [],
    errors: [],
    excluded: new Map(),
    policySkipped: 0,
    forked: 0,
    byRule: 0,
    byPolicy: 0,
    matches: new Map(),
    targets: new Map(),
    verdicts: new Map(),
    paths: new Map(),
    protos: new Map(),
    states: new Map(),
  };
  done.forEach((cr, i) => {
    const c = cases[i] as DiffCase;
    if (cr.refused) {
      s.refused.push({ name: cr.name, why: cr.refused.split('\n')[0] as string });
      return;
    }
    s.rulesets++;
    s.policySkipped += cr.policySkipped;
    for (const [k, n] of cr.excluded) bump(s.excluded, k, n);
    for (const r of cr.results) {
      s.sent++;
      if (r.outcome === 'error') {
        s.errors.push(r);
        continue;
      }
      if (r.outcome === 'uncertain') {
        s.uncertain.push(r);
        continue;
      }
      s.compared++;
      if (r.outcome === 'disagree') {
        s.disagree.push(r);
        continue;
      }
      s.agree++;
      if (r.simKeys.length > 1) s.forked++;
      bump(s.verdicts, r.kernel.verdict);
      bump(s.paths, r.packet.path);
      bump(s.protos, r.packet.proto);
      bump(s.states, r.packet.state);
      const d = r.kernel.decisive;
      if (d.kind === 'policy') {
        s.byPolicy++;
        continue;
      }
      s.byRule++;
      const rs = [...cr.rulesets.values()][0];
      const rule = findRule(rs, r, c.family);
      if (!rule) {
        bump(s.matches, '(rule not found in the model)');
        continue;
      }
      const ms = new Set<string>();
      const ts = new Set<string>();
      for (const e of rule.exprs) (e.kind === 'match' ? ms : ts).add(exprLabel(e));
      if (ms.size === 0) ms.add('(no match: unconditional)');
      for (const m of ms) bump(s.matches, m);
      for (const t of ts) bump(s.targets, t);
    }
  });
  return s;
}

function packetText(r: PacketResult): string {
  const p = r.packet;
  const port = (x?: number) => (x === undefined ? '' : `:${x}`);
  const extra = [
    p.in ? `in=${p.in}` : '',
    p.out ? `out=${p.out}` : '',
    p.mark !== undefined ? `mark=0x${p.mark.toString(16)}` : '',
    p.ctMark !== undefined ? `ctmark=0x${p.ctMark.toString(16)}` : '',
    p.icmpType !== undefined ? `icmp-type=${p.icmpType}` : '',
    p.natDst ? `natDst=${p.natDst}${p.natDstAlternatives ? `,${p.natDstAlternatives.join(',')}` : ''}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return `${p.path} ${p.proto} ${p.state} ${p.src}${port(p.sport)} -> ${p.dst}${port(p.dport)} ${extra}`.trim();
}

/** The lines printed for one disagreement: packet, ruleset, both answers with the kernel's trace and the chain ends. */
export function describeDisagreement(r: PacketResult, count = 1): string[] {
  const out = [
    `DISAGREE [${r.caseName}]${count > 1 ? ` (${count} packets like this)` : ''}`,
    `  packet:    ${packetText(r)}   ${JSON.stringify(r.packet)}`,
    `  kernel:    ${r.kernelKey}${r.kernel.decisive.rule ? `   ${r.kernel.decisive.rule}` : ''}`,
    `  simulator: ${r.simKeys.join('  |  ')}`,
    `  kernel trace (chains: ${r.kernel.chains.join(', ')}):`,
    ...r.kernel.trace.map((l) => `    ${l}`),
  ];
  for (const [i, b] of (r.sim?.branches ?? []).entries()) {
    out.push(`  simulator branch ${i + 1}: ${b.verdict}${b.decisive?.text ? `   ${b.decisive.text}` : ''}`);
    for (const e of b.chainEnds)
      out.push(
        `    ${e.hook} ${e.table} ${e.chain}: ${e.verdict} by ${e.by === 'rule' ? `rule #${e.rule?.index} ${e.rule?.text ?? ''}` : `policy ${e.policy}`}`,
      );
    for (const ch of b.choices)
      out.push(`    choice: ${ch.rule.table} ${ch.rule.chain} #${ch.rule.index} ${ch.kind} ${ch.taken} (${ch.why})`);
  }
  return out;
}

/** Disagreements grouped by ruleset and both answers: one example per class. */
export function disagreementClasses(list: PacketResult[]): { example: PacketResult; count: number }[] {
  const classes = new Map<string, { example: PacketResult; count: number }>();
  for (const r of list) {
    const key = `${r.caseName}|${r.kernelKey}|${r.simKeys.join('/')}`;
    const c = classes.get(key);
    if (c) c.count++;
    else classes.set(key, { example: r, count: 1 });
  }
  return [...classes.values()];
}

const top = (m: Map<string, number>, n = 40) =>
  [...m]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, n)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

/** Packets left out because the oracle cannot send them (not the ones skipped by choice). */
export function notExpressible(s: Summary): number {
  let n = 0;
  for (const [k, v] of s.excluded) if (!k.startsWith('skipped:')) n += v;
  return n;
}

/** Report lines (diagnostics) and the one-line summary. */
export function reportLines(s: Summary, ms: number, maxClasses = 40): { lines: string[]; summary: string } {
  const lines: string[] = [];
  const pct = (a: number, b: number) => (b ? `${((100 * a) / b).toFixed(1)}%` : '-');
  const decisions = s.byRule + s.byPolicy;
  lines.push(
    `rulesets ${s.rulesets} (refused by the kernel: ${s.refused.length}); packets sent ${s.sent}, compared ${s.compared}, agree ${s.agree}, disagree ${s.disagree.length}, uncertain ${s.uncertain.length}, oracle errors ${s.errors.length}; ${(ms / 1000).toFixed(1)} s`,
  );
  for (const r of s.refused) lines.push(`ruleset not loaded by the kernel (excluded): ${r.name}: ${r.why}`);
  lines.push(
    `packets left out because the oracle cannot send them: ${notExpressible(s)}: ${top(new Map([...s.excluded].filter(([k]) => !k.startsWith('skipped:'))))}`,
  );
  lines.push(
    `generated candidates not sent: ${top(new Map([...s.excluded].filter(([k]) => k.startsWith('skipped:'))))}`,
  );
  lines.push(
    `decisions by rules ${s.byRule}, by chain policies ${s.byPolicy} (rules: ${pct(s.byRule, decisions)}); generated candidates a first simulation saw end at a policy, not sent once ${Math.round(100 * POLICY_SHARE)}% of a ruleset's generated packets were such: ${s.policySkipped}`,
  );
  lines.push(
    `nondeterministic matches (statistic, numgen, limit, recent): ${s.forked} agreed packets had several possible answers in the simulator, the kernel's was one of them`,
  );
  lines.push(
    `verdicts: ${top(s.verdicts)}; paths: ${top(s.paths)}; protocols: ${top(s.protos)}; states: ${top(s.states)}`,
  );
  lines.push(`match modules in the decisive rule: ${top(s.matches, 60)}`);
  lines.push(`targets of the decisive rule: ${top(s.targets, 60)}`);
  const unc = new Map<string, number>();
  for (const r of s.uncertain) {
    const why = r.sim?.branches.find((b) => b.verdict === 'uncertain')?.uncertainWhy ?? '?';
    bump(unc, `${r.caseName}: ${why}`);
  }
  if (unc.size) lines.push(`uncertain (counted apart, never as agreement): ${top(unc, 20)}`);
  const errs = new Map<string, number>();
  for (const r of s.errors) bump(errs, `${r.caseName}: ${(r.kernel.error ?? '').slice(0, 120)}`);
  if (errs.size) lines.push(`oracle errors: ${top(errs, 20)}`);
  const classes = disagreementClasses(s.disagree);
  if (classes.length) lines.push(`disagreements: ${s.disagree.length} in ${classes.length} classes`);
  for (const c of classes.slice(0, maxClasses)) lines.push(...describeDisagreement(c.example, c.count));
  if (classes.length > maxClasses) lines.push(`... ${classes.length - maxClasses} more classes`);
  const summary = `differential: ${s.rulesets} rulesets, ${s.compared} packets compared, ${s.agree} agree (${pct(s.agree, s.compared)}), ${s.disagree.length} disagree, ${s.uncertain.length} uncertain, ${s.errors.length} oracle errors, ${notExpressible(s)} not expressible, rules decide ${pct(s.byRule, decisions)}, ${(ms / 1000).toFixed(1)} s`;
  return { lines, summary };
}
