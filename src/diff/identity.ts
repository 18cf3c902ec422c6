/**
 * What is a node's own and expected to differ from its peers: its addresses (uplink, cni0, flannel.1...), their
 * networks and broadcasts, its MACs, its pod subnet, its uplink's name. Comparing node A with node B, A's own values
 * become role tokens (`<node-ip>`, `<pod-subnet>`, `<flannel.1-mac>`), and B's values seen on A (A's route to B's pod
 * subnet, A's fdb entry for B's VTEP) become peer tokens (`<peer:pod-subnet>`), and the same on B the other way round:
 * A's route to B's subnet then reads like B's route to A's subnet.
 */
import { formatIpv4, normalizeIp, parseCidr, parseIp } from '../core/ip.js';
import type { NodeModel } from '../model/cluster.js';
import { parseFlannelSubnetEnv } from '../parse/flannel-subnet-env.js';
import { parseIpRoute, type Route } from '../parse/ip-route.js';

const routeCache = new WeakMap<NodeModel, Route[]>();

/** The node's routes of both families (every table), parsed once. */
export function nodeRoutes(node: NodeModel): Route[] {
  let r = routeCache.get(node);
  if (!r) {
    r = [];
    for (const [id, family] of [
      ['ip-route', 4],
      ['ip6-route', 6],
    ] as const) {
      const text = node.output(id);
      if (text) r.push(...parseIpRoute(text, `${node.file}#${id}`, { family }).routes);
    }
    routeCache.set(node, r);
  }
  return r;
}

export interface NodeIdentity {
  name: string;
  /** The address peers reach the node at. */
  nodeIp?: string;
  /** The interface that holds the node IP (eth0, ens3...). */
  uplink?: string;
  /** The node's pod subnet (`10.244.1.0/24`). */
  podSubnet?: string;
  /** Role token → value: `node-ip` → 192.168.56.11, `cni0-ip` → 10.244.1.1, `pod-subnet` → 10.244.1.0/24. */
  values: Map<string, string>;
}

/** Interfaces named by role: the uplink is `node`, others by their (stable) names; pod veths are left out. */
function roleOf(ifname: string, uplink: string | undefined): string | undefined {
  if (ifname === uplink) return 'node';
  if (ifname === 'lo') return undefined;
  if (/^(veth|cali|lxc|tap|vnet)/.test(ifname)) return undefined;
  return ifname;
}

function subnetOf(address: string, prefixlen: number): string | undefined {
  const c = parseCidr(`${address}/${prefixlen}`);
  if (c?.family !== 4) return undefined;
  const mask = prefixlen === 0 ? 0 : (0xffffffff << (32 - prefixlen)) >>> 0;
  return `${formatIpv4(((c.network as number) & mask) >>> 0)}/${prefixlen}`;
}

function broadcastOf(address: string, prefixlen: number): string | undefined {
  const ip = parseIp(address);
  if (ip?.family !== 4 || prefixlen >= 31) return undefined;
  const host = prefixlen === 0 ? 0xffffffff : ~(0xffffffff << (32 - prefixlen)) >>> 0;
  return formatIpv4(((ip.value as number) | host) >>> 0);
}

export function podSubnetOf(node: NodeModel): string | undefined {
  const spec = (node.kube?.spec as { podCIDR?: string } | undefined)?.podCIDR;
  if (spec && parseCidr(spec)) return subnetOf(spec.split('/')[0] as string, Number(spec.split('/')[1]));
  const env = node.fileContent('/run/flannel/subnet.env');
  if (env) {
    const sub = parseFlannelSubnetEnv(env, `${node.file}#/run/flannel/subnet.env`).env.subnet;
    if (sub && sub.family === 4) return `${formatIpv4(sub.network as number)}/${sub.prefix}`;
  }
  for (const bridge of ['cni0', 'docker0', 'cbr0']) {
    const a = node.addresses.find((x) => x.ifname === bridge && x.family === 4);
    if (a) return subnetOf(a.address, a.prefixlen);
  }
  return undefined;
}

export function nodeIdentity(node: NodeModel): NodeIdentity {
  const values = new Map<string, string>();
  const addrs = node.addresses;
  let nodeIp = node.nodeIp;
  let uplink = nodeIp ? node.interfaceOf(nodeIp) : undefined;
  if (!uplink) {
    // No Node object: the interface of the default route's source, else the first global address.
    const def = nodeRoutes(node).find((r) => r.table === 'main' && r.dst.prefix === 0 && r.family === 4);
    uplink = def?.dev;
    nodeIp ??= addrs.find((a) => a.ifname === uplink && a.family === 4)?.address;
  }
  if (nodeIp) values.set('node-ip', nodeIp);
  const podSubnet = podSubnetOf(node);
  if (podSubnet) values.set('pod-subnet', podSubnet);
  const perRole = new Map<string, number>();
  for (const a of addrs) {
    const role = roleOf(a.ifname, uplink);
    if (!role) continue;
    const n = (perRole.get(`${role}/${a.family}`) ?? 0) + 1;
    perRole.set(`${role}/${a.family}`, n);
    const suffix = `${a.family === 6 ? '6' : ''}${n > 1 ? `#${n}` : ''}`;
    if (!(role === 'node' && a.address === nodeIp)) values.set(`${role}-ip${suffix}`, a.address);
    if (a.family !== 4) continue;
    const net = subnetOf(a.address, a.prefixlen);
    if (net && net !== podSubnet && a.prefixlen < 32) values.set(`${role}-net${suffix}`, net);
    const bcast = broadcastOf(a.address, a.prefixlen);
    if (bcast) values.set(`${role}-bcast${suffix}`, bcast);
  }
  for (const l of node.links) {
    const role = roleOf(l.name, uplink);
    if (role && l.mac && l.mac !== '00:00:00:00:00:00') values.set(`${role}-mac`, l.mac.toLowerCase());
  }
  if (podSubnet) {
    const [ip, len] = podSubnet.split('/') as [string, string];
    const b = broadcastOf(ip, Number(len));
    if (b) values.set('pod-subnet-bcast', b);
  }
  return {
    name: node.name,
    ...(nodeIp ? { nodeIp } : {}),
    ...(uplink ? { uplink } : {}),
    ...(podSubnet ? { podSubnet } : {}),
    values,
  };
}

const IPV4 = /(?<![\w.:])(\d{1,3}(?:\.\d{1,3}){3})(\/\d{1,2})?(?![\w.])/g;
const IPV6 = /(?<![\w:.])([0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7})(\/\d{1,3})?(?![\w:.])/g;
const MAC = /(?<![\w:])([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})(?![\w:])/g;

/**
 * One side of a comparison: rewrites this node's own values and its peer's values into tokens, and back (to build
 * this node's packets from a class described with tokens).
 */
export class Normaliser {
  /** Concrete text (`10.244.1.0/24`, `10.244.1.1`, a MAC) → token. */
  private readonly toToken = new Map<string, string>();
  /** Token → concrete value on this node. */
  readonly fromToken = new Map<string, string>();

  constructor(
    readonly self: NodeIdentity,
    readonly peer: NodeIdentity | undefined,
  ) {
    const peerValues = new Set(peer ? peer.values.values() : []);
    const selfValues = new Set(self.values.values());
    for (const [role, v] of self.values) {
      // A value both nodes own (a service VIP on kube-ipvs0, 127.0.0.1) is no node-specific value.
      if (peerValues.has(v) && peer?.values.get(role) === v) continue;
      // A role only one node has (its MAC was not collected on the other) stays literal on both, or they can't match.
      if (peer && !peer.values.has(role)) continue;
      this.add(v, `<${role}>`);
    }
    if (peer)
      for (const [role, v] of peer.values) {
        if (selfValues.has(v) || this.toToken.has(v) || !self.values.has(role)) continue;
        this.add(v, `<peer:${role}>`);
      }
  }

  private add(value: string, token: string): void {
    this.toToken.set(value, token);
    this.fromToken.set(token, value);
    // Prefixes are also written as plain addresses with /32 (iptables-save prints hosts as a.b.c.d/32).
    if (!value.includes('/') && value.includes('.')) this.toToken.set(`${value}/32`, token);
  }

  /** Whether the node's own MACs are known (ip link was collected): else MACs can't be told apart from peers'. */
  get knowsMacs(): boolean {
    return [...this.self.values.keys()].some((k) => k.endsWith('-mac'));
  }

  get uplink(): string | undefined {
    return this.self.uplink;
  }

  /** Replace this node's and its peer's values in any text (a rule, a route, an fdb entry). */
  text(s: string): string {
    if (this.toToken.size === 0) return s;
    let out = s.replace(IPV4, (whole, ip: string, len: string | undefined) => {
      const exact = this.toToken.get(whole);
      if (exact) return exact;
      if (len === undefined) return whole;
      const host = this.toToken.get(ip);
      return host && len === '/32' ? host : whole;
    });
    out = out.replace(MAC, (m: string) => this.toToken.get(m.toLowerCase()) ?? m);
    if (out.includes('::') || /[0-9a-f]:[0-9a-f]{1,4}:/i.test(out))
      out = out.replace(IPV6, (whole, ip: string, len: string | undefined) => {
        const n = normalizeIp(ip);
        if (!n?.includes(':')) return whole;
        const exact = this.toToken.get(`${n}${len ?? ''}`);
        if (exact) return exact;
        const host = this.toToken.get(n);
        return host && (len === undefined || len === '/128') ? host : whole;
      });
    return out;
  }

  /** An address or prefix → token when it is one of the node's values, else itself. */
  value(v: string): string {
    return this.toToken.get(v) ?? this.toToken.get(v.toLowerCase()) ?? v;
  }

  /** A token back to this node's concrete value (undefined when this node has no such value). */
  resolve(token: string): string | undefined {
    if (!token.startsWith('<')) return token;
    if (token === '<uplink>') return this.self.uplink;
    return this.fromToken.get(token);
  }

  /** Tokens back to this node's values, in any text (what a normalised key means on this node). */
  concrete(text: string): string {
    return text.replace(/<[^<>\s]+>/g, (t) => this.resolve(t) ?? t);
  }

  /** An interface name as a role: the uplink is `<uplink>`. */
  iface(name: string): string {
    return name === this.self.uplink ? '<uplink>' : name;
  }
}
