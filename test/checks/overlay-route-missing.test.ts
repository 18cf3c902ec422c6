import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCheck } from '../../src/checks/define.js';
import check from '../../src/checks/overlay-route-missing.js';
import { ClusterModel } from '../../src/model/cluster.js';
import type { KubeObject } from '../../src/model/kube.js';
import type { Bundle } from '../../src/snapshot/bundle.js';
import { testBundle } from '../support/bundle.js';
import { flannelCm, flannelPods, kubeBundle, SEED002, SEED004_NODES, seed004 } from '../support/flannel-bundles.js';
import { nodeCommands } from '../support/node-state.js';

interface Row {
  name: string;
  bundle: () => Bundle;
  /** node → the subnets named missing, and the first and last fix; empty = none. */
  expect: { node: string; subnets: string[]; fix0: string; fixLast: string }[];
}

const onlyOwn = (name: string) => (s: { name: string }, st: { routes?: string[] }) => {
  if (s.name === name) st.routes = (st.routes ?? []).filter((r) => r.startsWith('default'));
};

/** A Calico IP-in-IP cluster: nodes c1..c3 with one pod each, routes via tunl0. */
function calico(drop?: string): Bundle {
  const nodes = [1, 2, 3].map((k) => {
    const others = [1, 2, 3].filter((o) => o !== k);
    return {
      name: `c${k}`,
      ip: `10.9.0.${k}`,
      commands: nodeCommands({
        ifaces: [
          { name: 'ens3', addrs: [`10.9.0.${k}/24`] },
          { name: 'tunl0', kind: 'ipip', mtu: 1480, addrs: [`192.168.${k}.0/32`] },
          { name: `cali${k}a`, kind: 'veth', mtu: 1480 },
        ],
        routes: [
          'default via 10.9.0.254 dev ens3',
          `192.168.${k}.5 dev cali${k}a scope link`,
          `blackhole 192.168.${k}.0/26 proto bird`,
          ...others
            .filter((o) => !(drop === `c${k}` && o === 3))
            .map((o) => `192.168.${o}.0/26 via 10.9.0.${o} dev tunl0 proto bird onlink`),
        ],
      }),
      uplink: 'ens3',
    };
  });
  const objects: KubeObject[] = [
    { kind: 'DaemonSet', metadata: { name: 'calico-node', namespace: 'kube-system' }, spec: {} },
    ...[1, 2, 3].map((k) => ({
      kind: 'Pod',
      metadata: { name: `web-${k}`, namespace: 'default' },
      spec: { nodeName: `c${k}` },
      status: { podIP: `192.168.${k}.5` },
    })),
  ];
  return testBundle(nodes, objects);
}

const rows: Row[] = [
  { name: 'healthy flannel vxlan', bundle: () => kubeBundle(SEED002), expect: [] },
  {
    name: 'seed 002: NetworkManager removed flannel’s routes on one node',
    bundle: () => kubeBundle(SEED002, onlyOwn('172.31.159.19'), [flannelCm('10.187.0.0/16'), ...flannelPods(SEED002)]),
    expect: [
      {
        node: '172.31.159.19',
        subnets: ['10.187.1.0/24', '10.187.2.0/24', '10.187.3.0/24'],
        fix0: 'ip route replace 10.187.1.0/24 via 10.187.1.0 dev flannel.1 onlink',
        fixLast: 'kubectl -n kube-system delete pod kube-flannel-ds-0x0',
      },
    ],
  },
  {
    name: 'seed 004: node 05 has no route to the leased subnets (etcd)',
    bundle: () => seed004(),
    expect: [
      {
        node: SEED004_NODES.m05.name,
        subnets: ['172.17.83.0/24', '172.17.9.0/24'],
        fix0: 'ip route replace 172.17.83.0/24 via 172.17.83.0 dev flannel.1 onlink',
        fixLast: 'systemctl restart flanneld',
      },
    ],
  },
  {
    name: 'near miss: a wrong route as specific as the subnet is stale, not missing',
    bundle: () =>
      kubeBundle(SEED002, (s, st) => {
        if (s.name === '172.31.159.20')
          st.routes = (st.routes ?? []).map((r) =>
            r.startsWith('10.187.2.0/24') ? '10.187.2.0/24 via 10.187.3.0 dev flannel.1 onlink' : r,
          );
      }),
    expect: [],
  },
  {
    name: 'host-gw: a missing route via the peer',
    bundle: () =>
      kubeBundle(
        SEED002.slice(0, 2),
        (s, st) => {
          const peer = SEED002.find((o) => o !== s && SEED002.indexOf(o) < 2);
          st.routes = ['default via 172.31.159.254 dev eno1'];
          if (s.name === '172.31.159.19' && peer) st.routes.push(`${peer.subnet} via ${peer.ip} dev eno1`);
        },
        [flannelCm('10.187.0.0/16', { Type: 'host-gw' })],
      ),
    expect: [
      {
        node: '172.31.159.20',
        subnets: ['10.187.0.0/24'],
        fix0: 'ip route replace 10.187.0.0/24 via 172.31.159.19 dev eno1',
        fixLast: 'systemctl restart flanneld',
      },
    ],
  },
  { name: 'healthy Calico IP-in-IP', bundle: () => calico(), expect: [] },
  {
    name: 'Calico IP-in-IP: c1 lost the route to c3’s block',
    bundle: () => calico('c1'),
    expect: [
      {
        node: 'c1',
        subnets: ['192.168.3.5'],
        fix0: 'kubectl -n kube-system delete pod -l k8s-app=calico-node --field-selector spec.nodeName=c1',
        fixLast: 'kubectl -n kube-system delete pod -l k8s-app=calico-node --field-selector spec.nodeName=c1',
      },
    ],
  },
];

for (const row of rows) {
  test(`overlay-route-missing: ${row.name}`, () => {
    const got = runCheck(check, new ClusterModel(row.bundle()));
    assert.equal(got.length, row.expect.length, JSON.stringify(got.map((f) => f.title)));
    row.expect.forEach((want, i) => {
      const f = got[i];
      assert.ok(f);
      assert.equal(f.node, want.node);
      assert.equal(f.severity, 'critical');
      const routes = f.evidence.filter((e) => e.kind === 'route');
      assert.deepEqual(
        routes.map((e) => e.subnet),
        want.subnets,
      );
      for (const e of routes) {
        assert.equal(e.node, want.node);
        assert.match(e.text, /^ip route get \S+: /);
      }
      assert.equal(f.fix[0], want.fix0);
      assert.equal(f.fix.at(-1), want.fixLast);
    });
  });
}
