/**
 * `ip route show` text to the objects `ip -j route show` prints, for routes users paste as text. Only what iproute2
 * prints for ordinary routes is converted (types, gateways, devices, tables, protocols, scopes, source addresses,
 * metrics, flags, realms, route metrics, multipath nexthops, IPv6 preference and expiry); a line holding anything else
 * (encap, `rtt 10ms`, cache entries, ...) stops the conversion, so a converted table is exact or is not made.
 * Checked against iproute2's own JSON in the tests.
 */

export type RouteJson = Record<string, unknown>;

export type RouteTextResult =
  | { ok: true; routes: RouteJson[] }
  | { ok: false; line: number; text: string; reason: string };

const TYPES = new Set([
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
]);
const FLAGS = new Set([
  'dead',
  'onlink',
  'pervasive',
  'offload',
  'trap',
  'notify',
  'linkdown',
  'unresolved',
  'rt_offload',
  'rt_trap',
  'rt_offload_failed',
]);
/** Route metrics iproute2 prints as plain numbers. */
const NUMERIC_METRICS = new Set([
  'mtu',
  'advmss',
  'window',
  'cwnd',
  'ssthresh',
  'reordering',
  'hoplimit',
  'initcwnd',
  'initrwnd',
  'quickack',
  'fastopen_no_cookie',
]);
/** The order of keys in iproute2's JSON, so converted output reads like the real thing. */
const KEY_ORDER = [
  'type',
  'dst',
  'from',
  'tos',
  'nhid',
  'gateway',
  'via',
  'dev',
  'table',
  'protocol',
  'scope',
  'prefsrc',
  'metric',
  'flags',
  'flow',
  'metrics',
  'nexthops',
  'expires',
  'pref',
];

const INTEGER = /^\d+$/;

class Unconvertible extends Error {}

function ordered(r: RouteJson): RouteJson {
  const out: RouteJson = {};
  for (const k of KEY_ORDER) if (k in r) out[k] = r[k];
  return out;
}

function gatewayOf(words: string[], i: number, target: RouteJson): number {
  const next = words[i + 1];
  if (next === 'inet' || next === 'inet6') {
    const host = words[i + 2];
    if (!host) throw new Unconvertible('"via" without an address');
    target.via = { family: next, host };
    return i + 3;
  }
  if (!next) throw new Unconvertible('"via" without an address');
  target.gateway = next;
  return i + 2;
}

function parseNexthop(words: string[]): RouteJson {
  const nh: RouteJson = {};
  const flags: string[] = [];
  let i = 1;
  while (i < words.length) {
    const w = words[i];
    if (w === 'via') i = gatewayOf(words, i, nh);
    else if (w === 'dev' && words[i + 1]) {
      nh.dev = words[i + 1];
      i += 2;
    } else if (w === 'weight' && INTEGER.test(words[i + 1] ?? '')) {
      nh.weight = Number(words[i + 1]);
      i += 2;
    } else if (FLAGS.has(w)) {
      flags.push(w);
      i++;
    } else throw new Unconvertible(`"${w}" in a nexthop`);
  }
  nh.flags = flags;
  const out: RouteJson = {};
  for (const k of ['gateway', 'via', 'dev', 'weight', 'flags']) if (k in nh) out[k] = nh[k];
  return out;
}

function parseRoute(words: string[]): RouteJson {
  const r: RouteJson = {};
  const flags: string[] = [];
  let i = 0;
  if (TYPES.has(words[0])) {
    if (words[0] !== 'unicast') r.type = words[0];
    i++;
  }
  const dst = words[i++];
  if (!dst || !/^(default|[0-9a-fA-F.:]+(\/\d+)?)$/.test(dst)) throw new Unconvertible('no destination');
  r.dst = dst;
  const value = (k: string): string => {
    const v = words[i + 1];
    if (v === undefined) throw new Unconvertible(`"${k}" without a value`);
    i += 2;
    return v;
  };
  while (i < words.length) {
    const w = words[i];
    if (FLAGS.has(w)) {
      flags.push(w);
      i++;
      continue;
    }
    if (NUMERIC_METRICS.has(w)) {
      i++;
      if (words[i] === 'lock') i++; // iproute2's JSON drops the lock too
      const v = words[i];
      if (!INTEGER.test(v ?? '')) throw new Unconvertible(`"${w}" without a number`);
      if (!r.metrics) r.metrics = [{}];
      (r.metrics as Record<string, number>[])[0][w] = Number(v);
      i++;
      continue;
    }
    switch (w) {
      case 'via':
        i = gatewayOf(words, i, r);
        break;
      case 'from':
        r.from = value(w);
        break;
      case 'tos':
        r.tos = value(w);
        break;
      case 'nhid': {
        const v = value(w);
        if (!INTEGER.test(v)) throw new Unconvertible('"nhid" without a number');
        r.nhid = Number(v);
        break;
      }
      case 'dev':
        r.dev = value(w);
        break;
      case 'table': {
        const v = value(w);
        if (v !== 'main') r.table = v;
        break;
      }
      case 'proto': {
        const v = value(w);
        if (v !== 'boot') r.protocol = v;
        break;
      }
      case 'scope': {
        const v = value(w);
        if (v !== 'global' && v !== 'universe') r.scope = v;
        break;
      }
      case 'src':
        r.prefsrc = value(w);
        break;
      case 'metric': {
        const v = value(w);
        if (!INTEGER.test(v)) throw new Unconvertible('"metric" without a number');
        r.metric = Number(v);
        break;
      }
      case 'realm':
        r.flow = { to: value(w) };
        break;
      case 'realms': {
        const [from, to] = value(w).split('/');
        if (from === undefined || to === undefined) throw new Unconvertible('"realms" not FROM/TO');
        r.flow = { from, to };
        break;
      }
      case 'pref':
        r.pref = value(w);
        break;
      case 'expires': {
        const m = /^(\d+)sec$/.exec(value(w));
        if (!m) throw new Unconvertible('"expires" not in seconds');
        r.expires = Number(m[1]);
        break;
      }
      default:
        throw new Unconvertible(`"${w}" is not converted`);
    }
  }
  r.flags = flags;
  return r;
}

/** Converts the text of `ip [-6] route show [table all]`. Blank lines are ignored. */
export function routeTextToJson(text: string): RouteTextResult {
  const routes: RouteJson[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    if (!line.trim()) continue;
    const words = line.trim().split(/\s+/);
    try {
      if (/^\s/.test(line) && words[0] === 'nexthop') {
        const last = routes[routes.length - 1];
        if (!last) throw new Unconvertible('a nexthop line before any route');
        if (!last.nexthops) last.nexthops = [];
        (last.nexthops as RouteJson[]).push(parseNexthop(words));
        continue;
      }
      if (/^\s/.test(line)) throw new Unconvertible('an indented line that is not a nexthop');
      routes.push(parseRoute(words));
    } catch (e) {
      if (!(e instanceof Unconvertible)) throw e;
      return { ok: false, line: n + 1, text: line, reason: e.message };
    }
  }
  return { ok: true, routes: routes.map(ordered) };
}
