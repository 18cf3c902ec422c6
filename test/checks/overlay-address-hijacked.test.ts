import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCheck } from '../../src/checks/define.js';
import check from '../../src/checks/overlay-address-hijacked.js';
import { ClusterModel } from '../../src/model/cluster.js';
import { flannelCm, flannelPods, kubeBundle, SEED002 } from '../support/flannel-bundles.js';
import { type FlannelNodeSpec, kernelRoutes, type NodeState } from '../support/node-state.js';

const N0 = SEED002[0] as FlannelNodeSpec;
const N1 = SEED002[1] as FlannelNodeSpec;

/** Change the kernel's own routes of one node. */
function kernel(node: FlannelNodeSpec, edit: (routes: string[], st: NodeState) => string[]) {
  return (s: FlannelNodeSpec, st: NodeState) => {
    if (s.name === node.name) st.kernel = edit(kernelRoutes(st.ifaces), st);
  };
}

interface Row {
  name: string;
  tweak?: (s: FlannelNodeSpec, st: NodeState) => void;
  /** The finding on one node: title, the first evidence text, every fix; undefined = none. */
  expect?: { node: string; title: RegExp; evidence0: RegExp; fix: string[] };
}

const restart = 'kubectl -n kube-system delete pod kube-flannel-ds-0x0';

const rows: Row[] = [
  { name: 'healthy: the kernel’s own local route on flannel.1' },
  {
    name: 'seed 002: `ip route get 10.187.0.0` says local ... dev lo',
    tweak: kernel(N0, (rs) =>
      rs.map((r) =>
        r.startsWith('local 10.187.0.0 dev flannel.1') ? 'local 10.187.0.0 dev lo table local scope host' : r,
      ),
    ),
    expect: {
      node: N0.name,
      title: /the overlay address 10\.187\.0\.0 is not routed to its device/,
      evidence0: /^ip route get 10\.187\.0\.0: local 10\.187\.0\.0 dev lo src 10\.187\.0\.0$/,
      fix: [
        'ip route del local 10.187.0.0 dev lo table local scope host',
        'ip route add local 10.187.0.0 dev flannel.1 table local proto kernel scope host src 10.187.0.0',
        restart,
      ],
    },
  },
  {
    name: 'a local route over the node’s pod subnet',
    tweak: kernel(N1, (rs) => ['local 10.187.1.0/24 dev lo table local scope host', ...rs]),
    expect: {
      node: N1.name,
      title: /a local route claims pod addresses \(local 10\.187\.1\.0\/24\)/,
      evidence0: /^local 10\.187\.1\.0\/24 dev lo table local scope host$/,
      fix: [
        'ip route del local 10.187.1.0/24 dev lo table local scope host',
        'kubectl -n kube-system delete pod kube-flannel-ds-1x1',
      ],
    },
  },
  {
    name: 'flannel.1 lost its address',
    tweak: (s, st) => {
      if (s.name !== N0.name) return;
      const f = st.ifaces.find((i) => i.name === 'flannel.1');
      if (f) f.addrs = [];
    },
    expect: {
      node: N0.name,
      title: /the overlay address 10\.187\.0\.0 is not routed/,
      evidence0: /^ip route get 10\.187\.0\.0: 10\.187\.0\.0 dev cni0 src 10\.187\.0\.1$/,
      fix: ['ip addr add 10.187.0.0/32 dev flannel.1', restart],
    },
  },
  {
    name: 'seed 002 as the lab shows it: the flannel address moved to lo',
    tweak: (s, st) => {
      if (s.name !== N0.name) return;
      const f = st.ifaces.find((i) => i.name === 'flannel.1');
      if (f) f.addrs = [];
      st.ifaces.push({ name: 'lo', addrs: ['127.0.0.1/8', '10.187.0.0/32'], mtu: 65536 });
    },
    expect: {
      node: N0.name,
      title:
        /the overlay address 10\.187\.0\.0 is not routed to its device \(ip route get 10\.187\.0\.0: local 10\.187\.0\.0 dev lo src 10\.187\.0\.0\)/,
      evidence0: /^ip route get 10\.187\.0\.0: local 10\.187\.0\.0 dev lo src 10\.187\.0\.0$/,
      fix: ['ip addr del 10.187.0.0/32 dev lo', 'ip addr add 10.187.0.0/32 dev flannel.1', restart],
    },
  },
  {
    name: 'near miss: an old kernel’s network broadcast route of cni0 decides 10.187.0.0',
    tweak: kernel(N0, (rs) => [
      'broadcast 10.187.0.0 dev cni0 table local proto kernel scope link src 10.187.0.1',
      ...rs,
    ]),
  },
  {
    name: 'near miss: local routes outside the pod network (a ClusterIP on kube-ipvs0, an AnyIP range)',
    tweak: (s, st) => {
      if (s.name !== N0.name) return;
      st.ifaces.push({ name: 'kube-ipvs0', kind: 'dummy', addrs: ['10.186.0.2/32'], down: true });
      st.routes = [...(st.routes ?? []), 'local 192.0.2.0/24 dev lo table local scope host'];
    },
  },
];

for (const row of rows) {
  test(`overlay-address-hijacked: ${row.name}`, () => {
    const bundle = kubeBundle(SEED002, row.tweak, [flannelCm('10.187.0.0/16'), ...flannelPods(SEED002)]);
    const got = runCheck(check, new ClusterModel(bundle));
    if (!row.expect) {
      assert.deepEqual(
        got.map((f) => f.title),
        [],
      );
      return;
    }
    assert.equal(got.length, 1, JSON.stringify(got.map((f) => f.title)));
    const f = got[0];
    assert.ok(f);
    assert.equal(f.node, row.expect.node);
    assert.equal(f.severity, 'critical');
    assert.match(f.title, row.expect.title);
    assert.match(f.evidence[0]?.text ?? '', row.expect.evidence0, JSON.stringify(f.evidence, null, 1));
    for (const e of f.evidence) assert.equal(e.node, row.expect.node);
    assert.deepEqual(f.fix, row.expect.fix);
  });
}
