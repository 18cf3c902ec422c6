/**
 * Small clusters in memory for trace tests: nodes with the devices, addresses, routes, neighbours and fdb entries
 * flanneld (VXLAN or host-gw) or Calico (IP-in-IP) would leave, their iptables rules, and the pods and services of
 * `cluster.json`. Built on test/support/bundle.ts.
 */

import { ClusterModel } from '../../src/model/cluster.js';
import type { KubeObject } from '../../src/model/kube.js';
import { flannelConfig, type TestNode, testBundle } from '../support/bundle.js';

export type Overlay = 'vxlan' | 'host-gw' | 'ipip';

export interface NodeSpec {
  name: string;
  /** Node index K: address 192.168.56.1K, pod subnet 10.244.K.0/24. */
  index: number;
  /** iptables-nft-save text (default: everything accepted). */
  iptables?: string;
  sysctl?: Record<string, string>;
  /** Extra `ip route` lines (text form). */
  routes?: string[];
  /** Leave the node out of the bundle's snapshots (its Node object stays). */
  missing?: boolean;
  /** Extra commands (ipvsadm-save, ...). */
  commands?: Record<string, string>;
  /** Extra addresses: [ifname, cidr]. */
  addresses?: [string, string][];
  /** Device MTUs (default 1500; flannel.1 1450). */
  mtu?: Record<string, number>;
}

export interface PodSpec {
  name: string;
  namespace?: string;
  node: string;
  /** Host part in the node's pod subnet. */
  host: number;
  labels?: Record<string, string>;
}

export interface ServiceSpec {
  name: string;
  namespace?: string;
  clusterIP: string;
  port: number;
  targetPort: number;
  protocol?: 'TCP' | 'UDP';
  nodePort?: number;
  selector?: Record<string, string>;
  /** Endpoint pods (names); default: the pods the selector matches. */
  endpoints?: string[];
}

export const nodeIp = (k: number) => `192.168.56.${10 + k}`;
export const podIp = (k: number, host: number) => `10.244.${k}.${host}`;
const vtepMac = (k: number) => `02:00:00:00:00:${k.toString(16).padStart(2, '0')}`;

export const ACCEPT_ALL = [
  '*filter',
  ':INPUT ACCEPT [0:0]',
  ':FORWARD ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  'COMMIT',
  '',
].join('\n');

function addr(ifname: string, ifindex: number, cidrs: string[], kind?: string) {
  return {
    ifindex,
    ifname,
    flags: ['UP', 'LOWER_UP'],
    mtu: 1500,
    operstate: 'UP',
    link_type: ifname === 'lo' ? 'loopback' : 'ether',
    ...(kind ? { linkinfo: { info_kind: kind } } : {}),
    addr_info: cidrs.map((c) => {
      const [local, len] = c.split('/');
      return { family: 'inet', local, prefixlen: Number(len), scope: ifname === 'lo' ? 'host' : 'global' };
    }),
  };
}

export function buildCluster(
  overlay: Overlay,
  nodes: NodeSpec[],
  pods: PodSpec[],
  services: ServiceSpec[] = [],
  extraObjects: KubeObject[] = [],
): ClusterModel {
  const tunnel = overlay === 'vxlan' ? 'flannel.1' : overlay === 'ipip' ? 'tunl0' : undefined;
  const testNodes: TestNode[] = [];
  for (const n of nodes) {
    if (n.missing) continue;
    const k = n.index;
    const ip = nodeIp(k);
    const peers = nodes.filter((p) => p !== n);
    const ifaces = [
      addr('lo', 1, ['127.0.0.1/8']),
      addr('eth0', 2, [`${ip}/24`]),
      addr('cni0', 3, [`10.244.${k}.1/24`], 'bridge'),
      ...(tunnel ? [addr(tunnel, 4, [overlay === 'vxlan' ? `10.244.${k}.0/32` : `10.244.${k}.0/32`], overlay)] : []),
      ...(n.addresses ?? []).map(([ifname, cidr], i) =>
        addr(ifname, 10 + i, [cidr], ifname === 'kube-ipvs0' ? 'dummy' : undefined),
      ),
    ];
    const links = ifaces.map((i) => {
      const { addr_info: _a, ...base } = i;
      const link = { ...base, mtu: n.mtu?.[i.ifname] ?? (i.ifname === 'flannel.1' ? 1450 : base.mtu) };
      if (i.ifname === 'flannel.1')
        return {
          ...link,
          address: vtepMac(k),
          linkinfo: { info_kind: 'vxlan', info_data: { id: 1, local: ip, port: 8472, learning: false } },
        };
      return link;
    });
    const routes = [
      `default via 192.168.56.1 dev eth0`,
      `10.244.${k}.0/24 dev cni0 proto kernel scope link src 10.244.${k}.1`,
      `192.168.56.0/24 dev eth0 proto kernel scope link src ${ip}`,
      ...peers.map((p) =>
        overlay === 'vxlan'
          ? `10.244.${p.index}.0/24 via 10.244.${p.index}.0 dev flannel.1 onlink`
          : overlay === 'ipip'
            ? `10.244.${p.index}.0/24 via ${nodeIp(p.index)} dev tunl0 proto bird onlink`
            : `10.244.${p.index}.0/24 via ${nodeIp(p.index)} dev eth0`,
      ),
      ...(n.routes ?? []),
      `local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1`,
      `local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1`,
      `local ${ip} dev eth0 table local proto kernel scope host src ${ip}`,
      `local 10.244.${k}.1 dev cni0 table local proto kernel scope host src 10.244.${k}.1`,
      ...(tunnel ? [`local 10.244.${k}.0 dev ${tunnel} table local proto kernel scope host src 10.244.${k}.0`] : []),
      ...(n.addresses ?? []).map(
        ([ifname, cidr]) =>
          `local ${cidr.split('/')[0]} dev ${ifname} table local proto kernel scope host src ${cidr.split('/')[0]}`,
      ),
    ];
    const sysctl = {
      'net.ipv4.ip_forward': '1',
      'net.bridge.bridge-nf-call-iptables': '1',
      ...n.sysctl,
    };
    testNodes.push({
      name: n.name,
      ip,
      commands: {
        'ip-addr': JSON.stringify(ifaces),
        'ip-link': JSON.stringify(links),
        'ip-route': `${routes.join('\n')}\n`,
        'ip-rule': '0:\tfrom all lookup local\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n',
        'ip-neigh': JSON.stringify(
          overlay === 'vxlan'
            ? peers.map((p) => ({
                dst: `10.244.${p.index}.0`,
                dev: 'flannel.1',
                lladdr: vtepMac(p.index),
                state: ['PERMANENT'],
              }))
            : [],
        ),
        'bridge-fdb': JSON.stringify(
          overlay === 'vxlan'
            ? peers.map((p) => ({
                mac: vtepMac(p.index),
                ifname: 'flannel.1',
                dst: nodeIp(p.index),
                flags: ['self'],
                state: 'permanent',
              }))
            : [],
        ),
        sysctl: Object.entries(sysctl)
          .map(([key, v]) => `${key} = ${v}`)
          .join('\n'),
        'iptables-nft-save': n.iptables ?? ACCEPT_ALL,
        ...n.commands,
      },
    });
  }
  const objects: KubeObject[] = [];
  if (overlay !== 'ipip') objects.push(flannelConfig({ Type: overlay }));
  else
    objects.push({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'calico-node', namespace: 'kube-system' },
      spec: {},
    });
  const podObjects = pods.map((p) => {
    const k = (nodes.find((n) => n.name === p.node) as NodeSpec).index;
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: p.name, namespace: p.namespace ?? 'default', labels: p.labels ?? { app: p.name } },
      spec: { nodeName: p.node, containers: [{ name: 'c' }] },
      status: {
        phase: 'Running',
        podIP: podIp(k, p.host),
        podIPs: [{ ip: podIp(k, p.host) }],
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    } satisfies KubeObject;
  });
  objects.push(...podObjects);
  for (const s of services) {
    const ns = s.namespace ?? 'default';
    const eps = podObjects.filter((p) =>
      s.endpoints
        ? s.endpoints.includes(p.metadata.name)
        : s.selector !== undefined &&
          Object.entries(s.selector).every(([k, v]) => p.metadata.labels?.[k] === v) &&
          p.metadata.namespace === ns,
    );
    objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: s.name, namespace: ns },
      spec: {
        type: s.nodePort ? 'NodePort' : 'ClusterIP',
        clusterIP: s.clusterIP,
        clusterIPs: [s.clusterIP],
        ...(s.selector ? { selector: s.selector } : {}),
        ports: [
          {
            port: s.port,
            targetPort: s.targetPort,
            protocol: s.protocol ?? 'TCP',
            ...(s.nodePort ? { nodePort: s.nodePort } : {}),
          },
        ],
      },
    });
    objects.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${s.name}-abcde`, namespace: ns, labels: { 'kubernetes.io/service-name': s.name } },
      addressType: 'IPv4',
      ports: [{ port: s.targetPort, protocol: s.protocol ?? 'TCP' }],
      endpoints: eps.map((p) => ({
        addresses: [p.status.podIP],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: p.spec.nodeName,
        targetRef: { kind: 'Pod', namespace: ns, name: p.metadata.name },
      })),
    });
  }
  const bundle = testBundle(testNodes, [...objects, ...extraObjects]);
  // Nodes left out of the snapshots keep their Node object.
  for (const n of nodes.filter((x) => x.missing))
    bundle.objects.push({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: n.name, annotations: { 'flannel.alpha.coreos.com/public-ip': nodeIp(n.index) } },
      status: { addresses: [{ type: 'InternalIP', address: nodeIp(n.index) }] },
    });
  return new ClusterModel(bundle);
}

/** An iptables-save filter table with these rules (and chains) and ACCEPT policies, plus an optional nat table. */
export function rules(
  filter: string[],
  nat: string[] = [],
  chains: { filter?: string[]; nat?: string[] } = {},
): string {
  return [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ...(chains.nat ?? []).map((c) => `:${c} - [0:0]`),
    ...nat,
    'COMMIT',
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ...(chains.filter ?? []).map((c) => `:${c} - [0:0]`),
    ...filter,
    'COMMIT',
    '',
  ].join('\n');
}
