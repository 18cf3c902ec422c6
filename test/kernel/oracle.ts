/**
 * Kernel oracle: the real Linux kernel decides packets against a ruleset, inside throw-away network namespaces.
 *
 * Used by the differential tests: the simulator's verdict and decisive rule are compared with the kernel's.
 *
 * ## What "decisive" means (the simulator implements the same definition)
 * - verdict `drop` / `reject`: the rule (or chain policy) whose verdict ended the packet. A rule inside a user chain is
 *   named with that user chain. REJECT is a drop in the kernel's trace; the rule's statement tells them apart.
 *   A queue verdict (NFQUEUE with no listener) counts as drop, unless the packet went on (--queue-bypass): then the
 *   queue rule is what ended that chain, as an accept.
 * - verdict `accept`: the packet passed every hook of its path (for input: through the INPUT hook; for forward and
 *   output: through POSTROUTING). The decisive rule is the rule or policy that ended the LAST *filter* base chain the
 *   packet traversed at a filter hook (input, forward or output: the one the packet really took, a DNAT can turn an
 *   input packet into a forwarded one). A filter base chain is a chain of type `filter` that is not in an iptables
 *   table raw, mangle, nat or security (families ip/ip6), so: iptables' `filter` table, and native nft filter chains
 *   of any table (firewalld's, kube-proxy nftables'). Accepting rules are ACCEPT, and DNAT/SNAT/MASQUERADE/REDIRECT
 *   in nat chains, but a nat chain is decisive only when no filter base chain was traversed at a filter hook: then
 *   the decisive rule is the one that ended the last base chain traversed on the path (e.g. nat POSTROUTING). When
 *   no base chain at all was traversed, `decisive` is `{ kind: 'policy', table: '', chain: '', policy: 'accept' }`.
 * - Order of base chains = kernel order: hooks along the path, and within a hook by priority (raw -300, mangle -150,
 *   nat dst -100, filter 0, security 50, nat src 100, native chains at their own priority). At EQUAL priority the
 *   kernel runs the hook registered LATER first. The oracle loads `nftScript` before the iptables rulesets, so at
 *   equal priority iptables chains (either backend) run before native nft chains (verified with a mark set by the
 *   iptables chain and seen by the native one).
 * - `index` is the 1-based position of the rule in its chain as `iptables-save` lists it (for native nft: the
 *   position in `nft -a list ruleset` order).
 *
 * ## How the kernel is asked
 * Per batch, two namespaces: a router `<prefix>r` holding the ruleset, and a peer `<prefix>p` holding the other end of
 * one veth pair per interface name the packets use (the router end carries the name: eth0, cni0, flannel.1, caliXXX).
 * Input packets get their destination as a local address (on lo), forward/output packets a /32 route via their `out`
 * interface (gateway 169.254.201.N with a permanent neighbour entry, so no ARP is needed); router interfaces carry
 * 169.254.200.N/32 (needed by MASQUERADE). ip_forward=1, rp_filter=0, accept_local=1, send_redirects=0.
 * Packets whose needs conflict (a destination local for one packet and routed for another, or routed via two
 * interfaces) go to separate batches automatically.
 *
 * A native nft table `inet ndoracle` is added (the ruleset under test is not touched): at priority -500 on prerouting
 * and output it drops every packet that is not a test packet (test packets carry TTL/hop limit 61; this removes the
 * kernel's own RSTs, ICMP errors from REJECT, IPv6 MLD, so they pollute neither traces nor counters), sets
 * `meta nftrace` and the optional packet mark; two empty chains at priority 2147483000 on input and postrouting mark
 * the end of the path ("fin").
 * Then `inject.py` runs in the router namespace and, one packet at a time: flushes conntrack, inserts the conntrack
 * entry of an ESTABLISHED packet (ctnetlink, SEEN_REPLY|ASSURED, TCP ESTABLISHED; for an ICMP reply type such as echo
 * reply the entry is the request's and the packet travels in its reply direction, since conntrack tracks an ICMP query
 * only from its request), writes the packet as an Ethernet
 * frame on the peer end of its `in` veth (input/forward) or sends it from a raw socket in the router (output), and
 * reads the nf_tables trace events from netlink (group NFNLGRP_NFTRACE: the events `nft monitor trace` and
 * `xtables-monitor --trace` print, here with rule handles) until a drop or the fin chain. Handles map to rule
 * positions through `nft -j list ruleset`. For the legacy backend the x_tables counters are read before and after
 * each packet (getsockopt IPT_SO_GET_ENTRIES, the data `iptables-legacy-save -c` prints) and each traversed base chain
 * is walked rule by rule over the counters that moved (jumps, gotos, RETURN, policies).
 * Packets are matched to trace events by their IP ID (IPv6: flow label), unique in a batch.
 *
 * ## Kernel behaviour worth knowing (seen on this kernel while building the oracle)
 * - The trace reports REJECT as verdict drop, NFQUEUE as verdict queue with the queue number in the upper 16 bits;
 *   falling off the end of a chain is a "rule" event without a rule handle (verdict continue), then the policy event.
 * - Only the first event of each base-chain run carries the packet headers; the trace id stays the same across hooks.
 * - A locally generated packet dropped by netfilter makes sendto() fail with EPERM: a verdict, not an error.
 * - ctnetlink refuses to create an entry with status SEEN_REPLY|ASSURED unless CONFIRMED is set too (EBUSY).
 * - A legacy table always has all its built-in chains (mangle INPUT with policy ACCEPT is traversed even if the save
 *   does not list it); iptables-nft-restore creates only the chains the save lists. `chains` shows the difference.
 * - nft 1.0.6 needs `;` or a newline before `}` (`{ ... meta nftrace set 1 }` is a syntax error).
 *
 * ## Limits
 * - `mark` is set at the very start of prerouting/output (before raw), as if it arrived with the packet.
 * - An ESTABLISHED packet's conntrack entry has no NAT binding (reply tuple = inverse of the original tuple) and the
 *   packet is in its ORIGINAL direction (`--ctdir REPLY`, `--ctstate DNAT` of a real reply are not reproduced), except
 *   ICMP reply types (echo reply, timestamp reply...), which are in the REPLY direction of their request's entry.
 * - Chains at the ingress hook (netdev/inet ingress) run before the oracle sets nftrace: not observed.
 * - Sources must not be martian (0/8, 127/8, multicast, broadcast); the kernel drops them outside netfilter (error).
 * - `natDst` tells the oracle where DNAT will send the packet, so it routes that address (forward/output) or makes
 *   it local (input); the original dst of a forward packet is routed via `out` too when that conflicts with nothing.
 *   Without it a DNATed packet usually has no route and is reported as an error (vanished after nat PREROUTING).
 *   `natDstAlternatives` does the same for the other endpoints a random DNAT (statistic, numgen) may pick.
 * - Each decision carries its `batch`: the addresses that were local in the router namespace and the kernel's own
 *   `nft -j list ruleset` there, so a caller can mirror the namespace exactly (the differential harness does).
 * - ICMP error types are sent with a made-up inner header (conntrack sees them as INVALID unless related).
 * - Interface names are concrete (≤15 chars, not `lo`); wildcards are for rules only.
 * - Addresses 169.254.200.0/24, 169.254.201.0/24 and fd6e:646b:0:ffff::/64 are the oracle's own; the table name
 *   `ndoracle` too. Bridged traffic (physdev, br_netfilter) is not modelled: packets are routed.
 * - Counters (legacy) cannot tell which of two visits of one user chain matched what; the walk is checked to
 *   explain every counter that moved, else the packet gets an error.
 *
 * Set NDK_ORACLE_DEBUG=1 to print per-batch timings.
 */

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  type Decision,
  type Decisive,
  decide,
  type LegacyEntry,
  type LegacyTable,
  type NftListing,
  ORACLE_TABLE,
  type PacketReport,
  parseNftListing,
  parseSaveText,
} from './decide.js';
import { mustRun, run, ToolMissingError } from './exec.js';

export type { Decisive } from './decide.js';
export type Path = 'input' | 'forward' | 'output';

export interface OraclePacket {
  /** input: arrives on `in` to a local address; forward: arrives on `in`, routed out `out`; output: generated
   * locally, leaves via `out`. */
  path: Path;
  proto: 'tcp' | 'udp' | 'icmp';
  /** IPv4 or IPv6 (both addresses of one family) */
  src: string;
  dst: string;
  /** tcp/udp; default sport 40000, dport 80 */
  sport?: number;
  dport?: number;
  /** default 8 (echo request; IPv6: 128) */
  icmpType?: number;
  icmpCode?: number;
  in?: string;
  out?: string;
  state: 'new' | 'established';
  /** skb mark the packet has when it enters the first hook of its path */
  mark?: number;
  /** ct mark of the conntrack entry of an ESTABLISHED packet */
  ctMark?: number;
  /** TCP flags as letters (F S R P A U E C) or a number; default S for new, A for established */
  tcpFlags?: string | number;
  /** where DNAT will send the packet (the oracle routes it via `out`, or makes it local on the input path) */
  natDst?: string;
  /** other addresses the DNAT may pick (a service with several endpoints: `statistic`, `numgen`); each is routed via
   * `out` (forward/output) or made local (input), like `natDst` */
  natDstAlternatives?: string[];
}

/** What one batch (one router namespace) looked like, for the caller that wants to mirror it in a simulation. */
export interface OracleBatch {
  /** batch name (namespace prefix) */
  name: string;
  /** every address that was local in the router: loopback, the interfaces' addresses, `localAddresses`, input
   * destinations (IPv6 written out in full, 8 groups) */
  local: string[];
  /** `nft -j list ruleset` as the kernel printed it in the router, with the oracle's own table in it */
  nftJson: string;
}

export interface KernelDecision {
  /** the final fate on this node along the path (accept = passed all hooks of the path) */
  verdict: 'accept' | 'drop' | 'reject';
  decisive: Decisive;
  /** trace / counter lines, for printing on disagreement */
  trace: string[];
  /** base chains traversed, in kernel order (`ip filter INPUT`, `inet fw input`, ...) */
  chains: string[];
  /** the packet could not be sent or the decision could not be read; verdict and decisive are then placeholders */
  error?: string;
  /** the batch the packet ran in (shared by all its packets); absent when the batch could not be set up */
  batch?: OracleBatch;
}

export interface OracleRuleset {
  backend: 'nft' | 'legacy';
  iptablesSave?: string;
  ip6tablesSave?: string;
  /** native nft, `nft -f` syntax */
  nftScript?: string;
  ipsetSave?: string;
  /** extra local addresses of the node (for `addrtype --dst-type LOCAL`, `fib daddr type local`) */
  localAddresses?: string[];
}

export interface OracleOptions {
  /** namespace name prefix; default `ndk<pid>` */
  prefix?: string;
  /** budget for the whole call; default 60 s + 20 ms per packet */
  timeoutMs?: number;
  /** how long to wait for a packet's first trace event (ms); default 300 */
  packetWaitMs?: number;
  /** a packet whose events stop for this long without a drop or the end of its path has vanished (ms); default 50 */
  quietMs?: number;
  /** batches run at once; default 2 */
  parallel?: number;
  /** packets per batch before it is split to run in parallel; default 3000 */
  chunk?: number;
}

const TTL = 61;
const MAX_IFACES = 250;
const MAX_PER_BATCH = 60_000;
const DEBUG = !!process.env.NDK_ORACLE_DEBUG;
const debug = (msg: string) => {
  if (DEBUG) process.stderr.write(`[oracle] ${msg}\n`);
};
const HELPER = fileURLToPath(new URL('./inject.py', import.meta.url));
/** Debian's python3 (package python3) when present: a version-manager shim on PATH can cost 300 ms per start. */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

// ------------------------------------------------------------------ namespace bookkeeping

const liveNamespaces = new Set<string>();
let exitHookInstalled = false;

function cleanupSync(): void {
  for (const ns of liveNamespaces) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5000 });
  liveNamespaces.clear();
}

/** Namespaces still alive when the process exits or is interrupted are removed (the signal is then re-raised). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = () => {
      cleanupSync();
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

async function delNetns(names: string[]): Promise<void> {
  for (const ns of names) {
    const r = await run('ip', ['netns', 'del', ns], { timeoutMs: 10_000 });
    if (r.code === 0 || /No such file|not found|Invalid/.test(r.stderr)) liveNamespaces.delete(ns);
  }
}

// ------------------------------------------------------------------ addresses and packets

function canon(ip: string): string {
  if (isIPv4(ip)) return ip;
  // expand an IPv6 address to 8 full groups (map key only)
  let s = ip.toLowerCase();
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4tail) {
    const o = v4tail[1].split('.').map(Number);
    s = `${s.slice(0, -v4tail[1].length)}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
  const fill = tail !== undefined ? new Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((g) => g.padStart(4, '0')).join(':');
}

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

function validIfname(n: string | undefined): boolean {
  return n !== undefined && IFNAME.test(n) && n !== '.' && n !== '..' && n !== 'lo';
}

function tcpFlags(f: string | number | undefined, state: 'new' | 'established'): number {
  if (f === undefined) return state === 'new' ? 0x02 : 0x10;
  if (typeof f === 'number') return f & 0xff;
  const bits: Record<string, number> = { F: 1, S: 2, R: 4, P: 8, A: 16, U: 32, E: 64, C: 128 };
  let v = 0;
  for (const c of f.toUpperCase()) {
    if (!(c in bits)) throw new Error(`unknown TCP flag ${c}`);
    v |= bits[c];
  }
  return v;
}

interface Prepared {
  gi: number;
  p: OraclePacket;
  v6: boolean;
  locals: string[];
  routes: [string, string][];
  /** routes added when they conflict with nothing (the original dst of a forward packet with natDst: used if the
   * DNAT does not happen after all) */
  soft: [string, string][];
  ifaces: string[];
  cfg: Record<string, unknown>;
}

function prepare(p: OraclePacket, gi: number): Prepared | string {
  const v6 = isIPv6(p.src);
  if (!(v6 ? isIPv6(p.dst) : isIPv4(p.src) && isIPv4(p.dst))) return 'src and dst must be IPv4 or IPv6 of one family';
  if (p.natDst && (v6 ? !isIPv6(p.natDst) : !isIPv4(p.natDst))) return 'natDst must be of the family of dst';
  for (const a of p.natDstAlternatives ?? [])
    if (v6 ? !isIPv6(a) : !isIPv4(a)) return 'natDstAlternatives must be of the family of dst';
  if (!['input', 'forward', 'output'].includes(p.path)) return `unknown path ${p.path}`;
  if (!['tcp', 'udp', 'icmp'].includes(p.proto)) return `unknown proto ${p.proto}`;
  if (p.state !== 'new' && p.state !== 'established') return `unknown state ${p.state}`;
  const ifaces: string[] = [];
  if (p.path !== 'output') {
    if (!validIfname(p.in)) return `path ${p.path} needs a concrete \`in\` interface name (got ${p.in})`;
    ifaces.push(p.in as string);
  }
  if (p.path !== 'input') {
    if (!validIfname(p.out)) return `path ${p.path} needs a concrete \`out\` interface name (got ${p.out})`;
    ifaces.push(p.out as string);
  }
  const dst = canon(p.dst);
  const fin = canon(p.natDst ?? p.dst);
  const locals: string[] = [];
  const routes: [string, string][] = [];
  const soft: [string, string][] = [];
  const alts = [...new Set((p.natDstAlternatives ?? []).map(canon))].filter((a) => a !== fin);
  if (p.path === 'input') locals.push(fin, ...alts);
  else {
    routes.push([fin, p.out as string]);
    for (const a of alts) routes.push([a, p.out as string]);
    if (p.path === 'output' && fin !== dst) routes.push([dst, p.out as string]);
    if (p.path === 'forward' && fin !== dst) soft.push([dst, p.out as string]);
  }
  let flags = 0;
  try {
    flags = tcpFlags(p.tcpFlags, p.state);
  } catch (e) {
    return (e as Error).message;
  }
  const port = (x: number | undefined, d: number) => (x === undefined ? d : x);
  const sport = port(p.sport, 40000);
  const dport = port(p.dport, 80);
  if (p.proto !== 'icmp' && (sport < 0 || sport > 65535 || dport < 0 || dport > 65535)) return 'port out of range';
  const icmpType = p.icmpType ?? (v6 ? 128 : 8);
  if (p.proto === 'icmp' && p.state === 'established') {
    const echo = v6 ? [128, 129] : [0, 8, 13, 14, 15, 16, 17, 18];
    if (!echo.includes(icmpType)) return `an ESTABLISHED ICMP packet must be a query type (got type ${icmpType})`;
  }
  const cfg: Record<string, unknown> = {
    path: p.path,
    protonum: p.proto === 'tcp' ? 6 : p.proto === 'udp' ? 17 : v6 ? 58 : 1,
    src: p.src,
    dst: p.dst,
    sport,
    dport,
    icmpType,
    icmpCode: p.icmpCode ?? 0,
    icmpId: 0x4e44,
    in: p.in,
    state: p.state,
    tcpFlags: flags,
    v6,
    ctMark: p.ctMark ?? null,
  };
  return { gi, p, v6, locals, routes, soft, ifaces, cfg };
}

interface Batch {
  locals: Set<string>;
  routes: Map<string, string>;
  ifaces: Set<string>;
  packets: Prepared[];
}

function fits(b: Batch, q: Prepared): boolean {
  if (b.packets.length >= MAX_PER_BATCH) return false;
  for (const l of q.locals) if (b.routes.has(l)) return false;
  for (const [d, o] of q.routes) {
    if (b.locals.has(d)) return false;
    const cur = b.routes.get(d);
    if (cur !== undefined && cur !== o) return false;
  }
  const extra = q.ifaces.filter((i) => !b.ifaces.has(i)).length;
  return b.ifaces.size + extra <= MAX_IFACES;
}

function plan(prepared: Prepared[], globalLocals: Set<string>): Batch[] {
  const batches: Batch[] = [];
  for (const q of prepared) {
    let b = batches.find((x) => fits(x, q));
    if (!b) {
      b = { locals: new Set(globalLocals), routes: new Map(), ifaces: new Set(), packets: [] };
      batches.push(b);
    }
    for (const l of q.locals) b.locals.add(l);
    for (const [d, o] of q.routes) b.routes.set(d, o);
    for (const [d, o] of q.soft) if (!b.locals.has(d) && !b.routes.has(d)) b.routes.set(d, o);
    for (const i of q.ifaces) b.ifaces.add(i);
    b.packets.push(q);
  }
  return batches;
}

// ------------------------------------------------------------------ one batch

function mac(kind: number, n: number): string {
  return `02:6e:64:${kind.toString(16).padStart(2, '0')}:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
}

function oracleTable(packets: Prepared[]): string {
  const marks4 = packets.filter((q) => !q.v6 && q.p.mark !== undefined);
  const marks6 = packets.filter((q) => q.v6 && q.p.mark !== undefined);
  const mk = (qs: Prepared[]) =>
    qs.map((q) => `${q.cfg.ipid} : 0x${((q.p.mark as number) >>> 0).toString(16)}`).join(', ');
  const markRules = [
    marks4.length ? `    meta mark set ip id map { ${mk(marks4)} }` : '',
    marks6.length ? `    meta mark set ip6 flowlabel map { ${mk(marks6)} }` : '',
  ]
    .filter(Boolean)
    .join('\n');
  const head = (hook: string) => `    type filter hook ${hook} priority -500; policy accept;
    ip ttl != ${TTL} drop
    ip6 hoplimit != ${TTL} drop
    meta nftrace set 1
${markRules}`;
  return `table inet ${ORACLE_TABLE} {
  chain pre {
${head('prerouting')}
  }
  chain out {
${head('output')}
  }
  chain fin_in {
    type filter hook input priority 2147483000; policy accept;
  }
  chain fin_post {
    type filter hook postrouting priority 2147483000; policy accept;
  }
}
`;
}

interface BatchResult {
  decisions: Map<number, KernelDecision>;
  rate?: { packets: number; ms: number };
}

async function runBatch(
  rs: OracleRuleset,
  packets: Prepared[],
  name: string,
  opts: Required<Pick<OracleOptions, 'packetWaitMs' | 'quietMs'>> & { deadline: number; locals: Set<string> },
): Promise<BatchResult> {
  const R = `${name}r`;
  const P = `${name}p`;
  const remaining = () => Math.max(1000, opts.deadline - Date.now());
  const inR = (cmd: string[], input?: string, what?: string) =>
    mustRun('ip', ['netns', 'exec', R, ...cmd], { input, timeoutMs: Math.min(60_000, remaining()), what });
  const ifaces = [...new Set(packets.flatMap((q) => q.ifaces))];
  const v6 = packets.some((q) => q.v6);
  const locals = new Set<string>(opts.locals);
  const routes = new Map<string, string>();
  for (const q of packets) {
    for (const l of q.locals) locals.add(l);
    for (const [d, o] of q.routes) routes.set(d, o);
  }
  for (const q of packets) for (const [d, o] of q.soft) if (!locals.has(d) && !routes.has(d)) routes.set(d, o);
  packets.forEach((q, k) => {
    q.cfg.i = k;
    q.cfg.ipid = q.v6 ? (k + 1) & 0xfffff : (k + 1) & 0xffff || 1;
  });
  liveNamespaces.add(R);
  liveNamespaces.add(P);
  const tSetup = Date.now();
  try {
    await mustRun('ip', ['-batch', '-'], { input: `netns add ${R}\nnetns add ${P}\n`, what: 'creating namespaces' });
    const sys = (ns: string, kv: string[]) =>
      mustRun('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', ...kv], { what: `sysctl in ${ns}` });
    const v6sys = v6
      ? [
          'net.ipv6.conf.all.disable_ipv6=0',
          'net.ipv6.conf.default.disable_ipv6=0',
          'net.ipv6.conf.all.forwarding=1',
          'net.ipv6.conf.all.accept_dad=0',
          'net.ipv6.conf.default.accept_dad=0',
          'net.ipv6.conf.all.accept_ra=0',
          'net.ipv6.conf.default.accept_ra=0',
        ]
      : ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'];
    await sys(R, [
      'net.ipv4.ip_forward=1',
      'net.ipv4.conf.all.rp_filter=0',
      'net.ipv4.conf.default.rp_filter=0',
      'net.ipv4.conf.all.accept_local=1',
      'net.ipv4.conf.default.accept_local=1',
      'net.ipv4.conf.all.send_redirects=0',
      'net.ipv4.conf.default.send_redirects=0',
      ...v6sys,
    ]);
    await sys(P, ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    const ifcfg = ifaces.map((nm, n) => ({ name: nm, peer: `p${n}`, rmac: mac(0xaa, n), pmac: mac(0xbb, n), n }));
    if (ifcfg.length) {
      await mustRun('ip', ['-batch', '-'], {
        input: ifcfg
          .map(
            (f) =>
              `link add ${f.name} address ${f.rmac} netns ${R} type veth peer name ${f.peer} address ${f.pmac} netns ${P}\n`,
          )
          .join(''),
        what: 'creating veth pairs',
      });
    }
    const rcmds = ['link set lo up'];
    const byName = new Map(ifcfg.map((f) => [f.name, f]));
    for (const f of ifcfg) {
      rcmds.push(`link set ${f.name} up`);
      rcmds.push(`addr add 169.254.200.${f.n + 1}/32 dev ${f.name}`);
      rcmds.push(`neigh replace 169.254.201.${f.n + 1} lladdr ${f.pmac} dev ${f.name} nud permanent`);
      if (v6) {
        rcmds.push(`addr add fd6e:646b:0:ffff::${(f.n + 1).toString(16)}/128 dev ${f.name} nodad`);
        rcmds.push(
          `neigh replace fe80::6e:64ff:fe00:${(f.n + 1).toString(16)} lladdr ${f.pmac} dev ${f.name} nud permanent`,
        );
      }
    }
    for (const l of locals) rcmds.push(`addr add ${l}/${l.includes(':') ? '128 nodad' : '32'} dev lo`);
    for (const [d, o] of routes) {
      const f = byName.get(o);
      if (!f) continue;
      if (d.includes(':')) rcmds.push(`route add ${d}/128 via fe80::6e:64ff:fe00:${(f.n + 1).toString(16)} dev ${o}`);
      else rcmds.push(`route add ${d}/32 via 169.254.201.${f.n + 1} dev ${o} onlink`);
    }
    await mustRun('ip', ['-n', R, '-batch', '-'], { input: `${rcmds.join('\n')}\n`, what: 'router addresses/routes' });
    if (ifcfg.length) {
      await mustRun('ip', ['-n', P, '-batch', '-'], {
        input: `link set lo up\n${ifcfg.map((f) => `link set ${f.peer} up`).join('\n')}\n`,
        what: 'peer links',
      });
    }
    // the ruleset under test
    if (rs.ipsetSave?.trim()) await inR(['ipset', 'restore'], rs.ipsetSave, 'ipset restore');
    const legacy = rs.backend === 'legacy';
    // the native script first (a `flush ruleset` in it must not wipe the iptables tables); so at equal priority
    // the iptables chains, registered later, run first
    if (rs.nftScript?.trim()) await inR(['nft', '-f', '-'], rs.nftScript, 'nft -f (ruleset)');
    if (rs.iptablesSave?.trim())
      await inR([legacy ? 'iptables-legacy-restore' : 'iptables-nft-restore'], rs.iptablesSave, 'iptables-restore');
    if (rs.ip6tablesSave?.trim())
      await inR([legacy ? 'ip6tables-legacy-restore' : 'ip6tables-nft-restore'], rs.ip6tablesSave, 'ip6tables-restore');
    await inR(['nft', '-f', '-'], oracleTable(packets), 'nft -f (oracle table)');
    // listings: handles -> positions, rule text
    const [json, text] = await Promise.all([
      inR(['nft', '-j', 'list', 'ruleset'], undefined, 'nft -j list ruleset'),
      inR(['nft', '-a', 'list', 'ruleset'], undefined, 'nft -a list ruleset'),
    ]);
    const listing = parseNftListing(json, text);
    const saves: Record<string, ReturnType<typeof parseSaveText>> = {};
    for (const [fam, src, tool] of [
      ['ip', rs.iptablesSave, legacy ? 'iptables-legacy-save' : 'iptables-nft-save'],
      ['ip6', rs.ip6tablesSave, legacy ? 'ip6tables-legacy-save' : 'ip6tables-nft-save'],
    ] as const) {
      if (!src?.trim()) continue;
      saves[fam] = parseSaveText(await inR([tool], undefined, tool));
      if (!legacy) overlayIptablesText(listing, fam, saves[fam]);
    }
    const tablesOf = (s?: string) =>
      (s ?? '')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.startsWith('*'))
        .map((l) => l.slice(1));
    const legacy4 = legacy ? [...new Set(tablesOf(rs.iptablesSave))] : [];
    const legacy6 = legacy ? [...new Set(tablesOf(rs.ip6tablesSave))] : [];

    // run the packets
    const config = {
      ttl: TTL,
      waitMs: opts.packetWaitMs,
      quietMs: opts.quietMs,
      budgetMs: remaining(),
      peerNetns: `/run/netns/${P}`,
      oracleTable: ORACLE_TABLE,
      ifaces: ifcfg,
      legacy4,
      legacy6,
      packets: packets.map((q) => q.cfg),
    };
    const t0 = Date.now();
    debug(`${name}: setup ${t0 - tSetup} ms`);
    const { reports, layout, fatal } = await runHelper(R, config, remaining() + 5000);
    const ms = Date.now() - t0;
    if (DEBUG) {
      const per = [...reports.values()].map((r) => (r as { ms?: number }).ms ?? 0).sort((a, b) => a - b);
      debug(
        `${name}: helper ${ms} ms for ${packets.length} packets; per packet p50 ${per[per.length >> 1]} p90 ${per[Math.floor(per.length * 0.9)]} max ${per[per.length - 1]} ms`,
      );
    }
    let legacyTables: LegacyTable[] | undefined;
    let batchError = fatal ? `oracle helper: ${fatal}` : undefined;
    if (legacy && layout && !batchError) {
      legacyTables = layout.map((t) => ({
        family: t.family,
        table: t.table,
        entries: t.entries,
        text: new Map(
          [...(saves[t.family]?.lines ?? new Map<string, string>())]
            .filter(([k]) => k.startsWith(`${t.table} `))
            .map(([k, v]) => [k.slice(t.table.length + 1), v]),
        ),
      }));
      batchError = checkLayout(legacyTables, saves);
    }
    const batch: OracleBatch = {
      name,
      local: [
        ...new Set([
          '127.0.0.1',
          ...(v6 ? [canon('::1')] : []),
          ...ifcfg.flatMap((f) => [
            `169.254.200.${f.n + 1}`,
            ...(v6 ? [canon(`fd6e:646b:0:ffff::${(f.n + 1).toString(16)}`)] : []),
          ]),
          ...locals,
        ]),
      ],
      nftJson: json,
    };
    const decisions = new Map<number, KernelDecision>();
    packets.forEach((q, k) => {
      const rep = reports.get(k);
      if (batchError || !rep) {
        decisions.set(q.gi, { ...failed(batchError ?? rep?.error ?? 'no report from the oracle helper'), batch });
        return;
      }
      decisions.set(q.gi, { ...toKernelDecision(decide(q.p.path, rep, listing, legacyTables)), batch });
    });
    return { decisions, rate: { packets: packets.length, ms } };
  } finally {
    await delNetns([R, P]);
  }
}

function overlayIptablesText(listing: NftListing, family: string, save: ReturnType<typeof parseSaveText>): void {
  for (const r of listing.rules.values()) {
    if (r.family !== family) continue;
    const line = save.lines.get(`${r.table} ${r.chain} ${r.index}`);
    if (line) r.text = line;
  }
}

function checkLayout(
  tables: LegacyTable[],
  saves: Record<string, ReturnType<typeof parseSaveText>>,
): string | undefined {
  for (const t of tables) {
    const counts = new Map<string, number>();
    for (const e of t.entries) if (e.kind === 'rule') counts.set(e.chain, (counts.get(e.chain) ?? 0) + 1);
    const save = saves[t.family];
    for (const [k, n] of save?.counts ?? []) {
      if (!k.startsWith(`${t.table} `)) continue;
      const chain = k.slice(t.table.length + 1);
      if ((counts.get(chain) ?? 0) !== n)
        return `x_tables layout of ${t.table} ${chain} (${counts.get(chain) ?? 0} rules) differs from iptables-legacy-save (${n})`;
    }
  }
  return undefined;
}

function failed(error: string): KernelDecision {
  return {
    verdict: 'drop',
    decisive: { kind: 'policy', table: '', chain: '', policy: 'accept' },
    trace: [],
    chains: [],
    error,
  };
}

function toKernelDecision(d: Decision): KernelDecision {
  const out: KernelDecision = { verdict: d.verdict, decisive: d.decisive, trace: d.trace, chains: d.chains };
  if (d.error) out.error = d.error;
  return out;
}

interface LayoutTable {
  family: 'ip' | 'ip6';
  table: string;
  entries: LegacyEntry[];
}

function runHelper(
  R: string,
  config: unknown,
  timeoutMs: number,
): Promise<{ reports: Map<number, PacketReport>; layout?: LayoutTable[]; fatal?: string }> {
  return new Promise((resolve, reject) => {
    const spawned = Date.now();
    const child = spawn('ip', ['netns', 'exec', R, PYTHON, HELPER], { stdio: ['pipe', 'pipe', 'pipe'] });
    const reports = new Map<number, PacketReport>();
    let layout: LayoutTable[] | undefined;
    let fatal: string | undefined;
    let buf = '';
    let stderr = '';
    const timer = setTimeout(() => {
      fatal = `timeout after ${timeoutMs} ms`;
      if (child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }, timeoutMs);
    const onLine = (line: string) => {
      if (!line.trim()) return;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line);
      } catch {
        stderr += `${line}\n`;
        return;
      }
      if (typeof msg.fatal === 'string') fatal = msg.fatal;
      else if (Array.isArray(msg.layout)) {
        layout = msg.layout as LayoutTable[];
        debug(`${R}: helper ready after ${msg.setupMs} ms (${Date.now() - spawned} ms after spawn)`);
      } else if (msg.end) debug(`${R}: helper done after ${msg.ms} ms (${Date.now() - spawned} ms after spawn)`);
      else if (typeof msg.i === 'number') reports.set(msg.i, msg as unknown as PacketReport);
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        onLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      debug(`${R}: helper closed ${Date.now() - spawned} ms after spawn`);
      onLine(buf);
      if (code !== 0 && !fatal) fatal = `exit ${code}: ${stderr.trim().slice(0, 2000)}`;
      resolve({ reports, layout, fatal });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(JSON.stringify(config));
  });
}

// ------------------------------------------------------------------ entry point

let callCounter = 0;

/** Last measured rate of the kernel oracle (packets per second of helper time), for reporting. */
export const oracleStats = { packets: 0, helperMs: 0, wallMs: 0, batches: 0 };

export async function kernelDecide(
  rs: OracleRuleset,
  packets: OraclePacket[],
  opts: OracleOptions = {},
): Promise<KernelDecision[]> {
  const started = Date.now();
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    throw new Error('kernel oracle needs root (network namespaces, netfilter)');
  if (rs.backend !== 'nft' && rs.backend !== 'legacy') throw new Error(`unknown backend ${rs.backend}`);
  installExitHook();
  const deadline = started + (opts.timeoutMs ?? 60_000 + 20 * packets.length);
  const prefix = opts.prefix ?? `ndk${process.pid}`;
  const call = `${prefix}c${callCounter++}${randomBytes(2).toString('hex')}`;
  const results: KernelDecision[] = new Array(packets.length);
  const prepared: Prepared[] = [];
  const globalLocals = new Set((rs.localAddresses ?? []).map(canon));
  packets.forEach((p, gi) => {
    const q = prepare(p, gi);
    if (typeof q === 'string') results[gi] = failed(q);
    else if (q.routes.some(([d]) => globalLocals.has(d)))
      results[gi] = failed('the packet must be routed to an address listed in localAddresses');
    else prepared.push(q);
  });
  // batches by routing needs, then split into chunks so they can run in parallel
  const chunk = Math.max(50, opts.chunk ?? 3000);
  const parallel = Math.max(1, opts.parallel ?? 2);
  const jobs: Prepared[][] = [];
  for (const b of plan(prepared, globalLocals)) {
    const n = Math.max(1, Math.ceil(b.packets.length / chunk), b.packets.length >= 400 ? parallel : 1);
    const size = Math.ceil(b.packets.length / n);
    for (let k = 0; k < b.packets.length; k += size) jobs.push(b.packets.slice(k, k + size));
  }
  let next = 0;
  let helperMs = 0;
  const worker = async () => {
    for (let guard = 0; guard < jobs.length + 1; guard++) {
      const j = next++;
      if (j >= jobs.length) return;
      const job = jobs[j];
      if (Date.now() > deadline) {
        for (const q of job) results[q.gi] = failed('oracle time budget exhausted');
        continue;
      }
      try {
        const r = await runBatch(rs, job, `${call}b${j}`, {
          packetWaitMs: opts.packetWaitMs ?? 300,
          quietMs: opts.quietMs ?? 50,
          deadline,
          locals: globalLocals,
        });
        for (const [gi, d] of r.decisions) results[gi] = d;
        helperMs += r.rate?.ms ?? 0;
      } catch (e) {
        const msg = (e as Error).message;
        if (e instanceof ToolMissingError) throw e;
        for (const q of job) results[q.gi] = failed(msg);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, jobs.length) }, worker));
  oracleStats.packets = prepared.length;
  oracleStats.helperMs = helperMs;
  oracleStats.wallMs = Date.now() - started;
  oracleStats.batches = jobs.length;
  return results;
}
