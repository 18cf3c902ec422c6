/**
 * One nft rule: its statements in order, compiled to model expressions, with the rule's nft text and canonical form.
 * Identical statements (kube-proxy writes the same `jump mark-for-masquerade` thousands of times) compile once.
 */
import type { Expr } from '../model.js';
import type { CompileContext } from './context.js';
import { type CompiledStmt, compileStatement } from './statements.js';

export interface CompiledRule {
  exprs: Expr[];
  text: string;
  canonical: string;
  exactDst?: string;
}

export interface ChainInfo {
  hook?: string;
  priority?: number;
}

/** Statement cache of one table: statement JSON text → compiled statement. */
export type StatementCache = Map<string, CompiledStmt>;

/**
 * A cache key for a statement: built by hand for the shapes kube-proxy and firewalld repeat most (a match of a
 * header field against a constant, a jump), JSON text for the rest; undefined for statements that are nearly always
 * unique (verdict maps and NAT name a chain or an address each), which are not worth the key.
 */
function statementKey(s: unknown): string | undefined {
  if (typeof s === 'object' && s !== null && !Array.isArray(s)) {
    const o = s as Record<string, unknown>;
    const m = o.match as { op?: unknown; left?: Record<string, unknown>; right?: unknown } | undefined;
    if (m && typeof m.right !== 'object' && m.left) {
      const p = m.left.payload as Record<string, unknown> | undefined;
      const meta = m.left.meta as Record<string, unknown> | undefined;
      const right = `${typeof m.right}:${String(m.right)}`;
      if (p && typeof p.protocol === 'string' && typeof p.field === 'string' && Object.keys(m.left).length === 1)
        return `m\u0001${String(m.op)}\u0001${p.protocol}\u0001${p.field}\u0001${right}`;
      if (meta && typeof meta.key === 'string' && Object.keys(m.left).length === 1)
        return `mm\u0001${String(m.op)}\u0001${meta.key}\u0001${right}`;
    }
    const jump = (o.jump ?? o.goto) as { target?: unknown } | undefined;
    if (jump && typeof jump.target === 'string') return `${o.jump ? 'j' : 'g'}\u0001${jump.target}`;
    if ('vmap' in o || 'dnat' in o || 'snat' in o) return undefined;
  }
  return JSON.stringify(s);
}

export function compileRule(
  statements: unknown[],
  comment: string | undefined,
  ctx: CompileContext,
  chain: ChainInfo,
  cache: StatementCache,
): CompiledRule {
  const exprs: Expr[] = [];
  const text: string[] = [];
  const canon: string[] = [];
  let exactDst: string | undefined;
  // notrack depends on the chain it sits in: keep the chain's place in the key.
  const where = `${chain.hook ?? ''}/${chain.priority ?? ''}`;
  for (const s of statements) {
    const key = statementKey(s);
    let c: CompiledStmt | undefined;
    if (key === undefined) c = compileStatement(s, ctx, chain);
    else {
      const k = `${where}\u0000${key}`;
      c = cache.get(k);
      if (!c) {
        c = compileStatement(s, ctx, chain);
        cache.set(k, c);
      }
    }
    // The index of large chains skips rules by destination: only a match before any action may say which.
    if (c.exactDst !== undefined && !exprs.some((e) => e.kind === 'action')) exactDst ??= c.exactDst;
    exprs.push(...c.exprs);
    if (c.text) text.push(c.text);
    if (c.canonical) canon.push(c.canonical);
  }
  if (comment !== undefined) text.push(`comment "${comment.replace(/"/g, '\\"')}"`);
  const out: CompiledRule = { exprs, text: text.join(' '), canonical: canon.join(' ') };
  if (exactDst !== undefined) out.exactDst = exactDst;
  return out;
}
