/** Durations on the command line, kubectl style: `500ms`, `30s`, `2m`, `1h`, or a bare number of seconds. */
import { UsageError } from '../core/errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds; a UsageError naming the flag for anything else. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  const ms = m ? Number(m[1]) * (UNIT_MS[m[2] ?? 's'] as number) : Number.NaN;
  if (!Number.isFinite(ms) || ms <= 0)
    throw new UsageError(`${flag}: "${text}" is not a duration (examples: 500ms, 30s, 2m)`);
  return Math.round(ms);
}
