/**
 * Namespaces with varied routing for the kernel comparison, and the `ip route get` queries to ask of them. Every
 * scenario only uses documentation and private ranges, inside the namespace it builds.
 */
import { type Cidr, formatIp, type Ip, parseCidr, parseIp } from '../../src/core/ip.js';
import type { Route } from '../../src/parse/ip-route.js';
import type { RouteQuery } from '../../src/route/get.js';

export interface Scenario {
  name: string;
  /** `ip -batch` lines run inside the namespace. */
  ip: string[];
  /** `bridge -batch` lines. */
  bridge?: string[];
  sysctl: Record<string, string>;
  /** Marks to try against fwmark rules. */
  marks: number[];
  /** Sources for input-path queries, by incoming device. */
  remoteSources: Record<string, string[]>;
  /** Extra destinations worth asking about. */
  extraDst: string[];
}

const veth = (name: string, addr: string) => [
  `link add ${name} type veth peer name ${name}p`,
  `link set ${name} up`,
  `link set ${name}p up`,
  `addr add ${addr} dev ${name}`,
];

export const SCENARIOS: Scenario[] = [
  {
    name: 'flannel-node',
    ip: [
      'link set lo up',
      ...veth('eth0', '192.168.50.10/24'),
      'link add cni0 type bridge',
      'link set cni0 up',
      'addr add 10.244.0.1/24 dev cni0',
      'link add vethpod0 type veth peer name vethpod0p',
      'link set vethpod0 master cni0',
      'link set vethpod0 up',
      'link set vethpod0p up',
      'link add flannel.1 type vxlan id 1 dstport 8472 local 192.168.50.10 dev eth0 nolearning',
      'link set flannel.1 up',
      // seed 002: the overlay device holds the subnet's network address, so it is a local address
      'addr add 10.244.0.0/32 dev flannel.1',
      'route add 10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink',
      'route add 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink',
      'route add 10.244.3.0/24 via 192.168.50.13 dev eth0',
      'route add default via 192.168.50.1 dev eth0 metric 100',
      'route add default via 192.168.50.2 dev eth0 metric 200',
      // a bridge with no ports: no carrier, its routes are "linkdown"
      'link add docker0 type bridge',
      'addr add 172.17.0.1/16 dev docker0',
      'link set docker0 up',
      'route add 172.18.0.0/16 via 172.17.0.2 dev docker0',
      'neigh add 10.244.1.0 lladdr 0a:58:0a:f4:01:00 dev flannel.1 nud permanent',
      'neigh add 10.244.2.0 lladdr 0a:58:0a:f4:02:00 dev flannel.1 nud permanent',
      'neigh add 192.168.50.1 lladdr 02:00:00:00:00:01 dev eth0 nud reachable',
    ],
    bridge: [
      'fdb append 0a:58:0a:f4:01:00 dev flannel.1 dst 192.168.50.11 self permanent',
      'fdb append 0a:58:0a:f4:02:00 dev flannel.1 dst 192.168.50.12 self permanent',
    ],
    sysctl: { 'net.ipv4.ip_forward': '1', 'net.ipv4.conf.all.rp_filter': '2' },
    marks: [0x4000],
    remoteSources: {
      eth0: ['192.168.50.77', '10.244.1.5', '203.0.113.9'],
      cni0: ['10.244.0.5', '10.244.1.5'],
      'flannel.1': ['10.244.1.5', '10.244.2.9', '192.168.50.11'],
    },
    extraDst: ['10.244.0.0', '10.244.0.255', '10.244.1.0', '172.17.0.2', '172.18.3.4'],
  },
  {
    name: 'policy',
    ip: [
      'link set lo up',
      ...veth('eth0', '192.168.50.10/24'),
      ...veth('eth1', '192.168.60.10/24'),
      ...veth('eth2', '10.99.0.10/24'),
      'route add 10.0.0.0/8 via 192.168.60.1 table 100',
      'route add 10.1.0.0/16 via 192.168.50.1 table 100',
      'route add throw 10.2.0.0/16 table 100',
      'route add blackhole 10.3.0.0/16 table 100',
      'route add default via 192.168.60.1 table 100',
      'route add 10.0.0.0/8 via 192.168.50.5 table 200',
      'route add unreachable 10.4.0.0/16 table 200',
      'route add prohibit 10.5.0.0/16 table 200',
      'route add 10.6.0.0/16 via 192.168.60.6 metric 10 table 200',
      'route add 10.6.0.0/16 via 192.168.50.6 metric 5 table 200',
      'route add 192.0.2.0/24 dev eth1 table 200',
      'route add default via 10.99.0.1 dev eth2 table 300',
      'route add 10.2.0.0/16 via 192.168.50.2',
      'route add 10.0.0.0/8 via 192.168.50.254',
      'route add 10.7.0.0/16 via 192.168.60.7',
      'route add 10.7.1.0/24 via 192.168.50.7',
      'route add 10.7.1.128/25 via 192.168.60.8',
      'route add 10.7.1.255/32 via 192.168.50.9',
      'route add default via 192.168.50.1',
      'route add 172.16.0.0/12 via 192.168.60.1 metric 50',
      'route add 172.16.0.0/12 via 192.168.50.1 metric 20',
      'route add unreachable 198.18.0.0/15',
      'route add blackhole 203.0.113.0/24',
      'route add prohibit 198.51.100.0/24',
      'route add throw 100.64.0.0/10',
      'route add 100.64.0.0/10 via 10.99.0.1 table 300',
      'rule add pref 100 fwmark 0x1/0x1 lookup 100',
      'rule add pref 110 fwmark 0x2/0x2 lookup 200',
      'rule add pref 120 from 192.168.60.10 lookup 200',
      'rule add pref 130 not to 10.0.0.0/8 fwmark 0x4/0x4 lookup 300',
      'rule add pref 140 to 10.8.0.0/16 blackhole',
      'rule add pref 141 to 10.9.0.0/16 unreachable',
      'rule add pref 142 to 10.10.0.0/16 prohibit',
      'rule add pref 150 iif eth2 lookup 300',
      'rule add pref 160 oif eth1 lookup 200',
      'rule add pref 170 fwmark 0x8/0x8 goto 190',
      'rule add pref 180 to 10.0.0.0/8 lookup 100',
      'rule add pref 190 lookup main suppress_prefixlength 0',
      'rule add pref 200 fwmark 0x10 lookup 300',
      'rule add pref 210 from 10.99.0.0/16 lookup 300',
      'rule add pref 220 iif lo lookup 100',
      'rule add pref 230 ipproto udp dport 53 lookup 300',
      'rule add pref 231 uidrange 1000-1999 lookup 200',
      'rule add pref 232 tos 0x08 lookup 300',
      'route add 10.11.0.0/16 tos 0x10 via 192.168.60.11',
      'route add 10.11.0.0/16 via 192.168.50.11',
    ],
    sysctl: { 'net.ipv4.ip_forward': '1' },
    marks: [0x1, 0x2, 0x3, 0x4, 0x8, 0x10, 0x18],
    remoteSources: {
      eth0: ['192.168.50.77', '10.1.2.3'],
      eth1: ['192.168.60.77', '172.16.5.5'],
      eth2: ['10.99.0.5', '10.99.7.7'],
    },
    extraDst: ['10.8.1.1', '10.9.1.1', '10.10.1.1', '10.2.255.255', '100.64.0.1', '100.127.255.255'],
  },
  {
    name: 'edge',
    ip: [
      'link set lo up',
      ...veth('eth0', '192.168.50.10/24'),
      ...veth('eth1', '192.168.60.10/24'),
      'addr add 192.168.50.20/24 dev eth0',
      'addr add 192.168.70.10/24 dev eth1',
      'route add 10.4.0.0/16 nexthop via 192.168.50.1 weight 1 nexthop via 192.168.60.1 weight 2',
      'route add 10.5.0.0/16 via 192.168.60.1 src 192.168.70.10',
      'route add local 10.100.0.0/16 dev lo',
      'route add 10.6.0.0/16 dev eth1 scope link',
      'route add 10.7.0.0/16 via 192.168.50.1 metric 10',
      'route add 10.7.0.0/16 via 192.168.60.1 metric 10 table 7',
      'route add blackhole 10.8.0.0/16 metric 20',
      'route add 10.8.0.0/16 via 192.168.50.1 metric 10',
      'route add 10.9.0.0/16 via 192.168.50.1 metric 30',
      'route add blackhole 10.9.0.0/16 metric 20',
      'route add default via 192.168.60.1',
      'addr add 2001:db8:a::10/64 dev eth0 nodad',
      'addr add 2001:db8:c::10/64 dev eth1 nodad',
      'route add 2001:db8:1::/48 via 2001:db8:a::1',
      'route add 2001:db8:1:5::/64 via 2001:db8:c::1',
      'route add blackhole 2001:db8:2::/48',
      'route add unreachable 2001:db8:3::/48',
      'route add prohibit 2001:db8:4::/48',
      'route add 2001:db8:5::/48 via 2001:db8:a::1 metric 100',
      'route add 2001:db8:5::/48 via 2001:db8:c::1 metric 50',
      'route add throw 2001:db8:6::/48 table 10',
      'route add 2001:db8:6::/48 via 2001:db8:c::6',
      'route add 2001:db8::/32 via 2001:db8:c::9 table 10',
      'route add default via 2001:db8:a::1',
      'route add default via 2001:db8:c::2 table 20',
      '-6 rule add pref 100 fwmark 0x1 lookup 10',
      '-6 rule add pref 110 from 2001:db8:c::10 lookup 20',
      '-6 rule add pref 120 to 2001:db8:7::/48 prohibit',
      'rule add pref 100 fwmark 0x7 lookup 7',
    ],
    sysctl: {
      'net.ipv4.ip_forward': '1',
      'net.ipv4.conf.eth1.forwarding': '0',
      'net.ipv4.conf.all.rp_filter': '1',
    },
    marks: [0x1, 0x7],
    remoteSources: {
      eth0: ['192.168.50.77', '10.4.1.1', '10.5.9.9', '192.168.60.5'],
      eth1: ['192.168.60.77', '10.7.1.1', '198.18.0.1'],
      lo: ['127.0.0.1'],
    },
    extraDst: ['10.100.5.5', '192.168.50.20', '192.168.70.255', '2001:db8:a::10', '::1', '2001:db8:7::1', 'fe80::1'],
  },
];

/** Sources for the output path (`from`): the node's addresses, plus one that is not. */
export const FOREIGN_SOURCE = '198.51.100.200';

/** A small deterministic PRNG so a failure can be repeated. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function add(ip: Ip, delta: number): Ip | undefined {
  if (ip.family === 4) {
    const v = (ip.value as number) + delta;
    return v < 0 || v > 0xffffffff ? undefined : { family: 4, value: v };
  }
  const v = (ip.value as bigint) + BigInt(delta);
  return v < 0n || v >= 1n << 128n ? undefined : { family: 6, value: v };
}

/** Network, first, last-but-one, last, and one on each side outside. */
export function prefixEdges(c: Cidr): string[] {
  const bits = c.family === 4 ? 32 : 128;
  const net: Ip = { family: c.family, value: c.network };
  const size = c.family === 4 ? 2 ** (bits - c.prefix) : 1n << BigInt(bits - c.prefix);
  const last: Ip =
    c.family === 4
      ? { family: 4, value: (c.network as number) + (size as number) - 1 }
      : { family: 6, value: (c.network as bigint) + (size as bigint) - 1n };
  const out = [net, add(net, 1), add(last, -1), last, add(net, -1), add(last, 1)];
  return out.filter((x): x is Ip => x !== undefined).map(formatIp);
}

export function randomIpv4(rand: () => number, within: string): string {
  const c = parseCidr(within) as Cidr;
  const size = 2 ** (32 - c.prefix);
  return formatIp({ family: 4, value: (c.network as number) + Math.floor(rand() * size) });
}

/** The destinations to ask about: every prefix's edges, gateways, the scenario's extras, random addresses. */
export function destinations(routes: Route[], s: Scenario, seed: number): string[] {
  const out = new Set<string>();
  for (const r of routes) {
    if (r.dst.family === 6 && r.dst.prefix < 8) continue;
    for (const e of prefixEdges(r.dst)) out.add(e);
    if (r.gateway) out.add(r.gateway);
  }
  for (const e of s.extraDst) out.add(e);
  for (const e of ['0.0.0.0', '255.255.255.255', '127.0.0.5', '224.0.0.1', '0.1.2.3', '192.0.2.1']) out.add(e);
  const rand = prng(seed);
  const ranges = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '0.0.0.0/0'];
  for (let i = 0; i < 40; i++) out.add(randomIpv4(rand, ranges[i % ranges.length] as string));
  return [...out].filter((d) => parseIp(d));
}

/**
 * The queries: every destination plainly, and subsets with marks, sources, output devices, input devices and the
 * selectors of less common rules (tos, ipproto/dport, uid). `full` asks every variant of every destination.
 */
export function queries(
  dsts: string[],
  s: Scenario,
  localSources: string[],
  devices: string[],
  full = false,
): RouteQuery[] {
  const out: RouteQuery[] = [];
  const every = (n: number, i: number, k: number) => full || i % n === k;
  dsts.forEach((dst, i) => {
    const v6 = dst.includes(':');
    out.push({ dst });
    if (every(6, i, 5) && !v6)
      out.push({ dst, tos: 0x10 }, { dst, tos: 0x08 }, { dst, ipproto: 'udp', dport: 53 }, { dst, uid: 1500 });
    if (every(3, i, 2)) for (const mark of s.marks) out.push({ dst, mark });
    const fam = localSources.filter((a) => a.includes(':') === v6);
    if (every(3, i, 0)) for (const src of fam) out.push({ dst, src });
    if (every(7, i, 0) && !v6) out.push({ dst, src: FOREIGN_SOURCE });
    if (every(6, i, 1)) for (const oif of devices) out.push({ dst, oif });
    if (every(4, i, 3))
      for (const [iif, srcs] of Object.entries(s.remoteSources))
        for (const src of srcs)
          if (src.includes(':') === v6) out.push({ dst, src, iif, mark: s.marks[i % s.marks.length] });
    if (every(5, i, 2) && v6)
      for (const [iif] of Object.entries(s.remoteSources)) out.push({ dst, src: '2001:db8:ff::1', iif });
  });
  return out;
}

/** The `ip route get` arguments for a query. */
export function queryArgs(q: RouteQuery): string {
  const parts = [q.dst];
  if (q.src) parts.push('from', q.src);
  if (q.iif) parts.push('iif', q.iif);
  if (q.oif) parts.push('oif', q.oif);
  if (q.mark !== undefined) parts.push('mark', `0x${q.mark.toString(16)}`);
  if (q.tos !== undefined) parts.push('tos', `0x${q.tos.toString(16)}`);
  if (q.ipproto !== undefined) parts.push('ipproto', String(q.ipproto));
  if (q.dport !== undefined) parts.push('dport', String(q.dport));
  if (q.uid !== undefined) parts.push('uid', String(q.uid));
  return parts.join(' ');
}
