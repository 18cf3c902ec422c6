/** The fix for a branch's decisive object, when one of `diagnose`'s checks names the same object. */
import type { Finding } from '../core/vocabulary.js';
import type { TraceResult } from './types.js';

export function attachFixes(r: TraceResult, findings: readonly Finding[]): void {
  for (const b of r.branches) {
    const d = b.decisive;
    if (!d) continue;
    const f = findings.find((x) =>
      x.evidence.some(
        (e) =>
          (e.node ?? x.node) === d.node &&
          (d.kind === 'rule'
            ? e.kind === 'rule' && e.chain === d.chain && e.index === d.index && (e.table ?? d.table) === d.table
            : e.text === d.text),
      ),
    );
    if (f?.fix.length) b.fix = f.fix;
  }
}
