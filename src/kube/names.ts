/** Close-match suggestions for names a user typed ("did you mean ...?"). */
import { InputError } from '../core/errors.js';

/** Levenshtein distance, with an early exit above `max`. */
export function editDistance(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  if (a === b) return 0;
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(
        (prev[j] as number) + 1,
        (cur[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      cur.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    prev = cur;
  }
  return prev[b.length] as number;
}

/**
 * The candidates closest to `name`, best first: within an edit distance of about a third of the name (at least 2),
 * or that start with it (a pod typed as its Deployment's name: `echo` → `echo-7d9f-abcde`). At most `limit`.
 */
export function closeMatches(name: string, candidates: Iterable<string>, limit = 3): string[] {
  const max = Math.max(2, Math.floor(name.length / 3));
  const scored: { c: string; d: number }[] = [];
  for (const c of new Set(candidates)) {
    if (c === name) continue;
    const d = editDistance(name.toLowerCase(), c.toLowerCase(), max);
    if (d <= max) scored.push({ c, d });
    else if (name.length >= 2 && c.toLowerCase().startsWith(name.toLowerCase())) scored.push({ c, d: max + 1 });
  }
  scored.sort((x, y) => x.d - y.d || x.c.localeCompare(y.c));
  return scored.slice(0, limit).map((s) => s.c);
}

/** A Kubernetes object the user named that the bundle does not hold. Exit code 2, like every input error. */
export class NotFoundError extends InputError {
  override name = 'NotFoundError';
  constructor(
    /** What was looked for: `pod`, `service`, `node`, `service port`. */
    readonly what: string,
    /** What the user typed, e.g. `default/ech`. */
    readonly ref: string,
    /** Close matches, in the same form as `ref`. */
    readonly suggestions: string[],
    /** Extra context for the message (e.g. the ports a service has). */
    hint?: string,
  ) {
    super(
      `${what} ${ref} not found in the bundle${suggestions.length ? `; did you mean ${suggestions.join(', ')}?` : ''}${hint ? ` (${hint})` : ''}`,
    );
  }
}
