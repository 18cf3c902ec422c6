/**
 * The netfilter walk: a packet passes every base chain registered at each hook of its path, in priority order, across
 * iptables-nft, iptables-legacy and native nft tables. An accept ends one base chain and the packet goes on to the next;
 * a drop or reject anywhere is final. Nondeterministic matches (statistic, numgen, limit) fork the walk: every branch
 * the kernel could take is followed. A match netdoctor cannot evaluate forks too; if the two sides end differently the
 * verdict is uncertain and names that rule.
 */
import { formatIp } from '../core/ip.js';
import type { Decisive, RejectInfo, Verdict } from '../core/vocabulary.js';
import { DECIDING_HOOK, PATH_HOOKS } from './hooks.js';
import type { Chain, ChainIndex, Flow, Hook, NodeEnv, Packet, Path, Rewrite, Rule, Ruleset, Table } from './model.js';

export interface RuleRef {
  table: string;
  chain: string;
  index: number;
  text: string;
  source?: { file: string; line: number };
}

/** How one base chain ended on this branch. */
export interface ChainEnd {
  hook: Hook;
  table: string;
  chain: string;
  type: 'filter' | 'nat' | 'route';
  verdict: 'accept' | 'drop' | 'reject' | 'uncertain';
  by: 'rule' | 'policy';
  rule?: RuleRef;
  policy?: string;
}

export interface ChoiceTaken {
  rule: RuleRef;
  kind: 'random' | 'unknown';
  taken: boolean | string;
  why: string;
}

export interface Branch {
  verdict: Verdict;
  decisive: Decisive | null;
  reject?: RejectInfo;
  /** Rules whose matches all held, in the order they were met. */
  matched: RuleRef[];
  rewrites: Rewrite[];
  chainEnds: ChainEnd[];
  /** The random choices this branch made (a statistic rule matched or not, a numgen value). */
  choices: ChoiceTaken[];
  /** The packet as it leaves the path (after DNAT, marks...). */
  packet: Packet;
  /** Why the verdict is uncertain, when it is. */
  uncertainWhy?: string;
}

export interface EvalResult {
  verdict: Verdict;
  decisive: Decisive | null;
  reject?: RejectInfo;
  matched: RuleRef[];
  rewrites: Rewrite[];
  /** Every branch, when the kernel could go more than one way. */
  branches: Branch[];
}

export interface SimulateOptions {
  node?: string;
  /** At most this many branches; past it the result is uncertain. */
  maxBranches?: number;
}

interface PlanStep {
  hook: Hook;
  table: Table;
  chain: Chain;
  /** The table's chains by the jump or goto that names them (see `jumpTarget`). */
  targets: WeakMap<Flow, Chain>;
}

interface Frame {
  chain: Chain;
  /** Next position in `order` (or in chain.rules when order is undefined). */
  pos: number;
  order: number[] | undefined;
}

interface State {
  pkt: Packet;
  step: number;
  stack: Frame[];
  /** When resuming inside a rule after a fork: the expression to continue with. */
  exprPos: number;
  /** Rules whose matches all held, in order; made into RuleRefs when the branch ends. */
  matched: Rule[];
  rewrites: Rewrite[];
  chainEnds: ChainEnd[];
  choices: ChoiceTaken[];
  /** True once the current rule's matched entry is recorded. */
  recorded: boolean;
  /** Whether conntrack has looked the packet up yet (it does at priority -200 of prerouting and output). */
  tracked: boolean;
}

/** conntrack's own hook priority: chains before it (raw) see no conntrack entry. */
const CONNTRACK_PRIORITY = -200;

const INDEX_THRESHOLD = 48;
const MAX_DEPTH = 64;

const planCache = new WeakMap<Ruleset, Map<string, PlanStep[]>>();
const targetCache = new WeakMap<Table, WeakMap<Flow, Chain>>();

function targetsOf(table: Table): WeakMap<Flow, Chain> {
  let m = targetCache.get(table);
  if (!m) {
    m = new WeakMap();
    targetCache.set(table, m);
  }
  return m;
}

/**
 * The chain a jump or goto goes to. Looking a name up among a kube-proxy table's 60,000 chains costs more than the rest
 * of the rule, so the chain found is remembered by flow object, per table (one flow object may serve the same name in
 * several tables of a dump); the flow objects themselves are not touched.
 */
function jumpTarget(step: PlanStep, flow: Flow & { chain: string }): Chain | undefined {
  let target = step.targets.get(flow);
  if (target === undefined) {
    target = step.table.chains.get(flow.chain);
    if (target) step.targets.set(flow, target);
  }
  return target;
}

/** Base chains of the path's hooks, in the order the kernel calls them. */
export function planFor(ruleset: Ruleset, family: 4 | 6, path: Path): PlanStep[] {
  let perRuleset = planCache.get(ruleset);
  if (!perRuleset) {
    perRuleset = new Map();
    planCache.set(ruleset, perRuleset);
  }
  const key = `${family}${path}`;
  const cached = perRuleset.get(key);
  if (cached) return cached;
  const fam = family === 4 ? 'ip' : 'ip6';
  const steps: PlanStep[] = [];
  for (const hook of PATH_HOOKS[path]) {
    const here: PlanStep[] = [];
    for (const table of ruleset.tables) {
      if (table.family !== fam && table.family !== 'inet') continue;
      for (const chain of table.chains.values())
        if (chain.hook === hook) here.push({ hook, table, chain, targets: targetsOf(table) });
    }
    // At equal priority the kernel runs the hook registered later first; iptables registers its tables when the node
    // boots, firewalld and kube-proxy add native tables later. We take iptables (either backend) first, then native
    // nft, as a kernel that loaded them in that order does (verified with the kernel oracle).
    here.sort(
      (a, b) => (a.chain.priority ?? 0) - (b.chain.priority ?? 0) || backendRank(a.table) - backendRank(b.table),
    );
    steps.push(...here);
  }
  perRuleset.set(key, steps);
  return steps;
}

const labelCache = new WeakMap<PlanStep[], Map<string, Table>>();

/** The tables of a plan by their label, made once per plan. */
function tablesOf(plan: PlanStep[]): Map<string, Table> {
  let m = labelCache.get(plan);
  if (!m) {
    m = new Map();
    for (const s of plan) m.set(s.table.label, s.table);
    labelCache.set(plan, m);
  }
  return m;
}

function backendRank(t: Table): number {
  return t.backend === 'nft' ? 1 : 0;
}

/** iptables tables whose chains never decide an accepted packet's verdict: only `filter` (and native filter chains) do. */
const NON_DECIDING_IPTABLES = new Set(['raw', 'mangle', 'nat', 'security']);

function isDecidingChain(end: ChainEnd, table: Table | undefined): boolean {
  if (end.type !== 'filter') return false;
  if (!table || table.backend === 'nft') return true;
  return !NON_DECIDING_IPTABLES.has(table.name);
}

/** A rule as results name it. `rule.table` holds its table's label (`filter`, `inet firewalld`). */
function ref(rule: Rule): RuleRef {
  return { table: rule.table, chain: rule.chain, index: rule.index, text: rule.text, source: rule.source };
}

/**
 * Build, once, what evaluation needs beyond the parsed rules: the destination index of every large chain (kube-proxy's
 * KUBE-SERVICES has two rules per service; a packet looks only at the ones for its destination). Evaluation does this
 * lazily too; calling it up front moves the cost out of the first packets.
 */
export function compileRuleset(ruleset: Ruleset): void {
  for (const t of ruleset.tables)
    for (const c of t.chains.values()) if (c.rules.length >= INDEX_THRESHOLD) chainIndex(c);
}

function chainIndex(chain: Chain): ChainIndex {
  if (chain.index) return chain.index;
  const exact = new Map<string, number[]>();
  const others: number[] = [];
  chain.rules.forEach((r, i) => {
    if (r.exactDst === undefined) others.push(i);
    else {
      const list = exact.get(r.exactDst);
      if (list) list.push(i);
      else exact.set(r.exactDst, [i]);
    }
  });
  // Each destination's list holds, in chain order, its own rules and the rules for every destination.
  const byDst = new Map<string, number[]>();
  for (const [dst, own] of exact) {
    const merged: number[] = [];
    let a = 0;
    let b = 0;
    while (a < own.length || b < others.length) {
      if (b >= others.length || (a < own.length && (own[a] as number) < (others[b] as number)))
        merged.push(own[a++] as number);
      else merged.push(others[b++] as number);
    }
    byDst.set(dst, merged);
  }
  chain.index = { byDst, others };
  return chain.index;
}

/** The rule positions of a large chain that can match a packet to `dst`, in chain order. */
function candidates(chain: Chain, pkt: Packet): number[] | undefined {
  if (chain.rules.length < INDEX_THRESHOLD) return undefined;
  const idx = chainIndex(chain);
  return idx.byDst.get(formatIp(pkt.dst)) ?? idx.others;
}

function frameFor(chain: Chain, pkt: Packet): Frame {
  const order = candidates(chain, pkt);
  return { chain, pos: 0, order };
}

/**
 * A packet's copy for one branch. Not `{ ...pkt }`: V8 gives an object made by spread a hidden class that cannot be
 * shared once a property is added (DNAT adds `origDst`), so every branch would make a new one, and those live where
 * only a full collection frees them. `Object.assign` onto a fresh object keeps the key order and shares classes.
 */
function copyPacket(p: Packet): Packet {
  return Object.assign({}, p);
}

function copyFrame(f: Frame): Frame {
  return { chain: f.chain, pos: f.pos, order: f.order };
}

function clone(s: State): State {
  return {
    pkt: copyPacket(s.pkt),
    step: s.step,
    stack: s.stack.map(copyFrame),
    exprPos: s.exprPos,
    matched: s.matched.slice(),
    rewrites: s.rewrites.slice(),
    chainEnds: s.chainEnds.slice(),
    choices: s.choices.slice(),
    recorded: s.recorded,
    tracked: s.tracked,
  };
}

function rank(v: Verdict): number {
  return v === 'drop' || v === 'reject' ? 3 : v === 'uncertain' ? 2 : 1;
}

function sameOutcome(a: Branch[], b: Branch[]): boolean {
  const key = (x: Branch[]) =>
    x
      .map(
        (br) =>
          `${br.verdict}|${br.decisive?.table}|${br.decisive?.chain}|${br.decisive?.index}|${br.decisive?.policy}|${br.reject?.with}`,
      )
      .sort()
      .join(';');
  return key(a) === key(b);
}

/**
 * Walk a packet along one path of one node. The packet is not changed; each branch carries its own copy.
 */
export function simulate(
  ruleset: Ruleset,
  packet: Packet,
  path: Path,
  env: NodeEnv = {},
  opts: SimulateOptions = {},
): EvalResult {
  const plan = planFor(ruleset, packet.family, path);
  const maxBranches = opts.maxBranches ?? 256;
  let produced = 0;
  const tableByLabel = tablesOf(plan);

  // Built field by field (no spreads), in the order results have always listed them.
  const decisiveOf = (rule: RuleRef | undefined, end: ChainEnd | undefined, detail?: string): Decisive | null => {
    let d: Decisive;
    if (rule) {
      d = { kind: 'rule' };
      if (opts.node) d.node = opts.node;
      d.table = rule.table;
      d.chain = rule.chain;
      d.index = rule.index;
      d.text = rule.text;
      if (rule.source) d.source = rule.source;
    } else if (end) {
      d = { kind: 'policy' };
      if (opts.node) d.node = opts.node;
      d.table = end.table;
      d.chain = end.chain;
      d.policy = end.policy ?? 'ACCEPT';
    } else return null;
    if (detail !== undefined) d.detail = detail;
    return d;
  };

  const finish = (s: State, verdict: Verdict, decisive: Decisive | null, reject?: RejectInfo, why?: string): Branch => {
    produced++;
    // Rule references are made here, where the branch ends: the walk itself keeps only the rules. (Not made lazily
    // through a getter: a getter per branch is a closure per branch, and V8 then gives every branch its own hidden
    // class where only a full collection frees it; one getter shared through `Object.defineProperty` costs more than
    // the references.)
    const branch: Branch = {
      verdict,
      decisive,
      matched: s.matched.map(ref),
      rewrites: s.rewrites,
      chainEnds: s.chainEnds,
      choices: s.choices,
      packet: s.pkt,
    };
    if (reject) branch.reject = reject;
    if (why) branch.uncertainWhy = why;
    return branch;
  };

  /**
   * Accepted by every base chain: the decisive object is how the last filter chain at the path's filter hook ended
   * (iptables' filter table or a native nft filter chain), else how the last base chain traversed ended.
   */
  const accepted = (s: State): Branch => {
    const deciding = DECIDING_HOOK[path];
    const ends = s.chainEnds;
    let end: ChainEnd | undefined;
    for (let k = ends.length - 1; k >= 0 && !end; k--) {
      const e = ends[k] as ChainEnd;
      if (e.hook === deciding && isDecidingChain(e, tableByLabel.get(e.table))) end = e;
    }
    end ??= ends[ends.length - 1];
    const decisive = end
      ? decisiveOf(end.by === 'rule' ? end.rule : undefined, end)
      : {
          kind: 'policy' as const,
          ...(opts.node ? { node: opts.node } : {}),
          policy: 'ACCEPT',
          detail: 'no netfilter chain on this path: the kernel lets the packet through',
        };
    return finish(s, 'accept', decisive);
  };

  /**
   * Walk `s` to its end, adding its branches to `out`. At a random choice the branch that takes the rule is walked
   * first, on a copy; the walk then goes on with `s` itself as the branch that does not.
   */
  const run = (s: State, out: Branch[]): void => {
    for (;;) {
      if (produced >= maxBranches)
        return void out.push(finish(s, 'uncertain', null, undefined, `more than ${maxBranches} branches`));
      // Start the next base chain when the stack is empty.
      if (s.stack.length === 0) {
        for (;;) {
          if (s.step >= plan.length) return void out.push(accepted(s));
          const next = plan[s.step] as PlanStep;
          // Before conntrack's hook (the raw table) the packet has no conntrack entry: state matches see INVALID, or
          // UNTRACKED once a NOTRACK rule ran. From conntrack's hook on, the packet's real state.
          const early =
            (next.hook === 'prerouting' || next.hook === 'output') && (next.chain.priority ?? 0) < CONNTRACK_PRIORITY;
          if (!s.tracked && s.pkt.state !== 'untracked') s.pkt.state = early ? 'invalid' : packet.state;
          if (!early) s.tracked = true;
          // nat sees only a connection's first packet.
          if (next.chain.type === 'nat' && s.pkt.state !== 'new') {
            s.step++;
            continue;
          }
          break;
        }
        s.stack.push(frameFor((plan[s.step] as PlanStep).chain, s.pkt));
        s.exprPos = 0;
        s.recorded = false;
      }
      const step = plan[s.step] as PlanStep;
      const table = step.table;
      const frame = s.stack[s.stack.length - 1] as Frame;
      const ruleIdx = frame.order ? frame.order[frame.pos] : frame.pos;
      const rule = ruleIdx === undefined ? undefined : frame.chain.rules[ruleIdx];
      if (!rule) {
        // Fell off the end of the chain: back to the caller, or the base chain's policy.
        s.stack.pop();
        if (s.stack.length > 0) {
          (s.stack[s.stack.length - 1] as Frame).pos++;
          s.exprPos = 0;
          s.recorded = false;
          continue;
        }
        const policy = step.chain.policy ?? 'ACCEPT';
        const end: ChainEnd = {
          hook: step.hook,
          table: table.label,
          chain: step.chain.name,
          type: step.chain.type ?? 'filter',
          verdict: policy === 'DROP' ? 'drop' : 'accept',
          by: 'policy',
          policy,
        };
        s.chainEnds.push(end);
        if (policy === 'DROP') return void out.push(finish(s, 'drop', decisiveOf(undefined, end)));
        s.step++;
        continue;
      }
      // Evaluate the rule's expressions from where we are.
      let outcome: 'next' | 'flow' = 'next';
      let flow: Flow | undefined;
      const exprs = rule.exprs;
      let k = s.exprPos;
      for (; k < exprs.length; k++) {
        const e = exprs[k] as (typeof exprs)[number];
        if (e.kind === 'match') {
          const r = e.test(s.pkt, env);
          if (r === true) continue;
          if (r === false) break;
          // A choice: follow both ways.
          const yes = clone(s);
          yes.exprPos = k + 1;
          const rr = ref(rule);
          if (r.choice === 'random') {
            yes.choices.push({ rule: rr, kind: 'random', taken: true, why: r.why });
            run(yes, out);
            // The branch that does not take the rule goes on here, with the next rule.
            s.choices.push({ rule: rr, kind: 'random', taken: false, why: r.why });
            break;
          }
          const no = clone(s);
          no.exprPos = 0;
          no.recorded = false;
          (no.stack[no.stack.length - 1] as Frame).pos++;
          const a: Branch[] = [];
          const b: Branch[] = [];
          run(yes, a);
          run(no, b);
          if (sameOutcome(a, b)) out.push(...a);
          else out.push(finish(s, 'uncertain', decisiveOf(rr, undefined, r.why), undefined, r.why));
          return;
        }
        if (!s.recorded) {
          s.matched.push(rule);
          s.recorded = true;
        }
        const f = e.apply(s.pkt, env, s.rewrites);
        if (f === null) continue;
        if (Array.isArray(f)) {
          // The kernel picks one (nft numgen vmap): one branch per element.
          const rr = ref(rule);
          f.forEach((one, i) => {
            const c = clone(s);
            c.choices.push({ rule: rr, kind: 'random', taken: `branch ${i}`, why: e.name });
            if (one.kind === 'continue') {
              c.exprPos = k + 1;
              run(c, out);
              return;
            }
            const ended = applyFlow(c, one, rule, step);
            if (ended) out.push(ended);
            else run(c, out);
          });
          return;
        }
        if (f.kind === 'continue') continue;
        outcome = 'flow';
        flow = f;
        break;
      }
      if (outcome === 'next') {
        if (k >= exprs.length && !s.recorded) s.matched.push(rule);
        frame.pos++;
        s.exprPos = 0;
        s.recorded = false;
        continue;
      }
      const ended = applyFlow(s, flow as Flow, rule, step);
      if (ended) return void out.push(ended);
    }
  };

  /** Record how a base chain ended by a rule's verdict. */
  const endChain = (s: State, step: PlanStep, rule: Rule, verdict: ChainEnd['verdict']): RuleRef => {
    const rr = ref(rule);
    s.chainEnds.push({
      hook: step.hook,
      table: step.table.label,
      chain: step.chain.name,
      type: step.chain.type ?? 'filter',
      verdict,
      by: 'rule',
      rule: rr,
    });
    return rr;
  };

  const uncertainAt = (s: State, step: PlanStep, rule: Rule, why: string): Branch => {
    const rr = endChain(s, step, rule, 'uncertain');
    return finish(s, 'uncertain', decisiveOf(rr, undefined, why), undefined, why);
  };

  /** Act on a rule's verdict. Returns the finished branch, or undefined when the walk goes on with `s`. */
  const applyFlow = (s: State, flow: Flow, rule: Rule, step: PlanStep): Branch | undefined => {
    s.exprPos = 0;
    s.recorded = false;
    switch (flow.kind) {
      case 'accept':
        endChain(s, step, rule, 'accept');
        s.stack.length = 0;
        s.step++;
        return undefined;
      case 'drop':
        return finish(s, 'drop', decisiveOf(endChain(s, step, rule, 'drop'), undefined));
      case 'reject':
        return finish(s, 'reject', decisiveOf(endChain(s, step, rule, 'reject'), undefined), flow.reject);
      case 'return':
        s.stack.pop();
        if (s.stack.length > 0) (s.stack[s.stack.length - 1] as Frame).pos++;
        else s.stack.push({ chain: step.chain, pos: Number.MAX_SAFE_INTEGER, order: undefined });
        return undefined;
      case 'jump':
      case 'goto': {
        const target = jumpTarget(step, flow);
        if (!target) return uncertainAt(s, step, rule, `chain ${flow.chain} is missing`);
        if (s.stack.length >= MAX_DEPTH) return uncertainAt(s, step, rule, 'chains jump in a loop');
        // A goto replaces the current frame: when the target chain ends, the walk returns to our caller (or, from a
        // base chain, falls to its policy).
        if (flow.kind === 'goto') s.stack.pop();
        s.stack.push(frameFor(target, s.pkt));
        return undefined;
      }
      case 'unknown':
        return uncertainAt(s, step, rule, flow.why);
      default:
        return undefined;
    }
  };

  const start: State = {
    pkt: copyPacket(packet),
    step: 0,
    stack: [],
    exprPos: 0,
    matched: [],
    rewrites: [],
    chainEnds: [],
    choices: [],
    recorded: false,
    tracked: false,
  };
  const branches: Branch[] = [];
  run(start, branches);
  let worst = branches[0] as Branch;
  for (const b of branches) if (rank(b.verdict) > rank(worst.verdict)) worst = b;
  return {
    verdict: worst.verdict,
    decisive: worst.decisive,
    ...(worst.reject ? { reject: worst.reject } : {}),
    matched: worst.matched,
    rewrites: worst.rewrites,
    branches,
  };
}
