/**
 * nft statements: verdicts, counters and logs, limits, reject, NAT, mark and conntrack changes, verdict maps. Each
 * compiles into model expressions (matches and actions) plus the nft text of the statement.
 */
import { formatIp, type Ip } from '../../core/ip.js';
import type { ClientSees, RejectInfo } from '../../core/vocabulary.js';
import type { ActionExpr, Choice, Expr, Flow, MatchExpr, NodeEnv, Packet, Rewrite } from '../model.js';
import { rejectInfo } from '../targets/reject.js';
import type { CompileContext, Getter } from './context.js';
import { compileGetter, compileValue, definite, isObject, kindOf } from './expr.js';
import { compileMatch } from './match.js';
import { buildSet, type CompiledSet, candidates, elementText, lookup } from './sets.js';
import {
  ABSENT,
  DSCP,
  type Got,
  INET_SERVICE,
  IPV4,
  IPV6,
  isUnknown,
  MARK,
  type NftType,
  TYPES_BY_NAME,
  type Unknown,
  type Val,
} from './types.js';

export interface CompiledStmt {
  exprs: Expr[];
  /** nft text of the statement (empty for statements that print nothing). */
  text: string;
  /** Canonical text: the same, without counters and comments. */
  canonical: string;
  exactDst?: string;
}

const CONTINUE: Flow = { kind: 'continue' };

function action(name: string, canonical: string, apply: ActionExpr['apply'], natOnly = false): ActionExpr {
  const a: ActionExpr = { kind: 'action', name, canonical, apply };
  if (natOnly) a.natOnly = true;
  return a;
}

function stmt(exprs: Expr[], text: string, canonical = text): CompiledStmt {
  return { exprs, text, canonical };
}

function unknownAction(name: string, text: string, why: string): CompiledStmt {
  const flow: Flow = { kind: 'unknown', why };
  return stmt([action(name, `?${text}`, () => flow)], text);
}

function choiceMatch(name: string, text: string, choice: Choice): MatchExpr {
  return { kind: 'match', name, canonical: text, test: () => choice };
}

/** A hidden dependency nft adds to a statement (`meta nfproto ipv4` before `dnat ip to`, `meta l4proto tcp` before a TCP reset). */
function dependency(name: string, test: (pkt: Packet, env: NodeEnv) => boolean): MatchExpr {
  return { kind: 'match', name, canonical: '', test };
}

const V4 = dependency('meta nfproto ipv4', (p) => p.family === 4);
const V6 = dependency('meta nfproto ipv6', (p) => p.family === 6);
const TCP = dependency('meta l4proto tcp', (p) => p.proto === 6);

/** A verdict object (`{"accept": null}`, `{"jump": {"target": "x"}}`) as a Flow, or an error text. */
export function verdictFlow(json: unknown, ctx: CompileContext): { flow: Flow; text: string } | string {
  const kind = kindOf(json);
  if (!kind) return `not a verdict: ${JSON.stringify(json)?.slice(0, 60)}`;
  const body = (json as Record<string, unknown>)[kind];
  switch (kind) {
    case 'accept':
    case 'drop':
    case 'return':
      return { flow: { kind }, text: kind };
    case 'continue':
      return { flow: CONTINUE, text: 'continue' };
    case 'jump':
    case 'goto': {
      const target = isObject(body) ? body.target : undefined;
      if (typeof target !== 'string') return `${kind} without a target`;
      if (!ctx.hasChain(target))
        ctx.issue('error', `${kind} to chain ${target}, which table ${ctx.table} does not have`);
      return { flow: { kind, chain: target }, text: `${kind} ${target}` };
    }
    case 'queue':
      return { flow: { kind: 'unknown', why: 'a userspace program decides (queue)' }, text: 'queue' };
    default:
      return `unknown verdict ${kind}`;
  }
}

function limitText(b: Record<string, unknown>): string {
  const rateUnit = typeof b.rate_unit === 'string' && b.rate_unit !== 'packets' ? ` ${b.rate_unit}` : '';
  const burst =
    b.burst !== undefined && Number(b.burst) !== 5 && Number(b.burst) !== 0
      ? ` burst ${String(b.burst)} ${typeof b.burst_unit === 'string' && rateUnit ? b.burst_unit : 'packets'}`
      : '';
  return `limit rate ${b.inv ? 'over ' : ''}${String(b.rate)}${rateUnit}/${String(b.per ?? 'second')}${burst}`;
}

function quoted(s: unknown): string {
  return `"${String(s).replace(/"/g, '\\"')}"`;
}

function logText(b: unknown): string {
  if (!isObject(b)) return 'log';
  const parts = ['log'];
  if (b.prefix !== undefined) parts.push(`prefix ${quoted(b.prefix)}`);
  if (b.level !== undefined) parts.push(`level ${String(b.level)}`);
  if (b.group !== undefined) parts.push(`group ${String(b.group)}`);
  if (b.snaplen !== undefined) parts.push(`snaplen ${String(b.snaplen)}`);
  if (b['queue-threshold'] !== undefined) parts.push(`queue-threshold ${String(b['queue-threshold'])}`);
  if (b.flags !== undefined) parts.push(`flags ${(Array.isArray(b.flags) ? b.flags : [b.flags]).join(',')}`);
  return parts.join(' ');
}

const ICMPX: Record<string, ClientSees> = {
  'port-unreachable': 'refused',
  'admin-prohibited': 'admin prohibited',
  'host-unreachable': 'no route to host',
  'no-route': 'network unreachable',
};

/** nft reject → what the client sees, through the iptables names where they exist. */
function rejectOf(type: string, code: string, family: 4 | 6): RejectInfo {
  if (type === 'tcp reset') return rejectInfo('tcp-reset', family);
  if (type === 'icmpx') return { with: `icmpx ${code}`, clientSees: ICMPX[code] ?? 'timeout' };
  const name =
    type === 'icmp'
      ? code === 'prot-unreachable'
        ? 'icmp-proto-unreachable'
        : `icmp-${code}`
      : code === 'admin-prohibited'
        ? 'icmp6-adm-prohibited'
        : `icmp6-${code}`;
  try {
    return rejectInfo(name, type === 'icmp' ? 4 : 6);
  } catch {
    // A code iptables has no name for (frag-needed, a number): the client gets an error it does not report as such.
    return { with: `${type} ${code}`, clientSees: 'timeout' };
  }
}

function compileReject(body: unknown, ctx: CompileContext): CompiledStmt {
  const b = isObject(body) ? body : {};
  const fam = ctx.family;
  let type = typeof b.type === 'string' ? b.type : fam === 'ip' ? 'icmp' : fam === 'ip6' ? 'icmpv6' : 'icmpx';
  let code = typeof b.expr === 'string' ? b.expr : typeof b.expr === 'number' ? String(b.expr) : 'port-unreachable';
  if (type === 'icmp6') type = 'icmpv6';
  if (type === 'tcp rst') type = 'tcp reset';
  const familyDefault = fam === 'ip' ? 'icmp' : fam === 'ip6' ? 'icmpv6' : 'icmpx';
  const isDefault = type === familyDefault && code === 'port-unreachable';
  const text = type === 'tcp reset' ? 'reject with tcp reset' : isDefault ? 'reject' : `reject with ${type} ${code}`;
  if (type === 'tcp reset') code = '';
  const exprs: Expr[] = [];
  // In inet, bridge and netdev tables nft adds the dependency the reject type needs.
  if (type === 'tcp reset') exprs.push(TCP);
  else if (type === 'icmp' && fam !== 'ip') exprs.push(V4);
  else if (type === 'icmpv6' && fam !== 'ip6') exprs.push(V6);
  const v4: Flow = { kind: 'reject', reject: rejectOf(type, code, 4) };
  const v6: Flow = { kind: 'reject', reject: rejectOf(type, code, 6) };
  if (type === 'icmpx') {
    // icmpx sends the ICMP or ICMPv6 error that fits the packet; what the client sees is the same either way.
    const flow: Flow = { kind: 'reject', reject: { with: `icmpx ${code}`, clientSees: ICMPX[code] ?? 'timeout' } };
    if (!ICMPX[code]) ctx.issue('warning', `reject with icmpx ${code}: unknown code`);
    exprs.push(action('reject', text, () => flow));
  } else exprs.push(action('reject', text, (p) => (p.family === 4 ? v4 : v6)));
  return stmt(exprs, text);
}

/** `dnat to 10.0.0.1:80`, `snat ip to 1.2.3.4`, `masquerade`, `redirect to :8080`. */
function compileNat(
  kind: 'dnat' | 'snat' | 'masquerade' | 'redirect',
  body: unknown,
  ctx: CompileContext,
): CompiledStmt {
  const b = isObject(body) ? body : {};
  const exprs: Expr[] = [];
  const famKey = typeof b.family === 'string' ? b.family : undefined;
  if (famKey === 'ip' && ctx.family !== 'ip') exprs.push(V4);
  if (famKey === 'ip6' && ctx.family !== 'ip6') exprs.push(V6);
  const addrType: NftType = famKey === 'ip6' || ctx.family === 'ip6' ? IPV6 : IPV4;
  const flags = b.flags === undefined ? [] : Array.isArray(b.flags) ? b.flags.map(String) : [String(b.flags)];
  const flagText = flags.length ? ` ${flags.join(',')}` : '';

  // Address and port: a constant, a range (the first value is taken, as the kernel does for a new connection
  // with no competing tuple), or a map lookup.
  const addr = natValue(b.addr, addrType, ctx);
  const port = natValue(b.port, INET_SERVICE, ctx);
  if (typeof addr === 'string' || typeof port === 'string') {
    const why = typeof addr === 'string' ? addr : (port as string);
    return unknownAction(kind, `${kind} ?`, `${kind}: ${why}`);
  }
  const addrText = addr ? addr.text : '';
  const portText = port ? `:${port.text}` : '';
  let to = '';
  if (addrText || portText) to = ` to ${addrText.includes(':') && portText ? `[${addrText}]` : addrText}${portText}`;
  const text = `${kind}${famKey && ctx.family === 'inet' && (kind === 'dnat' || kind === 'snat') ? ` ${famKey}` : ''}${to}${flagText}`;
  for (const v of [addr, port]) if (v?.hit) exprs.push(v.hit);
  const accept: Flow = { kind: 'accept' };
  const pick = (v: NatValue | undefined, pkt: Packet, env: NodeEnv): Val | undefined | Unknown =>
    v ? v.value(pkt, env) : undefined;
  exprs.push(
    action(
      kind,
      text,
      (pkt, env, rewrites: Rewrite[]) => {
        const a = pick(addr, pkt, env);
        const p = pick(port, pkt, env);
        if (isUnknownVal(a) || isUnknownVal(p))
          return { kind: 'unknown', why: `${text}: ${(isUnknownVal(a) ? a : (p as Unknown)).unknown}` };
        const ip: Ip | undefined =
          a === undefined
            ? undefined
            : typeof a === 'bigint'
              ? { family: 6, value: a }
              : { family: 4, value: a as number };
        const portNum = p as number | undefined;
        switch (kind) {
          case 'dnat': {
            const before = `${formatIp(pkt.dst)}${pkt.dport !== undefined ? `:${pkt.dport}` : ''}`;
            pkt.origDst ??= pkt.dst;
            pkt.origDport ??= pkt.dport;
            if (ip) pkt.dst = ip;
            if (portNum !== undefined) pkt.dport = portNum;
            pkt.ctDnat = true;
            rewrites.push({
              kind: 'dnat',
              detail: `${before} → ${ip ? formatIp(ip) : formatIp(pkt.dst)}${portNum !== undefined ? `:${portNum}` : ''}`,
            });
            return accept;
          }
          case 'snat': {
            const before = formatIp(pkt.src);
            if (ip) pkt.src = ip;
            if (portNum !== undefined) pkt.sport = portNum;
            pkt.ctSnat = true;
            rewrites.push({
              kind: 'snat',
              detail: `${before} → ${formatIp(pkt.src)}${portNum !== undefined ? `:${portNum}` : ''}`,
            });
            return accept;
          }
          case 'masquerade':
            pkt.ctSnat = true;
            rewrites.push({
              kind: 'masquerade',
              detail: `${formatIp(pkt.src)} → the address of ${pkt.out ?? 'the outgoing interface'}`,
            });
            return accept;
          case 'redirect': {
            pkt.origDst ??= pkt.dst;
            pkt.origDport ??= pkt.dport;
            // To the node itself: the incoming interface's address (any local one), or loopback for local traffic.
            const local = pkt.in
              ? [...(env.local ?? [])].find((t) => t.includes(':') === (pkt.family === 6))
              : pkt.family === 4
                ? '127.0.0.1'
                : '::1';
            if (local)
              pkt.dst = local.includes(':')
                ? { family: 6, value: IPV6.parse(local) as bigint }
                : { family: 4, value: IPV4.parse(local) as number };
            if (portNum !== undefined) pkt.dport = portNum;
            pkt.ctDnat = true;
            rewrites.push({
              kind: 'redirect',
              detail: `to the node itself${portNum !== undefined ? ` port ${portNum}` : ''}`,
            });
            return accept;
          }
        }
      },
      true,
    ),
  );
  return stmt(exprs, text);
}

function isUnknownVal(v: Val | undefined | Unknown): v is Unknown {
  return typeof v === 'object' && v !== null;
}

interface NatValue {
  text: string;
  value(pkt: Packet, env: NodeEnv): Val | Unknown | undefined;
  /** For map lookups: the match that the key is in the map (a miss ends the rule, as in the kernel). */
  hit?: MatchExpr;
}

function natValue(json: unknown, type: NftType, ctx: CompileContext): NatValue | undefined | string {
  if (json === undefined || json === null) return undefined;
  const k = kindOf(json);
  if (k === 'range' || k === 'prefix') {
    const r = (json as Record<string, unknown>)[k];
    let lo: Val | undefined;
    let text: string;
    if (k === 'range' && Array.isArray(r) && r.length === 2) {
      lo = type.parse(r[0]);
      text = `${String(r[0])}-${String(r[1])}`;
    } else {
      const p = r as { addr?: unknown; len?: unknown };
      lo = type.prefix?.(p?.addr, Number(p?.len))?.[0];
      text = `${String(p?.addr)}/${String(p?.len)}`;
    }
    if (lo === undefined) return `bad ${k} ${JSON.stringify(r)}`;
    const v = lo;
    return { text, value: () => v };
  }
  if (k === 'map') return natMap((json as Record<string, unknown>).map, type, ctx);
  if (k) {
    // `dnat to ip saddr` and the like: any expression producing the address.
    const g = compileGetter(json, ctx);
    const hit: MatchExpr = {
      kind: 'match',
      name: `${g.text} present`,
      canonical: '',
      test: (p, env) => g.get(p, env) !== ABSENT,
    };
    return { text: g.text, hit, value: (p, env) => gotValue(g.get(p, env), g.text) };
  }
  const v = type.parse(json);
  if (v === undefined) return `"${String(json)}" is not a ${type.name}`;
  return { text: type.format(v), value: () => v };
}

function gotValue(g: Got, text: string): Val | Unknown {
  if (g === ABSENT) return { unknown: `${text} is not in the packet` };
  return g as Val | Unknown;
}

/** `dnat to ip daddr map @natmap`, `dnat to numgen inc mod 2 map { 0 : 10.0.0.1, 1 : 10.0.0.2 }`. */
function natMap(body: unknown, type: NftType, ctx: CompileContext): NatValue | string {
  if (!isObject(body)) return 'map without key and data';
  const keyJson = body.key;
  const concat = kindOf(keyJson) === 'concat' ? ((keyJson as Record<string, unknown>).concat as unknown[]) : undefined;
  const getters: Getter[] = Array.isArray(concat)
    ? concat.map((j) => compileGetter(j, ctx))
    : [compileGetter(keyJson, ctx)];
  const keyText = getters.map((g) => g.text).join(' . ');
  const set = mapOf(
    body.data,
    getters,
    ctx,
    (d) => {
      const v = type.parse(kindOf(d) === 'concat' ? ((d as { concat: unknown[] }).concat[0] as unknown) : d);
      return v === undefined ? `"${JSON.stringify(d)}" is not a ${type.name}` : v;
    },
    (d) => (d === undefined || typeof d === 'object' ? dataText(d) : type.format(d)),
  );
  if (typeof set === 'string') return set;
  const text = `${keyText} map ${set.text}`;
  const probe = mapProbe(set, getters, text);
  const hit: MatchExpr = { kind: 'match', name: 'map', canonical: '', test: probe.test };
  return {
    text,
    hit,
    value: (p, env) => {
      const r = probe.results(p, env);
      if (r === undefined || !Array.isArray(r)) return r;
      const vals = r as Val[];
      if (vals.length === 1) return vals[0] as Val;
      return {
        unknown: `${text}: the kernel picks one of ${vals.length} values (each new connection may get another)`,
      };
    },
  };
}

type MapData = Flow | Val;

/** A named map (`@name`) or an anonymous one (`{ k : v, ... }`) with its data compiled. */
function mapOf(
  json: unknown,
  getters: Getter[],
  ctx: CompileContext,
  data: (json: unknown) => MapData | string,
  format: (d: MapData | undefined) => string = dataText,
): CompiledSet<MapData> | string {
  const types = getters.map((g) => g.type);
  if (typeof json === 'string' && json.startsWith('@')) {
    const set = ctx.namedSet(json.slice(1), types) as CompiledSet<MapData> | undefined;
    if (!set) return `no map named ${json.slice(1)} in table ${ctx.table}`;
    if (set.dims !== types.length)
      return `map ${json.slice(1)} has ${set.dims} key components, the lookup ${types.length}`;
    return set;
  }
  if (kindOf(json) !== 'set') return `map data ${JSON.stringify(json)?.slice(0, 60)} is neither @name nor a set`;
  const items = (json as { set: unknown }).set;
  const { set, problems } = buildSet<MapData>('', types, Array.isArray(items) ? items : [items], data);
  for (const p of problems) ctx.issue('error', `map: ${p}`);
  set.text = `{ ${set.elements.map((e) => `${elementText(set, e)} : ${format(e.data)}`).join(', ')} }`;
  return set;
}

function dataText(d: MapData | undefined): string {
  if (d === undefined) return '?';
  if (typeof d === 'object') {
    const f = d as Flow;
    return f.kind === 'jump' || f.kind === 'goto' ? `${f.kind} ${f.chain}` : f.kind;
  }
  return typeof d === 'string' ? d : String(d);
}

/**
 * Probe a map with the packet's key: whether the key is in it (a match), and which data it yields (every possible
 * value's data for numgen/jhash keys).
 */
function mapProbe(set: CompiledSet<MapData>, getters: Getter[], text: string) {
  const dims = getters.length;
  const read = (p: Packet, env: NodeEnv): Got[] | undefined => {
    const values: Got[] = new Array(dims);
    for (let i = 0; i < dims; i++) {
      const v = (getters[i] as Getter).get(p, env);
      if (v === ABSENT) return undefined;
      values[i] = v;
    }
    return values;
  };
  /** The element indexes the key can hit; `exact` when the key is fully known. */
  const hits = (values: Got[]): { idx: number[]; misses: boolean; random: boolean; why?: string } => {
    const unknowns = values.filter(isUnknown) as Unknown[];
    if (unknowns.length === 0) {
      const i = lookup(set, values as Val[]);
      return { idx: i >= 0 ? [i] : [], misses: i < 0, random: false };
    }
    const withPossible = unknowns.every((u) => u.possible && u.possible.length <= 256) && unknowns.length === 1;
    if (withPossible) {
      const pos = values.findIndex(isUnknown);
      const u = values[pos] as Unknown;
      const idx: number[] = [];
      let misses = false;
      const cur = values.slice() as Val[];
      for (const v of u.possible ?? []) {
        cur[pos] = v;
        const i = lookup(set, cur);
        if (i >= 0) idx.push(i);
        else misses = true;
      }
      return { idx, misses, random: !!u.random, why: u.unknown };
    }
    const cand = candidates(
      set,
      values.map((v) => (isUnknown(v) ? undefined : (v as Val))),
    );
    return { idx: cand, misses: true, random: false, why: (unknowns[0] as Unknown).unknown };
  };
  const dynamic: Choice | undefined = set.dynamic ? { choice: 'unknown', why: `${text}: ${set.dynamic}` } : undefined;
  return {
    test(p: Packet, env: NodeEnv): boolean | Choice {
      const values = read(p, env);
      if (!values) return false;
      if (dynamic) return dynamic;
      const h = hits(values);
      if (h.idx.length === 0) return false;
      if (!h.misses) return true;
      return h.random
        ? { choice: 'random', why: `${text}: the value picked may have no entry` }
        : { choice: 'unknown', why: `${text}: ${h.why}` };
    },
    /** The data of every element the key can hit (one for a known key). undefined: no hit. */
    results(p: Packet, env: NodeEnv): MapData[] | Unknown | undefined {
      const values = read(p, env);
      if (!values) return undefined;
      const h = hits(values);
      if (h.idx.length === 0) return undefined;
      const out = h.idx.map((i) => set.elements[i]?.data as MapData);
      if (!h.random && h.idx.length > 1) return { unknown: `${text}: ${h.why}` };
      return out;
    },
  };
}

/** `KEY vmap { v : verdict, ... }` / `KEY vmap @map`: a match "the key has an entry", then the entry's verdict. */
function compileVmap(body: unknown, ctx: CompileContext): CompiledStmt {
  if (!isObject(body)) return unknownAction('vmap', 'vmap ?', 'vmap without key and data');
  const keyJson = body.key;
  const concat = kindOf(keyJson) === 'concat' ? ((keyJson as Record<string, unknown>).concat as unknown[]) : undefined;
  const getters: Getter[] = Array.isArray(concat)
    ? concat.map((j) => compileGetter(j, ctx))
    : [compileGetter(keyJson, ctx)];
  const keyText = getters.map((g) => g.text).join(' . ');
  const set = mapOf(body.data, getters, ctx, (d) => {
    const v = verdictFlow(d, ctx);
    return typeof v === 'string' ? v : v.flow;
  });
  if (typeof set === 'string') {
    ctx.issue('error', `vmap: ${set}`);
    return unknownAction('vmap', `${keyText} vmap ?`, `vmap: ${set}`);
  }
  const text = `${keyText} vmap ${set.text}`;
  const probe = mapProbe(set, getters, text);
  const random = getters.some((g) => g.random);
  const match: MatchExpr = { kind: 'match', name: 'vmap', canonical: '', test: probe.test };
  const act = action(random ? `${keyText} vmap` : 'vmap', text, (p, env) => {
    const r = probe.results(p, env);
    if (r === undefined) return CONTINUE;
    if (!Array.isArray(r)) return { kind: 'unknown', why: r.unknown };
    const flows = r as Flow[];
    if (flows.length === 1) return flows[0] as Flow;
    return flows;
  });
  act.jumps = [
    ...new Set(
      set.elements.flatMap((e) =>
        e.data && typeof e.data === 'object' && ((e.data as Flow).kind === 'jump' || (e.data as Flow).kind === 'goto')
          ? [(e.data as { chain: string }).chain]
          : [],
      ),
    ),
  ];
  return stmt([match, act], text);
}

/** `meta mark set ...`, `ct mark set ...`, `ip dscp set ...`. */
function compileMangle(body: unknown, ctx: CompileContext): CompiledStmt {
  if (!isObject(body)) return unknownAction('mangle', '? set ?', 'mangle without key and value');
  const keyKind = kindOf(body.key);
  const keyBody = keyKind ? ((body.key as Record<string, unknown>)[keyKind] as Record<string, unknown>) : {};
  const target =
    keyKind === 'meta' || keyKind === 'ct'
      ? `${keyKind} ${String(keyBody?.key)}`
      : keyKind === 'payload'
        ? `${String(keyBody?.protocol)} ${String(keyBody?.field)}`
        : String(keyKind);
  const targetText = target === 'meta mark' ? 'meta mark' : target;
  const valueType: NftType =
    target === 'ip dscp' || target === 'ip6 dscp'
      ? DSCP
      : target.endsWith(' mark')
        ? MARK
        : (TYPES_BY_NAME.integer as NftType);
  const value = compileValue(body.value, valueType, ctx);
  const text = `${targetText} set ${value.text}`;
  // A value read from a header or conntrack entry the packet lacks ends the rule, as the kernel's load does.
  const present = dependency(`${value.text} present`, (p, env) => value.get(p, env) !== ABSENT);
  const reads = isObject(body.value);
  const set = (name: string, write: (p: Packet, v: number, rewrites: Rewrite[]) => void): CompiledStmt =>
    stmt(
      [
        ...(reads ? [present] : []),
        action(name, text, (p, env, rewrites) => {
          const v = definite(value.get(p, env));
          if (typeof v !== 'number') {
            const g = value.get(p, env);
            return { kind: 'unknown', why: `${text}: ${isUnknown(g) ? g.unknown : 'the value is not in the packet'}` };
          }
          write(p, v >>> 0, rewrites);
          return CONTINUE;
        }),
      ],
      text,
    );
  const hex = (n: number) => `0x${n.toString(16)}`;
  switch (target) {
    case 'meta mark':
      return set('meta mark set', (p, v, rw) => {
        rw.push({ kind: 'mark', detail: `mark ${hex(p.mark)} → ${hex(v)}` });
        p.mark = v;
      });
    case 'ct mark':
      return set('ct mark set', (p, v, rw) => {
        // Without a conntrack entry there is nothing to mark.
        if (p.state === 'invalid' || p.state === 'untracked') return;
        rw.push({ kind: 'connmark', detail: `ct mark ${hex(p.ctmark)} → ${hex(v)}` });
        p.ctmark = v;
      });
    case 'ip dscp':
    case 'ip6 dscp':
      return set(`${target} set`, (p, v, rw) => {
        if ((target === 'ip dscp') !== (p.family === 4)) return;
        rw.push({ kind: 'other', detail: `dscp → ${v}` });
        p.dscp = v;
      });
    case 'meta nftrace':
    case 'meta priority':
    case 'meta secmark':
      // Tracing, qdisc priority, SELinux labels: no effect on the verdict.
      return stmt([], text);
    default:
      ctx.unsupported(`${target} set`, `${target} set (not modelled)`);
      return unknownAction(`${target} set`, text, `${text}: rewriting ${target} is not modelled`);
  }
}

/** Compile one statement of a rule's `expr` array. Never throws. */
export function compileStatement(
  json: unknown,
  ctx: CompileContext,
  chain: { hook?: string; priority?: number },
): CompiledStmt {
  const kind = kindOf(json);
  if (!kind) {
    ctx.issue('error', `unreadable statement ${JSON.stringify(json)?.slice(0, 80)}`);
    return unknownAction('?', '?', 'unreadable statement');
  }
  const body = (json as Record<string, unknown>)[kind];
  switch (kind) {
    case 'match': {
      const m = compileMatch(body, ctx);
      const out = stmt([m.expr], m.text, m.expr.canonical);
      if (m.exactDst) out.exactDst = m.exactDst;
      return out;
    }
    case 'accept':
    case 'drop':
    case 'continue':
    case 'return':
    case 'jump':
    case 'goto':
    case 'queue': {
      const v = verdictFlow(json, ctx);
      if (typeof v === 'string') {
        ctx.issue('error', v);
        return unknownAction(kind, kind, v);
      }
      const flow = v.flow;
      const text =
        kind === 'queue' && isObject(body) && body.num !== undefined ? `queue num ${String(body.num)}` : v.text;
      const act = action(kind, text, () => flow);
      if (flow.kind === 'jump' || flow.kind === 'goto') act.jumps = [flow.chain];
      return stmt([act], text);
    }
    case 'counter': {
      const text = isObject(body)
        ? `counter packets ${String(body.packets ?? 0)} bytes ${String(body.bytes ?? 0)}`
        : typeof body === 'string'
          ? `counter name ${quoted(body)}`
          : 'counter';
      return stmt([], text, '');
    }
    case 'log':
      return stmt([action('log', logText(body), () => null)], logText(body));
    case 'limit': {
      const text = isObject(body) ? limitText(body) : `limit name ${quoted(body)}`;
      return stmt(
        [
          choiceMatch('limit', text, {
            choice: 'random',
            why: `${text}: whether the rate is exceeded depends on the traffic`,
          }),
        ],
        text,
      );
    }
    case 'quota': {
      const text = isObject(body)
        ? `quota ${body.inv ? 'over ' : ''}${String(body.val)} ${String(body.val_unit ?? 'bytes')}`
        : `quota name ${quoted(body)}`;
      return stmt(
        [choiceMatch('quota', text, { choice: 'unknown', why: `${text}: depends on the bytes already counted` })],
        text,
      );
    }
    case 'ct count': {
      const b = isObject(body) ? body : {};
      const text = `ct count ${b.inv ? 'over ' : ''}${String(b.val)}`;
      return stmt(
        [choiceMatch('ct count', text, { choice: 'unknown', why: `${text}: depends on the open connections` })],
        text,
      );
    }
    case 'meter': {
      const b = isObject(body) ? body : {};
      const inner =
        isObject(b.stmt) && 'limit' in b.stmt
          ? limitText(b.stmt.limit as Record<string, unknown>)
          : JSON.stringify(b.stmt);
      const key = b.key === undefined ? '?' : compileGetter(b.key, ctx).text;
      const text = `meter ${String(b.name)}${b.size !== undefined ? ` size ${String(b.size)}` : ''} { ${key} ${inner} }`;
      const random = isObject(b.stmt) && 'limit' in b.stmt;
      return stmt(
        [
          choiceMatch('meter', text, {
            choice: random ? 'random' : 'unknown',
            why: `${text}: depends on the traffic per key`,
          }),
        ],
        text,
      );
    }
    case 'reject':
      return compileReject(body, ctx);
    case 'dnat':
    case 'snat':
    case 'masquerade':
    case 'redirect':
      return compileNat(kind, body, ctx);
    case 'mangle':
      return compileMangle(body, ctx);
    case 'notrack': {
      // notrack only acts before conntrack has seen the packet (priority below -200 on prerouting/output).
      const early =
        chain.priority === undefined ||
        (chain.priority < -200 && (chain.hook === 'prerouting' || chain.hook === 'output'));
      if (!early)
        ctx.issue(
          'warning',
          `notrack in a base chain at priority ${chain.priority}: conntrack has already seen the packet, so it does nothing`,
        );
      return stmt(
        [
          action('notrack', 'notrack', (p, _env, rewrites) => {
            if (!early || p.state !== 'new') return null;
            p.state = 'untracked';
            rewrites.push({ kind: 'notrack', detail: 'connection tracking off for this packet' });
            return null;
          }),
        ],
        'notrack',
      );
    }
    case 'vmap':
      return compileVmap(body, ctx);
    case 'set': {
      // `update @affinity { ip saddr }`: fills a dynamic set; the verdict is not affected.
      const b = isObject(body) ? body : {};
      const elem = b.elem === undefined ? '?' : compileGetter(b.elem, ctx).text;
      const text = `${String(b.op ?? 'add')} ${String(b.set)} { ${elem} }`;
      return stmt([action('set', text, () => null)], text);
    }
    case 'dup': {
      const b = isObject(body) ? body : {};
      const text = `dup to ${String(b.addr)}${b.dev !== undefined ? ` device ${quoted(b.dev)}` : ''}`;
      return stmt([action('dup', text, () => null)], text);
    }
    case 'ct helper':
    case 'ct timeout':
    case 'ct expectation':
    case 'secmark':
    case 'flow': {
      const text = `${kind} ${typeof body === 'string' ? quoted(body) : JSON.stringify(body)}`;
      return stmt([action(kind, text, () => null)], text);
    }
    case 'xt': {
      const b = isObject(body) ? body : {};
      const what = `xt ${String(b.type ?? 'match')} ${String(b.name ?? '?')}`;
      const why = `${what}: a rule iptables-nft could not translate to nft; its effect is not known`;
      ctx.unsupported('xt', 'xt statements (rules iptables-nft could not translate)');
      if (b.type === 'target') return unknownAction(what, what, why);
      if (b.type === 'watcher') return stmt([action(what, what, () => null)], what);
      return stmt([choiceMatch(what, `?${what}`, { choice: 'unknown', why })], what);
    }
    case 'fwd':
    case 'synproxy':
    case 'tproxy':
    case 'osf': {
      ctx.unsupported(kind, `${kind} statements (not modelled)`);
      return unknownAction(kind, `${kind} ${JSON.stringify(body)}`, `${kind} is not modelled`);
    }
    default: {
      ctx.unsupported(kind, `${kind} statements (not modelled)`);
      return unknownAction(kind, `${kind} ${JSON.stringify(body)?.slice(0, 80)}`, `${kind} is not modelled`);
    }
  }
}
