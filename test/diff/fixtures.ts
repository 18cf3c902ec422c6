/**
 * Synthetic flannel nodes for diff tests: node k has 192.168.56.(10+k) on eth0, pod subnet 10.244.k.0/24 on cni0,
 * flannel.1 with 10.244.k.0 and its own VTEP MAC, routes/fdb/neigh entries for every peer — everything a node owns
 * differs between nodes, as on a real cluster. Options break one thing at a time.
 */
import { ClusterModel, type NodeModel } from '../../src/model/cluster.js';
import { type TestNode, testBundle } from '../support/bundle.js';

export interface NodeOptions {
  /** The node's iptables-nft-save text (`{POD_SUBNET}` and `{NODE_IP}` are replaced with the node's own). */
  rules?: string;
  /** ip6tables-nft-save text. */
  rules6?: string;
  /** `nft -j list ruleset` output. */
  nft?: string;
  sysctl?: Record<string, string>;
  flannelMtu?: number;
  /** Peers (by index) whose route / fdb / neigh entries are left out. */
  noRouteTo?: number[];
  noFdbFor?: number[];
  noNeighFor?: number[];
  ipvs?: string;
  processes?: string;
  /** Leave out ip link output. */
  noLinks?: boolean;
}

export const nodeIp = (k: number) => `192.168.56.${10 + k}`;
const mac = (k: number, dev: number) =>
  `02:00:00:00:${dev.toString(16).padStart(2, '0')}:${k.toString(16).padStart(2, '0')}`;

const BASE_SYSCTL: Record<string, string> = {
  'net.ipv4.ip_forward': '1',
  'net.bridge.bridge-nf-call-iptables': '1',
  'net.ipv4.conf.all.rp_filter': '0',
  'net.netfilter.nf_conntrack_max': '262144',
  'kernel.hostname': 'x',
};

function link(ifindex: number, name: string, k: number, mtu: number, extra: Record<string, unknown> = {}) {
  return {
    ifindex,
    ifname: name,
    flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
    mtu,
    operstate: 'UP',
    link_type: 'ether',
    address: mac(k, ifindex),
    ...extra,
  };
}

function addr(ifindex: number, name: string, k: number, local: string, prefixlen: number) {
  return {
    ...link(ifindex, name, k, 1500),
    addr_info: [{ family: 'inet', local, prefixlen, scope: 'global', label: name }],
  };
}

export function flannelNode(k: number, peers: number[], o: NodeOptions = {}): TestNode {
  const ip = nodeIp(k);
  const sub = `10.244.${k}.0/24`;
  const commands: Record<string, string> = {};
  if (o.rules) commands['iptables-nft-save'] = o.rules.replaceAll('{POD_SUBNET}', sub).replaceAll('{NODE_IP}', ip);
  if (o.nft) commands['nft-ruleset'] = o.nft;
  if (o.rules6) commands['ip6tables-nft-save'] = o.rules6;
  commands['ip-addr'] = JSON.stringify([
    {
      ifindex: 1,
      ifname: 'lo',
      flags: ['LOOPBACK', 'UP'],
      mtu: 65536,
      operstate: 'UNKNOWN',
      link_type: 'loopback',
      addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }],
    },
    addr(2, 'eth0', k, ip, 24),
    addr(3, 'cni0', k, `10.244.${k}.1`, 24),
    addr(4, 'flannel.1', k, `10.244.${k}.0`, 32),
  ]);
  if (!o.noLinks)
    commands['ip-link'] = JSON.stringify([
      link(2, 'eth0', k, 1500),
      link(3, 'cni0', k, 1500, { linkinfo: { info_kind: 'bridge', info_data: {} } }),
      link(4, 'flannel.1', k, o.flannelMtu ?? 1450, {
        linkinfo: { info_kind: 'vxlan', info_data: { id: 1, local: ip, link: 'eth0', port: 8472, learning: false } },
      }),
    ]);
  const routes: Record<string, unknown>[] = [
    { dst: 'default', gateway: '192.168.56.1', dev: 'eth0', flags: [] },
    { dst: sub, dev: 'cni0', protocol: 'kernel', scope: 'link', prefsrc: `10.244.${k}.1`, flags: [] },
    { dst: '192.168.56.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: ip, flags: [] },
  ];
  for (const p of peers)
    if (!o.noRouteTo?.includes(p))
      routes.push({ dst: `10.244.${p}.0/24`, gateway: `10.244.${p}.0`, dev: 'flannel.1', flags: ['onlink'] });
  commands['ip-route'] = JSON.stringify(routes);
  commands['bridge-fdb'] = JSON.stringify(
    peers
      .filter((p) => !o.noFdbFor?.includes(p))
      .map((p) => ({ mac: mac(p, 4), ifname: 'flannel.1', dst: nodeIp(p), flags: ['self'], state: 'permanent' })),
  );
  commands['ip-neigh'] = JSON.stringify(
    peers
      .filter((p) => !o.noNeighFor?.includes(p))
      .map((p) => ({ dst: `10.244.${p}.0`, dev: 'flannel.1', lladdr: mac(p, 4), state: ['PERMANENT'] })),
  );
  commands.sysctl = Object.entries({ ...BASE_SYSCTL, ...o.sysctl })
    .map(([key, v]) => `${key} = ${v}`)
    .join('\n');
  if (o.ipvs !== undefined) commands['ipvsadm-save'] = o.ipvs;
  if (o.processes !== undefined) commands.processes = o.processes;
  return { name: `node${k}`, ip, commands };
}

/** A cluster of flannel nodes 1..n; `opts[k]` configures node k. */
export function flannelCluster(
  n: number,
  opts: Record<number, NodeOptions> = {},
  common: NodeOptions = {},
): ClusterModel {
  const ks = Array.from({ length: n }, (_, i) => i + 1);
  return new ClusterModel(
    testBundle(
      ks.map((k) =>
        flannelNode(
          k,
          ks.filter((p) => p !== k),
          { ...common, ...opts[k] },
        ),
      ),
    ),
  );
}

export function nodesOf(c: ClusterModel, ...names: string[]): NodeModel[] {
  return names.map((n) => {
    const node = c.node(n);
    if (!node) throw new Error(`no node ${n}`);
    return node;
  });
}

/** seed 000's firewall: a flat INPUT chain ending in REJECT, with the VXLAN accept's protocol given. */
export function seedFirewall(proto: 'udp' | 'tcp', extra: string[] = []): string {
  return [
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    '-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT',
    '-A INPUT -p icmp -j ACCEPT',
    '-A INPUT -i lo -j ACCEPT',
    '-A INPUT -p tcp -m conntrack --ctstate NEW -m tcp --dport 22 -j ACCEPT',
    `-A INPUT -p ${proto} -m conntrack --ctstate NEW -m ${proto} --dport 8472 -j ACCEPT`,
    '-A INPUT -p tcp -m conntrack --ctstate NEW -m tcp --dport 10250 -j ACCEPT',
    ...extra,
    '-A INPUT -j REJECT --reject-with icmp-host-prohibited',
    'COMMIT',
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ':FLANNEL-POSTRTG - [0:0]',
    '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG',
    '-A FLANNEL-POSTRTG -s {POD_SUBNET} -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN',
    '-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d {POD_SUBNET} -m comment --comment "flanneld masq" -j RETURN',
    '-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
    'COMMIT',
    '',
  ].join('\n');
}
