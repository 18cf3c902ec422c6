/** Bundles shared by the overlay route, lease and VXLAN peer check tests: flannel clusters healthy and broken. */
import type { KubeObject } from '../../src/model/kube.js';
import type { Bundle } from '../../src/snapshot/bundle.js';
import { type TestNode, testBundle } from './bundle.js';
import { type FlannelNodeSpec, flannelCluster, flannelIfaces, type NodeState, nodeCommands } from './node-state.js';

export const SEED002: FlannelNodeSpec[] = [0, 1, 2, 3].map((k) => ({
  name: `172.31.159.${19 + k}`,
  ip: `172.31.159.${19 + k}`,
  subnet: `10.187.${k}.0/24`,
  vtepMac: ['b6:9b:ed:b0:37:74', 'f2:d2:28:8e:4c:61', '2a:f1:d4:d0:32:24', '4a:e7:02:47:20:b8'][k] as string,
  uplink: 'eno1',
}));

export function flannelCm(network: string, backend: Record<string, unknown> = { Type: 'vxlan' }): KubeObject {
  return {
    kind: 'ConfigMap',
    metadata: { name: 'kube-flannel-cfg', namespace: 'kube-system' },
    data: { 'net-conf.json': JSON.stringify({ Network: network, Backend: backend }) },
  };
}

export function flannelPods(specs: FlannelNodeSpec[]): KubeObject[] {
  return specs.map((s, k) => ({
    kind: 'Pod',
    metadata: {
      name: `kube-flannel-ds-${k}x${k}`,
      namespace: 'kube-system',
      labels: { app: 'flannel' },
      ownerReferences: [{ kind: 'DaemonSet', name: 'kube-flannel-ds' }],
    },
    spec: { nodeName: s.name, hostNetwork: true },
    status: { podIP: s.ip },
  }));
}

export function kubeBundle(
  specs: FlannelNodeSpec[],
  tweak?: (s: FlannelNodeSpec, st: NodeState) => void,
  objects: KubeObject[] = [flannelCm('10.187.0.0/16')],
): Bundle {
  return testBundle(flannelCluster(specs, tweak), objects);
}

/** Seed 004: etcd-backed flannel, node 05's lease is gone, its docker0 on the old subnet, two stale routes. */
export const SEED004_NODES = {
  m03: { name: 'mcwk8s03', ip: '10.0.0.33', subnet: '172.17.83.0/24', vtepMac: 'b2:83:33:7b:fd:37' },
  m05: { name: 'mcwk8s05', ip: '10.0.0.35', subnet: '172.17.98.0/24', vtepMac: '36:70:76:ea:39:b8' },
  m06: { name: 'mcwk8s06', ip: '10.0.0.36', subnet: '172.17.9.0/24', vtepMac: '2a:2c:21:3a:58:21' },
} satisfies Record<string, FlannelNodeSpec>;

export interface Seed004Options {
  /** Leases in etcd (default: 03 and 06 only, as in the seed). */
  leases?: FlannelNodeSpec[];
  /** Node 05's routes (default: the two stale ones of the seed). */
  routes05?: string[];
  /** Node 05's FLANNEL_SUBNET (default: its old subnet). */
  subnet05?: string;
}

export function seed004(opts: Seed004Options = {}): Bundle {
  const { m03, m05, m06 } = SEED004_NODES;
  const leases = opts.leases ?? [m03, m06];
  const all = [m03, m05, m06];
  const route = (s: FlannelNodeSpec) => `${s.subnet} via ${s.subnet.split('/')[0]} dev flannel.1 onlink`;
  const nodes: TestNode[] = all.map((s) => {
    const others = leases.filter((l) => l !== s);
    const routes =
      s === m05
        ? (opts.routes05 ?? [
            '172.17.59.0/24 via 172.17.59.0 dev flannel.1 onlink',
            '172.17.61.0/24 via 172.17.61.0 dev flannel.1 onlink',
          ])
        : others.map(route);
    const state: NodeState = {
      ifaces: flannelIfaces({ ...s, bridge: 'docker0' }),
      routes: ['default via 10.0.0.254 dev eth0', ...routes],
      sysctl: { 'net.ipv4.ip_forward': 1, 'net.bridge.bridge-nf-call-iptables': 1 },
      neigh: others.map((o) => ({ dst: o.subnet.split('/')[0] as string, dev: 'flannel.1', lladdr: o.vtepMac })),
      fdb: others.map((o) => ({ mac: o.vtepMac, ifname: 'flannel.1', dst: o.ip })),
    };
    const sub = s === m05 ? (opts.subnet05 ?? s.subnet) : s.subnet;
    return {
      name: s.name,
      ip: s.ip,
      files: {
        '/run/flannel/subnet.env': `FLANNEL_NETWORK=172.17.0.0/16\nFLANNEL_SUBNET=${sub.replace(/\.0\//, '.1/')}\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n`,
      },
      commands: {
        ...nodeCommands(state),
        processes:
          '  PID COMMAND\n  812 /usr/bin/dockerd -H fd://\n  900 /opt/kubernetes/bin/flanneld --ip-masq --etcd-endpoints=https://10.0.0.33:2379\n',
      },
    };
  });
  const bundle = testBundle(nodes, []);
  bundle.etcd = {
    schemaVersion: 1,
    kind: 'FlannelSubnets',
    prefix: '/coreos.com/network',
    config: JSON.stringify({ Network: '172.17.0.0/16', Backend: { Type: 'vxlan' } }),
    subnets: Object.fromEntries(
      leases.map((l) => [
        l.subnet.replace('/', '-'),
        JSON.stringify({ PublicIP: l.ip, BackendType: 'vxlan', BackendData: { VtepMAC: l.vtepMac } }),
      ]),
    ),
  };
  return bundle;
}
