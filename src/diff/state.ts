/**
 * The node state around netfilter, compared with node values normalised: networking sysctls, interfaces by role,
 * routes (a route to a peer's pod subnet reads the same on both nodes), the overlay's fdb and neighbour entries, IPVS
 * virtual servers, and kube-proxy's mode and version.
 */
import type { Evidence } from '../core/vocabulary.js';
import type { NodeModel } from '../model/cluster.js';
import { parseBridgeFdb } from '../parse/bridge-fdb.js';
import type { Link } from '../parse/ip-link.js';
import { parseIpNeigh } from '../parse/ip-neigh.js';
import { formatPrefix, formatRoute, type Route } from '../parse/ip-route.js';
import { parseIpvsadm, serviceKey, type VirtualService } from '../parse/ipvsadm.js';
import { sysctlKey } from '../parse/sysctl.js';
import { type Normaliser, nodeRoutes } from './identity.js';
import type { Difference, DifferenceKind } from './types.js';

export interface Pair {
  a: NodeModel;
  b: NodeModel;
  na: Normaliser;
  nb: Normaliser;
}

type NotCompared = { kind: DifferenceKind; reason: string }[];

/** A normalised key in both nodes' words: `10.244.3.0/24`, or `10.244.2.0/24 on a, 10.244.1.0/24 on b` for a peer's. */
function onBoth(p: Pair, key: string): string {
  const ka = p.na.concrete(key);
  const kb = p.nb.concrete(key);
  return ka === kb ? ka : `${ka} on ${p.a.name}, ${kb} on ${p.b.name}`;
}

function simple(
  kind: DifferenceKind,
  p: Pair,
  title: string,
  ea: Evidence | undefined,
  eb: Evidence | undefined,
  detail?: string,
): Difference {
  return {
    kind,
    title,
    ...(detail ? { detail } : {}),
    a: { node: p.a.name, evidence: ea ? [ea] : [] },
    b: { node: p.b.name, evidence: eb ? [eb] : [] },
    classes: [],
  };
}

/** The sysctls that change how a node passes traffic, and what a wrong value does. */
const SYSCTLS: { key: string; effect: string }[] = [
  {
    key: 'net.ipv4.ip_forward',
    effect: '0: the node forwards nothing, so its pods reach neither other nodes nor Services',
  },
  { key: 'net.ipv6.conf.all.forwarding', effect: '0: the node forwards no IPv6 traffic' },
  {
    key: 'net.bridge.bridge-nf-call-iptables',
    effect: '0: bridged pod-to-pod traffic on the node skips iptables, so Services between pods of one node break',
  },
  { key: 'net.bridge.bridge-nf-call-ip6tables', effect: '0: bridged IPv6 pod traffic skips ip6tables' },
  {
    key: 'net.ipv4.conf.all.rp_filter',
    effect: '1 (strict): packets that arrive on an interface other than the route back to their source are dropped',
  },
  { key: 'net.ipv4.conf.default.rp_filter', effect: 'the reverse-path filter new interfaces (pod veths) get' },
  { key: 'net.ipv4.conf.all.route_localnet', effect: "0: NodePorts on 127.0.0.1 don't work" },
  {
    key: 'net.netfilter.nf_conntrack_max',
    effect: 'a smaller conntrack table fills up and new connections are dropped',
  },
  { key: 'net.nf_conntrack_max', effect: 'a smaller conntrack table fills up and new connections are dropped' },
  {
    key: 'net.netfilter.nf_conntrack_tcp_be_liberal',
    effect: 'kube-proxy drops out-of-window TCP packets as INVALID unless this is 1',
  },
  { key: 'net.ipv4.ip_local_port_range', effect: 'the source ports the node picks (SNAT and its own connections)' },
  { key: 'net.ipv4.vs.conntrack', effect: 'IPVS with SNAT needs 1' },
  { key: 'net.ipv4.vs.conn_reuse_mode', effect: 'IPVS reuse of connections to removed endpoints' },
  { key: 'net.ipv4.vs.expire_nodest_conn', effect: 'IPVS drops connections to removed endpoints when 1' },
  { key: 'net.ipv4.conf.all.arp_ignore', effect: 'IPVS needs the node not to answer ARP for Service IPs' },
  { key: 'net.ipv4.conf.all.arp_announce', effect: 'IPVS needs the node not to announce Service IPs' },
];
const PER_INTERFACE = ['rp_filter', 'forwarding', 'proxy_arp'];

export function diffSysctl(p: Pair, notCompared: NotCompared): Difference[] {
  const sa = p.a.sysctl;
  const sb = p.b.sysctl;
  if (sa.size === 0 || sb.size === 0) {
    if (sa.size || sb.size)
      notCompared.push({ kind: 'sysctl', reason: `no sysctl output from ${sa.size ? p.b.name : p.a.name}` });
    return [];
  }
  const keys: { ka: string; kb: string; shown: string; effect: string }[] = SYSCTLS.map((s) => ({
    ka: s.key,
    kb: s.key,
    shown: s.key,
    effect: s.effect,
  }));
  for (const role of ['<uplink>', 'cni0', 'flannel.1', 'vxlan.calico', 'tunl0']) {
    const ia = role === '<uplink>' ? p.na.uplink : role;
    const ib = role === '<uplink>' ? p.nb.uplink : role;
    if (!ia || !ib) continue;
    for (const leaf of PER_INTERFACE)
      keys.push({
        ka: sysctlKey('net.ipv4.conf', ia, leaf),
        kb: sysctlKey('net.ipv4.conf', ib, leaf),
        shown: ia === ib ? sysctlKey('net.ipv4.conf', ia, leaf) : `net.ipv4.conf.<uplink>.${leaf}`,
        effect: `${leaf} on ${ia === ib ? ia : 'the uplink'}`,
      });
  }
  const out: Difference[] = [];
  for (const k of keys) {
    const va = sa.get(k.ka);
    const vb = sb.get(k.kb);
    if (va === undefined && vb === undefined) continue;
    const norm = (v: string | undefined) => v?.replace(/\s+/g, ' ').trim();
    if (norm(va) === norm(vb)) continue;
    const ev = (key: string, v: string | undefined): Evidence | undefined =>
      v === undefined ? undefined : { kind: 'sysctl', key, value: v, text: `${key} = ${v}` };
    out.push(
      simple(
        'sysctl',
        p,
        `${k.shown}: ${p.a.name} ${va ?? '(not set)'}, ${p.b.name} ${vb ?? '(not set)'}`,
        ev(k.ka, va),
        ev(k.kb, vb),
        k.effect,
      ),
    );
  }
  return out;
}

const ROLES = [
  'cni0',
  'docker0',
  'cbr0',
  'flannel.1',
  'flannel-wg',
  'tunl0',
  'vxlan.calico',
  'cilium_vxlan',
  'cilium_host',
  'kube-ipvs0',
  'nodelocaldns',
  'weave',
];

/**
 * What is compared of an interface. Its operational state is not: a bridge is UP or UNKNOWN depending on whether a
 * pod is attached, a VXLAN device is always UNKNOWN; the administrative state is, and carrier on the uplink.
 */
function describeLink(l: Link, norm: Normaliser, uplink: boolean): Record<string, string> {
  const d: Record<string, string> = {
    kind: l.kind ?? 'device',
    state: l.up ? 'UP' : 'DOWN',
  };
  if (uplink) d.carrier = l.lowerUp ? 'yes' : 'no';
  if (l.mtu !== undefined) d.mtu = String(l.mtu);
  if (l.master) d.master = l.master;
  const v = l.vxlan;
  if (v) {
    if (v.id !== undefined) d.vni = String(v.id);
    if (v.port !== undefined) d.port = String(v.port);
    if (v.local) d.local = norm.text(v.local);
    if (v.dev) d.dev = norm.iface(v.dev);
    if (v.learning !== undefined) d.learning = String(v.learning);
  }
  return d;
}

export function diffInterfaces(p: Pair, notCompared: NotCompared): Difference[] {
  const la = p.a.links;
  const lb = p.b.links;
  if (!la.length || !lb.length) {
    if (la.length || lb.length)
      notCompared.push({ kind: 'interface', reason: `no ip link output from ${la.length ? p.b.name : p.a.name}` });
    return [];
  }
  const out: Difference[] = [];
  const roles: { role: string; a?: Link; b?: Link }[] = [
    {
      role: 'uplink',
      ...(p.na.uplink ? { a: la.find((l) => l.name === p.na.uplink) } : {}),
      ...(p.nb.uplink ? { b: lb.find((l) => l.name === p.nb.uplink) } : {}),
    },
  ];
  for (const r of ROLES) {
    const a = la.find((l) => l.name === r);
    const b = lb.find((l) => l.name === r);
    if (a || b) roles.push({ role: r, ...(a ? { a } : {}), ...(b ? { b } : {}) });
  }
  for (const { role, a, b } of roles) {
    if (!a && !b) continue;
    const ev = (l: Link | undefined, node: NodeModel, norm: Normaliser): Evidence | undefined =>
      l
        ? {
            kind: 'interface',
            node: node.name,
            name: l.name,
            text: `${l.name}: ${Object.entries(describeLink(l, norm, role === 'uplink'))
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}${l.operstate ? ` (operstate ${l.operstate})` : ''}`,
          }
        : undefined;
    const name = role === 'uplink' ? `uplink (${a?.name ?? '-'}/${b?.name ?? '-'})` : role;
    if (!a || !b) {
      out.push(
        simple(
          'interface',
          p,
          `${name}: only on ${a ? p.a.name : p.b.name}`,
          ev(a, p.a, p.na),
          ev(b, p.b, p.nb),
          `${a ? p.b.name : p.a.name} has no ${role} interface`,
        ),
      );
      continue;
    }
    const da = describeLink(a, p.na, role === 'uplink');
    const db = describeLink(b, p.nb, role === 'uplink');
    const fields = [...new Set([...Object.keys(da), ...Object.keys(db)])].filter((k) => da[k] !== db[k]);
    if (!fields.length) continue;
    out.push(
      simple(
        'interface',
        p,
        `${name} ${fields.map((f) => `${f}: ${p.a.name} ${da[f] ?? '-'}, ${p.b.name} ${db[f] ?? '-'}`).join('; ')}`,
        ev(a, p.a, p.na),
        ev(b, p.b, p.nb),
        fields.includes('mtu')
          ? 'an MTU mismatch drops large packets (or their fragments) between the nodes'
          : undefined,
      ),
    );
  }
  return out;
}

const POD_IFACE = /^(veth|cali|lxc|tap|vnet)/;

function routeKeep(r: Route): boolean {
  if (r.dev && POD_IFACE.test(r.dev)) return false;
  if (r.family === 6) {
    const t = formatRoute(r);
    if (/(^|\s)(fe80|ff[0-9a-f]{2}):/i.test(t)) return false;
  }
  return true;
}

function dstOf(r: Route): string {
  return r.dst.prefix === 0 ? `default${r.family === 6 ? ' (IPv6)' : ''}` : formatPrefix(r.dst);
}

export function diffRoutes(p: Pair, notCompared: NotCompared): Difference[] {
  const ra = nodeRoutes(p.a).filter(routeKeep);
  const rb = nodeRoutes(p.b).filter(routeKeep);
  if (!ra.length || !rb.length) {
    if (ra.length || rb.length)
      notCompared.push({ kind: 'route', reason: `no ip route output from ${ra.length ? p.b.name : p.a.name}` });
    return [];
  }
  const group = (routes: Route[], norm: Normaliser) => {
    const m = new Map<string, { text: string[]; routes: Route[] }>();
    for (const r of routes) {
      const key = `${r.table} ${r.type} ${norm.text(dstOf(r))}`;
      const g = m.get(key) ?? { text: [], routes: [] };
      m.set(key, g);
      let text = norm.text(formatRoute(r));
      if (r.dev)
        text = text.replace(
          new RegExp(`(^| )dev ${r.dev.replace(/[.]/g, '\\.')}( |$)`),
          `$1dev ${norm.iface(r.dev)}$2`,
        );
      g.text.push(text);
      g.routes.push(r);
    }
    return m;
  };
  const ga = group(ra, p.na);
  const gb = group(rb, p.nb);
  const out: Difference[] = [];
  for (const key of new Set([...ga.keys(), ...gb.keys()])) {
    const a = ga.get(key);
    const b = gb.get(key);
    const ta = a?.text.slice().sort().join(' | ');
    const tb = b?.text.slice().sort().join(' | ');
    if (ta === tb) continue;
    const ev = (g: { routes: Route[] } | undefined, node: NodeModel): Evidence | undefined =>
      g
        ? { kind: 'route', node: node.name, text: g.routes.map((r) => r.text || formatRoute(r)).join(' | ') }
        : undefined;
    const shown = (g: { routes: Route[] } | undefined) =>
      g ? `\`${g.routes.map((r) => formatRoute(r)).join(' | ')}\`` : 'none';
    const first = (a ?? b)?.routes[0] as Route;
    const table = first.table;
    const dstText = onBoth(p, key.slice(key.indexOf(' ') + 1).replace(/^unicast /, ''));
    out.push(
      simple(
        'route',
        p,
        `route to ${dstText}${table !== 'main' ? ` (table ${table})` : ''}: ${p.a.name} ${shown(a)}, ${p.b.name} ${shown(b)}`,
        ev(a, p.a),
        ev(b, p.b),
        !a || !b
          ? `${a ? p.b.name : p.a.name} has no such route: its traffic to ${dstText} takes another way`
          : undefined,
      ),
    );
  }
  return out;
}

function overlayDevices(node: NodeModel): Set<string> {
  const s = new Set<string>();
  for (const l of node.links) if (l.kind === 'vxlan' || l.kind === 'geneve' || l.kind === 'ipip') s.add(l.name);
  for (const n of ['flannel.1', 'vxlan.calico', 'cilium_vxlan', 'tunl0']) s.add(n);
  return s;
}

export function diffFdb(p: Pair, notCompared: NotCompared): Difference[] {
  const macs = p.na.knowsMacs && p.nb.knowsMacs;
  const read = (node: NodeModel, norm: Normaliser) => {
    const text = node.output('bridge-fdb');
    if (text === undefined) return undefined;
    const devs = overlayDevices(node);
    const m = new Map<string, { text: string; raw: string }>();
    for (const e of parseBridgeFdb(text, `${node.file}#bridge-fdb`).entries) {
      if (!devs.has(e.dev)) continue;
      // By peer (the VTEP's address); the MAC is compared when both nodes' own MACs are known.
      const key = `${norm.iface(e.dev)} ${e.dst ? `dst ${norm.text(e.dst)}` : norm.text(e.mac)}`;
      const raw = `${e.mac} dev ${e.dev}${e.dst ? ` dst ${e.dst}` : ''}${e.state ? ` ${e.state}` : ''}`;
      const prev = m.get(key);
      const text = macs ? norm.text(raw) : norm.text(raw.replace(/^\S+/, ''));
      m.set(key, prev ? { text: `${prev.text} | ${text}`, raw: `${prev.raw} | ${raw}` } : { text, raw });
    }
    return m;
  };
  if (!macs && (p.na.knowsMacs || p.nb.knowsMacs))
    notCompared.push({
      kind: 'overlay-fdb',
      reason: `VTEP MACs not compared: no ip link output from ${p.na.knowsMacs ? p.b.name : p.a.name}`,
    });
  return compareMaps(
    'overlay-fdb',
    'fdb',
    p,
    read(p.a, p.na),
    read(p.b, p.nb),
    notCompared,
    (key) => `fdb entry ${key}`,
  );
}

export function diffNeigh(p: Pair, notCompared: NotCompared): Difference[] {
  const macs = p.na.knowsMacs && p.nb.knowsMacs;
  const read = (node: NodeModel, norm: Normaliser) => {
    const text = node.output('ip-neigh');
    if (text === undefined) return undefined;
    const devs = overlayDevices(node);
    const m = new Map<string, { text: string; raw: string }>();
    for (const n of parseIpNeigh(text, `${node.file}#ip-neigh`).neighbours) {
      if (!devs.has(n.dev)) continue;
      const raw = `${n.dst} dev ${n.dev}${n.lladdr ? ` lladdr ${n.lladdr}` : ''} ${n.state.join(',')}`;
      const shown = macs ? raw : `${n.dst} dev ${n.dev} ${n.state.join(',')}`;
      m.set(`${norm.text(n.dst)} dev ${n.dev}`, { text: norm.text(shown), raw });
    }
    return m;
  };
  return compareMaps(
    'overlay-neigh',
    'neigh',
    p,
    read(p.a, p.na),
    read(p.b, p.nb),
    notCompared,
    (key) => `neighbour ${key}`,
  );
}

function compareMaps(
  kind: DifferenceKind,
  evKind: string,
  p: Pair,
  ma: Map<string, { text: string; raw: string }> | undefined,
  mb: Map<string, { text: string; raw: string }> | undefined,
  notCompared: NotCompared,
  name: (key: string) => string,
): Difference[] {
  if (!ma || !mb) {
    if (ma || mb) notCompared.push({ kind, reason: `not collected on ${ma ? p.b.name : p.a.name}` });
    return [];
  }
  const out: Difference[] = [];
  for (const key of new Set([...ma.keys(), ...mb.keys()])) {
    const a = ma.get(key);
    const b = mb.get(key);
    if (a?.text === b?.text) continue;
    const ev = (x: { raw: string } | undefined, node: NodeModel): Evidence | undefined =>
      x ? { kind: evKind, node: node.name, text: x.raw } : undefined;
    out.push(
      simple(
        kind,
        p,
        `${name(onBoth(p, key))}: ${p.a.name} ${a ? `\`${a.raw}\`` : 'none'}, ${p.b.name} ${b ? `\`${b.raw}\`` : 'none'}`,
        ev(a, p.a),
        ev(b, p.b),
        !a || !b
          ? `without it ${a ? p.b.name : p.a.name} cannot encapsulate pod traffic to that peer (no VTEP address or MAC)`
          : undefined,
      ),
    );
  }
  return out;
}

function ipvsOf(node: NodeModel): VirtualService[] | undefined {
  const text = node.output('ipvsadm-save') ?? node.output('ipvsadm-list');
  if (text === undefined) return undefined;
  return parseIpvsadm(text, `${node.file}#ipvsadm`).services;
}

export function diffIpvs(p: Pair, notCompared: NotCompared): Difference[] {
  const sa = ipvsOf(p.a);
  const sb = ipvsOf(p.b);
  if (!sa || !sb) {
    if (sa?.length || sb?.length)
      notCompared.push({ kind: 'ipvs', reason: `no ipvsadm output from ${sa ? p.b.name : p.a.name}` });
    return [];
  }
  const index = (list: VirtualService[], norm: Normaliser) => {
    const m = new Map<string, { text: string; svc: VirtualService }>();
    for (const s of list) {
      const key = norm.text(serviceKey(s));
      const rs = s.realServers
        .map((r) => `${r.address}:${r.port} ${r.forward} w${r.weight}`)
        .sort()
        .join(', ');
      m.set(key, {
        text: norm.text(
          `${s.scheduler}${s.persistent !== undefined ? ` persistent ${s.persistent}` : ''} -> ${rs || 'no real servers'}`,
        ),
        svc: s,
      });
    }
    return m;
  };
  const ma = index(sa, p.na);
  const mb = index(sb, p.nb);
  const out: Difference[] = [];
  for (const key of new Set([...ma.keys(), ...mb.keys()])) {
    const a = ma.get(key);
    const b = mb.get(key);
    if (a?.text === b?.text) continue;
    const shown = (x: { svc: VirtualService } | undefined) =>
      x
        ? `${x.svc.realServers.length} real server${x.svc.realServers.length === 1 ? '' : 's'}${x.svc.realServers.length ? ` (${x.svc.realServers.map((r) => `${r.address}:${r.port}${r.weight === 0 ? ' weight 0' : ''}`).join(', ')})` : ''}`
        : 'no virtual server';
    const ev = (x: { svc: VirtualService } | undefined, node: NodeModel): Evidence | undefined =>
      x
        ? {
            kind: 'ipvs',
            node: node.name,
            text: `${x.svc.text}: ${x.svc.realServers.map((r) => `${r.address}:${r.port} w${r.weight}`).join(', ') || 'no real servers'}`,
          }
        : undefined;
    const empty = (x: { svc: VirtualService } | undefined) => !x || x.svc.realServers.length === 0;
    out.push(
      simple(
        'ipvs',
        p,
        `IPVS ${(a ?? b)?.svc.text ?? key}: ${p.a.name} ${shown(a)}, ${p.b.name} ${shown(b)}`,
        ev(a, p.a),
        ev(b, p.b),
        empty(a) !== empty(b)
          ? `on ${empty(a) ? p.a.name : p.b.name} connections to this Service are dropped (no real server)`
          : 'the nodes send this Service to different endpoints',
      ),
    );
  }
  return out;
}

/** kube-proxy's mode as the node shows it: the flag, else the state it left behind. */
export function kubeProxyMode(node: NodeModel): string {
  const ps = node.output('processes') ?? '';
  const line = ps.split('\n').find((l) => /kube-proxy(\s|$)/.test(l));
  const flag = line ? /--proxy-mode[= ](\S+)/.exec(line)?.[1] : undefined;
  if (flag) return flag;
  const ipvs = ipvsOf(node);
  if (ipvs?.length || node.links.some((l) => l.name === 'kube-ipvs0')) return 'ipvs';
  if (node.hasNetfilter) {
    const tables = node.netfilter.ruleset.tables;
    if (tables.some((t) => t.backend === 'nft' && t.name === 'kube-proxy')) return 'nftables';
    if (tables.some((t) => t.name === 'nat' && t.chains.has('KUBE-SERVICES'))) return 'iptables';
  }
  return line ? 'iptables (default)' : 'none (no kube-proxy found)';
}

export function diffKubeProxy(p: Pair): Difference[] {
  const out: Difference[] = [];
  const ma = kubeProxyMode(p.a);
  const mb = kubeProxyMode(p.b);
  if (ma !== mb)
    out.push(
      simple(
        'kube-proxy',
        p,
        `kube-proxy mode: ${p.a.name} ${ma}, ${p.b.name} ${mb}`,
        { kind: 'kube-proxy', node: p.a.name, text: `mode ${ma}` },
        { kind: 'kube-proxy', node: p.b.name, text: `mode ${mb}` },
        'Services are implemented differently on the two nodes',
      ),
    );
  const version = (n: NodeModel) =>
    (n.kube?.status as { nodeInfo?: { kubeProxyVersion?: string } } | undefined)?.nodeInfo?.kubeProxyVersion;
  const va = version(p.a);
  const vb = version(p.b);
  if (va && vb && va !== vb)
    out.push(
      simple(
        'kube-proxy',
        p,
        `kube-proxy version: ${p.a.name} ${va}, ${p.b.name} ${vb}`,
        { kind: 'kube-proxy', node: p.a.name, text: `version ${va}` },
        { kind: 'kube-proxy', node: p.b.name, text: `version ${vb}` },
      ),
    );
  return out;
}
