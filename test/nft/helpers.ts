/** Shared helpers for the nft JSON parser tests: load a fixture, simulate a packet, find a rule. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ActionExpr, MatchExpr, NodeEnv, Packet, Path, Rule, Ruleset, Table } from '../../src/netfilter/model.js';
import { makePacket, type PacketQuestion } from '../../src/netfilter/packet.js';
import { type EvalResult, simulate } from '../../src/netfilter/simulate.js';
import { type NftParseResult, parseNftJson } from '../../src/parse/nft-json.js';

export function fixtureText(name: string): string {
  return readFileSync(new URL(`../fixtures/nft/${name}`, import.meta.url), 'utf8');
}

export function loadFixture(name: string): { parsed: NftParseResult; ruleset: Ruleset } {
  const parsed = parseNftJson(fixtureText(name), name);
  return { parsed, ruleset: { tables: parsed.tables, issues: parsed.issues, files: [name] } };
}

export function rulesetOf(parsed: NftParseResult, file = 'test.json'): Ruleset {
  return { tables: parsed.tables, issues: parsed.issues, files: [file] };
}

export function run(
  ruleset: Ruleset,
  q: PacketQuestion & { path: Path },
  env: NodeEnv = {},
  tweak?: (p: Packet) => void,
): EvalResult {
  const pkt = makePacket(q);
  tweak?.(pkt);
  return simulate(ruleset, pkt, q.path, env);
}

/** Assert the verdict and the decisive rule (table label, chain, 1-based index) or policy. */
export function expectDecision(
  r: EvalResult,
  verdict: EvalResult['verdict'],
  where: { table: string; chain: string; index?: number; policy?: string },
): void {
  const d = r.decisive;
  const got = `${r.verdict} ${d?.table} ${d?.chain} ${d?.index ?? d?.policy} (${d?.text ?? d?.detail ?? ''})`;
  assert.equal(r.verdict, verdict, got);
  assert.ok(d, 'a decisive object');
  assert.equal(d.table, where.table, got);
  assert.equal(d.chain, where.chain, got);
  if (where.index !== undefined) {
    assert.equal(d.kind, 'rule', got);
    assert.equal(d.index, where.index, got);
  }
  if (where.policy !== undefined) {
    assert.equal(d.kind, 'policy', got);
    assert.equal(d.policy, where.policy, got);
  }
}

export function table(ruleset: { tables: Table[] }, label: string): Table {
  const t = ruleset.tables.find((x) => x.label === label);
  assert.ok(t, `table ${label}`);
  return t;
}

export function rule(ruleset: { tables: Table[] }, label: string, chain: string, index: number): Rule {
  const c = table(ruleset, label).chains.get(chain);
  assert.ok(c, `chain ${label} ${chain}`);
  const r = c.rules[index - 1];
  assert.ok(r, `rule ${label} ${chain} #${index}`);
  return r;
}

export function matches(r: Rule): MatchExpr[] {
  return r.exprs.filter((e): e is MatchExpr => e.kind === 'match');
}

export function actions(r: Rule): ActionExpr[] {
  return r.exprs.filter((e): e is ActionExpr => e.kind === 'action');
}

/**
 * The rule lines of `nft list ruleset` output, in order (set and map bodies, chain headers and base chain
 * declarations left out): what each parsed rule's text is compared with.
 */
export function nftRuleLines(text: string): string[] {
  const out: string[] = [];
  let skip = 0;
  for (const raw of text.split('\n')) {
    const l = raw.trim();
    if (skip) {
      if (l.endsWith('{')) skip++;
      if (l === '}') skip--;
      continue;
    }
    if (/^(set|map|counter|quota|limit|ct helper|flowtable) .*\{$/.test(l)) {
      skip = 1;
      continue;
    }
    if (
      !l ||
      l.startsWith('#') ||
      /^(table|chain) /.test(l) ||
      l === '}' ||
      l.startsWith('type ') ||
      l.startsWith('comment ')
    )
      continue;
    out.push(l);
  }
  return out;
}
