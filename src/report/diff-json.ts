/** The JSON report of `diff`: `{"schemaVersion": 1, "a", "b", "differences": [...]}`; `--all` adds the odd ones out. */
import type { DiffAllResult, DiffResult } from '../diff/types.js';

export const DIFF_SCHEMA = 1;

export function formatDiffJson(r: DiffResult): string {
  return `${JSON.stringify({ schemaVersion: DIFF_SCHEMA, ...r }, null, 2)}\n`;
}

export function formatDiffAllJson(r: DiffAllResult): string {
  const differences = r.oddOnesOut.flatMap((o) => o.differences);
  return `${JSON.stringify({ schemaVersion: DIFF_SCHEMA, ...r, differences }, null, 2)}\n`;
}
