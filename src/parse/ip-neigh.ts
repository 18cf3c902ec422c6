/** Parser for `ip -j neigh show`: the ARP / NDP table (flannel's VXLAN peers are PERMANENT entries on flannel.1). */
import type { ParseIssue } from '../core/errors.js';
import { type IpFamily, normalizeIp } from '../core/ip.js';
import { FieldReader, IssueList, readJsonEntries } from './ip-link.js';

export interface Neighbour {
  family: IpFamily;
  /** The neighbour's address, normalised. */
  dst: string;
  dev: string;
  /** Link-layer address; missing for INCOMPLETE and FAILED entries. */
  lladdr?: string;
  /** PERMANENT, REACHABLE, STALE, DELAY, PROBE, FAILED, INCOMPLETE, NOARP. */
  state: string[];
  router: boolean;
  proxy: boolean;
  line: number;
}

export interface IpNeighParseResult {
  neighbours: Neighbour[];
  issues: ParseIssue[];
}

export function parseIpNeigh(text: string, file: string): IpNeighParseResult {
  const issues = new IssueList(file);
  const entries = readJsonEntries(text, 'ip -j neigh show', issues) ?? [];
  const neighbours: Neighbour[] = [];
  for (const e of entries) {
    const r = new FieldReader(issues, e, 'neighbour');
    const dstText = r.str('dst');
    const dev = r.str('dev');
    const dst = dstText === undefined ? undefined : normalizeIp(dstText);
    if (dst === undefined || dev === undefined) {
      issues.add(e.line, 'error', 'neighbour without an address in "dst" and a "dev"; skipped', JSON.stringify(e.obj));
      continue;
    }
    const n: Neighbour = {
      family: dst.includes(':') ? 6 : 4,
      dst,
      dev,
      state: r.strings('state'),
      router: 'router' in e.obj,
      proxy: 'proxy' in e.obj,
      line: e.line,
    };
    const lladdr = r.str('lladdr');
    if (lladdr !== undefined) n.lladdr = lladdr.toLowerCase();
    neighbours.push(n);
  }
  return { neighbours, issues: issues.done() };
}
