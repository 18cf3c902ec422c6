/**
 * The `match` statement: left-hand side (one expression or a concatenation), operator, right-hand side (a constant,
 * a range, a prefix, a flag list, an anonymous set or `@named` set). Compiled once into a closure.
 */
import type { Choice, MatchExpr, MatchResult, NodeEnv, Packet } from '../model.js';
import type { CompileContext, Getter } from './context.js';
import { compileGetter, isObject, kindOf } from './expr.js';
import {
  buildSet,
  type CompiledSet,
  candidates,
  elementText,
  lookup,
  type Part,
  parsePart,
  partMatches,
  partText,
} from './sets.js';
import { ABSENT, type Got, isUnknown, type NftType, parseConstant, type Unknown, type Val } from './types.js';

const OPS = new Set(['==', '!=', '<', '>', '<=', '>=', 'in']);

/** At most this many combinations of possible values are tried before giving up to "unknown". */
const MAX_COMBOS = 256;

export interface CompiledMatchStmt {
  expr: MatchExpr;
  text: string;
  /** The one destination address the match requires, when it does (`ip daddr 10.0.0.1`). */
  exactDst?: string;
}

/** What the right-hand side says about a fully known key. */
type Pred = (values: readonly Val[]) => boolean;
/** The same with some components unknown (undefined): a definite answer, or undefined when it depends on them. */
type PartialPred = (values: readonly (Val | undefined)[]) => boolean | undefined;

interface Rhs {
  pred: Pred;
  partial: PartialPred;
  text: string;
  /** A set whose members the dump can't tell (filled by the traffic). */
  unknownWhy?: string;
  exactDst?: string;
}

function unknownMatch(name: string, text: string, why: string): CompiledMatchStmt {
  const choice: Choice = { choice: 'unknown', why };
  return { expr: { kind: 'match', name, canonical: `?${text}`, test: () => choice }, text };
}

export function compileMatch(body: unknown, ctx: CompileContext): CompiledMatchStmt {
  if (!isObject(body)) {
    ctx.issue('error', 'match without left/right/op');
    return unknownMatch('match', '?', 'unreadable match');
  }
  const op = typeof body.op === 'string' ? body.op : '==';
  const leftJson = body.left;
  const concat =
    kindOf(leftJson) === 'concat' ? ((leftJson as Record<string, unknown>).concat as unknown[]) : undefined;
  const getters: Getter[] = Array.isArray(concat)
    ? concat.map((j) => compileGetter(j, ctx))
    : [compileGetter(leftJson, ctx)];
  const leftText = getters.map((g) => g.text).join(' . ');
  const binopLeft = ['&', '|', '^', '<<', '>>'].includes(kindOf(leftJson) ?? '');
  if (!OPS.has(op)) {
    ctx.issue('error', `unknown operator "${op}"`);
    return unknownMatch(leftText, `${leftText} ${op} ?`, `unknown operator ${op}`);
  }
  const rhs = compileRhs(op, body.right, getters, ctx);
  if (typeof rhs === 'string') {
    ctx.issue('error', `${leftText}: ${rhs}`);
    return unknownMatch(leftText, `${leftText} ?`, `${leftText}: ${rhs}`);
  }
  // `==` is implicit, except on flag types (there a bare value means "any of these bits", `in`) and after a mask;
  // nft leaves it out before an OR of flags (`ct state established | related`).
  const flagEq =
    getters.length === 1 && getters[0]?.type.bitmask && kindOf(body.right) !== '|' && !isSetRight(body.right);
  const opText = op === 'in' || (op === '==' && !binopLeft && !flagEq) ? '' : `${op} `;
  let text = `${leftText} ${opText}${rhs.text}`;
  // nft prints a masked flag test as `tcp flags syn / syn,ack`.
  const masked = flagMaskText(leftJson, op, getters, rhs.text, ctx);
  if (masked) text = masked;
  const negate = op === '!=';
  const name = leftText;
  const test = makeTest(getters, rhs, negate, text);
  const out: CompiledMatchStmt = { expr: { kind: 'match', name, canonical: text, test }, text };
  if (rhs.exactDst && op === '==' && getters.length === 1 && getters[0]?.dstAddr && !binopLeft)
    out.exactDst = rhs.exactDst;
  return out;
}

function isSetRight(right: unknown): boolean {
  return (typeof right === 'string' && right.startsWith('@')) || kindOf(right) === 'set';
}

function flagMaskText(
  leftJson: unknown,
  op: string,
  getters: Getter[],
  rhsText: string,
  ctx: CompileContext,
): string | undefined {
  if (kindOf(leftJson) !== '&' || getters.length !== 1 || !getters[0]?.type.bitmask || (op !== '==' && op !== '!='))
    return undefined;
  const args = (leftJson as Record<string, unknown>)['&'];
  if (!Array.isArray(args) || args.length !== 2) return undefined;
  const type = getters[0].type;
  const mask = parseConstant(type, args[1]);
  if (typeof mask !== 'number') return undefined;
  const inner = compileGetter(args[0], ctx).text;
  return `${inner} ${op === '!=' ? '!= ' : ''}${rhsText} / ${type.format(mask)}`;
}

function makeTest(
  getters: Getter[],
  rhs: Rhs,
  negate: boolean,
  text: string,
): (pkt: Packet, env: NodeEnv) => MatchResult {
  const { pred, partial } = rhs;
  const dims = getters.length;
  const decide = (values: readonly Val[]) => pred(values) !== negate;
  if (rhs.unknownWhy) {
    const choice: Choice = { choice: 'unknown', why: `${text}: ${rhs.unknownWhy}` };
    return (pkt, env) => {
      for (const g of getters) if (g.get(pkt, env) === ABSENT) return false;
      return choice;
    };
  }
  if (dims === 1) {
    const g = getters[0] as Getter;
    const one: Val[] = [0];
    return (pkt, env) => {
      const v = g.get(pkt, env);
      if (typeof v !== 'object') {
        if (v === ABSENT) return false;
        one[0] = v;
        return decide(one);
      }
      return undecided([v], partial, decide, negate, text);
    };
  }
  return (pkt, env) => {
    const values: Got[] = new Array(dims);
    let known = true;
    for (let i = 0; i < dims; i++) {
      const v = (getters[i] as Getter).get(pkt, env);
      if (v === ABSENT) return false;
      if (typeof v === 'object') known = false;
      values[i] = v;
    }
    if (known) return decide(values as Val[]);
    return undecided(values, partial, decide, negate, text);
  };
}

/** Some components are unknown: try their possible values, then the known components alone. */
function undecided(
  values: Got[],
  partial: PartialPred,
  decide: (v: readonly Val[]) => boolean,
  negate: boolean,
  text: string,
): MatchResult {
  const unknowns = values.filter(isUnknown) as Unknown[];
  const random = unknowns.every((u) => u.random);
  let combos = 1;
  for (const u of unknowns) combos *= u.possible ? u.possible.length : Number.POSITIVE_INFINITY;
  if (combos <= MAX_COMBOS) {
    let seenTrue = false;
    let seenFalse = false;
    const cur: Val[] = values.map((v) => (isUnknown(v) ? 0 : (v as Val)));
    const walk = (i: number): void => {
      if (seenTrue && seenFalse) return;
      if (i === values.length) {
        if (decide(cur)) seenTrue = true;
        else seenFalse = true;
        return;
      }
      const v = values[i] as Got;
      if (!isUnknown(v)) {
        walk(i + 1);
        return;
      }
      for (const p of v.possible ?? []) {
        cur[i] = p;
        walk(i + 1);
      }
    };
    walk(0);
    if (!(seenTrue && seenFalse)) return seenTrue;
  } else {
    const r = partial(values.map((v) => (isUnknown(v) ? undefined : (v as Val))));
    if (r !== undefined) return r !== negate;
  }
  const first = unknowns[0] as Unknown;
  return { choice: random ? 'random' : 'unknown', why: random ? text : `${text}: ${first.unknown}` };
}

function compileRhs(op: string, right: unknown, getters: Getter[], ctx: CompileContext): Rhs | string {
  const types = getters.map((g) => g.type);
  const single = types.length === 1 ? (types[0] as NftType) : undefined;
  // Named set: "@name".
  if (typeof right === 'string' && right.startsWith('@')) {
    if (op !== '==' && op !== '!=' && op !== 'in') return `operator ${op} cannot take a set`;
    const name = right.slice(1);
    const set = ctx.namedSet(name, types);
    if (!set) return `no set or map named ${name} in table ${ctx.table}`;
    if (set.dims !== types.length) return `set ${name} has ${set.dims} components, the match ${types.length}`;
    return setRhs(set, right);
  }
  const k = kindOf(right);
  if (k === 'set') {
    if (op !== '==' && op !== '!=' && op !== 'in') return `operator ${op} cannot take a set`;
    const items = (right as { set: unknown }).set;
    const list = Array.isArray(items) ? items : [items];
    const { set, problems } = buildSet<never>('', types, list);
    for (const p of problems) ctx.issue('error', `anonymous set: ${p}`);
    set.text = `{ ${set.elements.map((e) => elementText(set, e)).join(', ')} }`;
    return setRhs(set, set.text);
  }
  // A plain list: flags OR-ed together for flag types (`ct state established,related`), else a set.
  if (Array.isArray(right)) {
    if (single?.bitmask) {
      const mask = parseConstant(single, right);
      if (typeof mask !== 'number') return `bad flag list ${JSON.stringify(right)}`;
      return flagRhs(op, mask, single);
    }
    const { set, problems } = buildSet<never>('', types, right);
    for (const p of problems) ctx.issue('error', `list: ${p}`);
    set.text = `{ ${set.elements.map((e) => elementText(set, e)).join(', ')} }`;
    return setRhs(set, set.text);
  }
  if (k === '|' && single?.bitmask) {
    const mask = parseConstant(single, right);
    if (typeof mask !== 'number') return `bad flag list ${JSON.stringify(right)}`;
    const rhs = flagRhs(op, mask, single);
    rhs.text = rhs.text.replace(/,/g, ' | ');
    return rhs;
  }
  // A concatenation constant (`10.0.0.1 . tcp . 80`), possibly with ranges inside.
  if (k === 'concat') {
    const comps = (right as { concat: unknown }).concat;
    if (!Array.isArray(comps) || comps.length !== types.length)
      return `concatenation of ${Array.isArray(comps) ? comps.length : '?'} values against ${types.length}`;
    const parts: Part[] = [];
    for (let i = 0; i < comps.length; i++) {
      const p = parsePart(comps[i], types[i] as NftType);
      if (typeof p === 'string') return p;
      parts.push(p);
    }
    if (op !== '==' && op !== '!=') return `operator ${op} cannot compare concatenations`;
    return partsRhs(parts, types);
  }
  if (typeof right === 'boolean') {
    // Existence checks (`fib ... oif missing`, `exthdr frag exists`): the getter answers 0/absent or a value.
    const want = right;
    return {
      pred: (v) => (v[0] !== 0 && v[0] !== '') === want,
      partial: () => undefined,
      text: want ? 'exists' : 'missing',
    };
  }
  if (types.length !== 1) return `a single value ${JSON.stringify(right)} against a concatenation`;
  const type = single as NftType;
  const part = parsePart(right, type);
  if (typeof part === 'string') return part;
  if (op === 'in' && type.bitmask && 'eq' in part && typeof part.eq === 'number') return flagRhs(op, part.eq, type);
  if (op === '<' || op === '>' || op === '<=' || op === '>=') {
    if (!('eq' in part)) return `operator ${op} needs a single value`;
    const c = part.eq;
    const cmp: Record<string, (v: Val) => boolean> = {
      '<': (v) => v < c,
      '>': (v) => v > c,
      '<=': (v) => v <= c,
      '>=': (v) => v >= c,
    };
    const f = cmp[op] as (v: Val) => boolean;
    return { pred: (v) => f(v[0] as Val), partial: () => undefined, text: type.format(c) };
  }
  return partsRhs([part], types, right);
}

function partsRhs(parts: Part[], types: NftType[], rawRight?: unknown): Rhs {
  const text = parts.map((p, i) => partRhsText(p, types[i] as NftType, rawRight)).join(' . ');
  const rhs: Rhs = {
    pred: (v) => {
      for (let i = 0; i < parts.length; i++) if (!partMatches(parts[i] as Part, v[i] as Val)) return false;
      return true;
    },
    partial: (v) => {
      for (let i = 0; i < parts.length; i++) {
        const x = v[i];
        if (x !== undefined && !partMatches(parts[i] as Part, x)) return false;
      }
      return undefined;
    },
    text,
  };
  const only = parts.length === 1 ? parts[0] : undefined;
  const t = types[0];
  if (only && t && (t.name === 'ipv4_addr' || t.name === 'ipv6_addr')) {
    if ('eq' in only) rhs.exactDst = t.format(only.eq);
    else if ('lo' in only && only.lo === only.hi) rhs.exactDst = t.format(only.lo);
  }
  return rhs;
}

/** nft prints prefixes as `10.0.0.0/8` and ranges as `a-b`. */
function partRhsText(part: Part, type: NftType, raw: unknown): string {
  if (isObject(raw) && 'prefix' in raw) {
    const p = raw.prefix as { addr?: unknown; len?: unknown };
    return `${String(p.addr)}/${String(p.len)}`;
  }
  return partText(part, type);
}

function flagRhs(op: string, mask: number, type: NftType): Rhs {
  const text = type.format(mask);
  if (op === 'in') return { pred: (v) => ((v[0] as number) & mask) >>> 0 !== 0, partial: () => undefined, text };
  return { pred: (v) => v[0] === mask, partial: () => undefined, text };
}

function setRhs(set: CompiledSet, text: string): Rhs {
  const rhs: Rhs = {
    pred: (v) => lookup(set, v) >= 0,
    partial: (v) => (candidates(set, v).length === 0 ? false : undefined),
    text,
  };
  if (set.dynamic) rhs.unknownWhy = set.dynamic;
  // A one-element anonymous set of one address is the same as the address (`ip daddr { 10.0.0.1 }`).
  if (set.elements.length === 1 && set.dims === 1 && !set.dynamic) {
    const part = set.elements[0]?.parts[0];
    const t = set.types[0];
    if (part && t && (t.name === 'ipv4_addr' || t.name === 'ipv6_addr') && 'eq' in part)
      rhs.exactDst = t.format(part.eq);
  }
  return rhs;
}
