/**
 * Turns what the kernel reported for one packet (nf_tables trace events, x_tables counter deltas) into a decision.
 * Pure functions: no namespaces, no processes. The definition of "decisive" is in oracle.ts's header.
 */

export type Path = 'input' | 'forward' | 'output';
export type Verdict = 'accept' | 'drop' | 'reject';

export interface Decisive {
  kind: 'rule' | 'policy';
  /** nft table family: ip, ip6, inet, ... (iptables tables are ip / ip6). */
  family?: string;
  table: string;
  chain: string;
  /** 1-based position of the rule in its chain (iptables-save order, or `nft -a list ruleset` order). */
  index?: number;
  policy?: string;
  /** nft rule handle (both nft-backed iptables and native nft). */
  handle?: number;
  /** the rule as listed (iptables-save line or nft statement), for messages. */
  rule?: string;
}

/** One nf_tables trace event as reported by inject.py. */
export interface TraceEvent {
  family: string;
  table?: string;
  chain?: string;
  handle?: number;
  type?: string;
  verdict?: string;
  target?: string;
  id?: number;
  dump?: boolean;
  ttl?: number;
  iif?: string;
  oif?: string;
  mark?: number;
  policy?: string;
}

export interface NftChainInfo {
  family: string;
  table: string;
  name: string;
  hook?: string;
  prio?: number;
  type?: string;
  policy?: string;
}

export interface NftRuleInfo {
  family: string;
  table: string;
  chain: string;
  handle: number;
  index: number;
  reject: boolean;
  text: string;
}

export interface NftListing {
  chains: Map<string, NftChainInfo>;
  /** key `${family} ${table} #${handle}` */
  rules: Map<string, NftRuleInfo>;
}

export interface LegacyEntry {
  chain: string;
  kind: 'rule' | 'policy' | 'end';
  index?: number;
  target: string;
  jumpto?: string;
}

export interface LegacyTable {
  family: 'ip' | 'ip6';
  table: string;
  entries: LegacyEntry[];
  /** key `${chain} ${index}` -> the iptables-save `-A` line */
  text: Map<string, string>;
}

export interface PacketReport {
  events: TraceEvent[];
  /** [table number in the layout, entry number, delta] */
  deltas?: [number, number, number][];
  done?: string | null;
  overrun?: boolean;
  error?: string;
}

export interface Decision {
  verdict: Verdict;
  decisive: Decisive;
  trace: string[];
  /** base chains the packet traversed, in kernel order, e.g. `ip nat PREROUTING`, `ip filter INPUT`. */
  chains: string[];
  error?: string;
}

export const ORACLE_TABLE = 'ndoracle';

const IPTABLES_FAMILIES = new Set(['ip', 'ip6']);
const NON_FILTER_XT_TABLES = new Set(['raw', 'mangle', 'nat', 'security']);
const FILTER_HOOKS = new Set(['input', 'forward', 'output']);

const XT_PRIO: Record<string, Record<string, number>> = {
  raw: { prerouting: -300, output: -300 },
  mangle: { prerouting: -150, input: -150, forward: -150, output: -150, postrouting: -150 },
  nat: { prerouting: -100, output: -100, input: 100, postrouting: 100 },
  filter: { input: 0, forward: 0, output: 0 },
  security: { input: 50, forward: 50, output: 50 },
};

const NAT_TERMINAL = new Set(['DNAT', 'SNAT', 'MASQUERADE', 'REDIRECT', 'NETMAP']);
/** targets that return XT_CONTINUE: the packet goes on with the next rule */
const XT_CONTINUE = new Set([
  'CONTINUE',
  'LOG',
  'NFLOG',
  'ULOG',
  'MARK',
  'CONNMARK',
  'CT',
  'NOTRACK',
  'TRACE',
  'CLASSIFY',
  'TCPMSS',
  'CHECKSUM',
  'SET',
  'AUDIT',
  'TTL',
  'HL',
  'DSCP',
  'TOS',
  'ECN',
  'SECMARK',
  'CONNSECMARK',
  'HMARK',
  'TEE',
  'IDLETIMER',
  'LED',
  'RATEEST',
  'NFACCT',
]);

function hookOrder(path: Path, hook: string): number {
  const order =
    path === 'output'
      ? { output: 0, postrouting: 1, prerouting: 2, input: 3, forward: 3 }
      : { prerouting: 0, input: 1, forward: 1, postrouting: 2, output: 3 };
  return (order as Record<string, number>)[hook] ?? 9;
}

interface Invocation {
  family: string;
  table: string;
  chain: string;
  hook: string;
  prio: number;
  type: string;
  seq: number;
  /** how the base chain ended; undefined if the report does not show it */
  end?: { verdict: 'accept' | 'drop' | 'reject' | 'queue' | 'stolen'; decisive: Decisive };
  lines: string[];
  error?: string;
}

export function isFilterChain(inv: { family: string; table: string; hook?: string; type?: string }): boolean {
  if (inv.type !== 'filter') return false;
  if (IPTABLES_FAMILIES.has(inv.family) && NON_FILTER_XT_TABLES.has(inv.table)) return false;
  return true;
}

function ruleInfo(listing: NftListing, family: string, table: string, handle: number | undefined) {
  return handle === undefined ? undefined : listing.rules.get(`${family} ${table} #${handle}`);
}

/** Base-chain invocations of one packet from its nf_tables trace events (the oracle's own table left out). */
function nftInvocations(events: TraceEvent[], listing: NftListing): { invs: Invocation[]; lines: string[] } {
  const invs: Invocation[] = [];
  const lines: string[] = [];
  let cur: Invocation | undefined;
  let seq = 0;
  for (const ev of events) {
    const table = ev.table ?? '?';
    const chain = ev.chain ?? '?';
    const where = `${ev.family} ${table} ${chain}`;
    if (ev.dump) {
      const info = listing.chains.get(`${ev.family} ${table} ${chain}`);
      const pk = [`ttl=${ev.ttl}`];
      if (ev.iif) pk.push(`iif=${ev.iif}`);
      if (ev.oif) pk.push(`oif=${ev.oif}`);
      if (ev.mark) pk.push(`mark=0x${ev.mark.toString(16)}`);
      lines.push(`trace ${where} packet: ${pk.join(' ')}`);
      if (table === ORACLE_TABLE) {
        cur = undefined;
      } else {
        cur = {
          family: ev.family,
          table,
          chain,
          hook: info?.hook ?? '?',
          prio: info?.prio ?? 0,
          type: info?.type ?? '?',
          seq: seq++,
          lines: [],
        };
        if (!info) cur.error = `trace names a base chain that the listing does not have: ${where}`;
        invs.push(cur);
      }
    }
    if (table === ORACLE_TABLE) continue;
    const r = ruleInfo(listing, ev.family, table, ev.handle);
    let line: string;
    if (ev.type === 'rule' && ev.handle === undefined) {
      line = `trace ${where} end of rules => ${ev.verdict ?? '?'}`;
    } else if (ev.type === 'rule') {
      const desc = r ? `rule #${r.index} (handle ${ev.handle}): ${r.text}` : `rule handle ${ev.handle}`;
      line = `trace ${where} ${desc} => ${ev.verdict ?? '?'}${ev.target ? ` ${ev.target}` : ''}`;
    } else if (ev.type === 'policy') {
      line = `trace ${where} policy ${ev.policy ?? '?'}`;
    } else {
      line = `trace ${where} ${ev.type ?? 'event'} ${ev.verdict ?? ''}`.trimEnd();
    }
    lines.push(line);
    if (!cur) continue;
    cur.lines.push(line);
    if (cur.end) continue;
    if (ev.type === 'rule' && ev.verdict && ['accept', 'drop', 'queue', 'stolen'].includes(ev.verdict)) {
      const verdict = ev.verdict === 'drop' && r?.reject ? 'reject' : (ev.verdict as 'accept' | 'drop' | 'queue');
      cur.end = {
        verdict,
        decisive: {
          kind: 'rule',
          family: ev.family,
          table,
          chain,
          index: r?.index,
          handle: ev.handle,
          rule: r?.text,
        },
      };
      if (!r) cur.error = `trace names rule handle ${ev.handle} in ${where}, not in the listing`;
    } else if (ev.type === 'policy') {
      const pol = ev.policy === 'drop' ? 'drop' : 'accept';
      cur.end = { verdict: pol, decisive: { kind: 'policy', family: ev.family, table, chain, policy: pol } };
    }
  }
  return { invs, lines };
}

/** Base-chain invocations from x_tables counter deltas: each traversed base chain is walked rule by rule. */
function legacyInvocations(
  tables: LegacyTable[],
  deltas: [number, number, number][],
): { invs: Invocation[]; lines: string[]; error?: string } {
  const invs: Invocation[] = [];
  const lines: string[] = [];
  const errors: string[] = [];
  const rem = new Map<string, number>();
  for (const [t, e, d] of deltas) rem.set(`${t}:${e}`, d);
  tables.forEach((t, ti) => {
    const chains = new Map<string, number[]>();
    t.entries.forEach((e, ei) => {
      const list = chains.get(e.chain) ?? [];
      if (list.length === 0) chains.set(e.chain, list);
      list.push(ei);
    });
    const take = (ei: number): boolean => {
      const k = `${ti}:${ei}`;
      const n = rem.get(k) ?? 0;
      if (n <= 0) return false;
      rem.set(k, n - 1);
      return true;
    };
    type WalkEnd = { v: 'accept' | 'drop' | 'reject' | 'queue' | 'return' | 'policy' | 'unknown'; e?: LegacyEntry };
    let steps = 0;
    const walk = (chain: string, depth: number): WalkEnd => {
      const list = chains.get(chain) ?? [];
      if (depth > 64) return { v: 'unknown' };
      for (const ei of list) {
        if (++steps > 100_000) return { v: 'unknown' };
        const e = t.entries[ei];
        if (e.kind === 'policy') return { v: 'policy', e };
        if (e.kind === 'end') {
          take(ei);
          return { v: 'return' };
        }
        if (!take(ei)) continue;
        const text = t.text.get(`${e.chain} ${e.index}`) ?? '';
        lines.push(
          `counter ${t.family} ${t.table} ${e.chain} rule #${e.index}: ${text} => ${e.target}${e.jumpto ? ` ${e.jumpto}` : ''}`,
        );
        const tg = e.target;
        if (tg === 'ACCEPT' || NAT_TERMINAL.has(tg)) return { v: 'accept', e };
        if (tg === 'DROP') return { v: 'drop', e };
        if (tg === 'REJECT') return { v: 'reject', e };
        if (tg === 'QUEUE' || tg === 'NFQUEUE') return { v: 'queue', e };
        if (tg === 'RETURN') return { v: 'return' };
        if ((tg === 'jump' || tg === 'goto') && e.jumpto) {
          const r = walk(e.jumpto, depth + 1);
          if (r.v !== 'return') return r;
          if (tg === 'goto') return r;
          continue;
        }
        if (XT_CONTINUE.has(tg)) continue;
        return { v: 'unknown', e };
      }
      return { v: 'return' };
    };
    for (const [chain, list] of chains) {
      const pol = list.find((ei) => t.entries[ei].kind === 'policy');
      if (pol === undefined) continue; // user chain
      const touched = list.some((ei) => (rem.get(`${ti}:${ei}`) ?? 0) > 0);
      if (!touched) continue;
      const hook = chain.toLowerCase();
      const inv: Invocation = {
        family: t.family,
        table: t.table,
        chain,
        hook,
        prio: XT_PRIO[t.table]?.[hook] ?? 0,
        type: t.table === 'nat' ? 'nat' : t.table === 'mangle' && hook === 'output' ? 'route' : 'filter',
        // at equal priority the hook registered later runs first; the oracle loads a native nft script before
        // iptables, so a legacy table runs before a native chain of the same priority
        seq: -1,
        lines: [],
      };
      const before = lines.length;
      let r = walk(chain, 0);
      if (r.v === 'return' || r.v === 'policy') {
        const pe = t.entries[pol];
        if (!take(pol)) {
          inv.error = `counters: ${t.table} ${chain} reached its policy but the policy counter did not move`;
        }
        const pv = pe.target === 'DROP' ? 'drop' : 'accept';
        lines.push(`counter ${t.family} ${t.table} ${chain} policy ${pv}`);
        inv.end = { verdict: pv, decisive: { kind: 'policy', family: t.family, table: t.table, chain, policy: pv } };
        r = { v: pv };
      } else if (r.v === 'unknown') {
        inv.error = r.e
          ? `counters: target ${r.e.target} (${t.table} ${r.e.chain} #${r.e.index}) is not known to end or continue`
          : `counters: walk of ${t.table} ${chain} did not end`;
      } else if (r.e) {
        const e = r.e;
        inv.end = {
          verdict: r.v as 'accept' | 'drop' | 'reject' | 'queue',
          decisive: {
            kind: 'rule',
            family: t.family,
            table: t.table,
            chain: e.chain,
            index: e.index,
            rule: t.text.get(`${e.chain} ${e.index}`),
          },
        };
      }
      inv.lines = lines.slice(before);
      invs.push(inv);
    }
  });
  for (const [k, n] of rem) {
    if (n > 0) {
      const [ti, ei] = k.split(':').map(Number);
      const t = tables[ti];
      const e = t.entries[ei];
      errors.push(
        `counters: ${t.table} ${e.chain} ${e.kind === 'rule' ? `#${e.index}` : e.kind} moved by ${n} more than the walk explains`,
      );
    }
  }
  return { invs, lines, error: errors.length ? errors.join('; ') : undefined };
}

/** The decision for one packet. `legacy` is given for the legacy backend. */
export function decide(path: Path, report: PacketReport, listing: NftListing, legacy?: LegacyTable[]): Decision {
  const nft = nftInvocations(report.events ?? [], listing);
  const trace = [...nft.lines];
  let invs = nft.invs;
  const errors: string[] = [];
  if (legacy && report.deltas) {
    const lg = legacyInvocations(legacy, report.deltas);
    trace.push(...lg.lines);
    invs = [...invs, ...lg.invs];
    if (lg.error) errors.push(lg.error);
  }
  invs.sort((a, b) => hookOrder(path, a.hook) - hookOrder(path, b.hook) || a.prio - b.prio || a.seq - b.seq);
  for (const inv of invs) if (inv.error) errors.push(inv.error);
  if (report.overrun) errors.push('trace events were lost (netlink overrun)');
  const chains = invs.map((i) => `${i.family} ${i.table} ${i.chain}`);
  const fin = report.done === 'fin';
  const placeholder: Decisive = { kind: 'policy', table: '', chain: '', policy: 'accept' };
  let result: Decision | undefined;
  for (const inv of invs) {
    const end = inv.end;
    if (!end) continue;
    if (end.verdict === 'drop' || end.verdict === 'reject' || end.verdict === 'stolen') {
      result = { verdict: end.verdict === 'reject' ? 'reject' : 'drop', decisive: end.decisive, trace, chains };
      break;
    }
    if (end.verdict === 'queue' && !fin) {
      result = { verdict: 'drop', decisive: end.decisive, trace, chains };
      break;
    }
  }
  if (!result) {
    if (!fin) {
      return {
        verdict: 'drop',
        decisive: placeholder,
        trace,
        chains,
        error:
          report.error ??
          (errors.length
            ? errors.join('; ')
            : (report.events ?? []).length === 0
              ? 'the packet was not seen by netfilter'
              : 'the packet vanished without a netfilter drop (routing, conntrack or the stack dropped it)'),
      };
    }
    const filt = invs.filter((i) => FILTER_HOOKS.has(i.hook) && isFilterChain(i));
    const last = filt.length ? filt[filt.length - 1] : invs[invs.length - 1];
    if (last && !last.end) errors.push(`the end of ${last.family} ${last.table} ${last.chain} is not in the report`);
    result = { verdict: 'accept', decisive: last?.end?.decisive ?? placeholder, trace, chains };
    if (!last) trace.push('no base chain traversed');
  }
  if (report.error) errors.unshift(report.error);
  if (errors.length) result.error = errors.join('; ');
  return result;
}

/** Parses `nft -j list ruleset` (structure, handles, reject) and `nft -a list ruleset` (rule text). */
export function parseNftListing(json: string, text: string): NftListing {
  const chains = new Map<string, NftChainInfo>();
  const rules = new Map<string, NftRuleInfo>();
  const texts = new Map<string, string>();
  let family = '';
  let table = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    let m = /^table (\S+) (\S+) \{/.exec(line);
    if (m) {
      family = m[1];
      table = m[2];
      continue;
    }
    m = /^(.*?)\s*# handle (\d+)$/.exec(line);
    if (m && !/^(chain|set|map|flowtable|table)\s/.test(line)) {
      texts.set(`${family} ${table} #${m[2]}`, m[1].replace(/counter packets \d+ bytes \d+/g, 'counter'));
    }
  }
  const doc = JSON.parse(json) as { nftables: Record<string, Record<string, unknown>>[] };
  const counts = new Map<string, number>();
  for (const item of doc.nftables ?? []) {
    if (item.chain) {
      const c = item.chain as Record<string, unknown>;
      const key = `${c.family} ${c.table} ${c.name}`;
      chains.set(key, {
        family: String(c.family),
        table: String(c.table),
        name: String(c.name),
        hook: c.hook === undefined ? undefined : String(c.hook),
        prio: typeof c.prio === 'number' ? c.prio : undefined,
        type: c.type === undefined ? undefined : String(c.type),
        policy: c.policy === undefined ? undefined : String(c.policy),
      });
    } else if (item.rule) {
      const r = item.rule as Record<string, unknown>;
      const ck = `${r.family} ${r.table} ${r.chain}`;
      const index = (counts.get(ck) ?? 0) + 1;
      counts.set(ck, index);
      const exprs = (r.expr ?? []) as Record<string, unknown>[];
      const reject = exprs.some(
        (x) => 'reject' in x || (x.xt as { type?: string; name?: string } | undefined)?.name === 'REJECT',
      );
      const key = `${r.family} ${r.table} #${r.handle}`;
      rules.set(key, {
        family: String(r.family),
        table: String(r.table),
        chain: String(r.chain),
        handle: Number(r.handle),
        index,
        reject,
        text: texts.get(key) ?? '',
      });
    }
  }
  return { chains, rules };
}

/** `iptables-save` text: `${table} ${chain} ${index}` -> the `-A` line; and rule counts per `${table} ${chain}`. */
export function parseSaveText(save: string): { lines: Map<string, string>; counts: Map<string, number> } {
  const lines = new Map<string, string>();
  const counts = new Map<string, number>();
  let table = '';
  for (const raw of save.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(':')) {
      const chain = line.slice(1).split(/\s+/)[0];
      if (!counts.has(`${table} ${chain}`)) counts.set(`${table} ${chain}`, 0);
    } else if (line.startsWith('-A ')) {
      const chain = line.split(/\s+/)[1];
      const k = `${table} ${chain}`;
      const n = (counts.get(k) ?? 0) + 1;
      counts.set(k, n);
      lines.set(`${k} ${n}`, line.replace(/^\[\d+:\d+\]\s*/, ''));
    }
  }
  return { lines, counts };
}
