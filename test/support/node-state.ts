/**
 * Node state for check tests, written the way the tools print it: `ip -j addr`, `ip -d -j link`, `ip route show table
 * all` text (with the kernel's own connected and local routes added, as the kernel adds them for each address),
 * `sysctl -a`, `ip -j neigh`, `bridge -j fdb`. One description of the interfaces feeds all of them.
 */
import { formatCidr, parseCidr } from '../../src/core/ip.js';
import type { TestNode } from './bundle.js';

export interface TestIface {
  name: string;
  /** veth, bridge, vxlan, ipip...; undefined for a plain NIC. */
  kind?: string;
  mtu?: number;
  /** IPv4 addresses with their prefix: `10.244.1.1/24`. */
  addrs?: string[];
  master?: string;
  mac?: string;
  vxlan?: { local: string; port?: number; link?: string; id?: number };
  /** Other `info_data` (a bridge's `nf_call_iptables`). */
  info?: Record<string, unknown>;
  down?: boolean;
}

const LO: TestIface = { name: 'lo', addrs: ['127.0.0.1/8'], mtu: 65536 };

function linkJson(i: TestIface, index: number, withInfo: boolean): Record<string, unknown> {
  const flags =
    i.name === 'lo'
      ? ['LOOPBACK', 'UP', 'LOWER_UP']
      : ['BROADCAST', 'MULTICAST', ...(i.down ? [] : ['UP', 'LOWER_UP'])];
  const o: Record<string, unknown> = {
    ifindex: index,
    ifname: i.name,
    flags,
    mtu: i.mtu ?? 1500,
    operstate: i.down ? 'DOWN' : 'UP',
    link_type: i.name === 'lo' ? 'loopback' : 'ether',
    address: i.mac ?? `52:54:00:00:00:${index.toString(16).padStart(2, '0')}`,
  };
  if (i.master) o.master = i.master;
  if (withInfo && (i.kind || i.master)) {
    const linkinfo: Record<string, unknown> = {};
    if (i.kind) linkinfo.info_kind = i.kind;
    if (i.master) linkinfo.info_slave_kind = 'bridge';
    if (i.vxlan)
      linkinfo.info_data = {
        id: i.vxlan.id ?? 1,
        local: i.vxlan.local,
        ...(i.vxlan.link ? { link: i.vxlan.link } : {}),
        port: i.vxlan.port ?? 8472,
        learning: false,
      };
    else if (i.info) linkinfo.info_data = i.info;
    o.linkinfo = linkinfo;
  }
  return o;
}

/** The interfaces with the loopback first (a given `lo` replaces the default one). */
function withLo(ifaces: TestIface[]): TestIface[] {
  const lo = ifaces.find((i) => i.name === 'lo');
  return [lo ?? LO, ...ifaces.filter((i) => i !== lo)];
}

export function ipLink(ifaces: TestIface[]): string {
  return JSON.stringify(withLo(ifaces).map((i, k) => linkJson(i, k + 1, true)));
}

export function ipAddr(ifaces: TestIface[]): string {
  return JSON.stringify(
    withLo(ifaces).map((i, k) => ({
      ...linkJson(i, k + 1, false),
      addr_info: (i.addrs ?? []).map((a) => {
        const [local, len] = a.split('/');
        return {
          family: 'inet',
          local,
          prefixlen: Number(len),
          scope: i.name === 'lo' ? 'host' : 'global',
          label: i.name,
        };
      }),
    })),
  );
}

/** The routes the kernel adds for each address: the connected prefix (unless /32) and the local route. */
export function kernelRoutes(ifaces: TestIface[]): string[] {
  const out: string[] = [];
  for (const i of withLo(ifaces))
    for (const a of i.addrs ?? []) {
      const [local, len] = a.split('/') as [string, string];
      const c = parseCidr(a);
      if (!c) continue;
      if (i.name === 'lo' && local.startsWith('127.'))
        out.push(`local 127.0.0.0/8 dev lo table local proto kernel scope host src ${local}`);
      else if (Number(len) < 32) out.push(`${formatCidr(c)} dev ${i.name} proto kernel scope link src ${local}`);
      out.push(`local ${local} dev ${i.name} table local proto kernel scope host src ${local}`);
    }
  return out;
}

export function sysctlText(values: Record<string, string | number>): string {
  return `${Object.entries(values)
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n')}\n`;
}

export interface NodeState {
  ifaces: TestIface[];
  /** Routes beyond the kernel's own, as `ip route` prints them. */
  routes?: string[];
  /** Replace the kernel's own routes (to show a node where something removed or changed them). */
  kernel?: string[];
  sysctl?: Record<string, string | number>;
  neigh?: { dst: string; dev: string; lladdr?: string; state?: string[] }[];
  fdb?: { mac: string; ifname: string; dst?: string; state?: string; flags?: string[] }[];
  /** Other command outputs by id. */
  commands?: Record<string, string>;
}

/** The command outputs of a node, for `TestNode.commands`. */
export function nodeCommands(s: NodeState): Record<string, string> {
  const out: Record<string, string> = {
    'ip-addr': ipAddr(s.ifaces),
    'ip-link': ipLink(s.ifaces),
    'ip-route': `${[...(s.routes ?? []), ...(s.kernel ?? kernelRoutes(s.ifaces))].join('\n')}\n`,
  };
  if (s.sysctl) out.sysctl = sysctlText(s.sysctl);
  if (s.neigh) out['ip-neigh'] = JSON.stringify(s.neigh.map((n) => ({ state: ['PERMANENT'], ...n })));
  if (s.fdb) out['bridge-fdb'] = JSON.stringify(s.fdb.map((f) => ({ flags: ['self'], state: 'permanent', ...f })));
  return { ...out, ...(s.commands ?? {}) };
}

export interface FlannelNodeSpec {
  name: string;
  ip: string;
  /** The node's pod subnet, `10.244.1.0/24`. */
  subnet: string;
  vtepMac: string;
  /** Uplink name and MTU. */
  uplink?: string;
  uplinkMtu?: number;
  overlayMtu?: number;
  /** Number of pod veths on cni0. */
  pods?: number;
  bridge?: string;
}

/** A healthy flannel VXLAN node's interfaces. */
export function flannelIfaces(n: FlannelNodeSpec): TestIface[] {
  const c = parseCidr(n.subnet);
  if (!c) throw new Error(`bad subnet ${n.subnet}`);
  const base = n.subnet.split('/')[0] as string;
  const gw = base.replace(/\.0$/, '.1');
  const uplink = n.uplink ?? 'eth0';
  const mtu = n.overlayMtu ?? 1450;
  const bridge = n.bridge ?? 'cni0';
  const veths: TestIface[] = Array.from({ length: n.pods ?? 2 }, (_, k) => ({
    name: `veth${n.name.replace(/\W/g, '')}${k}`,
    kind: 'veth',
    master: bridge,
    mtu,
  }));
  return [
    { name: uplink, mtu: n.uplinkMtu ?? 1500, addrs: [`${n.ip}/24`] },
    { name: bridge, kind: 'bridge', mtu, addrs: [`${gw}/${c.prefix}`] },
    {
      name: 'flannel.1',
      kind: 'vxlan',
      mtu,
      addrs: [`${base}/32`],
      mac: n.vtepMac,
      vxlan: { local: n.ip, link: uplink },
    },
    ...veths,
  ];
}

/** A healthy flannel VXLAN cluster: every node with routes, neighbours and fdb entries to every other. */
export function flannelCluster(
  specs: FlannelNodeSpec[],
  tweak: (spec: FlannelNodeSpec, state: NodeState) => void = () => {},
): TestNode[] {
  return specs.map((n) => {
    const others = specs.filter((o) => o !== n);
    const state: NodeState = {
      ifaces: flannelIfaces(n),
      routes: [
        `default via ${n.ip.replace(/\.\d+$/, '.1')} dev ${n.uplink ?? 'eth0'}`,
        ...others.map((o) => {
          const base = o.subnet.split('/')[0];
          return `${o.subnet} via ${base} dev flannel.1 onlink`;
        }),
      ],
      sysctl: {
        'net.ipv4.ip_forward': 1,
        'net.ipv4.conf.all.forwarding': 1,
        'net.ipv4.conf.all.rp_filter': 1,
        'net.bridge.bridge-nf-call-iptables': 1,
      },
      neigh: others.map((o) => ({ dst: o.subnet.split('/')[0] as string, dev: 'flannel.1', lladdr: o.vtepMac })),
      fdb: others.map((o) => ({ mac: o.vtepMac, ifname: 'flannel.1', dst: o.ip })),
    };
    tweak(n, state);
    return {
      name: n.name,
      ip: n.ip,
      ...(n.uplink ? { uplink: n.uplink } : {}),
      podCIDR: n.subnet,
      annotations: {
        'flannel.alpha.coreos.com/backend-data': JSON.stringify({ VNI: 1, VtepMAC: n.vtepMac }),
        'flannel.alpha.coreos.com/backend-type': 'vxlan',
        'flannel.alpha.coreos.com/kube-subnet-manager': 'true',
      },
      files: {
        '/run/flannel/subnet.env': `FLANNEL_NETWORK=${flannelNetwork(specs)}\nFLANNEL_SUBNET=${n.subnet.replace(/\.0\//, '.1/')}\nFLANNEL_MTU=${n.overlayMtu ?? 1450}\nFLANNEL_IPMASQ=true\n`,
      },
      commands: nodeCommands(state),
    };
  });
}

/** The /16 the specs' subnets are in. */
export function flannelNetwork(specs: FlannelNodeSpec[]): string {
  const first = specs[0]?.subnet ?? '10.244.0.0/24';
  return `${first.split('.').slice(0, 2).join('.')}.0.0/16`;
}
