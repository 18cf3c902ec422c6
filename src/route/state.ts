/**
 * A node's routing state, built from its parsed `ip route show table all`, `ip rule`, `ip link`, `ip addr` and
 * `sysctl -a`: per family the policy rules in priority order and one prefix trie per table; the devices with their
 * state and addresses; the sysctls that change routing decisions (forwarding, rp_filter, accept_local...).
 */
import type { ParseIssue } from '../core/errors.js';
import { type Cidr, formatIp, type Ip, type IpFamily } from '../core/ip.js';
import type { Address, InterfaceAddresses } from '../parse/ip-addr.js';
import type { Link } from '../parse/ip-link.js';
import type { Route, RouteType } from '../parse/ip-route.js';
import { defaultRules, type Rule } from '../parse/ip-rule.js';
import { sysctlKey } from '../parse/sysctl.js';
import { PrefixTrie } from './trie.js';

export interface RouteTable {
  name: string;
  family: IpFamily;
  trie: PrefixTrie<Route>;
  /** The table's routes in the order listed. */
  routes: Route[];
}

export interface FamilyRouting {
  family: IpFamily;
  /** In the order the kernel walks them: by priority, ties in the order listed. */
  rules: Rule[];
  /** False when no `ip rule` output was given and the kernel's default rules stand in. */
  rulesKnown: boolean;
  tables: Map<string, RouteTable>;
  /** Rules beyond the defaults exist (the kernel then checks source addresses fully). */
  customRules: boolean;
  /** Someone added `local` routes (AnyIP); same effect. */
  customLocalRoutes: boolean;
}

export interface Device {
  name: string;
  ifindex?: number;
  /** Administratively up; true when not known. */
  up: boolean;
  loopback: boolean;
  /** Addresses in the order `ip addr` lists them (the kernel's order for choosing a source). */
  addresses: Address[];
  kind?: string;
  master?: string;
}

export interface RoutingState {
  v4: FamilyRouting;
  v6: FamilyRouting;
  /** By name. Empty when neither `ip link` nor `ip addr` output was given. */
  devices: Map<string, Device>;
  /** True when `ip addr` output was given (source checks use the addresses, else the local table). */
  addressesKnown: boolean;
  sysctl?: Map<string, string>;
  /** Problems found while putting the state together (duplicate routes, goto to a missing priority...). */
  issues: ParseIssue[];
}

export interface RoutingInput {
  /** Routes of both families, from `ip -j route show table all` and/or `ip -j -6 route show table all`. */
  routes: Route[];
  /** Rules of both families; a family without any gets the kernel's default rules. */
  rules?: Rule[];
  links?: Link[];
  addresses?: InterfaceAddresses[];
  sysctl?: Map<string, string>;
  /** Names the evidence points at (`nodes/x.json#ip-route`); used in issues. */
  file?: string;
}

/**
 * The kernel keeps the routes of one prefix sorted by TOS (highest first) and then by metric (lowest first); routes
 * equal in both stay in the order they were added, which is the order `ip route` lists them.
 */
function compareAlias(a: Route, b: Route): number {
  const ta = a.tos ? Number(a.tos) : 0;
  const tb = b.tos ? Number(b.tos) : 0;
  if (ta !== tb) return tb - ta;
  return a.metric - b.metric;
}

function listIn<K, V>(map: Map<K, V[]>, key: K): V[] {
  const known = map.get(key);
  if (known) return known;
  const list: V[] = [];
  map.set(key, list);
  return list;
}

function buildFamily(
  family: IpFamily,
  routes: Route[],
  rules: Rule[] | undefined,
  issue: (line: number, message: string) => void,
): FamilyRouting {
  const famRules = (rules ?? []).filter((r) => r.family === family);
  const rulesKnown = famRules.length > 0;
  const ordered = (rulesKnown ? famRules : defaultRules(family))
    .map((r, i) => ({ r, i }))
    .sort((a, b) => a.r.priority - b.r.priority || a.i - b.i)
    .map((x) => x.r);
  const defaults = defaultRules(family).map((r) => `${r.priority} ${r.text}`);
  const customRules = ordered.some((r) => !defaults.includes(`${r.priority} ${r.text}`));
  for (const r of ordered)
    if (r.action === 'goto' && !ordered.some((t) => t.priority === r.goto))
      issue(r.line, `rule ${r.priority} jumps to priority ${r.goto}, which no rule has: the kernel skips it`);
  const byTable = new Map<string, Route[]>();
  let customLocalRoutes = false;
  for (const route of routes) {
    if (route.family !== family) continue;
    listIn(byTable, route.table).push(route);
    if (route.type === 'local' && route.protocol !== 'kernel') customLocalRoutes = true;
  }
  const tables = new Map<string, RouteTable>();
  for (const [name, list] of byTable) {
    const trie = new PrefixTrie<Route>(family);
    // Group by prefix first so each prefix's routes can be put in the kernel's order.
    const byPrefix = new Map<string, Route[]>();
    for (const r of list) {
      listIn(byPrefix, `${r.dst.network}/${r.dst.prefix}`).push(r);
    }
    for (const group of byPrefix.values()) {
      const sorted = group
        .map((r, i) => ({ r, i }))
        .sort((a, b) => compareAlias(a.r, b.r) || a.i - b.i)
        .map((x) => x.r);
      for (const r of sorted) trie.insert(r.dst, r);
    }
    tables.set(name, { name, family, trie, routes: list });
  }
  return { family, rules: ordered, rulesKnown, tables, customRules, customLocalRoutes };
}

export function buildRoutingState(input: RoutingInput): RoutingState {
  const file = input.file ?? 'routing';
  const issues: ParseIssue[] = [];
  const issue = (line: number, message: string) => issues.push({ file, line, severity: 'warning', message });
  // `ip route show table all` lists IPv6 routes too on recent iproute2; given with `ip -6 route` they'd come twice.
  const seen = new Set<string>();
  const routes: Route[] = [];
  for (const r of input.routes) {
    const key = `${r.family} ${r.text}`;
    if (seen.has(key)) continue;
    seen.add(key);
    routes.push(r);
  }
  const devices = new Map<string, Device>();
  const device = (name: string): Device => {
    const known = devices.get(name);
    if (known) return known;
    const d: Device = { name, up: true, loopback: name === 'lo', addresses: [] };
    devices.set(name, d);
    return d;
  };
  for (const l of [...(input.links ?? []), ...(input.addresses ?? [])]) {
    const d = device(l.name);
    d.ifindex = l.ifindex;
    d.up = l.flags.length ? l.up : d.up;
    d.loopback = l.flags.includes('LOOPBACK') || l.linkType === 'loopback' || d.loopback;
    if (l.master) d.master = l.master;
    if ('kind' in l && l.kind) d.kind = l.kind;
  }
  for (const a of input.addresses ?? []) device(a.name).addresses = a.addresses;
  const state: RoutingState = {
    v4: buildFamily(4, routes, input.rules, issue),
    v6: buildFamily(6, routes, input.rules, issue),
    devices,
    addressesKnown: input.addresses !== undefined,
    issues,
  };
  if (input.sysctl) state.sysctl = input.sysctl;
  return state;
}

export function familyState(state: RoutingState, family: IpFamily): FamilyRouting {
  return family === 4 ? state.v4 : state.v6;
}

/**
 * A per-device IPv4 setting as the kernel combines it: `or` (all || dev), `max` (rp_filter) or `dev` (the device's
 * own, e.g. forwarding). undefined when the sysctls are not known.
 */
export function devConf(
  state: RoutingState,
  family: IpFamily,
  dev: string,
  leaf: string,
  how: 'or' | 'max' | 'dev',
): number | undefined {
  const sys = state.sysctl;
  if (!sys) return undefined;
  const prefix = family === 4 ? 'net.ipv4.conf' : 'net.ipv6.conf';
  const read = (d: string) => {
    const v = sys.get(sysctlKey(prefix, d, leaf));
    return v !== undefined && /^-?\d+$/.test(v) ? Number(v) : undefined;
  };
  const own = read(dev);
  if (how === 'dev') {
    if (own !== undefined || leaf !== 'forwarding') return own;
    // net.ipv4.ip_forward sets every device's forwarding; a bundle may carry only that key.
    const global = sys.get(family === 4 ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding');
    return read('all') ?? (global !== undefined && /^\d+$/.test(global) ? Number(global) : undefined);
  }
  const all = read('all');
  if (own === undefined && all === undefined) return undefined;
  if (how === 'max') return Math.max(own ?? 0, all ?? 0);
  return (own ?? 0) || (all ?? 0) ? 1 : 0;
}

/**
 * The address type the kernel gives an address (`addrtype`, `fib daddr type`): the type of the longest match in the
 * local table. Without custom rules the kernel keeps local and main as one table, so main's routes count too.
 */
export function addressType(state: RoutingState, ip: Ip): RouteType {
  if (ip.family === 4) {
    const v = ip.value as number;
    if (v === 0 || v === 0xffffffff) return 'broadcast';
    if (v >>> 28 === 0xe) return 'multicast';
  } else if ((ip.value as bigint) >> 120n === 0xffn) return 'multicast';
  const fam = familyState(state, ip.family);
  const tables = [fam.tables.get('local')];
  if (ip.family === 4 && !fam.customRules) tables.push(fam.tables.get('main'));
  let best: { prefix: number; type: RouteType } | undefined;
  for (const t of tables) {
    const m = t?.trie.matches(ip)[0];
    const type = m?.values[0]?.type;
    if (m && type && (!best || m.prefix > best.prefix)) best = { prefix: m.prefix, type };
  }
  return best?.type ?? 'unicast';
}

/**
 * The node's own addresses: the `local` routes of the local tables that name one address (`local 10.0.0.1`), for
 * `addrtype --dst-type LOCAL`. Wider local routes (127.0.0.0/8, AnyIP prefixes) are in `localPrefixes`.
 */
export function localAddresses(state: RoutingState): Set<string> {
  const out = new Set<string>();
  for (const p of localPrefixes(state))
    if (p.prefix === (p.family === 4 ? 32 : 128)) out.add(formatIp({ family: p.family, value: p.network }));
  return out;
}

/** Every `local` route's prefix in the local tables (both families). */
export function localPrefixes(state: RoutingState): Cidr[] {
  return [state.v4, state.v6].flatMap((f) => routesOfType(f.tables.get('local'), 'local').map((r) => r.dst));
}

/** The IPv4 broadcast addresses of the local table (`broadcast 10.0.0.255 dev eth0`). */
export function broadcastAddresses(state: RoutingState): Set<string> {
  return new Set(
    routesOfType(state.v4.tables.get('local'), 'broadcast').map((r) => formatIp({ family: 4, value: r.dst.network })),
  );
}

function routesOfType(table: RouteTable | undefined, type: RouteType): Route[] {
  return table ? table.routes.filter((r) => r.type === type) : [];
}
