/** Parser for `ip -j addr show`: each interface with its addresses. */
import type { ParseIssue } from '../core/errors.js';
import { type IpFamily, normalizeIp } from '../core/ip.js';
import { FieldReader, IssueList, type Link, readJsonEntries, readLinkFields } from './ip-link.js';

export interface Address {
  family: IpFamily;
  /** The interface's own address, normalised (`10.0.0.1`, `fe80::1`). */
  local: string;
  prefixlen: number;
  /** The peer of a point-to-point address (`address` in the JSON, `peer` on the command line). */
  peer?: string;
  broadcast?: string;
  /** global, site, link, host, or a number. */
  scope: string;
  label?: string;
  /** A secondary address is never chosen as a source (only the primary of its subnet is). */
  secondary: boolean;
  /** Other address flags that are set: tentative, dadfailed, deprecated, noprefixroute, permanent, ... */
  flags: string[];
}

export type InterfaceAddresses = Omit<Link, 'kind' | 'vxlan' | 'info'> & { addresses: Address[] };

export interface IpAddrParseResult {
  interfaces: InterfaceAddresses[];
  issues: ParseIssue[];
}

const ADDRESS_FIELDS = new Set([
  'family',
  'local',
  'prefixlen',
  'address',
  'broadcast',
  'scope',
  'label',
  'valid_life_time',
  'preferred_life_time',
  'secondary',
]);

export function parseIpAddr(text: string, file: string): IpAddrParseResult {
  const issues = new IssueList(file);
  const entries = readJsonEntries(text, 'ip -j addr show', issues) ?? [];
  const interfaces: InterfaceAddresses[] = [];
  for (const e of entries) {
    const r = new FieldReader(issues, e, 'interface');
    const base = readLinkFields(r, e.line);
    if (!base) {
      issues.add(e.line, 'error', 'interface without "ifindex" and "ifname"; skipped', JSON.stringify(e.obj));
      continue;
    }
    const addresses: Address[] = [];
    for (const a of r.objects('addr_info')) {
      // `ip -j addr` prints an empty object for an interface of another family when filtered with -4/-6.
      if (Object.keys(a).length === 0) continue;
      const ar = r.nested(a, `${base.name} address`);
      const fam = ar.str('family');
      const local = ar.str('local');
      const prefixlen = ar.num('prefixlen');
      const norm = local === undefined ? undefined : normalizeIp(local);
      const family: IpFamily | undefined = fam === 'inet' ? 4 : fam === 'inet6' ? 6 : undefined;
      if (family === undefined || norm === undefined || prefixlen === undefined) {
        issues.add(
          e.line,
          'warning',
          `${base.name}: address entry not understood (family ${fam ?? '?'}, local ${local ?? '?'}); skipped`,
          JSON.stringify(a),
        );
        continue;
      }
      if (prefixlen > (family === 4 ? 32 : 128)) {
        issues.add(e.line, 'warning', `${base.name}: prefix length ${prefixlen} of ${norm} is out of range; skipped`);
        continue;
      }
      const addr: Address = {
        family,
        local: norm,
        prefixlen,
        scope: ar.str('scope') ?? 'global',
        secondary: ar.bool('secondary') === true,
        flags: [],
      };
      const peer = ar.str('address');
      if (peer !== undefined) addr.peer = peer;
      const brd = ar.str('broadcast');
      if (brd !== undefined) addr.broadcast = brd;
      const label = ar.str('label');
      if (label !== undefined) addr.label = label;
      // Boolean flags are printed as `"name": true`.
      for (const [k, v] of Object.entries(a)) if (!ADDRESS_FIELDS.has(k) && v === true) addr.flags.push(k);
      addresses.push(addr);
    }
    interfaces.push({ ...base, addresses });
  }
  return { interfaces, issues: issues.done() };
}
