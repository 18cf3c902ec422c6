/**
 * The shape of an iptables match module (`-m NAME --opt ...`): which options it owns, and how it turns them into a
 * test on a packet. One module per file; `registry.ts` lists them.
 */
import type { IpFamily } from '../../core/ip.js';
import type { Backend, Choice, MatchResult, NodeEnv, Packet } from '../model.js';

export interface ParsedOption {
  /** Option name without leading dashes (`dport`, `ctstate`). */
  name: string;
  negated: boolean;
  values: string[];
}

export interface MatchContext {
  family: IpFamily;
  /** The rule's `-p` protocol number, when given and not negated. */
  proto?: number;
  /** Which iptables holds the rule: a few matches behave differently in the kernel under iptables-nft. */
  backend?: Backend;
}

/** A compiled match: a test and the canonical text of what it tests. */
export interface CompiledMatch {
  test(pkt: Packet, env: NodeEnv): MatchResult;
  canonical: string;
}

export interface MatchModule {
  name: string;
  aliases?: string[];
  /** Options this module owns, without dashes. */
  options: readonly string[];
  /** Build the test; throw `MatchError` on a bad value. */
  compile(opts: ParsedOption[], ctx: MatchContext): CompiledMatch;
}

export class MatchError extends Error {
  override name = 'MatchError';
}

export function defineMatch(m: MatchModule): MatchModule {
  return m;
}

/** The one value of an option, or an error naming it. */
export function single(o: ParsedOption): string {
  if (o.values.length !== 1) throw new MatchError(`--${o.name} takes one value, got ${o.values.length}`);
  return o.values[0] as string;
}

export function unknownChoice(why: string): Choice {
  return { choice: 'unknown', why };
}
export function randomChoice(why: string): Choice {
  return { choice: 'random', why };
}

/** Canonical `[! ]--name value...` text of an option. */
export function optText(o: ParsedOption, values: string[] = o.values): string {
  return `${o.negated ? '! ' : ''}--${o.name}${values.length ? ` ${values.join(' ')}` : ''}`;
}

/**
 * AND together the per-option tests of one module. A definite false wins over a choice; the first choice is kept
 * otherwise.
 */
export function allOf(
  tests: ((pkt: Packet, env: NodeEnv) => MatchResult)[],
): (pkt: Packet, env: NodeEnv) => MatchResult {
  if (tests.length === 1) return tests[0] as (pkt: Packet, env: NodeEnv) => MatchResult;
  return (pkt, env) => {
    let pending: Choice | undefined;
    for (const t of tests) {
      const r = t(pkt, env);
      if (r === false) return false;
      if (r !== true && !pending) pending = r;
    }
    return pending ?? true;
  };
}

/** Negate a result; a choice stays a choice. */
export function negate(r: MatchResult, negated: boolean): MatchResult {
  if (!negated || typeof r !== 'boolean') return r;
  return !r;
}

/** Parse `0x4000`, `16384`, `0x4000/0xffff` into value and mask. */
export function parseValueMask(text: string, defaultMask = 0xffffffff): { value: number; mask: number } {
  const [v, m] = text.split('/');
  const value = parseUint32(v ?? '');
  const mask = m === undefined ? defaultMask : parseUint32(m);
  return { value, mask };
}

export function parseUint32(text: string): number {
  const n = /^0x[0-9a-f]+$/i.test(text) ? Number.parseInt(text, 16) : /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(n) || n < 0 || n > 0xffffffff) throw new MatchError(`"${text}" is not a 32-bit value`);
  return n >>> 0;
}

export function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}
