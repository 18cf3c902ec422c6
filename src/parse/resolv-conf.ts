/**
 * Parser for `/etc/resolv.conf` with the resolver's (glibc's) rules: the first three nameservers are used, `domain` and
 * `search` replace each other (the last one wins), options are `name` or `name:n` with the library's caps.
 */
import type { ParseIssue } from '../core/errors.js';
import { normalizeIp } from '../core/ip.js';
import { IssueList } from './ip-link.js';

/** The resolver's defaults (resolv.conf(5)). */
export const RESOLV_DEFAULTS = { ndots: 1, timeout: 5, attempts: 2 } as const;
/** The resolver uses at most this many nameservers (glibc MAXNS). */
export const MAX_NAMESERVERS = 3;
const CAPS = { ndots: 15, timeout: 30, attempts: 5 } as const;

export interface ResolvConf {
  /** Every nameserver line, in order (only the first three are used). */
  nameservers: string[];
  /** The search list in effect (from the last `search` or `domain` line). */
  search: string[];
  /** Set when the search list came from a `domain` line. */
  domain?: string;
  /** Numeric options as written (capped as the resolver caps them); undefined = the default. */
  ndots?: number;
  timeout?: number;
  attempts?: number;
  /** Flag options: rotate, edns0, single-request, single-request-reopen, use-vc, trust-ad, no-aaaa... */
  flags: string[];
}

export interface ResolvConfParseResult {
  conf: ResolvConf;
  issues: ParseIssue[];
}

export function parseResolvConf(text: string, file: string): ResolvConfParseResult {
  const issues = new IssueList(file);
  const conf: ResolvConf = { nameservers: [], search: [], flags: [] };
  if (text.trim() === '') issues.add(1, 'warning', 'empty file: the resolver falls back to a nameserver on 127.0.0.1');
  text.split('\n').forEach((raw, k) => {
    const line = raw.replace(/\r$/, '');
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) return;
    const [keyword, ...args] = trimmed.split(/\s+/);
    switch (keyword) {
      case 'nameserver': {
        const addr = args[0] ? normalizeIp(args[0]) : undefined;
        if (addr === undefined) issues.add(k + 1, 'error', `nameserver "${args[0] ?? ''}" is not an address`, line);
        else conf.nameservers.push(addr);
        break;
      }
      case 'search':
        conf.search = args.filter((a) => !a.startsWith('#') && !a.startsWith(';'));
        delete conf.domain;
        break;
      case 'domain':
        if (args[0]) {
          conf.domain = args[0];
          conf.search = [args[0]];
        }
        break;
      case 'options':
        for (const opt of args) {
          const m = /^(ndots|timeout|attempts):(\d+)$/.exec(opt);
          if (m) {
            const name = m[1] as keyof typeof CAPS;
            const n = Math.min(Number(m[2]), CAPS[name]);
            if (n !== Number(m[2]))
              issues.add(k + 1, 'warning', `options ${opt}: the resolver caps ${name} at ${CAPS[name]}`, line);
            conf[name] = n;
          } else if (/^[a-z][a-z0-9-]*$/.test(opt)) conf.flags.push(opt);
          else issues.add(k + 1, 'warning', `option "${opt}" not understood`, line);
        }
        break;
      case 'sortlist':
      case 'lookup':
      case 'family':
        break;
      default:
        issues.add(k + 1, 'warning', `unknown keyword "${keyword}"; line ignored by the resolver`, line);
    }
  });
  if (conf.nameservers.length > MAX_NAMESERVERS)
    issues.add(
      0,
      'warning',
      `${conf.nameservers.length} nameservers: the resolver uses only the first ${MAX_NAMESERVERS} (${conf.nameservers.slice(MAX_NAMESERVERS).join(', ')} ignored)`,
    );
  return { conf, issues: issues.done() };
}
