/**
 * Parser for `ip -j route show table all` (and `ip -j -6 ...`), and for the plain `ip route show table all` text a user
 * pastes into a bug report. Both become the same Route model; `formatRoute` prints a route back the way `ip route`
 * does, so evidence reads like the command output the operator knows.
 */
import type { ParseIssue } from '../core/errors.js';
import { type Cidr, formatCidr, type IpFamily, normalizeIp, parseCidr, parseIp } from '../core/ip.js';
import { FieldReader, IssueList, type JsonEntry, readJsonEntries } from './ip-link.js';

export type RouteType =
  | 'unicast'
  | 'local'
  | 'broadcast'
  | 'anycast'
  | 'multicast'
  | 'blackhole'
  | 'unreachable'
  | 'prohibit'
  | 'throw'
  | 'nat'
  | 'xresolve'
  | 'unspec';

export const ROUTE_TYPES: readonly RouteType[] = [
  'unicast',
  'local',
  'broadcast',
  'anycast',
  'multicast',
  'blackhole',
  'unreachable',
  'prohibit',
  'throw',
  'nat',
  'xresolve',
  'unspec',
];

export interface Nexthop {
  /** Normalised gateway address (`via`). */
  gateway?: string;
  /** Set when the gateway is of the other family (`via inet6 fe80::1` on an IPv4 route, RFC 5549). */
  gatewayFamily?: IpFamily;
  dev?: string;
  /** Multipath weight (1 when not given). */
  weight: number;
  /** onlink, linkdown, dead, pervasive... */
  flags: string[];
}

export interface Route {
  family: IpFamily;
  /** `main`, `local`, `default`, or the table's number or name as `ip` printed it. */
  table: string;
  type: RouteType;
  /** The destination prefix (`default` is the /0 of the family). */
  dst: Cidr;
  /** Source prefix of an IPv6 source-specific route (`from 2001:db8::/64`). */
  from?: Cidr;
  gateway?: string;
  gatewayFamily?: IpFamily;
  dev?: string;
  prefsrc?: string;
  /** Route priority; the kernel prefers the lowest. IPv4 routes without one have 0. */
  metric: number;
  /** global (universe), site, link, host, nowhere, or a number. */
  scope: string;
  /** kernel, boot, static, dhcp, bird, ...; undefined is `boot` (what `ip route add` sets). */
  protocol?: string;
  /** onlink, linkdown, dead, pervasive, offload... */
  flags: string[];
  /** TOS / DSCP selector (`tos 0x10`). */
  tos?: string;
  /** Multipath routes: each nexthop. `gateway`/`dev` are then unset. */
  nexthops?: Nexthop[];
  /** IPv6 router preference (low, medium, high). */
  pref?: string;
  /** Route metrics such as mtu and advmss. */
  metrics?: Record<string, number | string>;
  nhid?: number;
  /** Line of the entry in the input. */
  line: number;
  /** The route as `ip route show table all` prints it (one line). */
  text: string;
}

export interface IpRouteParseResult {
  routes: Route[];
  issues: ParseIssue[];
  /** json or text: which form the input was in. */
  format: 'json' | 'text' | 'empty';
}

export interface IpRouteParseOptions {
  /** The family of routes whose family can't be told from the entry (`blackhole default`); 4 unless given. */
  family?: IpFamily;
}

const TABLE_NAMES: Record<string, string> = { '253': 'default', '254': 'main', '255': 'local', '0': 'unspec' };

/** Table names as the kernel's numbers say them (`254` is `main`). */
export function normalizeTable(t: string): string {
  return TABLE_NAMES[t] ?? t;
}

const SCOPE_VALUES: Record<string, number> = { global: 0, universe: 0, site: 200, link: 253, host: 254, nowhere: 255 };

/** A scope's number (global 0 ... host 254); numbers given as text are read as they are. */
export function scopeValue(scope: string): number {
  return SCOPE_VALUES[scope] ?? (/^\d+$/.test(scope) ? Number(scope) : 0);
}

const KNOWN_KEYS = new Set([
  'type',
  'dst',
  'from',
  'gateway',
  'via',
  'dev',
  'table',
  'protocol',
  'scope',
  'prefsrc',
  'metric',
  'flags',
  'tos',
  'dsfield',
  'nexthops',
  'pref',
  'metrics',
  'nhid',
  // cosmetic or per-cache fields
  'expires',
  'flow',
  'cache',
  'uid',
  'error',
  'mark',
]);

/** Build one route from an `ip -j route` object (or the same shape made from a text line). */
function readRoute(
  r: FieldReader,
  entry: JsonEntry,
  issues: IssueList,
  fallbackFamily: IpFamily,
  unknownKeys: Set<string>,
): Route | undefined {
  const { obj, line } = entry;
  for (const k of Object.keys(obj))
    if (!KNOWN_KEYS.has(k) && !unknownKeys.has(k)) {
      unknownKeys.add(k);
      issues.add(
        line,
        'warning',
        `route field "${k}" is not modelled (e.g. encapsulation); such routes are read without it`,
        JSON.stringify(obj),
      );
    }
  const typeText = r.str('type') ?? 'unicast';
  if (!(ROUTE_TYPES as readonly string[]).includes(typeText)) {
    issues.add(line, 'error', `unknown route type "${typeText}"; route skipped`, JSON.stringify(obj));
    return undefined;
  }
  const type = typeText as RouteType;
  const dstText = r.str('dst');
  if (dstText === undefined) {
    issues.add(line, 'error', 'route without "dst"; skipped', JSON.stringify(obj));
    return undefined;
  }
  const via = r.object('via');
  const viaR = via ? r.nested(via, 'via') : undefined;
  let gateway = r.str('gateway') ?? viaR?.str('host');
  const viaFamily = viaR?.str('family');
  const nexthops: Nexthop[] = [];
  for (const nh of r.objects('nexthops')) {
    const nr = r.nested(nh, 'nexthop');
    const nvia = nr.object('via');
    const nviaR = nvia ? nr.nested(nvia, 'via') : undefined;
    const gw = nr.str('gateway') ?? nviaR?.str('host');
    const out: Nexthop = { weight: nr.num('weight') ?? 1, flags: nr.strings('flags') };
    if (gw !== undefined) {
      const g = normalizeIp(gw);
      if (g === undefined) issues.add(line, 'warning', `nexthop gateway "${gw}" is not an address; ignored`);
      else {
        out.gateway = g;
        const fam = nviaR?.str('family');
        if (fam === 'inet6' || fam === 'inet') out.gatewayFamily = fam === 'inet6' ? 6 : 4;
      }
    }
    const dev = nr.str('dev');
    if (dev !== undefined) out.dev = dev;
    nexthops.push(out);
  }
  const prefsrcText = r.str('prefsrc');
  // The family: from the prefix, else from an address on the route, else IPv6 if it has IPv6-only fields.
  let family: IpFamily | undefined;
  if (dstText !== 'default') family = dstText.includes(':') ? 6 : 4;
  else if (gateway && !viaFamily) family = gateway.includes(':') ? 6 : 4;
  else if (prefsrcText) family = prefsrcText.includes(':') ? 6 : 4;
  else if (r.has('pref')) family = 6;
  else if (nexthops[0]?.gateway && !nexthops[0].gatewayFamily) family = nexthops[0].gateway.includes(':') ? 6 : 4;
  family ??= fallbackFamily;
  const dst = dstText === 'default' ? { family, network: family === 4 ? 0 : 0n, prefix: 0 } : parseCidr(dstText);
  if (!dst) {
    issues.add(line, 'error', `route destination "${dstText}" is not a prefix; skipped`, JSON.stringify(obj));
    return undefined;
  }
  const route: Route = {
    family,
    table: normalizeTable(r.str('table') ?? 'main'),
    type,
    dst: dst as Cidr,
    metric: r.num('metric') ?? 0,
    // `ip` prints no scope for universe (global), in JSON and in text alike.
    scope: r.str('scope') ?? 'global',
    flags: r.strings('flags'),
    line,
    text: '',
  };
  const fromText = r.str('from');
  if (fromText !== undefined && fromText !== 'default' && fromText !== '::') {
    const from = parseCidr(fromText);
    if (from) route.from = from;
    else issues.add(line, 'warning', `route source prefix "${fromText}" not understood; ignored`);
  }
  if (gateway !== undefined) {
    const g = normalizeIp(gateway);
    if (g === undefined) {
      issues.add(line, 'warning', `gateway "${gateway}" is not an address; ignored`, JSON.stringify(obj));
      gateway = undefined;
    } else {
      route.gateway = g;
      if (viaFamily === 'inet6' || viaFamily === 'inet') {
        const gf: IpFamily = viaFamily === 'inet6' ? 6 : 4;
        if (gf !== family) route.gatewayFamily = gf;
      }
    }
  }
  const dev = r.str('dev');
  if (dev !== undefined) route.dev = dev;
  if (prefsrcText !== undefined) {
    const p = normalizeIp(prefsrcText);
    if (p === undefined) issues.add(line, 'warning', `route source "${prefsrcText}" is not an address; ignored`);
    else route.prefsrc = p;
  }
  const protocol = r.str('protocol');
  if (protocol !== undefined) route.protocol = protocol;
  const tos = r.str('tos') ?? r.str('dsfield');
  if (tos !== undefined) route.tos = tos;
  if (nexthops.length) route.nexthops = nexthops;
  const pref = r.str('pref');
  if (pref !== undefined) route.pref = pref;
  const nhid = r.num('nhid');
  if (nhid !== undefined) {
    route.nhid = nhid;
    if (!route.dev && !route.nexthops)
      issues.add(
        line,
        'warning',
        `route uses nexthop object ${nhid}, which \`ip route\` does not list; its device is unknown`,
      );
  }
  const metrics = obj.metrics;
  if (Array.isArray(metrics)) {
    const m: Record<string, number | string> = {};
    for (const item of metrics)
      if (item && typeof item === 'object')
        for (const [k, v] of Object.entries(item)) if (typeof v === 'number' || typeof v === 'string') m[k] = v;
    if (Object.keys(m).length) route.metrics = m;
  }
  if (route.gateway && route.gatewayFamily === undefined && parseIp(route.gateway)?.family !== family)
    issues.add(line, 'warning', `gateway ${route.gateway} is not of the route's family`);
  route.text = formatRoute(route);
  return route;
}

/** Print a route as `ip route show table all` does (multipath nexthops on the same line). */
export function formatRoute(r: Route): string {
  const out: string[] = [];
  if (r.type !== 'unicast') out.push(r.type);
  out.push(r.dst.prefix === 0 ? 'default' : formatPrefix(r.dst));
  if (r.from) out.push('from', formatPrefix(r.from));
  if (r.nhid !== undefined) out.push('nhid', String(r.nhid));
  if (r.tos !== undefined) out.push('tos', r.tos);
  if (r.gateway) out.push('via', ...(r.gatewayFamily ? [r.gatewayFamily === 6 ? 'inet6' : 'inet'] : []), r.gateway);
  if (r.dev) out.push('dev', r.dev);
  if (r.table !== 'main') out.push('table', r.table);
  if (r.protocol !== undefined && r.protocol !== 'boot') out.push('proto', r.protocol);
  if (r.scope !== 'global' && r.scope !== 'universe') out.push('scope', r.scope);
  if (r.prefsrc) out.push('src', r.prefsrc);
  if (r.metric || r.family === 6) out.push('metric', String(r.metric));
  out.push(...r.flags);
  if (r.metrics) for (const [k, v] of Object.entries(r.metrics)) out.push(k, String(v));
  for (const nh of r.nexthops ?? []) {
    out.push('nexthop');
    if (nh.gateway)
      out.push('via', ...(nh.gatewayFamily ? [nh.gatewayFamily === 6 ? 'inet6' : 'inet'] : []), nh.gateway);
    if (nh.dev) out.push('dev', nh.dev);
    out.push('weight', String(nh.weight), ...nh.flags);
  }
  if (r.pref) out.push('pref', r.pref);
  return out.join(' ');
}

/** A prefix as `ip` prints it: host prefixes without the length. */
export function formatPrefix(c: Cidr): string {
  const text = formatCidr(c);
  return c.prefix === (c.family === 4 ? 32 : 128) ? text.slice(0, text.indexOf('/')) : text;
}

const ROUTE_FLAGS = new Set([
  'onlink',
  'linkdown',
  'dead',
  'pervasive',
  'offload',
  'trap',
  'notify',
  'unresolved',
  'rt_offload',
  'rt_trap',
  'rt_offload_failed',
]);
const METRIC_NAMES = new Set([
  'mtu',
  'hoplimit',
  'advmss',
  'reordering',
  'window',
  'rtt',
  'rttvar',
  'ssthresh',
  'cwnd',
  'initcwnd',
  'initrwnd',
  'quickack',
  'congctl',
  'rto_min',
  'features',
  'fastopen_no_cookie',
]);
const VALUE_KEYS: Record<string, string> = {
  dev: 'dev',
  table: 'table',
  proto: 'protocol',
  scope: 'scope',
  src: 'prefsrc',
  metric: 'metric',
  tos: 'tos',
  dsfield: 'tos',
  pref: 'pref',
  from: 'from',
  nhid: 'nhid',
  expires: 'expires',
  realm: 'flow',
  realms: 'flow',
  error: 'error',
  mark: 'mark',
  uid: 'uid',
};

/** Turn one plain `ip route` line (continuation lines joined) into the JSON shape. */
function textRouteObject(tokens: string[], bad: (msg: string) => void): Record<string, unknown> | undefined {
  const obj: Record<string, unknown> = {};
  const flags: string[] = [];
  const metrics: Record<string, number | string> = {};
  let i = 0;
  if ((ROUTE_TYPES as readonly string[]).includes(tokens[0] ?? '')) obj.type = tokens[i++];
  const dst = tokens[i++];
  if (dst === undefined) return undefined;
  obj.dst = dst;
  let nexthops: Record<string, unknown>[] | undefined;
  let target: Record<string, unknown> = obj;
  let targetFlags = flags;
  while (i < tokens.length) {
    const t = tokens[i++] as string;
    if (t === 'nexthop') {
      nexthops ??= [];
      target = { flags: [] };
      targetFlags = target.flags as string[];
      nexthops.push(target);
    } else if (t === 'via') {
      let fam: string | undefined;
      if (tokens[i] === 'inet' || tokens[i] === 'inet6') fam = tokens[i++];
      const gw = tokens[i++];
      if (fam) target.via = { family: fam, host: gw };
      else target.gateway = gw;
    } else if (t === 'weight' && target !== obj) target.weight = Number(tokens[i++]);
    else if (t === 'dev' && target !== obj) target.dev = tokens[i++];
    else if (VALUE_KEYS[t]) obj[VALUE_KEYS[t] as string] = tokens[i++];
    else if (ROUTE_FLAGS.has(t)) targetFlags.push(t);
    else if (METRIC_NAMES.has(t)) {
      if (tokens[i] === 'lock') i++;
      const v = tokens[i++] ?? '';
      metrics[t] = /^\d+$/.test(v) ? Number(v) : v;
    } else if (t === 'cache' || t === 'hoplimit') {
      // `cache` marks cloned entries; nothing to read
    } else {
      bad(`unknown word "${t}" in route; the rest of the line is ignored`);
      break;
    }
  }
  obj.flags = flags;
  if (Object.keys(metrics).length) obj.metrics = [metrics];
  if (nexthops) obj.nexthops = nexthops;
  return obj;
}

/** Plain text: one route per line; lines starting with white space continue the previous one (nexthops). */
function textEntries(text: string, issues: IssueList): JsonEntry[] {
  const out: JsonEntry[] = [];
  const lines = text.split('\n');
  let pending: { tokens: string[]; line: number; raw: string } | undefined;
  const flush = () => {
    if (!pending) return;
    const p = pending;
    pending = undefined;
    const obj = textRouteObject(p.tokens, (msg) => issues.add(p.line, 'warning', msg, p.raw));
    if (obj) out.push({ obj, line: p.line });
  };
  lines.forEach((raw0, k) => {
    const raw = raw0.replace(/\r$/, '');
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) return;
    const tokens = raw.trim().split(/\s+/);
    if (/^\s/.test(raw) && pending) pending.tokens.push(...tokens);
    else {
      flush();
      pending = { tokens, line: k + 1, raw };
    }
  });
  flush();
  return out;
}

export function parseIpRoute(text: string, file: string, options: IpRouteParseOptions = {}): IpRouteParseResult {
  const issues = new IssueList(file);
  const trimmed = text.trimStart();
  const looksJson = trimmed.startsWith('[');
  let entries: JsonEntry[];
  let format: IpRouteParseResult['format'];
  if (trimmed === '') {
    issues.add(1, 'warning', 'empty input: expected the output of `ip -j route show table all`');
    return { routes: [], issues: issues.done(), format: 'empty' };
  }
  if (looksJson) {
    entries = readJsonEntries(text, 'ip -j route show table all', issues) ?? [];
    format = 'json';
  } else {
    entries = textEntries(text, issues);
    format = 'text';
  }
  const routes: Route[] = [];
  const unknownKeys = new Set<string>();
  for (const e of entries) {
    const route = readRoute(new FieldReader(issues, e, 'route'), e, issues, options.family ?? 4, unknownKeys);
    if (route) routes.push(route);
  }
  return { routes, issues: issues.done(), format };
}
