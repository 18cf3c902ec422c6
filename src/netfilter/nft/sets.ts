/**
 * nft sets and maps, named (`@service-ips`) and anonymous (`{ 22, 80-90 }`). Elements of single values are found by a
 * string key in a Map (kube-proxy's service map has one element per service port); ranges, prefixes and interface
 * wildcards are kept apart and searched, one-dimensional ones by binary search over sorted intervals.
 */
import type { NftType, Val } from './types.js';
import { compareVals } from './types.js';

/** One component of an element: a value, an inclusive range, or an interface-name prefix (`"cali*"`). */
export type Part = { eq: Val } | { lo: Val; hi: Val; text?: string } | { prefix: string };

export interface SetElement<D> {
  parts: Part[];
  data: D | undefined;
}

/** An element's key as nft prints it (`10.0.0.1 . tcp . 80`). */
export function elementText<D>(set: CompiledSet<D>, el: SetElement<D>): string {
  return el.parts.map((p, i) => partText(p, set.types[i] as NftType)).join(' . ');
}

export interface CompiledSet<D = unknown> {
  /** `@name` for named sets, the element list for anonymous ones. */
  text: string;
  dims: number;
  types: NftType[];
  elements: SetElement<D>[];
  /** Elements made of single values only, by key. */
  exact: Map<string, number>;
  /** Elements with a range, prefix or wildcard in some component, in element order. */
  others: number[];
  /** One-dimensional numeric ranges, sorted by lower bound, for binary search (when they do not overlap). */
  sorted?: { lo: Val[]; hi: Val[]; idx: number[] };
  /** Set when membership cannot be known from the dump (a set the traffic itself fills). */
  dynamic?: string;
}

export function keyOf(values: readonly Val[]): string {
  if (values.length === 1) return String(values[0]);
  let s = String(values[0]);
  for (let i = 1; i < values.length; i++) s += `\u0001${String(values[i])}`;
  return s;
}

export function partMatches(part: Part, v: Val): boolean {
  if ('eq' in part) return part.eq === v;
  if ('prefix' in part) return typeof v === 'string' && v.startsWith(part.prefix);
  return part.lo <= v && v <= part.hi;
}

export function partText(part: Part, type: NftType): string {
  if ('eq' in part) return type.format(part.eq);
  if ('prefix' in part) return `"${part.prefix}*"`;
  return part.text ?? `${type.format(part.lo)}-${type.format(part.hi)}`;
}

/** Turn the JSON of one element component into a Part; a string error says why it can't be. */
export function parsePart(json: unknown, type: NftType): Part | string {
  if (json && typeof json === 'object' && !Array.isArray(json)) {
    const o = json as Record<string, unknown>;
    if ('prefix' in o) {
      const p = o.prefix as { addr?: unknown; len?: unknown } | undefined;
      const r = type.prefix?.(p?.addr, Number(p?.len));
      if (!r) return `bad prefix ${JSON.stringify(o.prefix)} for ${type.name}`;
      return { lo: r[0], hi: r[1], text: `${String(p?.addr)}/${String(p?.len)}` };
    }
    if ('range' in o && Array.isArray(o.range) && o.range.length === 2) {
      const lo = partBound(o.range[0], type, 'lo');
      const hi = partBound(o.range[1], type, 'hi');
      if (lo === undefined || hi === undefined) return `bad range ${JSON.stringify(o.range)} for ${type.name}`;
      return { lo, hi };
    }
    if ('elem' in o) return parsePart((o.elem as Record<string, unknown>)?.val, type);
    return `unsupported element ${JSON.stringify(json).slice(0, 80)}`;
  }
  if (type.name === 'ifname' && typeof json === 'string' && json.endsWith('*') && !json.endsWith('\\*'))
    return { prefix: json.slice(0, -1) };
  const v = type.parse(json);
  if (v === undefined) return `"${String(json)}" is not a ${type.name}`;
  return { eq: v };
}

/** A range bound may itself be a prefix (`10.0.0.0/8` in a concatenation range): take its low or high end. */
function partBound(json: unknown, type: NftType, end: 'lo' | 'hi'): Val | undefined {
  const p = parsePart(json, type);
  if (typeof p === 'string') return undefined;
  if ('eq' in p) return p.eq;
  if ('lo' in p) return end === 'lo' ? p.lo : p.hi;
  return undefined;
}

/** Unwrap `{"elem": {"val": ...}}` (elements with a comment or timeout). */
function unwrap(json: unknown): unknown {
  if (json && typeof json === 'object' && !Array.isArray(json) && 'elem' in json)
    return (json as { elem?: { val?: unknown } }).elem?.val;
  return json;
}

/**
 * Build a set from its JSON element list. For maps each element is `[key, data]` and `data` turns the data part into
 * what the user of the map needs (a verdict, an address). Problems are returned, not thrown; bad elements are skipped.
 */
export function buildSet<D>(
  text: string,
  types: NftType[],
  elems: unknown[],
  data?: (json: unknown) => D | string,
): { set: CompiledSet<D>; problems: string[] } {
  const set: CompiledSet<D> = { text, dims: types.length, types, elements: [], exact: new Map(), others: [] };
  const problems: string[] = [];
  for (const raw of elems) {
    let keyJson: unknown = raw;
    let dataJson: unknown;
    if (data) {
      if (!Array.isArray(raw) || raw.length !== 2) {
        problems.push(`map element ${JSON.stringify(raw).slice(0, 80)} is not a [key, value] pair`);
        continue;
      }
      keyJson = raw[0];
      dataJson = raw[1];
    }
    keyJson = unwrap(keyJson);
    const comps: unknown[] =
      keyJson && typeof keyJson === 'object' && !Array.isArray(keyJson) && 'concat' in keyJson
        ? ((keyJson as { concat: unknown[] }).concat ?? [])
        : [keyJson];
    if (!Array.isArray(comps) || comps.length !== types.length) {
      problems.push(
        `element ${JSON.stringify(keyJson).slice(0, 80)} has ${Array.isArray(comps) ? comps.length : '?'} components, the set ${types.length}`,
      );
      continue;
    }
    const parts: Part[] = [];
    let bad: string | undefined;
    for (let i = 0; i < comps.length && !bad; i++) {
      const p = parsePart(comps[i], types[i] as NftType);
      if (typeof p === 'string') bad = p;
      else parts.push(p);
    }
    if (bad) {
      problems.push(bad);
      continue;
    }
    let d: D | undefined;
    if (data) {
      const r = data(dataJson);
      if (typeof r === 'string') {
        problems.push(r);
        continue;
      }
      d = r;
    }
    const idx = set.elements.length;
    set.elements.push({ parts, data: d });
    if (parts.every((p) => 'eq' in p)) {
      const key = keyOf(parts.map((p) => (p as { eq: Val }).eq));
      if (!set.exact.has(key)) set.exact.set(key, idx);
    } else set.others.push(idx);
  }
  if (set.dims === 1 && set.others.length > 16) {
    const ranges = set.others.filter((i) => 'lo' in ((set.elements[i] as SetElement<D>).parts[0] as Part));
    if (ranges.length === set.others.length) {
      const sorted = ranges.slice().sort((a, b) => compareVals(lo(set, a), lo(set, b)));
      let overlap = false;
      for (let k = 1; k < sorted.length && !overlap; k++)
        overlap = hi(set, sorted[k - 1] as number) >= lo(set, sorted[k] as number);
      if (!overlap) set.sorted = { lo: sorted.map((i) => lo(set, i)), hi: sorted.map((i) => hi(set, i)), idx: sorted };
    }
  }
  return { set, problems };
}

function lo<D>(set: CompiledSet<D>, i: number): Val {
  return ((set.elements[i] as SetElement<D>).parts[0] as { lo: Val }).lo;
}
function hi<D>(set: CompiledSet<D>, i: number): Val {
  return ((set.elements[i] as SetElement<D>).parts[0] as { hi: Val }).hi;
}

/** The first element matching fully known key values, or -1. */
export function lookup<D>(set: CompiledSet<D>, values: readonly Val[]): number {
  const hit = set.exact.get(keyOf(values));
  if (hit !== undefined) return hit;
  if (set.sorted) {
    const v = values[0] as Val;
    const { lo: los, hi: his, idx } = set.sorted;
    let a = 0;
    let b = los.length - 1;
    let found = -1;
    while (a <= b) {
      const m = (a + b) >> 1;
      if ((los[m] as Val) <= v) {
        found = m;
        a = m + 1;
      } else b = m - 1;
    }
    return found >= 0 && v <= (his[found] as Val) ? (idx[found] as number) : -1;
  }
  for (const i of set.others) {
    const el = set.elements[i] as SetElement<D>;
    let ok = true;
    for (let k = 0; k < el.parts.length && ok; k++) ok = partMatches(el.parts[k] as Part, values[k] as Val);
    if (ok) return i;
  }
  return -1;
}

/**
 * Elements that can match when some key components are unknown (undefined in `values`): every candidate index, in
 * element order. Used only on the unknown path, so a scan is fine.
 */
export function candidates<D>(set: CompiledSet<D>, values: readonly (Val | undefined)[]): number[] {
  const out: number[] = [];
  set.elements.forEach((el, i) => {
    for (let k = 0; k < el.parts.length; k++) {
      const v = values[k];
      if (v !== undefined && !partMatches(el.parts[k] as Part, v)) return;
    }
    out.push(i);
  });
  return out;
}
