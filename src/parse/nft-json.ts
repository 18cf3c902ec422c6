/**
 * Parser for `nft -j list ruleset` (the JSON schema of libnftables-json(5)). Pure: text in, tables out. Every table
 * becomes a model Table (`inet firewalld`, `ip kube-proxy`) whose rules are compiled expressions; tables written by
 * iptables-nft are left to the iptables-save parser and listed apart. Problems are reported with file, line and
 * reason and the rest is kept; nothing throws.
 *
 * Lines: when the JSON spans several lines (pretty-printed), `line` is the line where the object starts; in nft's
 * own one-line output it is the 1-based position of the object in the `nftables` array.
 */
import type { ParseIssue } from '../core/errors.js';
import { NFT_PRIORITY_NAMES } from '../netfilter/hooks.js';
import type { Chain, Hook, Rule, Table } from '../netfilter/model.js';
import type { CompileContext, NftFamily } from '../netfilter/nft/context.js';
import { isObject, kindOf } from '../netfilter/nft/expr.js';
import { type ChainInfo, compileRule, type StatementCache } from '../netfilter/nft/rule.js';
import { buildSet, type CompiledSet } from '../netfilter/nft/sets.js';
import { verdictFlow } from '../netfilter/nft/statements.js';
import { type NftType, TYPES_BY_NAME } from '../netfilter/nft/types.js';

export interface NftParseResult {
  tables: Table[];
  issues: ParseIssue[];
  /** Tables made by iptables-nft (`ip filter`, `ip6 nat`...): skipped here, read from iptables-save instead. */
  skippedIptablesNft: string[];
}

const MAX_ISSUES = 1000;
const FAMILIES: readonly NftFamily[] = ['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev'];
const HOOKS: readonly Hook[] = ['prerouting', 'input', 'forward', 'output', 'postrouting'];
const IPTABLES_TABLES = ['filter', 'nat', 'mangle', 'raw', 'security'];
const IPTABLES_CHAINS = new Set(['INPUT', 'FORWARD', 'OUTPUT', 'PREROUTING', 'POSTROUTING']);
/** The bridge family names its priorities differently (nft(8), "PRIORITY"). */
const BRIDGE_PRIORITY_NAMES: Record<string, number> = { dstnat: -300, filter: -200, out: 100, srcnat: 300 };

interface Located {
  obj: Record<string, unknown>;
  line: number;
}

interface SetDef {
  name: string;
  /** Declared key types; undefined entries are types netdoctor does not know. */
  types: (NftType | undefined)[];
  typeText: string;
  /** Maps: the data type (`verdict`, `ipv4_addr`). */
  map?: string;
  flags: string[];
  elems: unknown[];
  line: number;
  dynamic?: string;
  compiled: Map<string, CompiledSet>;
}

interface TableState {
  table: Table;
  family: NftFamily;
  line: number;
  sets: Map<string, SetDef>;
  rules: Located[];
  hasXt: boolean;
  cache: StatementCache;
  /** `flags dormant`: the table's base chains are not attached to their hooks. */
  dormant: boolean;
}

export function parseNftJson(text: string, file: string): NftParseResult {
  const issues: ParseIssue[] = [];
  let dropped = 0;
  const issue: IssueFn = (line, severity, message) => {
    if (issues.length >= MAX_ISSUES) {
      dropped++;
      return;
    }
    issues.push({ file, line, severity, message });
  };
  const result: NftParseResult = { tables: [], issues, skippedIptablesNft: [] };
  const objects = readObjects(text, issue);
  if (!objects) return finish();

  // Pass 1: tables, chains, sets and elements; rules are kept for pass 2 (chains may be listed after rules jump to them).
  const states = new Map<string, TableState>();
  const order: TableState[] = [];
  /** Tables of an unknown family: reported once, their objects skipped quietly. */
  const rejected = new Set<string>();
  const tableOf = (o: Record<string, unknown>, line: number, what: string): TableState | undefined => {
    const family = o.family;
    const name = o.table;
    if (typeof family !== 'string' || typeof name !== 'string') {
      issue(line, 'error', `${what} without "family" and "table"; skipped`);
      return undefined;
    }
    const st = states.get(`${family} ${name}`);
    if (st) return st;
    if (rejected.has(`${family} ${name}`)) return undefined;
    issue(line, 'warning', `${what} of table ${family} ${name}, which is not listed; the table is created`);
    return newTable(family, name, line);
  };
  const newTable = (family: string, name: string, line: number): TableState | undefined => {
    if (!(FAMILIES as readonly string[]).includes(family)) {
      issue(line, 'error', `table ${family} ${name}: unknown family "${family}"; skipped with everything in it`);
      rejected.add(`${family} ${name}`);
      return undefined;
    }
    const label = `${family} ${name}`;
    const table: Table = { name, family, backend: 'nft', chains: new Map(), label };
    const st: TableState = {
      dormant: false,
      table,
      family: family as NftFamily,
      line,
      sets: new Map(),
      rules: [],
      hasXt: false,
      cache: new Map(),
    };
    states.set(label, st);
    order.push(st);
    return st;
  };

  let warnedCommands = false;
  for (const { obj: raw, line } of objects) {
    let kind = kindOf(raw);
    let obj = raw;
    let insert = false;
    // Command form (`{"add": {"rule": ...}}`), as `nft -j` accepts it: add/create/insert build the same ruleset.
    if (kind === 'add' || kind === 'create' || kind === 'insert') {
      insert = kind === 'insert';
      const inner = raw[kind];
      obj = isObject(inner) ? inner : {};
      kind = kindOf(obj);
    } else if (kind && ['delete', 'flush', 'replace', 'rename', 'reset', 'destroy'].includes(kind)) {
      if (!warnedCommands)
        issue(line, 'warning', `"${kind}" commands are ignored: give the output of \`nft -j list ruleset\``);
      warnedCommands = true;
      continue;
    }
    const body = kind ? obj[kind] : undefined;
    if (!kind || !isObject(body)) {
      if (kind !== 'metainfo')
        issue(
          line,
          'error',
          `expected an object such as {"table": {...}}, found ${JSON.stringify(raw).slice(0, 80)}; skipped`,
        );
      continue;
    }
    switch (kind) {
      case 'metainfo': {
        const v = Number(body.json_schema_version);
        if (Number.isFinite(v) && v > 1)
          issue(line, 'warning', `JSON schema version ${v} (netdoctor knows version 1): read as version 1`);
        break;
      }
      case 'table': {
        const family = body.family;
        const name = body.name;
        if (typeof family !== 'string' || typeof name !== 'string') {
          issue(line, 'error', 'table without "family" and "name"; skipped');
          break;
        }
        let st = states.get(`${family} ${name}`);
        if (st) issue(line, 'warning', `table ${family} ${name} is listed twice; its contents are merged`);
        else st = newTable(family, name, line);
        // nft 1.0.6 prints the table's name where its flags belong; dormant was the only table flag then.
        const flags = Array.isArray(body.flags)
          ? body.flags.map(String)
          : typeof body.flags === 'string'
            ? [body.flags]
            : [];
        if (st && (flags.includes('dormant') || flags.includes(name))) st.dormant = true;
        break;
      }
      case 'chain': {
        const st = tableOf(body, line, 'chain');
        if (st) declareChain(st, body, line, file, issue);
        break;
      }
      case 'set':
      case 'map': {
        const st = tableOf(body, line, kind);
        if (st) declareSet(st, kind, body, line, issue);
        break;
      }
      case 'element': {
        const st = tableOf(body, line, 'element');
        const def = st && typeof body.name === 'string' ? st.sets.get(body.name) : undefined;
        if (!def) {
          if (st)
            issue(
              line,
              'error',
              `elements for ${String(body.name)}, which is not a set of table ${st.table.label}; skipped`,
            );
          break;
        }
        const elems = Array.isArray(body.elem) ? body.elem : body.elem === undefined ? [] : [body.elem];
        def.elems.push(...elems);
        break;
      }
      case 'rule': {
        const st = tableOf(body, line, 'rule');
        if (!st) break;
        if (insert) st.rules.unshift({ obj: body, line });
        else st.rules.push({ obj: body, line });
        if (!st.hasXt && Array.isArray(body.expr) && body.expr.some((e) => kindOf(e) === 'xt')) st.hasXt = true;
        break;
      }
      default:
        // counters, quotas, limits, ct helpers, flowtables, secmarks: named objects rules may refer to; no verdict.
        break;
    }
  }

  // Pass 2: compile the rules of every native table.
  for (const st of order) {
    const t = st.table;
    if (isIptablesNft(st)) {
      // Read from iptables-save instead; the loader warns when no iptables-save output was given.
      result.skippedIptablesNft.push(t.label);
      continue;
    }
    markDynamicSets(st);
    compileTable(st, file, issue);
    if (st.dormant) {
      issue(
        st.line,
        'warning',
        `table ${t.label} is dormant: its chains are not attached to any hook, so its rules never run`,
      );
      for (const c of t.chains.values()) delete c.hook;
    }
    result.tables.push(t);
  }
  return finish();

  function finish(): NftParseResult {
    if (dropped > 0)
      issues.push({ file, line: 1, severity: 'warning', message: `${dropped} more problems not listed` });
    return result;
  }
}

type IssueFn = (line: number, severity: 'error' | 'warning', message: string) => void;

/**
 * Parse the document and return the objects of its `nftables` array with their lines. A document that does not parse
 * (a truncated dump) is read object by object up to the damage, so what was complete is kept.
 */
function readObjects(text: string, issue: IssueFn): Located[] | undefined {
  let body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  // nft prints warnings such as "# Warning: table ip filter is managed by iptables-nft" when stderr is mixed in.
  let skippedLines = 0;
  while (body.startsWith('#')) {
    const nl = body.indexOf('\n');
    body = nl < 0 ? '' : body.slice(nl + 1);
    skippedLines++;
  }
  if (skippedLines)
    issue(1, 'warning', `${skippedLines} comment line${skippedLines > 1 ? 's' : ''} before the JSON skipped`);
  if (body.trim() === '') {
    issue(1, 'error', 'empty input: expected the output of `nft -j list ruleset`');
    return undefined;
  }
  const multiline = isMultiline(body);
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (e) {
    const salvaged = salvage(body, skippedLines, issue, (e as Error).message);
    return salvaged;
  }
  if (!isObject(doc) || !Array.isArray(doc.nftables)) {
    issue(1 + skippedLines, 'error', 'not `nft -j list ruleset` output: expected {"nftables": [...]}');
    return undefined;
  }
  const list = doc.nftables as unknown[];
  const lines = multiline ? elementLines(body, skippedLines) : undefined;
  const out: Located[] = [];
  list.forEach((o, i) => {
    const line = lines?.[i] ?? i + 1;
    if (!isObject(o)) {
      issue(line, 'error', `expected an object, found ${JSON.stringify(o)?.slice(0, 60)}; skipped`);
      return;
    }
    out.push({ obj: o, line });
  });
  return out;
}

/** Does anything but white space follow the first line end? (nft's own output is one line.) */
function isMultiline(text: string): boolean {
  const nl = text.indexOf('\n');
  if (nl < 0) return false;
  for (let i = nl + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return true;
  }
  return false;
}

/** Scan the text: the start offset of each element of the `nftables` array, with its line. */
function scanElements(text: string): { starts: number[]; ends: number[]; arrayFound: boolean } {
  const starts: number[] = [];
  const ends: number[] = [];
  const found = /"nftables"\s*:\s*\[/.exec(text);
  if (!found) return { starts, ends, arrayFound: false };
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = found.index + found[0].length; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
      continue;
    }
    if (c === 34) {
      inString = true;
      if (depth === 0 && start < 0) start = i;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (depth === 0) start = i;
      depth++;
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      if (depth === 0) break; // the end of the nftables array
      depth--;
      if (depth === 0 && start >= 0) {
        starts.push(start);
        ends.push(i + 1);
        start = -1;
      }
    }
  }
  return { starts, ends, arrayFound: true };
}

function lineAt(text: string, offset: number, from = 0, fromLine = 1): number {
  let line = fromLine;
  for (let i = from; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function elementLines(text: string, offsetLines: number): number[] {
  const { starts } = scanElements(text);
  const lines: number[] = [];
  let pos = 0;
  let line = 1 + offsetLines;
  for (const s of starts) {
    line = lineAt(text, s, pos, line);
    pos = s;
    lines.push(line);
  }
  return lines;
}

function salvage(text: string, offsetLines: number, issue: IssueFn, message: string): Located[] | undefined {
  const m = /position (\d+)/.exec(message);
  const errLine = m ? lineAt(text, Number(m[1])) + offsetLines : lineAt(text, text.length) + offsetLines;
  const { starts, ends, arrayFound } = scanElements(text);
  if (!arrayFound) {
    issue(errLine, 'error', `not JSON (${message}): expected the output of \`nft -j list ruleset\``);
    return undefined;
  }
  const out: Located[] = [];
  const multiline = isMultiline(text);
  let bad = 0;
  let pos = 0;
  let line = 1 + offsetLines;
  starts.forEach((s, i) => {
    line = lineAt(text, s, pos, line);
    pos = s;
    try {
      const o = JSON.parse(text.slice(s, ends[i]));
      if (isObject(o)) out.push({ obj: o, line: multiline ? line : i + 1 });
    } catch {
      bad++;
    }
  });
  issue(
    errLine,
    'error',
    `the JSON is damaged or cut short (${message}); ${out.length} complete object${out.length === 1 ? '' : 's'} before the damage were read${bad ? `, ${bad} unreadable skipped` : ''}`,
  );
  return out;
}

function parsePriority(prio: unknown, family: string): number | undefined {
  if (typeof prio === 'number' && Number.isInteger(prio)) return prio;
  if (typeof prio !== 'string') return undefined;
  const m = /^\s*([a-z]+|-?\d+)\s*(?:([+-])\s*(\d+))?\s*$/.exec(prio);
  if (!m) return undefined;
  const names = family === 'bridge' ? BRIDGE_PRIORITY_NAMES : NFT_PRIORITY_NAMES;
  const base = /^-?\d+$/.test(m[1] as string) ? Number(m[1]) : names[m[1] as string];
  if (base === undefined) return undefined;
  const delta = m[3] ? Number(m[3]) * (m[2] === '-' ? -1 : 1) : 0;
  return base + delta;
}

function declareChain(st: TableState, body: Record<string, unknown>, line: number, file: string, issue: IssueFn): void {
  const name = body.name;
  if (typeof name !== 'string') {
    issue(line, 'error', `chain of table ${st.table.label} without a name; skipped`);
    return;
  }
  const chain: Chain = st.table.chains.get(name) ?? { name, rules: [], source: { file, line } };
  st.table.chains.set(name, chain);
  if (body.hook === undefined) return;
  const hook = String(body.hook);
  const where = `base chain ${st.table.label} ${name}`;
  if (!(HOOKS as readonly string[]).includes(hook)) {
    // ingress/egress (netdev, inet): before or after the IP stack; not on the paths netdoctor walks.
    issue(
      line,
      'warning',
      `${where} hooks "${hook}", which netdoctor does not simulate; its rules are kept but never run`,
    );
    return;
  }
  chain.hook = hook as Hook;
  const prio = parsePriority(body.prio ?? body.priority, st.family);
  if (prio === undefined)
    issue(line, 'warning', `${where}: priority ${JSON.stringify(body.prio)} not understood; taken as 0`);
  chain.priority = prio ?? 0;
  const type = String(body.type ?? 'filter');
  if (type === 'filter' || type === 'nat' || type === 'route') chain.type = type;
  else {
    issue(line, 'warning', `${where}: unknown chain type "${type}"; taken as filter`);
    chain.type = 'filter';
  }
  const policy = body.policy === undefined ? 'accept' : String(body.policy);
  if (policy === 'accept' || policy === 'drop') chain.policy = policy === 'accept' ? 'ACCEPT' : 'DROP';
  else {
    issue(line, 'warning', `${where}: policy "${policy}"; taken as accept`);
    chain.policy = 'ACCEPT';
  }
  if (st.family === 'arp' || st.family === 'bridge' || st.family === 'netdev') {
    issue(
      line,
      'warning',
      `${where}: ${st.family} tables are not on the IP paths netdoctor simulates; their rules are kept but never run`,
    );
  }
}

function declareSet(
  st: TableState,
  kind: 'set' | 'map',
  body: Record<string, unknown>,
  line: number,
  issue: IssueFn,
): void {
  const name = body.name;
  if (typeof name !== 'string') {
    issue(line, 'error', `${kind} of table ${st.table.label} without a name; skipped`);
    return;
  }
  const typeJson = body.type ?? body.typeof;
  const typeNames = Array.isArray(typeJson) ? typeJson.map(String) : typeof typeJson === 'string' ? [typeJson] : [];
  const types = typeNames.map((n) => TYPES_BY_NAME[n]);
  const flags = Array.isArray(body.flags) ? body.flags.map(String) : typeof body.flags === 'string' ? [body.flags] : [];
  const elems = Array.isArray(body.elem) ? body.elem : body.elem === undefined ? [] : [body.elem];
  const def: SetDef = { name, types, typeText: typeNames.join(' . '), flags, elems, line, compiled: new Map() };
  if (kind === 'map') def.map = String(body.map ?? 'verdict');
  if (flags.includes('dynamic'))
    def.dynamic = `set @${name} is filled by the traffic itself (flags dynamic); the dump holds only a moment's elements`;
  if (types.some((t) => t === undefined)) {
    issue(
      line,
      'warning',
      `${kind} ${name} of table ${st.table.label}: type "${def.typeText}" is not modelled; its elements are compared as written`,
    );
  }
  st.sets.set(name, def);
}

/** Sets rules add to (`update @affinity-... { ip saddr }`) hold what the traffic put there: membership is unknown. */
function markDynamicSets(st: TableState): void {
  for (const { obj } of st.rules) {
    if (!Array.isArray(obj.expr)) continue;
    for (const e of obj.expr) {
      const k = kindOf(e);
      if (k !== 'set' && k !== 'map') continue;
      const b = (e as Record<string, unknown>)[k];
      const ref = isObject(b) ? (b.set ?? b.map) : undefined;
      if (typeof ref !== 'string' || !ref.startsWith('@')) continue;
      const def = st.sets.get(ref.slice(1));
      if (def && !def.dynamic)
        def.dynamic = `set ${ref} is filled by the traffic itself (rules add to it); the dump holds only a moment's elements`;
    }
  }
}

function isIptablesNft(st: TableState): boolean {
  const t = st.table;
  if ((t.family !== 'ip' && t.family !== 'ip6') || !IPTABLES_TABLES.includes(t.name)) return false;
  if (st.hasXt) return true;
  for (const name of t.chains.keys()) if (IPTABLES_CHAINS.has(name)) return true;
  return false;
}

function compileTable(st: TableState, file: string, issue: IssueFn): void {
  const t = st.table;
  let current: Located | undefined;
  const reported = new Set<string>();
  const ctx: CompileContext = {
    family: st.family,
    table: t.label,
    hasChain: (name) => t.chains.has(name),
    issue: (severity, message) => issue(current?.line ?? st.line, severity, `${t.label}: ${message}`),
    unsupported: (kind, why) => {
      if (reported.has(kind)) return;
      reported.add(kind);
      issue(current?.line ?? st.line, 'warning', `${why}: uncertain (first in table ${t.label})`);
    },
    namedSet: (name, keyTypes) => namedSet(st, name, keyTypes, ctx, issue),
    getters: new Map(),
  };
  for (const located of st.rules) {
    current = located;
    const body = located.obj;
    const chainName = body.chain;
    if (typeof chainName !== 'string') {
      issue(located.line, 'error', `rule of table ${t.label} without a chain; skipped`);
      continue;
    }
    let chain = t.chains.get(chainName);
    if (!chain) {
      issue(
        located.line,
        'error',
        `rule for chain ${chainName}, which table ${t.label} does not list; the chain is created`,
      );
      chain = { name: chainName, rules: [], source: { file, line: located.line } };
      t.chains.set(chainName, chain);
    }
    if (!Array.isArray(body.expr)) {
      issue(located.line, 'error', `rule in ${t.label} ${chainName} without statements ("expr"); skipped`);
      continue;
    }
    const info: ChainInfo = {};
    if (chain.hook) info.hook = chain.hook;
    if (chain.priority !== undefined) info.priority = chain.priority;
    const comment = typeof body.comment === 'string' ? body.comment : undefined;
    const compiled = compileRule(body.expr, comment, ctx, info, st.cache);
    const rule: Rule = {
      table: t.label,
      chain: chainName,
      index: chain.rules.length + 1,
      text: compiled.text,
      source: { file, line: located.line },
      exprs: compiled.exprs,
      canonical: compiled.canonical,
    };
    if (typeof body.handle === 'number') rule.handle = body.handle;
    if (compiled.exactDst !== undefined) rule.exactDst = compiled.exactDst;
    chain.rules.push(rule);
  }
}

/** A named set compiled for the key types of the expression that uses it (declared types win where known). */
function namedSet(
  st: TableState,
  name: string,
  keyTypes: NftType[],
  ctx: CompileContext,
  issue: IssueFn,
): CompiledSet | undefined {
  const def = st.sets.get(name);
  if (!def) return undefined;
  const types =
    def.types.length === keyTypes.length ? def.types.map((t, i) => t ?? (keyTypes[i] as NftType)) : keyTypes;
  const key = types.map((t) => t.name).join('.');
  const cached = def.compiled.get(key);
  if (cached) return cached;
  let data: ((json: unknown) => unknown) | undefined;
  if (def.map !== undefined) {
    const mapType = def.map;
    if (mapType === 'verdict') {
      data = (d) => {
        const v = verdictFlow(d, ctx);
        return typeof v === 'string' ? v : v.flow;
      };
    } else {
      const first = TYPES_BY_NAME[mapType.split(/\s*\.\s*/)[0] ?? ''];
      data = (d) => {
        const v = first?.parse(kindOf(d) === 'concat' ? (d as { concat: unknown[] }).concat[0] : d);
        return v === undefined ? `"${JSON.stringify(d)}" is not a ${mapType}` : v;
      };
    }
  }
  const { set, problems } = buildSet(`@${name}`, types, def.elems, data as ((json: unknown) => unknown) | undefined);
  if (def.dynamic) set.dynamic = def.dynamic;
  if (problems.length) {
    issue(
      def.line,
      'error',
      `${def.map !== undefined ? 'map' : 'set'} ${name} of table ${st.table.label}: ${problems.length} element${problems.length > 1 ? 's' : ''} skipped (${problems[0]})`,
    );
  }
  def.compiled.set(key, set);
  return set;
}
