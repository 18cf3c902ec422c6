import type { CompileContext, Getter } from './context.js';
import { compileCt } from './ct.js';
import { compileFib } from './fib.js';
import { compileMeta } from './meta.js';
import { compilePayload } from './payload.js';
import {
  ABSENT,
  type Got,
  INTEGER,
  isUnknown,
  type NftType,
  parseConstant,
  RAW,
  type Unknown,
  type Val,
} from './types.js';

export const BINOPS = ['&', '|', '^', '<<', '>>'] as const;
export type Binop = (typeof BINOPS)[number];

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The single key of an expression object (`payload`, `meta`, `&`...). */
export function kindOf(json: unknown): string | undefined {
  if (!isObject(json)) return undefined;
  const keys = Object.keys(json);
  return keys.length === 1 ? keys[0] : undefined;
}

function unknownGetter(text: string, why: string): Getter {
  const u: Unknown = { unknown: why };
  return { type: RAW, text, get: () => u };
}

/** A number generator or hash: every value in [offset, offset + mod) is possible; the kernel picks. */
function compileGenerator(kind: string, json: Record<string, unknown>, ctx: CompileContext): Getter {
  const mod = Number(json.mod);
  const offset = Number(json.offset ?? 0);
  let text: string;
  // jhash reads packet fields: a field the packet lacks ends the rule before any hashing.
  let inputs: Getter[] = [];
  if (kind === 'numgen') text = `numgen ${String(json.mode)} mod ${mod}${offset ? ` offset ${offset}` : ''}`;
  else if (kind === 'jhash') {
    const parts = kindOf(json.expr) === 'concat' ? (json.expr as { concat: unknown }).concat : [json.expr];
    inputs = json.expr === undefined || !Array.isArray(parts) ? [] : parts.map((p) => compileGetter(p, ctx));
    const inner = inputs.length ? inputs.map((g) => g.text).join(' . ') : '?';
    text = `jhash ${inner} mod ${mod}${json.seed !== undefined ? ` seed 0x${Number(json.seed).toString(16)}` : ''}${offset ? ` offset ${offset}` : ''}`;
  } else text = `symhash mod ${mod}${offset ? ` offset ${offset}` : ''}`;
  if (!Number.isInteger(mod) || mod < 1 || mod > 65536 || !Number.isInteger(offset)) {
    ctx.issue('error', `${kind}: bad mod ${String(json.mod)} / offset ${String(json.offset)}`);
    return unknownGetter(text, `${text}: bad parameters`);
  }
  const possible: Val[] = [];
  for (let i = 0; i < mod; i++) possible.push(((offset + i) >>> 0) as number);
  const why = kind === 'numgen' ? text : `${text} (a hash of the packet, taken as random)`;
  const u: Unknown = { unknown: why, possible, random: true };
  if (inputs.length === 0) return { type: INTEGER, text, get: () => u, random: true };
  return {
    type: INTEGER,
    text,
    get: (p, env) => {
      for (const g of inputs) if (g.get(p, env) === ABSENT) return ABSENT;
      return u;
    },
    random: true,
  };
}

function applyBinop(op: Binop, a: Val, b: Val): Val | undefined {
  if (typeof a === 'number' && typeof b === 'number') {
    switch (op) {
      case '&':
        return (a & b) >>> 0;
      case '|':
        return (a | b) >>> 0;
      case '^':
        return (a ^ b) >>> 0;
      case '<<':
        return (a << b) >>> 0;
      case '>>':
        return a >>> b;
    }
  }
  if (typeof a === 'bigint' && typeof b === 'bigint') {
    const all = (1n << 128n) - 1n;
    switch (op) {
      case '&':
        return a & b;
      case '|':
        return a | b;
      case '^':
        return a ^ b;
      case '<<':
        return (a << b) & all;
      case '>>':
        return a >> b;
    }
  }
  return undefined;
}

const OP_TEXT: Record<Binop, string> = { '&': '&', '|': '|', '^': '^', '<<': '<<', '>>': '>>' };

/** Binary operation with a constant right side, evaluated on the left's value (also on each possible value). */
function compileBinop(op: Binop, args: unknown, ctx: CompileContext): Getter {
  if (!Array.isArray(args) || args.length !== 2) {
    ctx.issue('error', `"${op}" needs two operands`);
    return unknownGetter('?', `malformed "${op}" expression`);
  }
  const left = compileGetter(args[0], ctx);
  const rightJson = args[1];
  // The right side is a constant (`0x4000`, `syn|ack`, `255.255.0.0`) or, rarely, another expression.
  const shiftType = op === '<<' || op === '>>' ? INTEGER : left.type;
  let constant = parseConstant(shiftType, rightJson);
  if (constant === undefined && typeof rightJson === 'number' && Number.isInteger(rightJson) && rightJson >= 0)
    constant = rightJson;
  if (constant !== undefined) {
    const operand: Val = left.type.name === 'ipv6_addr' && typeof constant === 'number' ? BigInt(constant) : constant;
    const text = `${left.text} ${OP_TEXT[op]} ${formatOperand(shiftType, constant)}`;
    const apply = (v: Val): Val | undefined => applyBinop(op, v, operand);
    return {
      type: left.type,
      text,
      get: (p, env) => {
        const v = left.get(p, env);
        if (isUnknown(v)) {
          if (!v.possible) return v;
          const mapped: Val[] = [];
          for (const x of v.possible) {
            const r = apply(x);
            if (r === undefined) return { unknown: v.unknown };
            if (!mapped.includes(r)) mapped.push(r);
          }
          return { ...v, possible: mapped };
        }
        if (typeof v === 'symbol') return v;
        const r = apply(v);
        return r === undefined ? { unknown: `${text}: operands of different kinds` } : r;
      },
    };
  }
  const right = compileGetter(rightJson, ctx);
  const text = `${left.text} ${OP_TEXT[op]} ${right.text}`;
  return {
    type: left.type,
    text,
    get: (p, env) => {
      const a = left.get(p, env);
      const b = right.get(p, env);
      if (typeof a === 'symbol' || typeof b === 'symbol') return typeof a === 'symbol' ? a : b;
      if (isUnknown(a)) return a;
      if (isUnknown(b)) return b;
      const r = applyBinop(op, a, b);
      return r === undefined ? { unknown: `${text}: operands of different kinds` } : r;
    },
  };
}

function formatOperand(type: NftType, v: Val): string {
  return type.bitmask && typeof v === 'number' ? type.format(v).replace(/,/g, '|') : type.format(v);
}

/** Compile a left-hand side (or statement value that reads the packet). Never throws. */
export function compileGetter(json: unknown, ctx: CompileContext): Getter {
  const kind = kindOf(json);
  if (!kind) {
    ctx.issue('error', `expected an expression, found ${JSON.stringify(json)?.slice(0, 80)}`);
    return unknownGetter('?', 'unreadable expression');
  }
  const body = (json as Record<string, unknown>)[kind];
  if ((BINOPS as readonly string[]).includes(kind)) return compileBinop(kind as Binop, body, ctx);
  const obj = isObject(body) ? body : {};
  const key = simpleKey(kind, obj);
  if (key === undefined) return compileKind(kind, obj, ctx);
  let g = ctx.getters.get(key);
  if (!g) {
    g = compileKind(kind, obj, ctx);
    ctx.getters.set(key, g);
  }
  return g;
}

/** A cache key for the common expressions whose body is a few strings; undefined for the rest. */
function simpleKey(kind: string, obj: Record<string, unknown>): string | undefined {
  switch (kind) {
    case 'payload':
      return typeof obj.protocol === 'string' ? `payload ${obj.protocol} ${String(obj.field)}` : undefined;
    case 'meta':
      return `meta ${String(obj.key)}`;
    case 'ct':
      return `ct ${String(obj.key)} ${String(obj.dir)} ${String(obj.family)}`;
    default:
      return undefined;
  }
}

function compileKind(kind: string, obj: Record<string, unknown>, ctx: CompileContext): Getter {
  switch (kind) {
    case 'payload':
      return compilePayload(obj, ctx);
    case 'meta':
      return compileMeta(obj, ctx);
    case 'ct':
      return compileCt(obj, ctx);
    case 'fib':
      return compileFib(obj, ctx);
    case 'numgen':
    case 'jhash':
    case 'symhash':
      return compileGenerator(kind, obj, ctx);
    default: {
      const why = `${kind} expressions (not modelled)`;
      ctx.unsupported(kind, why);
      return unknownGetter(describeUnsupported(kind, obj), why);
    }
  }
}

function describeUnsupported(kind: string, obj: Record<string, unknown>): string {
  const bits = [obj.name, obj.field, obj.key].filter((x) => typeof x === 'string');
  return [kind, ...bits].join(' ');
}

/** A getter for a constant value (statement arguments such as `meta mark set 0x10`). */
function constantGetter(type: NftType, v: Val, text: string): Getter {
  return { type, text, get: () => v };
}

/** Evaluate a getter to a definite value, or say why not. */
export function definite(g: Got): Val | undefined {
  return typeof g === 'symbol' || isUnknown(g) ? undefined : g;
}

/** A getter that evaluates a value expression of a known type: a constant, or something read from the packet. */
export function compileValue(json: unknown, type: NftType, ctx: CompileContext): Getter {
  if (!isObject(json) || Array.isArray(json)) {
    const v = parseConstant(type, json);
    if (v === undefined) {
      ctx.issue('error', `"${String(json)}" is not a ${type.name}`);
      return unknownGetter(String(json), `"${String(json)}" is not a ${type.name}`);
    }
    return constantGetter(type, v, formatOperand(type, v));
  }
  return compileGetter(json, ctx);
}
