/**
 * `ip route get` as the kernel answers it: policy rules in priority order, then the longest prefix in the chosen table
 * (backtracking to shorter prefixes when no route of the longest one is usable), route types, the output and input
 * paths with their special cases (a given source must be local; `oif` with no route means "on link"; forwarding
 * and reverse-path checks on input), and the kernel's error for each failure. Proven against the kernel by
 * test/route/kernel.test.ts.
 */
import { cidrContains, formatIp, type Ip, type IpFamily, parseIp } from '../core/ip.js';
import { parseProtocol } from '../netfilter/model.js';
import { formatPrefix, type Nexthop, type Route, type RouteType, scopeValue } from '../parse/ip-route.js';
import type { Rule } from '../parse/ip-rule.js';
import { hasIpv4, isLocalAddress, selectSource4, selectSource6 } from './source.js';
import { addressType, devConf, type FamilyRouting, familyState, type RoutingState } from './state.js';

export interface RouteQuery {
  dst: string;
  /** `from`: on output it must be one of the node's addresses; with `iif` it is the packet's source. */
  src?: string;
  /** Incoming device: the packet is routed as received there (forwarding, reverse-path checks). */
  iif?: string;
  oif?: string;
  mark?: number;
  tos?: number;
  /** Protocol name or number, and ports, for rules with ipproto/sport/dport. */
  ipproto?: string | number;
  sport?: number;
  dport?: number;
  uid?: number;
}

export type RouteErrno = 'ENETUNREACH' | 'EHOSTUNREACH' | 'EINVAL' | 'EACCES' | 'ENODEV' | 'UNMODELLED';

export const ERRNO_MESSAGES: Record<Exclude<RouteErrno, 'ENODEV' | 'UNMODELLED'>, string> = {
  ENETUNREACH: 'Network is unreachable',
  EHOSTUNREACH: 'No route to host',
  EINVAL: 'Invalid argument',
  EACCES: 'Permission denied',
};

export interface RouteGetOk {
  ok: true;
  family: IpFamily;
  /** unicast, local, broadcast, multicast, anycast. */
  type: RouteType;
  table: string;
  dst: string;
  /** The source given (`from`). */
  from?: string;
  /** The device the packet leaves by (`lo` for local delivery). */
  dev: string;
  gateway?: string;
  /** The source address the kernel would use. */
  prefsrc?: string;
  iif?: string;
  /** The route that decided; unset for the kernel's own answers (on-link via `oif`, destination 0.0.0.0). */
  route?: Route;
  /** The policy rule whose table held the route. */
  rule?: Rule;
  /** Multipath: every usable nexthop. The kernel picks one per flow by a hash, so any of them may carry a flow. */
  alternatives?: Nexthop[];
  /** The answer as `ip route get` prints it. */
  text: string;
  /** Assumptions made (sysctls not known, multipath choice...). */
  notes: string[];
}

export interface RouteGetError {
  ok: false;
  family: IpFamily;
  errno: RouteErrno;
  /** What the user would see: `RTNETLINK answers: Network is unreachable`. */
  message: string;
  /** Why, in the operator's words: which rule or route, which check. */
  reason: string;
  route?: Route;
  rule?: Rule;
  table?: string;
  notes: string[];
}

export type RouteGetResult = RouteGetOk | RouteGetError;

/** The flow a lookup is made for (the kernel's `flowi`). */
export interface Flow {
  family: IpFamily;
  dst: Ip;
  /** Zero (`0.0.0.0` / `::`) when no source is known yet. */
  src: Ip;
  srcGiven: boolean;
  iif: string;
  oif?: string;
  mark: number;
  tos: number;
  ipproto: number;
  sport: number;
  dport: number;
  uid: number;
}

interface Found {
  kind: 'found';
  route: Route;
  /** Index of the chosen nexthop in `nexthopsOf(route)`. */
  nh: number;
  /** Every usable nexthop (for multipath). */
  usable: number[];
  prefix: number;
  table: string;
  rule: Rule;
}

interface Failed {
  kind: 'error';
  errno: Exclude<RouteErrno, 'ENODEV' | 'UNMODELLED'>;
  reason: string;
  route?: Route;
  rule?: Rule;
  table?: string;
}

type LookupResult = Found | Failed;

const ZERO4: Ip = { family: 4, value: 0 };
const ZERO6: Ip = { family: 6, value: 0n };
const LO = 'lo';

/** A route's nexthops: its multipath list, or itself as one. */
export function nexthopsOf(route: Route): Nexthop[] {
  if (route.nexthops) return route.nexthops;
  const nh: Nexthop = { weight: 1, flags: route.flags };
  if (route.gateway) nh.gateway = route.gateway;
  if (route.gatewayFamily) nh.gatewayFamily = route.gatewayFamily;
  if (route.dev) nh.dev = route.dev;
  return [nh];
}

const u32 = (n: number) => n >>> 0;

/** `fib_rule_match`: every selector, and `not` inverts the whole of it. */
export function ruleMatches(rule: Rule, flow: Flow): boolean {
  const matched = (() => {
    if (rule.iif !== undefined && (rule.iifDetached || rule.iif !== flow.iif)) return false;
    if (rule.oif !== undefined && (rule.oifDetached || rule.oif !== flow.oif)) return false;
    if (rule.fwmark !== undefined && u32((rule.fwmark ^ flow.mark) & (rule.fwmask ?? 0xffffffff)) !== 0) return false;
    if (rule.uidrange && (flow.uid < rule.uidrange.start || flow.uid > rule.uidrange.end)) return false;
    // VRF tables are not modelled: an l3mdev rule finds no table.
    if (rule.l3mdev) return false;
    if (rule.src && !cidrContains(rule.src, flow.src)) return false;
    if (rule.dst && !cidrContains(rule.dst, flow.dst)) return false;
    if (rule.tos !== undefined && rule.tos !== flow.tos) return false;
    if (rule.ipproto !== undefined && parseProtocol(rule.ipproto) !== flow.ipproto) return false;
    if (rule.sport && (flow.sport < rule.sport.start || flow.sport > rule.sport.end)) return false;
    if (rule.dport && (flow.dport < rule.dport.start || flow.dport > rule.dport.end)) return false;
    return true;
  })();
  return rule.not ? !matched : matched;
}

const REJECT_ERRORS: Partial<Record<RouteType, Failed['errno'] | 'again'>> = {
  blackhole: 'EINVAL',
  unreachable: 'EHOSTUNREACH',
  prohibit: 'EACCES',
  throw: 'again',
  nat: 'EINVAL',
  xresolve: 'EINVAL',
};

interface TableLookupOptions {
  ignoreLinkState?: boolean;
  /** Only routes through this device count (IPv4 `oif`; IPv6 strict interface lookups). */
  requireDev?: string;
  /** IPv6: among the routes of the lowest metric, prefer one through this device (the incoming one on input). */
  preferDev?: string;
}

type TableResult =
  | { kind: 'found'; route: Route; nh: number; usable: number[]; prefix: number }
  | { kind: 'error'; errno: Failed['errno']; route: Route }
  | { kind: 'again'; throwRoute?: Route };

/** The usable nexthops of a route (alive, device up, not ignored for lost carrier, through the required device). */
function usableNexthops(state: RoutingState, fam: FamilyRouting, route: Route, opts: TableLookupOptions): number[] {
  const usable: number[] = [];
  nexthopsOf(route).forEach((nh, i) => {
    if (nh.flags.includes('dead')) return;
    // A local route stays usable when its device is down (kube-proxy's IPVS addresses live on a down kube-ipvs0):
    // the kernel does not mark host-scope nexthops dead.
    if (nh.dev && route.type !== 'local' && !(state.devices.get(nh.dev)?.up ?? true)) return;
    if (
      !opts.ignoreLinkState &&
      nh.flags.includes('linkdown') &&
      nh.dev &&
      devConf(state, fam.family, nh.dev, 'ignore_routes_with_linkdown', 'or')
    )
      return;
    if (opts.requireDev !== undefined && (nh.dev ?? LO) !== opts.requireDev) return;
    usable.push(i);
  });
  return usable;
}

/**
 * `fib_table_lookup` (IPv4) and `fib6_table_lookup` (IPv6): the longest prefix first, the first usable route of it
 * (routes sorted by metric), else a shorter prefix. A reject route answers with its error; a throw route sends the
 * lookup on to the next rule.
 */
function tableLookup(
  state: RoutingState,
  fam: FamilyRouting,
  tableName: string,
  flow: Flow,
  opts: TableLookupOptions,
): TableResult {
  const table = fam.tables.get(tableName);
  if (!table) return { kind: 'again' };
  for (const match of table.trie.matches(flow.dst)) {
    const values = match.values;
    for (let i = 0; i < values.length; i++) {
      const route = values[i] as Route;
      if (route.tos && Number(route.tos) !== flow.tos) continue;
      if (route.from && !cidrContains(route.from, flow.src)) continue;
      const reject = REJECT_ERRORS[route.type];
      // IPv6 reject routes hang off the loopback device, so a strict interface lookup passes them by.
      if (reject && fam.family === 6 && opts.requireDev !== undefined && (route.dev ?? LO) !== opts.requireDev)
        continue;
      if (reject === 'again') return { kind: 'again', throwRoute: route };
      if (reject) return { kind: 'error', errno: reject, route };
      const usable = usableNexthops(state, fam, route, opts);
      if (!usable.length) continue;
      let chosen = { route, usable };
      if (fam.family === 6 && opts.preferDev !== undefined) {
        // rt6_select scores routes of the same metric; one through the preferred device wins.
        for (let j = i; j < values.length; j++) {
          const other = values[j] as Route;
          if (other.metric !== route.metric || REJECT_ERRORS[other.type]) continue;
          const u = usableNexthops(state, fam, other, opts).filter((k) => nexthopsOf(other)[k]?.dev === opts.preferDev);
          if (u.length) {
            chosen = { route: other, usable: u };
            break;
          }
        }
      }
      return {
        kind: 'found',
        route: chosen.route,
        nh: chosen.usable[0] as number,
        usable: chosen.usable,
        prefix: match.prefix,
      };
    }
  }
  return { kind: 'again' };
}

/** `fib_rules_lookup` over the family's rules. */
function fibLookup(state: RoutingState, flow: Flow, opts: TableLookupOptions = {}): LookupResult {
  const fam = familyState(state, flow.family);
  if (flow.family === 4 && flow.oif !== undefined) opts = { ...opts, requireDev: flow.oif };
  const rules = fam.rules;
  const tried: string[] = [];
  let lastThrow: { route: Route; table: string } | undefined;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as Rule;
    if (!ruleMatches(rule, flow)) continue;
    switch (rule.action) {
      case 'goto': {
        // Gotos only go forward (the kernel refuses others); an unresolved target makes the rule a no-op.
        const target = rules.findIndex((r) => r.priority === rule.goto);
        if (target > i) i = target - 1;
        continue;
      }
      case 'nop':
        continue;
      case 'blackhole':
        return { kind: 'error', errno: 'EINVAL', reason: `rule ${rule.priority} (${rule.text}) is a blackhole`, rule };
      case 'unreachable':
        return {
          kind: 'error',
          errno: 'ENETUNREACH',
          reason: `rule ${rule.priority} (${rule.text}) says unreachable`,
          rule,
        };
      case 'prohibit':
        return { kind: 'error', errno: 'EACCES', reason: `rule ${rule.priority} (${rule.text}) prohibits`, rule };
      case 'lookup': {
        const tableName = rule.table ?? '';
        tried.push(tableName);
        const res = tableLookup(state, fam, tableName, flow, opts);
        if (res.kind === 'again') {
          if (res.throwRoute) lastThrow = { route: res.throwRoute, table: tableName };
          continue;
        }
        if (res.kind === 'error')
          return {
            kind: 'error',
            errno: res.errno,
            reason: `${res.route.type} route ${formatPrefix(res.route.dst)} in table ${tableName}`,
            route: res.route,
            rule,
            table: tableName,
          };
        if (rule.suppressPrefixlength !== undefined && res.prefix <= rule.suppressPrefixlength) continue;
        // Without custom rules the kernel keeps the local and main tables as one and names it main.
        const merged = fam.family === 4 && !fam.customRules && tableName === 'local';
        return { ...res, table: merged ? 'main' : tableName, rule };
      }
    }
  }
  const reason = lastThrow
    ? `throw route ${formatPrefix(lastThrow.route.dst)} in table ${lastThrow.table}, and no later rule's table has a route`
    : `no route in ${tried.length ? `table${tried.length > 1 ? 's' : ''} ${[...new Set(tried)].join(', ')}` : 'any table (no rule matched)'}`;
  const failed: Failed = { kind: 'error', errno: 'ENETUNREACH', reason };
  if (lastThrow) {
    failed.route = lastThrow.route;
    failed.table = lastThrow.table;
  }
  return failed;
}

// IPv4 address classes the kernel treats specially. Since Linux 5.3 only 0.0.0.0 itself is "zeronet"; 0.0.0.0/8 is
// otherwise an ordinary range (older kernels treat all of 0/8 as martian: not modelled).
const isZeronet = (ip: Ip) => ip.family === 4 && ip.value === 0;
const isLbcast = (ip: Ip) => ip.family === 4 && ip.value === 0xffffffff;
const isMulticast = (ip: Ip) =>
  ip.family === 4 ? (ip.value as number) >>> 28 === 0xe : (ip.value as bigint) >> 120n === 0xffn;
const isLocalMulticast = (ip: Ip) => ip.family === 4 && (ip.value as number) >>> 8 === 0xe00000;
const isLoopback = (ip: Ip) => ip.family === 4 && (ip.value as number) >>> 24 === 127;

function fail(family: IpFamily, errno: RouteErrno, reason: string, extra: Partial<RouteGetError> = {}): RouteGetError {
  const message =
    errno === 'ENODEV'
      ? reason
      : errno === 'UNMODELLED'
        ? `netdoctor does not model this: ${reason}`
        : `RTNETLINK answers: ${ERRNO_MESSAGES[errno]}`;
  return { ok: false, family, errno, message, reason, notes: [], ...extra };
}

function fromLookup(family: IpFamily, r: Failed, notes: string[]): RouteGetError {
  const extra: Partial<RouteGetError> = { notes };
  if (r.route) extra.route = r.route;
  if (r.rule) extra.rule = r.rule;
  if (r.table) extra.table = r.table;
  return fail(family, r.errno, r.reason, extra);
}

/** Print the answer as `ip route get` does (without uid and cache details). */
function formatAnswer(r: Omit<RouteGetOk, 'text'>): string {
  const out: string[] = [];
  if (r.type !== 'unicast') out.push(r.type);
  out.push(r.dst);
  if (r.from) out.push('from', r.from);
  if (r.gateway) out.push('via', r.gateway);
  out.push('dev', r.dev);
  if (r.table !== 'main') out.push('table', r.table);
  if (r.prefsrc) out.push('src', r.prefsrc);
  if (r.iif) out.push('iif', r.iif);
  return out.join(' ');
}

function answer(r: Omit<RouteGetOk, 'text' | 'ok'>): RouteGetOk {
  const ok = { ok: true as const, ...r };
  return { ...ok, text: formatAnswer(ok) };
}

/** The answer of the kernel to `ip route get DST [from SRC] [iif DEV] [oif DEV] [mark M]`. */
export function routeGet(state: RoutingState, query: RouteQuery): RouteGetResult {
  const dst = parseIp(query.dst);
  if (!dst) return fail(4, 'EINVAL', `"${query.dst}" is not an address`);
  const family = dst.family;
  let src: Ip | undefined;
  if (query.src !== undefined) {
    src = parseIp(query.src);
    if (!src || src.family !== family) return fail(family, 'EINVAL', `"${query.src}" is not an IPv${family} address`);
  }
  for (const dev of [query.iif, query.oif])
    if (dev !== undefined && state.devices.size && !state.devices.has(dev))
      return fail(family, 'ENODEV', `Cannot find device "${dev}"`);
  const ipproto = query.ipproto === undefined ? 0 : (parseProtocol(String(query.ipproto)) ?? 0);
  const flow: Flow = {
    family,
    dst,
    src: src ?? (family === 4 ? ZERO4 : ZERO6),
    srcGiven: src !== undefined,
    iif: query.iif ?? LO,
    mark: query.mark ?? 0,
    tos: query.tos ?? 0,
    ipproto,
    sport: query.sport ?? 0,
    dport: query.dport ?? 0,
    uid: query.uid ?? 0,
  };
  if (query.oif !== undefined) flow.oif = query.oif;
  const notes: string[] = [];
  if (family === 6) return query.iif !== undefined ? input6(state, flow, notes) : output6(state, flow, notes);
  return query.iif !== undefined ? input4(state, flow, notes) : output4(state, flow, notes);
}

function multipathNotes(found: Found, notes: string[]): Nexthop[] | undefined {
  if (found.usable.length < 2) return undefined;
  notes.push('multipath route: the kernel picks one of its nexthops per flow by a hash');
  const nhs = nexthopsOf(found.route);
  return found.usable.map((i) => nhs[i] as Nexthop);
}

function prefsrc4(state: RoutingState, found: Found): string | undefined {
  if (found.route.prefsrc) return found.route.prefsrc;
  const nh = nexthopsOf(found.route)[found.nh] as Nexthop;
  const gw = nh.gateway && !nh.gatewayFamily ? parseIp(nh.gateway) : undefined;
  return nh.dev ? selectSource4(state, nh.dev, gw, scopeValue(found.route.scope)) : undefined;
}

/** `ip_route_output_key_hash_rcu` and `__mkroute_output`. */
function output4(state: RoutingState, flow: Flow, notes: string[]): RouteGetResult {
  const { dst } = flow;
  let src = flow.srcGiven ? flow.src : undefined;
  const localHit = src ? addressType(state, src) === 'local' : false;
  if (src) {
    if (isMulticast(src) || isLbcast(src) || isZeronet(src))
      return fail(4, 'EINVAL', `source ${formatIp(src)} can't be a packet's source`, { notes });
    if (!isLocalAddress(state, src, localHit))
      return fail(4, 'ENETUNREACH', `source ${formatIp(src)} is not an address of this node`, { notes });
    if (flow.oif === undefined && (isMulticast(dst) || isLbcast(dst))) {
      // The kernel sends such packets out of the device that owns the source address.
      const owner = deviceOf(state, src);
      if (!owner) return fail(4, 'UNMODELLED', 'which device owns the source address is not known', { notes });
      return makeOutput4(state, flow, notes, { type: 'unicast', table: 'main', dev: owner, src });
    }
  }
  if (flow.oif !== undefined) {
    const dev = state.devices.get(flow.oif);
    if (dev && !dev.up) return fail(4, 'ENETUNREACH', `device ${flow.oif} is down`, { notes });
    if (isLocalMulticast(dst) || isLbcast(dst)) {
      src ??= ipOrUndefined(selectSource4(state, flow.oif, undefined, 253));
      return makeOutput4(state, flow, notes, { type: 'unicast', table: 'main', dev: flow.oif, src });
    }
    if (!src && isMulticast(dst)) src = ipOrUndefined(selectSource4(state, flow.oif, undefined, 0));
    else if (!src && dst.value === 0) src = ipOrUndefined(selectSource4(state, flow.oif, undefined, 254));
  }
  if (dst.value === 0) {
    const d = src ?? { family: 4 as const, value: 0x7f000001 };
    return makeOutput4(state, { ...flow, dst: d }, notes, { type: 'local', table: 'main', dev: LO, src: d });
  }
  const found = fibLookup(state, src ? { ...flow, src } : flow);
  if (found.kind === 'error') {
    if (flow.oif !== undefined) {
      // The kernel assumes the destination is on the link of the device it was told to use.
      src ??= ipOrUndefined(selectSource4(state, flow.oif, undefined, 253));
      notes.push(`no usable route (${found.reason}); with oif the kernel sends on ${flow.oif} as if on link`);
      return makeOutput4(state, flow, notes, { type: 'unicast', table: 'main', dev: flow.oif, src });
    }
    return fromLookup(4, found, notes);
  }
  const route = found.route;
  if (route.type === 'local') {
    src ??= parseIp(route.prefsrc ?? '') ?? dst;
    return makeOutput4(state, flow, notes, { type: 'local', table: found.table, dev: LO, src, found });
  }
  const alternatives = flow.oif === undefined ? multipathNotes(found, notes) : undefined;
  src ??= ipOrUndefined(prefsrc4(state, found));
  const nh = nexthopsOf(route)[found.nh] as Nexthop;
  const devOut = nh.dev;
  if (!devOut) return fail(4, 'UNMODELLED', `route ${route.text} has no device`, { notes, route });
  return makeOutput4(state, flow, notes, {
    type: route.type,
    table: found.table,
    dev: devOut,
    src,
    found,
    nh,
    alternatives,
  });
}

function deviceOf(state: RoutingState, ip: Ip): string | undefined {
  const text = formatIp(ip);
  for (const d of state.devices.values()) if (d.addresses.some((a) => a.local === text)) return d.name;
  return undefined;
}

function ipOrUndefined(text: string | undefined): Ip | undefined {
  return text === undefined ? undefined : parseIp(text);
}

interface MakeRoute {
  type: RouteType;
  table: string;
  dev: string;
  src: Ip | undefined;
  found?: Found;
  nh?: Nexthop;
  alternatives?: Nexthop[] | undefined;
}

function makeOutput4(state: RoutingState, flow: Flow, notes: string[], m: MakeRoute): RouteGetResult {
  const dev = state.devices.get(m.dev);
  const devIsLoopback = dev ? dev.loopback : m.dev === LO;
  if (m.src && isLoopback(m.src) && !devIsLoopback)
    return fail(4, 'EINVAL', `source ${formatIp(m.src)} is a loopback address but the packet leaves by ${m.dev}`, {
      notes,
    });
  let type = m.type;
  let gateway = m.nh?.gateway;
  if (isLbcast(flow.dst)) type = 'broadcast';
  else if (isMulticast(flow.dst)) type = 'multicast';
  else if (isZeronet(flow.dst))
    return fail(4, 'EINVAL', `destination ${formatIp(flow.dst)} is in 0.0.0.0/8`, { notes });
  if (type === 'broadcast') gateway = undefined;
  if (type === 'multicast' && (m.found?.prefix ?? 0) < 4) gateway = undefined;
  const out: Omit<RouteGetOk, 'text' | 'ok'> = {
    family: 4,
    type,
    table: m.table,
    dst: formatIp(flow.dst),
    dev: m.dev,
    notes,
  };
  if (flow.srcGiven) out.from = formatIp(flow.src);
  if (gateway) out.gateway = gateway;
  if (m.src) out.prefsrc = formatIp(m.src);
  if (m.found) {
    out.route = m.found.route;
    out.rule = m.found.rule;
  }
  if (m.alternatives) out.alternatives = m.alternatives;
  return answer(out);
}

/** The sysctls input routing depends on, with the kernel's defaults when unknown. */
function inputConf(state: RoutingState, dev: string, notes: string[]) {
  const conf = (leaf: string, how: 'or' | 'max' | 'dev', fallback: number) => {
    const v = devConf(state, 4, dev, leaf, how);
    if (v === undefined) {
      if (!notes.some((n) => n.startsWith('sysctls not known')))
        notes.push('sysctls not known: forwarding taken as on, rp_filter and accept_local as off');
      return fallback;
    }
    return v;
  };
  return {
    forwarding: () => conf('forwarding', 'dev', 1) !== 0,
    rpFilter: () => conf('rp_filter', 'max', 0),
    acceptLocal: () => conf('accept_local', 'or', 0) !== 0,
    routeLocalnet: () => conf('route_localnet', 'or', 0) !== 0,
    sendRedirects: () => conf('send_redirects', 'or', 1) !== 0,
    srcValidMark: () => conf('src_valid_mark', 'or', 0) !== 0,
    bcForwarding: () => conf('bc_forwarding', 'or', 0) !== 0,
  };
}

/** `fib_validate_source`: the reverse-path check of a received packet's source; undefined when it passes. */
function validateSource(
  state: RoutingState,
  flow: Flow,
  dstForReverse: Ip,
  oif: string | undefined,
  notes: string[],
): Failed | undefined {
  const dev = flow.iif;
  const conf = inputConf(state, dev, notes);
  const rpf = conf.rpFilter();
  if (!rpf && (dev !== oif || !conf.sendRedirects())) {
    if (conf.acceptLocal()) return undefined;
    if (!(state.v4.customLocalRoutes || state.v4.customRules)) {
      if (isLocalAddress(state, flow.src, addressType(state, flow.src) === 'local'))
        return { kind: 'error', errno: 'EINVAL', reason: `source ${formatIp(flow.src)} is this node's own address` };
      return undefined;
    }
  }
  const reverse: Flow = {
    ...flow,
    dst: flow.src,
    src: dstForReverse,
    iif: oif ?? LO,
    mark: conf.srcValidMark() ? flow.mark : 0,
    ipproto: 0,
    sport: 0,
    dport: 0,
  };
  delete reverse.oif;
  const res = fibLookup(state, reverse);
  // Current kernels answer a reverse-path failure with EINVAL; before 6.13 it was EXDEV ("Invalid cross-device link").
  const rpFail = (why: string): Failed | undefined =>
    rpf
      ? { kind: 'error', errno: 'EINVAL', reason: `reverse-path filter (rp_filter=${rpf}) on ${dev}: ${why}` }
      : undefined;
  if (res.kind === 'error') return rpFail(`no route back to ${formatIp(flow.src)}`);
  const t = res.route.type;
  if (t !== 'unicast' && !(t === 'local' && conf.acceptLocal()))
    return {
      kind: 'error',
      errno: 'EINVAL',
      reason: `source ${formatIp(flow.src)} routes back as ${t} (${res.route.text}): a martian source`,
    };
  const devMatch = nexthopsOf(res.route).some((nh) => nh.dev === dev) || (t === 'local' && dev === LO);
  if (devMatch) return undefined;
  if (!hasIpv4(state, dev)) return rpFail(`${dev} has no IPv4 address`);
  if (rpf === 1)
    return rpFail(`the route back to ${formatIp(flow.src)} leaves by ${nexthopsOf(res.route)[0]?.dev}, not ${dev}`);
  return undefined;
}

/** `ip_route_input_slow`. */
function input4(state: RoutingState, flow: Flow, notes: string[]): RouteGetResult {
  const { dst, src } = flow;
  const dev = flow.iif;
  const conf = inputConf(state, dev, notes);
  if (isMulticast(dst)) return fail(4, 'UNMODELLED', 'multicast received on an interface', { notes });
  if (isMulticast(src) || isLbcast(src))
    return fail(4, 'EINVAL', `martian source ${formatIp(src)} (multicast or broadcast)`, { notes });
  const brdInput = (table: string, found?: Found): RouteGetResult => {
    if (!isZeronet(src)) {
      const bad = validateSource(state, flow, ZERO4, undefined, notes);
      if (bad) return fromLookup(4, bad, notes);
    }
    const out: Omit<RouteGetOk, 'text' | 'ok'> = {
      family: 4,
      type: 'broadcast',
      table,
      dst: formatIp(dst),
      dev: LO,
      iif: dev,
      notes,
    };
    if (flow.srcGiven) out.from = formatIp(src);
    if (found) {
      out.route = found.route;
      out.rule = found.rule;
    }
    return answer(out);
  };
  if (isLbcast(dst) || (src.value === 0 && dst.value === 0)) return brdInput('main');
  if (isZeronet(src)) return fail(4, 'EINVAL', `martian source ${formatIp(src)}`, { notes });
  if (isZeronet(dst)) return fail(4, 'EINVAL', `martian destination ${formatIp(dst)}`, { notes });
  if (isLoopback(dst) && !conf.routeLocalnet())
    return fail(4, 'EINVAL', `martian destination ${formatIp(dst)} (loopback received on ${dev})`, { notes });
  if (isLoopback(src) && !conf.routeLocalnet())
    return fail(4, 'EINVAL', `martian source ${formatIp(src)} (loopback received on ${dev})`, { notes });
  const found = fibLookup(state, flow);
  if (found.kind === 'error') {
    if (!conf.forwarding())
      return fail(4, 'EHOSTUNREACH', `${found.reason}, and forwarding is off on ${dev}`, {
        notes,
        ...(found.route ? { route: found.route } : {}),
        ...(found.rule ? { rule: found.rule } : {}),
      });
    return fromLookup(4, found, notes);
  }
  const route = found.route;
  if (route.type === 'broadcast' && !conf.bcForwarding()) return brdInput(found.table, found);
  if (route.type === 'local') {
    const bad = validateSource(state, flow, dst, undefined, notes);
    if (bad) return fromLookup(4, bad, notes);
    const out: Omit<RouteGetOk, 'text' | 'ok'> = {
      family: 4,
      type: 'local',
      table: found.table,
      dst: formatIp(dst),
      dev: LO,
      iif: dev,
      route,
      rule: found.rule,
      notes,
    };
    if (flow.srcGiven) out.from = formatIp(src);
    return answer(out);
  }
  if (!conf.forwarding())
    return fail(4, 'EHOSTUNREACH', `forwarding is off on ${dev} (net.ipv4.conf.${dev}.forwarding=0)`, {
      notes,
      route,
      rule: found.rule,
    });
  if (route.type !== 'unicast')
    return fail(4, 'EINVAL', `martian destination: ${route.type} route ${route.text}`, { notes, route });
  const alternatives = multipathNotes(found, notes);
  const nh = nexthopsOf(route)[found.nh] as Nexthop;
  if (!nh.dev) return fail(4, 'UNMODELLED', `route ${route.text} has no device`, { notes, route });
  const bad = validateSource(state, flow, dst, nh.dev, notes);
  if (bad) return fromLookup(4, bad, notes);
  const out: Omit<RouteGetOk, 'text' | 'ok'> = {
    family: 4,
    type: 'unicast',
    table: found.table,
    dst: formatIp(dst),
    dev: nh.dev,
    iif: dev,
    route,
    rule: found.rule,
    notes,
  };
  if (flow.srcGiven) out.from = formatIp(src);
  if (nh.gateway) out.gateway = nh.gateway;
  if (alternatives) out.alternatives = alternatives;
  return answer(out);
}

/** IPv6: rules and tables as for IPv4; reject routes give their errors, a table miss continues with the next rule. */
/** Multicast, link-local and loopback destinations need the exact device (`rt6_need_strict`). */
function needStrict6(ip: Ip): boolean {
  const v = ip.value as bigint;
  return v >> 120n === 0xffn || v >> 118n === 0x3fan || v === 1n;
}

function lookup6(state: RoutingState, flow: Flow, notes: string[], input: boolean): RouteGetResult {
  const strict = needStrict6(flow.dst);
  const opts: TableLookupOptions = {};
  if (input) {
    if (isMulticast(flow.dst)) return fail(6, 'UNMODELLED', 'multicast received on an interface', { notes });
    if (strict) opts.requireDev = flow.iif;
    else opts.preferDev = flow.iif;
  } else if (flow.oif !== undefined) {
    if (strict || !flow.srcGiven) opts.requireDev = flow.oif;
    else opts.preferDev = flow.oif;
  }
  const found = fibLookup(state, flow, opts);
  if (found.kind === 'error') return fromLookup(6, found, notes);
  const route = found.route;
  const nh = nexthopsOf(route)[found.nh] as Nexthop;
  const alternatives = flow.oif === undefined ? multipathNotes(found, notes) : undefined;
  const dev = route.type === 'local' ? LO : nh.dev;
  if (!dev) return fail(6, 'UNMODELLED', `route ${route.text} has no device`, { notes, route });
  const out: Omit<RouteGetOk, 'text' | 'ok'> = {
    family: 6,
    type: route.type,
    table: found.table,
    dst: formatIp(flow.dst),
    dev,
    route,
    rule: found.rule,
    notes,
  };
  if (flow.srcGiven) out.from = formatIp(flow.src);
  if (nh.gateway) out.gateway = nh.gateway;
  if (input) out.iif = flow.iif;
  else {
    const ps = route.prefsrc ?? (flow.srcGiven ? undefined : selectSource6(state, nh.dev, flow.dst));
    if (ps) out.prefsrc = ps;
  }
  if (alternatives) out.alternatives = alternatives;
  return answer(out);
}

function output6(state: RoutingState, flow: Flow, notes: string[]): RouteGetResult {
  if (flow.oif !== undefined) {
    const dev = state.devices.get(flow.oif);
    if (dev && !dev.up) return fail(6, 'ENETUNREACH', `device ${flow.oif} is down`, { notes });
  }
  return lookup6(state, flow, notes, false);
}

function input6(state: RoutingState, flow: Flow, notes: string[]): RouteGetResult {
  return lookup6(state, flow, notes, true);
}
