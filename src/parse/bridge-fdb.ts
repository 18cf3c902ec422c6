/**
 * Parser for `bridge -j fdb show`: forwarding database entries. On a VXLAN device (flannel.1) an entry maps a peer's
 * VTEP MAC to its underlay address (`dst`); an all-zero MAC is the default destination (flooding).
 */
import type { ParseIssue } from '../core/errors.js';
import { normalizeIp } from '../core/ip.js';
import { FieldReader, IssueList, readJsonEntries } from './ip-link.js';

export interface FdbEntry {
  /** Lower-case MAC address. */
  mac: string;
  /** The device the entry belongs to (`ifname`). */
  dev: string;
  /** VXLAN: the remote VTEP's underlay address. */
  dst?: string;
  /** VXLAN: a per-entry VNI, port or underlay device when they differ from the device's. */
  vni?: number;
  port?: number;
  via?: string;
  /** The bridge this port belongs to (entries learnt or added on a bridge port). */
  master?: string;
  vlan?: number;
  /** permanent, static, or undefined for learnt (dynamic) entries. */
  state?: string;
  /** self, master, extern_learn, offload, sticky, router... */
  flags: string[];
  self: boolean;
  permanent: boolean;
  line: number;
}

export interface BridgeFdbParseResult {
  entries: FdbEntry[];
  issues: ParseIssue[];
}

export function parseBridgeFdb(text: string, file: string): BridgeFdbParseResult {
  const issues = new IssueList(file);
  const raw = readJsonEntries(text, 'bridge -j fdb show', issues) ?? [];
  const entries: FdbEntry[] = [];
  for (const e of raw) {
    const r = new FieldReader(issues, e, 'fdb entry');
    const mac = r.str('mac');
    const dev = r.str('ifname') ?? r.str('dev');
    if (mac === undefined || dev === undefined) {
      issues.add(e.line, 'error', 'fdb entry without "mac" and "ifname"; skipped', JSON.stringify(e.obj));
      continue;
    }
    const flags = r.strings('flags');
    const state = r.str('state');
    const entry: FdbEntry = {
      mac: mac.toLowerCase(),
      dev,
      flags,
      self: flags.includes('self'),
      permanent: state === 'permanent',
      line: e.line,
    };
    if (state !== undefined) entry.state = state;
    const dstText = r.str('dst');
    if (dstText !== undefined) {
      const dst = normalizeIp(dstText);
      if (dst === undefined) issues.add(e.line, 'warning', `fdb entry ${mac}: "dst" ${dstText} is not an address`);
      else entry.dst = dst;
    }
    const vni = r.num('vni') ?? r.num('src_vni');
    if (vni !== undefined) entry.vni = vni;
    const port = r.num('port');
    if (port !== undefined) entry.port = port;
    const via = r.str('viaIf') ?? r.str('via');
    if (via !== undefined) entry.via = via;
    const master = r.str('master');
    if (master !== undefined) entry.master = master;
    const vlan = r.num('vlan');
    if (vlan !== undefined) entry.vlan = vlan;
    entries.push(entry);
  }
  return { entries, issues: issues.done() };
}
