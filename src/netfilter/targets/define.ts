/**
 * The shape of an iptables target (`-j NAME --opt ...`): what it does to the packet and how the chain goes on.
 * One family of targets per file; `registry.ts` lists them.
 */
import type { IpFamily } from '../../core/ip.js';
import type { ParsedOption } from '../matches/define.js';
import type { Flow, NodeEnv, Packet, Rewrite } from '../model.js';

export interface TargetContext {
  family: IpFamily;
  table: string;
  /** The rule's `-p` protocol number, when given and not negated. */
  proto?: number;
}

export interface CompiledTarget {
  apply(pkt: Packet, env: NodeEnv, rewrites: Rewrite[]): Flow;
  canonical: string;
}

export interface TargetModule {
  name: string;
  /** Options this target owns, without dashes; `*` takes any. */
  options: readonly string[];
  compile(opts: ParsedOption[], ctx: TargetContext): CompiledTarget;
}

export class TargetError extends Error {
  override name = 'TargetError';
}

export function defineTarget(t: TargetModule): TargetModule {
  return t;
}

export const CONTINUE: Flow = { kind: 'continue' };

export function optionsText(opts: ParsedOption[]): string {
  return opts
    .map((o) => `${o.negated ? '! ' : ''}--${o.name}${o.values.length ? ` ${o.values.join(' ')}` : ''}`)
    .join(' ');
}
