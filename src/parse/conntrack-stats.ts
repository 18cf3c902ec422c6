/**
 * Parser for `conntrack -S`: one line per CPU of `key=value` counters (`cpu=0 found=0 invalid=12 insert=0
 * insert_failed=3 drop=0 early_drop=0 error=0 search_restart=7 clash_resolve=2 chaintoolong=0`; older tools print
 * `searched`, `new`, `ignore`, `delete`, ...). Counters are cumulative since boot. A line `entries N` (older
 * conntrack-tools with -S) gives the table's current size.
 */
import type { ParseIssue } from '../core/errors.js';
import { IssueList } from './ip-link.js';

export interface ConntrackCpuStats {
  cpu: number;
  counters: Record<string, number>;
  line: number;
}

export interface ConntrackStats {
  cpus: ConntrackCpuStats[];
  /** Each counter summed over the CPUs. */
  totals: Record<string, number>;
  /** The table's size, when the output gives it. */
  entries?: number;
}

export function parseConntrackStats(text: string, file: string): { stats: ConntrackStats; issues: ParseIssue[] } {
  const issues = new IssueList(file);
  const stats: ConntrackStats = { cpus: [], totals: {} };
  text.split('\n').forEach((raw, k) => {
    const line = raw.trim();
    if (line === '') return;
    const entries = /^entries\s+(\d+)$/.exec(line);
    if (entries) {
      stats.entries = Number(entries[1]);
      return;
    }
    const pairs = line.split(/\s+/).map((w) => /^([a-z_]+)=(\d+)$/.exec(w));
    if (pairs.length === 0 || pairs.some((p) => !p) || pairs[0]?.[1] !== 'cpu') {
      issues.add(k + 1, 'warning', 'not a `conntrack -S` line (cpu=N key=value ...); skipped', line);
      return;
    }
    const counters: Record<string, number> = {};
    for (const p of pairs.slice(1)) counters[(p as RegExpExecArray)[1] as string] = Number((p as RegExpExecArray)[2]);
    stats.cpus.push({ cpu: Number(pairs[0]?.[2]), counters, line: k + 1 });
    for (const [key, v] of Object.entries(counters)) stats.totals[key] = (stats.totals[key] ?? 0) + v;
  });
  return { stats, issues: issues.done() };
}
