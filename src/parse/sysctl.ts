/**
 * Parser for `sysctl -a` (`key = value` lines). Keys keep sysctl's own spelling: dots between levels, and a dot inside
 * an interface name printed as a slash (`net.ipv4.conf.flannel/1.rp_filter`). `sysctlKey` builds such keys.
 */
import type { ParseIssue } from '../core/errors.js';
import { IssueList } from './ip-link.js';

export interface SysctlParseResult {
  values: Map<string, string>;
  issues: ParseIssue[];
}

/** The sysctl key of a per-interface setting: `sysctlKey('net.ipv4.conf', 'flannel.1', 'rp_filter')`. */
export function sysctlKey(prefix: string, dev: string, leaf: string): string {
  return `${prefix}.${dev.replace(/\./g, '/')}.${leaf}`;
}

export function parseSysctl(text: string, file: string): SysctlParseResult {
  const issues = new IssueList(file);
  const values = new Map<string, string>();
  if (text.trim() === '') issues.add(1, 'warning', 'empty input: expected the output of `sysctl -a`');
  const lines = text.split('\n');
  for (let k = 0; k < lines.length; k++) {
    const line = (lines[k] as string).replace(/\r$/, '');
    if (line.trim() === '' || /^\s*[#;]/.test(line)) continue;
    // Messages sysctl prints for keys it can't read (to stderr, but often captured together with stdout).
    if (line.startsWith('sysctl:')) {
      const key = /key ['"]?([^'"\s,]+)/.exec(line)?.[1];
      const why = /permission denied/i.test(line)
        ? 'permission denied'
        : /reading key/i.test(line)
          ? 'could not be read'
          : 'error';
      issues.add(k + 1, 'warning', key ? `sysctl ${key}: ${why}; its value is unknown` : `sysctl: ${why}`, line);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) {
      issues.add(k + 1, 'warning', 'not a "key = value" line; skipped', line);
      continue;
    }
    const key = line.slice(0, eq).trim();
    if (!/^[\w.\-/:@]+$/.test(key)) {
      issues.add(k + 1, 'warning', `"${key.slice(0, 60)}" is not a sysctl key; line skipped`, line);
      continue;
    }
    // Multi-field values are tab-separated (net.ipv4.tcp_rmem = 4096	131072	6291456); keep them as they are.
    values.set(key, line.slice(eq + 1).trim());
  }
  return { values, issues: issues.done() };
}
