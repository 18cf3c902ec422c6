/**
 * Netfilter by behaviour. Both rulesets are normalised (node values to tokens, comments and counters out, kube-proxy's
 * hashed chain names to the service port and endpoint they stand for), chains are matched by name and their rules
 * aligned on normalised text. Each rule that has no equal on the other side (paired with its changed twin where
 * there is one), and each differing policy, is a candidate; its packet classes come from what the differing rules
 * mention (classes.ts), reached through the rules that jump to its chain, and are simulated on both nodes at the
 * paths that reach the chain. A candidate is reported only when some class ends differently on the two nodes and
 * passes the candidate's rule there — so a reordering or respelling that changes nothing is not reported.
 */
import type { Evidence } from '../core/vocabulary.js';
import type { NodeModel } from '../model/cluster.js';
import type { Chain, Hook, NodeEnv, Path, Rule, Ruleset, Table } from '../netfilter/model.js';
import { type EvalResult, simulate } from '../netfilter/simulate.js';
import { align } from './align.js';
import {
  applyValue,
  type ClassSpec,
  type Constraint,
  constraintsOf,
  defaultSpec,
  describeSpec,
  packetOn,
  specKey,
  words,
} from './classes.js';
import type { Normaliser } from './identity.js';
import type { ClassDifference, ClassOutcome, Difference } from './types.js';

const HASHED = /\bKUBE-(SVC|SVL|SEP|FW|XLB|EXT)-[A-Z0-9]{16}\b/g;
const COMMENT = /(?:-m comment )?--comment ("(?:[^"\\]|\\.)*"|\S+)\s*/g;
const NFT_COMMENT = /\bcomment "(?:[^"\\]|\\.)*"\s*/g;

interface NRule {
  rule: Rule;
  /** Normalised: node values as tokens. */
  key: string;
  /** Comments out and hashed chains renamed, but node values kept (for cluster facts such as endpoints). */
  raw: string;
  /** The rule without comments, node values kept: what is shown. */
  shown: string;
}

interface NChain {
  name: string;
  chain: Chain;
  /** Normalised rules; empty when the chain is the same on both nodes (`same`). */
  rules: NRule[];
  same?: boolean;
}

interface NTable {
  key: string;
  table: Table;
  chains: Map<string, NChain>;
}

interface Side {
  node: NodeModel;
  norm: Normaliser;
  ruleset: Ruleset;
  env: NodeEnv;
  tables: Map<string, NTable>;
  /** Per table key: chain name (real) → the rules that jump or go to it. */
  callers: Map<string, Map<string, Rule[]>>;
}

/** The service port name (`ns/name:port`) kube-proxy writes in a comment. */
function servicePortName(comment: string): string | undefined {
  const m = /([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[\w.-]+)?)/i.exec(comment);
  return m?.[1];
}

/** kube-proxy's hashed chains named after what they stand for: `KUBE-SEP(default/echo:tcp -> 10.244.1.5:8080)`. */
function renameHashed(table: Table, other: Table | undefined): Map<string, string> {
  const names = new Map<string, string>();
  const used = new Map<string, number>();
  for (const chain of table.chains.values()) {
    // kube-proxy's hash is of the service port (and endpoint): a name both nodes have stands for the same thing.
    if (other?.chains.has(chain.name)) continue;
    const m = /^KUBE-(SVC|SVL|SEP|FW|XLB|EXT)-[A-Z0-9]{16}$/.exec(chain.name);
    if (!m) continue;
    let spn: string | undefined;
    let dest: string | undefined;
    for (const r of chain.rules) {
      if (!spn) {
        const c = /--comment ("(?:[^"\\]|\\.)*"|\S+)/.exec(r.text);
        if (c) spn = servicePortName((c[1] as string).replace(/^"|"$/g, '').replace(/ -> .*$/, ''));
      }
      const d = /--to-destination (\S+)/.exec(r.text);
      if (d) dest = d[1];
    }
    if (!spn && !dest) continue;
    let name = `KUBE-${m[1]}(${spn ?? '?'}${m[1] === 'SEP' && dest ? `->${dest}` : ''})`;
    const n = (used.get(name) ?? 0) + 1;
    used.set(name, n);
    if (n > 1) name = `${name}~${n}`;
    names.set(chain.name, name);
  }
  return names;
}

function tableKey(t: Table): string {
  return `${t.backend} ${t.family} ${t.name}`;
}

function stripRule(text: string, chain: string): string {
  let t = text.startsWith(`-A ${chain} `) ? text.slice(chain.length + 4) : text;
  t = t.replace(COMMENT, '').replace(NFT_COMMENT, '').trim();
  return t;
}

/** A rule's text with the node's values as tokens, and its uplink's name as `<uplink>`. */
function normaliseRule(norm: Normaliser, text: string): string {
  const key = norm.text(text);
  if (!norm.uplink) return key;
  return key.replace(
    /(-[io]|--in-interface|--out-interface|[io]ifname)( !=| !)? "?([\w.+@-]+)"?/g,
    (w, opt: string, neg: string | undefined, name: string) =>
      name === norm.uplink ? `${opt}${neg ?? ''} <uplink>` : w,
  );
}

/** Whether a chain reads the same, rule for rule, on both nodes (most chains do: they are skipped cheaply). */
function sameChain(x: Chain, y: Chain | undefined): boolean {
  if (!y || x.policy !== y.policy || x.hook !== y.hook || x.rules.length !== y.rules.length) return false;
  for (let i = 0; i < x.rules.length; i++) if ((x.rules[i] as Rule).text !== (y.rules[i] as Rule).text) return false;
  return true;
}

function normaliseSide(node: NodeModel, norm: Normaliser, other: Ruleset): Side {
  const { ruleset, env } = node.netfilter;
  const otherTables = new Map(other.tables.map((t) => [tableKey(t), t]));
  const tables = new Map<string, NTable>();
  for (const table of ruleset.tables) {
    const otherTable = otherTables.get(tableKey(table));
    const rename = renameHashed(table, otherTable);
    const renameText = (s: string) => (rename.size ? s.replace(HASHED, (h) => rename.get(h) ?? h) : s);
    const chains = new Map<string, NChain>();
    for (const chain of table.chains.values()) {
      const name = rename.get(chain.name) ?? chain.name;
      if (sameChain(chain, otherTable?.chains.get(chain.name))) {
        chains.set(name, { name, chain, rules: [], same: true });
        continue;
      }
      const rules: NRule[] = chain.rules.map((rule) => {
        const shown = stripRule(rule.text, chain.name);
        const raw = renameText(shown);
        return { rule, key: normaliseRule(norm, raw), raw, shown };
      });
      chains.set(name, { name, chain, rules });
    }
    tables.set(tableKey(table), { key: tableKey(table), table, chains });
  }
  return { node, norm, ruleset, env, tables, callers: new Map() };
}

/** The chain a rule jumps or goes to, read from its text without a regular expression (it runs on every rule). */
function jumpTarget(text: string): string | undefined {
  let at = text.lastIndexOf(' -j ');
  if (at < 0) at = text.lastIndexOf(' -g ');
  if (at >= 0) {
    const end = text.indexOf(' ', at + 4);
    return text.slice(at + 4, end < 0 ? undefined : end);
  }
  const m = /\b(?:jump|goto) (\S+)/.exec(text);
  return m?.[1];
}

function callersOf(side: Side, t: NTable, chainName: string): Rule[] {
  let map = side.callers.get(t.key);
  if (!map) {
    map = new Map();
    for (const chain of t.table.chains.values())
      for (const rule of chain.rules) {
        const target = jumpTarget(rule.text);
        if (!target) continue;
        const list = map.get(target);
        if (list) list.push(rule);
        else map.set(target, [rule]);
      }
    side.callers.set(t.key, map);
  }
  return map.get(chainName) ?? [];
}

const HOOK_PATHS: Record<Hook, Path[]> = {
  prerouting: ['input', 'forward'],
  input: ['input'],
  forward: ['forward'],
  output: ['output'],
  postrouting: ['forward', 'output'],
};

/** The paths that reach a chain, and one chain of caller rules from a base chain down to it (outermost first). */
function reach(side: Side, t: NTable, chain: Chain): { paths: Set<Path>; context: Rule[] } {
  const paths = new Set<Path>();
  let context: Rule[] | undefined;
  const seen = new Set<string>([chain.name]);
  let frontier: { chain: Chain; via: Rule[] }[] = [{ chain, via: [] }];
  for (let depth = 0; depth < 8 && frontier.length; depth++) {
    const next: { chain: Chain; via: Rule[] }[] = [];
    for (const f of frontier) {
      if (f.chain.hook) {
        for (const p of HOOK_PATHS[f.chain.hook]) paths.add(p);
        context ??= f.via;
      }
      // kube-proxy's shared chains (KUBE-MARK-MASQ) have thousands of callers: a few tell the paths.
      for (const r of callersOf(side, t, f.chain.name).slice(0, 8)) {
        const c = t.table.chains.get(r.chain);
        if (!c || seen.has(c.name)) continue;
        seen.add(c.name);
        next.push({ chain: c, via: [r, ...f.via] });
      }
    }
    frontier = next;
  }
  return { paths, context: context ?? [] };
}

interface Candidate {
  /** The table's label (`filter`, `inet firewalld`) and its key (backend, family, name). */
  table: string;
  tableKey: string;
  chain: string;
  a?: NRule;
  b?: NRule;
  aChain?: NChain;
  bChain?: NChain;
  policy?: { a?: string; b?: string };
}

function similarity(x: NRule, y: NRule): number {
  const a = new Set(words(x.key));
  const b = words(y.key);
  let common = 0;
  for (const w of b) if (a.has(w)) common++;
  return common / Math.max(a.size, b.length, 1);
}

/** Pair the rules of one gap of the alignment: the same rule with node values kept, the same rule moved, a changed twin. */
function pairGap(dels: NRule[], ins: NRule[]): { pairs: [NRule | undefined, NRule | undefined][] } {
  const pairs: [NRule | undefined, NRule | undefined][] = [];
  const byRaw = new Map<string, NRule[]>();
  for (const i of ins) {
    const l = byRaw.get(i.raw);
    if (l) l.push(i);
    else byRaw.set(i.raw, [i]);
  }
  const taken = new Set<NRule>();
  const restDels: NRule[] = [];
  for (const d of dels) {
    const twin = byRaw.get(d.raw)?.find((i) => !taken.has(i));
    if (twin) taken.add(twin);
    else restDels.push(d);
  }
  const restIns = ins.filter((i) => !taken.has(i));
  // Changed twins by similarity; a huge gap (a whole chain rewritten) is left unpaired rather than compared n x m.
  const pairUp = restDels.length * restIns.length <= 20_000;
  const usedIns = new Set<NRule>();
  for (const d of restDels) {
    let best: NRule | undefined;
    // One rule changed into one other: a pair, however different. Else the most alike, at least half the words.
    let bestScore = restDels.length === 1 && restIns.length === 1 ? -1 : 0.49;
    if (pairUp)
      for (const i of restIns) {
        if (usedIns.has(i)) continue;
        const s = similarity(d, i);
        if (s > bestScore) {
          best = i;
          bestScore = s;
        }
      }
    if (best) usedIns.add(best);
    pairs.push([d, best]);
  }
  for (const i of restIns) if (!usedIns.has(i)) pairs.push([undefined, i]);
  return { pairs };
}

/**
 * Rules that are each node's own by design: a pod's interface (Calico's `cali…` dispatch, a veth), a container's
 * hostPort chain (`CNI-…`), kube-proxy's local endpoints of a `externalTrafficPolicy: Local` Service (KUBE-SVL, the
 * "has no local endpoints" drop). They follow where pods run, so they differ between healthy nodes.
 */
const NODE_LOCAL =
  /(?:^|\s)(?:-[io]|[io]ifname) "?(?:cali[0-9a-f]{6,}|veth[\w]+|lxc[\w]+|tap[\w-]+)|\bCNI-(?:DN-)?[0-9a-f]{20,}\b|\bid: [0-9a-f]{12,}|has no local endpoints|\bKUBE-SVL[-(]/;

function nodeLocal(r: NRule | undefined): boolean {
  return r === undefined || NODE_LOCAL.test(r.rule.text) || NODE_LOCAL.test(r.raw);
}

function candidatesOf(a: Side, b: Side): Candidate[] {
  const out: Candidate[] = [];
  const keys = new Set([...a.tables.keys(), ...b.tables.keys()]);
  for (const key of keys) {
    const ta = a.tables.get(key);
    const tb = b.tables.get(key);
    const names = new Set([...(ta?.chains.keys() ?? []), ...(tb?.chains.keys() ?? [])]);
    for (const name of names) {
      const ca = ta?.chains.get(name);
      const cb = tb?.chains.get(name);
      // A user chain on one side only matters through the rules that jump to it, which differ too.
      if (!ca?.chain.hook && !cb?.chain.hook && (!ca || !cb)) continue;
      if (ca?.same && cb?.same) continue;
      if (/^(KUBE-SVL[-(]|cali-[tf]w-|cali-p[ri]o-)/.test(name)) continue;
      const label = (ta ?? tb)?.table.label ?? key;
      const base = {
        table: label,
        tableKey: key,
        chain: name,
        ...(ca ? { aChain: ca } : {}),
        ...(cb ? { bChain: cb } : {}),
      };
      if ((ca?.chain.hook || cb?.chain.hook) && ca?.chain.policy !== cb?.chain.policy)
        out.push({
          ...base,
          policy: {
            ...(ca?.chain.policy ? { a: ca.chain.policy } : {}),
            ...(cb?.chain.policy ? { b: cb.chain.policy } : {}),
          },
        });
      const ra = ca?.rules ?? [];
      const rb = cb?.rules ?? [];
      const ids = new Map<string, number>();
      const id = (s: string) => {
        const v = ids.get(s);
        if (v !== undefined) return v;
        ids.set(s, ids.size);
        return ids.size - 1;
      };
      const pairs = align(
        ra.map((r) => id(r.key)),
        rb.map((r) => id(r.key)),
      );
      let i = 0;
      let j = 0;
      const gaps: { dels: NRule[]; ins: NRule[] }[] = [];
      for (const [pi, pj] of [...pairs, [ra.length, rb.length] as [number, number]]) {
        if (pi > i || pj > j) gaps.push({ dels: ra.slice(i, pi), ins: rb.slice(j, pj) });
        i = pi + 1;
        j = pj + 1;
      }
      // A rule that moved: the same text unpaired on both sides, in different gaps.
      const allDels = gaps.flatMap((g) => g.dels);
      const moved = new Set<NRule>();
      const gapOf = new Map<NRule, number>();
      const insByKey = new Map<string, NRule[]>();
      gaps.forEach((g, k) => {
        for (const x of g.dels) gapOf.set(x, k);
        for (const x of g.ins) {
          gapOf.set(x, k);
          const l = insByKey.get(x.key);
          if (l) l.push(x);
          else insByKey.set(x.key, [x]);
        }
      });
      for (const d of allDels) {
        const k = insByKey.get(d.key)?.find((x) => !moved.has(x) && gapOf.get(x) !== gapOf.get(d));
        if (k) {
          moved.add(d);
          moved.add(k);
          if (!(nodeLocal(d) && nodeLocal(k))) out.push({ ...base, a: d, b: k });
        }
      }
      for (const g of gaps) {
        const { pairs: pg } = pairGap(
          g.dels.filter((x) => !moved.has(x)),
          g.ins.filter((x) => !moved.has(x)),
        );
        for (const [x, y] of pg)
          if (!(nodeLocal(x) && nodeLocal(y))) out.push({ ...base, ...(x ? { a: x } : {}), ...(y ? { b: y } : {}) });
      }
    }
  }
  return out;
}

const MAX_CLASSES = 96;

function classesFor(
  cand: Candidate,
  a: Side,
  sides: [Side, Side],
  tables: [NTable | undefined, NTable | undefined],
  path: Path,
  context: Rule[],
  family: 4 | 6,
): ClassSpec[] {
  const specs = new Map<string, ClassSpec>();
  const add = (s: ClassSpec) => {
    if (specs.size < MAX_CLASSES) specs.set(specKey(s), s);
  };
  let base = defaultSpec(path, family);
  for (const r of context)
    for (const c of constraintsOf(normaliseRule(a.norm, stripRule(r.text, r.chain))))
      base = applyValue(base, c.dim, c.witness);
  const own: Constraint[][] = [];
  for (const r of [cand.a, cand.b]) if (r) own.push(constraintsOf(r.key));
  if (cand.policy || own.length === 0) {
    for (const proto of ['tcp', 'udp', 'icmp']) add(applyValue(base, 'proto', proto));
    add(applyValue(base, 'state', 'established'));
  }
  const all = own.flat();
  const witnesses: ClassSpec[] = [];
  for (const cs of own) {
    let w = base;
    for (const c of cs) w = applyValue(w, c.dim, c.witness);
    witnesses.push(w);
    add(w);
    for (const c of all) for (const v of c.boundaries) add(applyValue(w, c.dim, v));
  }
  // A jump says little by itself (`-j KUBE-SERVICES`): packets that the chain it jumps to acts on, a few of its rules.
  for (const [k, r] of [cand.a, cand.b].entries()) {
    const target = r && jumpTarget(r.rule.text);
    const chain = target ? tables[k]?.table.chains.get(target) : undefined;
    if (!chain || !r) continue;
    const picks =
      chain.rules.length <= 4 ? chain.rules : [...chain.rules.slice(0, 3), chain.rules[chain.rules.length - 1]];
    const norm = sides[k]?.norm ?? a.norm;
    for (const t of picks) {
      let w = witnesses[0] ?? base;
      for (const c of constraintsOf(normaliseRule(norm, stripRule(t.text, t.chain))))
        w = applyValue(w, c.dim, c.witness);
      add(w);
    }
  }
  return [...specs.values()];
}

interface SideOutcome {
  outcome: ClassOutcome;
  /** Whether the candidate's rule on this side was met (matched) by the packet. */
  metRule: boolean;
  /** verdict + NAT, for comparing. */
  sig: string;
  sigNorm: string;
}

function verdictWord(v: string): string {
  return v === 'accept' ? 'accepts' : v === 'drop' ? 'drops' : v === 'reject' ? 'rejects' : 'may accept or drop';
}

function targetOf(text: string | undefined): string {
  if (!text) return '';
  const m = /(?:^|\s)-[jg] (\S+)/.exec(text) ?? /\b(accept|drop|reject|jump \S+|goto \S+)\b/.exec(text);
  return m ? (m[1] as string) : '';
}

function evaluate(side: Side, spec: ClassSpec, path: Path, rule: Rule | undefined): SideOutcome | undefined {
  const pkt = packetOn(spec, side.norm);
  if (!pkt) return undefined;
  const r: EvalResult = simulate(side.ruleset, pkt, path, side.env, { node: side.node.name });
  const dnat = new Set<string>();
  const dnatNorm = new Set<string>();
  let metRule = false;
  for (const br of r.branches) {
    for (const w of br.rewrites)
      if (w.kind === 'dnat' || w.kind === 'redirect') {
        dnat.add(w.detail);
        dnatNorm.add(side.norm.text(w.detail));
      }
    if (rule && !metRule)
      metRule = br.matched.some((m) => m.chain === rule.chain && m.index === rule.index && m.text === rule.text);
  }
  const d = r.decisive;
  const by =
    d?.kind === 'rule'
      ? `${d.table}/${d.chain} #${d.index}${targetOf(d.text) ? ` ${targetOf(d.text)}` : ''}`
      : d?.kind === 'policy'
        ? `${d.table}/${d.chain} policy ${d.policy}`
        : undefined;
  const verdict = r.verdict + (r.reject ? ` (${r.reject.with})` : '');
  const outcome: ClassOutcome = {
    verdict: r.verdict,
    ...(by ? { by } : {}),
    ...(dnat.size ? { dnat: [...dnat].sort() } : {}),
  };
  return {
    outcome,
    metRule,
    sig: `${verdict}|${[...dnat].sort().join(',')}`,
    sigNorm: `${verdict}|${[...dnatNorm].sort().join(',')}`,
  };
}

function ruleEvidence(node: string, table: string, r: NRule): Evidence {
  return {
    kind: 'rule',
    node,
    table,
    chain: r.rule.chain,
    index: r.rule.index,
    text: r.rule.text,
    ...(r.rule.source ? { source: r.rule.source } : {}),
  };
}

const IMPLICIT = /^-m (tcp|udp|udplite|sctp|icmp|icmp6)$/;

/** Option groups of a rule: `-p udp`, `-m conntrack --ctstate NEW` split per option. */
function groups(text: string): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  for (const w of words(text)) {
    if ((w.startsWith('-') || w === '!') && cur.length && cur[cur.length - 1] !== '!') {
      out.push(cur.join(' '));
      cur = [];
    }
    cur.push(w);
  }
  if (cur.length) out.push(cur.join(' '));
  return out;
}

/** What one rule has that the other lacks, in the rule's own words (node values kept). */
function onlyIn(x: NRule, y: NRule): string {
  const gx = groups(x.key);
  const shown = groups(x.raw);
  const gy = new Set(groups(y.key));
  const picked: string[] = [];
  const implicit: string[] = [];
  gx.forEach((g, k) => {
    if (gy.has(g)) return;
    const s = shown.length === gx.length ? (shown[k] as string) : g;
    (IMPLICIT.test(g) ? implicit : picked).push(s);
  });
  return (picked.length ? picked : implicit).join(' ') || x.shown;
}

/** A short name for a rule: the ports it names and its target (`8472 accept`). */
function label(rules: NRule[], chainName: string): string {
  let chain = chainName;
  const ports = new Set<string>();
  const targets = new Set<string>();
  for (const r of rules) {
    const w = words(r.key);
    w.forEach((t, k) => {
      if (/^--(dport|dports|destination-port|destination-ports)$/.test(t) && w[k + 1]) ports.add(w[k + 1] as string);
      if (t === 'dport' && /^(tcp|udp|sctp|th)$/.test(w[k - 1] ?? '') && w[k + 1]) ports.add(w[k + 1] as string);
    });
    const t = targetOf(r.key);
    // A verdict or target module (ACCEPT, accept, DNAT) in lower case; a chain as where the rule jumps.
    if (t) targets.add(/^[A-Za-z]+$/.test(t) ? t.toLowerCase() : `→ ${t.replace(/\(.*$/, '')}`);
  }
  const common = [...ports].filter((p) => rules.every((r) => words(r.key).includes(p)));
  if (!common.length && rules[0]) {
    // A kube-proxy chain is named by the service port it serves (its hash means nothing to a reader).
    const spn = /^KUBE-(SVC|SVL|SEP|FW|XLB|EXT)-[A-Z0-9]{16}$/.test(chain)
      ? rules[0].rule.text.match(/--comment ("(?:[^"\\]|\\.)*"|\S+)/)?.[1]
      : undefined;
    const name = spn ? servicePortName(spn.replace(/^"|"$/g, '').replace(/ -> .*$/, '')) : undefined;
    if (name) chain = `${chain} (${name})`;
  }
  const what = [common.join(',') || chain, targets.size === 1 ? [...targets][0] : [...targets].join('/')].filter(
    Boolean,
  );
  return what.join(' ');
}

function sameOutcomeSwapped(x: ClassDifference, y: ClassDifference): boolean {
  return (
    x.a.verdict === y.b.verdict &&
    x.b.verdict === y.a.verdict &&
    x.a.by === y.b.by &&
    x.b.by === y.a.by &&
    JSON.stringify(x.a.dnat) === JSON.stringify(y.b.dnat) &&
    JSON.stringify(x.b.dnat) === JSON.stringify(y.a.dnat)
  );
}

function outcomeText(o: ClassOutcome, other: ClassOutcome, hideBy: string | undefined): string {
  const nat = o.dnat?.length ? ` (DNAT to ${o.dnat.map((d) => d.replace(/^.*→\s*/, '')).join(' | ')})` : '';
  // The deciding rule matters when the verdicts differ; an accept by a policy both nodes reach says nothing.
  const showBy = o.by && o.by !== hideBy && !(hideBy && o.by.startsWith(`${hideBy} `)) && o.verdict !== other.verdict;
  return `${verdictWord(o.verdict)}${nat}${showBy ? ` (${o.by})` : ''}`;
}

/** The classes as a sentence: `udp/8472 NEW: A accepts, B rejects (filter/INPUT #16 REJECT); tcp/8472 NEW: the reverse`. */
export function classesSentence(
  classes: ClassDifference[],
  a: string,
  b: string,
  ruleA?: string,
  ruleB?: string,
  multiPath = false,
): string {
  const parts: { name: string; text: string; paths: string[] }[] = [];
  classes.forEach((c, k) => {
    const prev = classes[k - 1];
    const text =
      prev && prev.path === c.path && sameOutcomeSwapped(prev, c)
        ? 'the reverse'
        : `${a} ${outcomeText(c.a, c.b, ruleA)}, ${b} ${outcomeText(c.b, c.a, ruleB)}`;
    // The same class ending the same way on several paths is said once.
    const same = parts.find((p) => p.name === c.packet && p.text === text);
    if (same) same.paths.push(c.path);
    else parts.push({ name: c.packet, text, paths: [c.path] });
  });
  return parts.map((p) => `${p.name}${multiPath ? ` [${p.paths.join(', ')}]` : ''}: ${p.text}`).join('; ');
}

const MAX_SHOWN = 6;

/** Netfilter differences between two nodes that change what happens to some packet. */
export function diffNetfilter(nodeA: NodeModel, normA: Normaliser, nodeB: NodeModel, normB: Normaliser): Difference[] {
  const a = normaliseSide(nodeA, normA, nodeB.netfilter.ruleset);
  const b = normaliseSide(nodeB, normB, nodeA.netfilter.ruleset);
  const out: Difference[] = [];
  for (const cand of candidatesOf(a, b)) {
    const ta = a.tables.get(cand.tableKey);
    const tb = b.tables.get(cand.tableKey);
    const paths = new Set<Path>();
    let context: Rule[] = [];
    if (ta && cand.aChain) {
      const r = reach(a, ta, cand.aChain.chain);
      for (const p of r.paths) paths.add(p);
      context = r.context;
    }
    if (tb && cand.bChain) {
      const r = reach(b, tb, cand.bChain.chain);
      for (const p of r.paths) paths.add(p);
      if (!context.length) context = r.context.map((x) => x);
    }
    const classes: ClassDifference[] = [];
    let total = 0;
    const table = (ta ?? tb)?.table;
    // An ip6 table sees IPv6 packets only; ip and inet tables are asked about IPv4 (inet's IPv6 side is not sampled).
    const family: 4 | 6 = table?.family === 'ip6' ? 6 : 4;
    for (const path of paths) {
      const ctxSide = cand.aChain ? a : b;
      for (const spec of classesFor(cand, ctxSide, [a, b], [ta, tb], path, context, family)) {
        const oa = evaluate(a, spec, path, cand.a?.rule);
        const ob = evaluate(b, spec, path, cand.b?.rule);
        if (!oa || !ob) continue;
        if (oa.sig === ob.sig || oa.sigNorm === ob.sigNorm) continue;
        const involved = cand.policy
          ? oa.outcome.by?.includes(' policy ') || ob.outcome.by?.includes(' policy ')
          : oa.metRule || ob.metRule;
        if (!involved) continue;
        total++;
        if (classes.length < MAX_SHOWN)
          classes.push({ packet: describeSpec(spec, path, a.norm, family), path, a: oa.outcome, b: ob.outcome });
      }
    }
    if (total === 0) continue;
    const where = (r: NRule) => `${cand.table}/${r.rule.chain} #${r.rule.index}`;
    const multiPath = new Set(classes.map((c) => c.path)).size > 1;
    let title: string;
    const aName = nodeA.name;
    const bName = nodeB.name;
    if (cand.policy) {
      title = `${cand.table}/${cand.chain} policy: ${aName} ${cand.policy.a ?? '(no chain)'}, ${bName} ${cand.policy.b ?? '(no chain)'} — ${classesSentence(classes, aName, bName, undefined, undefined, multiPath)}`;
    } else if (cand.a && cand.b && cand.a.key !== cand.b.key && cand.a.raw !== cand.b.raw) {
      title = `${label([cand.a, cand.b], cand.chain)}: ${aName} \`${onlyIn(cand.a, cand.b)}\` (${where(cand.a)}), ${bName} \`${onlyIn(cand.b, cand.a)}\` (${where(cand.b)}) — ${classesSentence(classes, aName, bName, where(cand.a), where(cand.b), multiPath)}`;
    } else if (cand.a && cand.b) {
      title = `${label([cand.a], cand.chain)} moved: ${aName} ${where(cand.a)}, ${bName} ${where(cand.b)} \`${cand.a.shown}\` — ${classesSentence(classes, aName, bName, where(cand.a), where(cand.b), multiPath)}`;
    } else {
      const r = (cand.a ?? cand.b) as NRule;
      const on = cand.a ? aName : bName;
      title = `${label([r], cand.chain)} only on ${on}: \`${r.shown}\` (${where(r)}) — ${classesSentence(classes, aName, bName, cand.a ? where(r) : undefined, cand.b ? where(r) : undefined, multiPath)}`;
    }
    const evidence = (n: NRule | undefined, node: string, chain: NChain | undefined, policy?: string): Evidence[] =>
      n
        ? [ruleEvidence(node, cand.table, n)]
        : policy
          ? [
              {
                kind: 'policy',
                node,
                table: cand.table,
                chain: chain?.chain.name ?? cand.chain,
                text: `${chain?.chain.name ?? cand.chain} policy ${policy}`,
              },
            ]
          : [];
    out.push({
      kind: cand.policy ? 'netfilter-policy' : 'netfilter-rule',
      // ip and ip6 tables share their labels (`filter`): say which family the rule is of.
      title: family === 6 && table?.family === 'ip6' ? `IPv6 ${title}` : title,
      a: { node: aName, evidence: evidence(cand.a, aName, cand.aChain, cand.policy?.a) },
      b: { node: bName, evidence: evidence(cand.b, bName, cand.bChain, cand.policy?.b) },
      classes,
      ...(total > classes.length ? { moreClasses: total - classes.length } : {}),
    });
  }
  return out;
}
