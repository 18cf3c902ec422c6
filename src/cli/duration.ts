/**
 * Durations on the command line, kubectl style: `500ms`, `30s`, `2m`, `1m30s`, `1h`, or a bare number of seconds.
 */
import { UsageError } from '../core/errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds; a UsageError naming the flag for anything else. */
export function parseDuration(text: string, flag: string): number {
  const v = text.trim();
  let ms = Number.NaN;
  if (/^\d+(\.\d+)?$/.test(v)) ms = Number(v) * 1000;
  else if (/^(\d+(\.\d+)?(ms|h|m|s))+$/.test(v)) {
    ms = 0;
    for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) ms += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  }
  if (!Number.isFinite(ms) || ms <= 0)
    throw new UsageError(`${flag}: "${text}" is not a duration (examples: 500ms, 30s, 2m, 1m30s)`);
  return Math.round(ms);
}
