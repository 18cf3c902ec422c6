import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCheck } from '../../src/checks/define.js';
import check from '../../src/checks/ip-forward-disabled.js';
import { ClusterModel } from '../../src/model/cluster.js';
import { flannelConfig, testBundle } from '../support/bundle.js';
import { type FlannelNodeSpec, flannelCluster, type NodeState } from '../support/node-state.js';

const SPECS: FlannelNodeSpec[] = [
  { name: 'n1', ip: '172.28.128.101', subnet: '10.32.1.0/24', vtepMac: 'aa:00:00:00:00:01' },
  { name: 'n2', ip: '172.28.128.102', subnet: '10.32.2.0/24', vtepMac: 'aa:00:00:00:00:02' },
];

function run(tweak: (s: FlannelNodeSpec, st: NodeState) => void) {
  const nodes = flannelCluster(SPECS, tweak);
  return runCheck(check, new ClusterModel(testBundle(nodes, [flannelConfig()])));
}

interface Row {
  name: string;
  tweak: (s: FlannelNodeSpec, st: NodeState) => void;
  /** node → sysctl keys named in the evidence with value 0; empty = no finding. */
  expect: { node: string; keys: string[]; fix0: string; probe?: RegExp }[];
}

const rows: Row[] = [
  { name: 'healthy', tweak: () => {}, expect: [] },
  {
    name: 'seed 001: ip_forward = 0 on one node',
    tweak: (s, st) => {
      if (s.name === 'n2') st.sysctl = { ...st.sysctl, 'net.ipv4.ip_forward': 0, 'net.ipv4.conf.all.forwarding': 0 };
    },
    expect: [
      {
        node: 'n2',
        keys: ['net.ipv4.ip_forward', 'net.ipv4.conf.all.forwarding'],
        fix0: 'sysctl -w net.ipv4.ip_forward=1',
        probe: /ip route get 10\.32\.1\.2 from 10\.32\.2\.2 iif cni0: RTNETLINK answers: No route to host/,
      },
    ],
  },
  {
    name: 'forwarding off on flannel.1 only',
    tweak: (s, st) => {
      if (s.name === 'n1') st.sysctl = { ...st.sysctl, 'net.ipv4.conf.flannel/1.forwarding': 0 };
    },
    expect: [
      {
        node: 'n1',
        keys: ['net.ipv4.conf.flannel/1.forwarding'],
        fix0: 'sysctl -w net.ipv4.conf.flannel/1.forwarding=1',
      },
    ],
  },
  {
    name: 'near miss: forwarding off on a storage NIC no pod traffic uses, and on an unused docker0',
    tweak: (s, st) => {
      if (s.name !== 'n1') return;
      st.ifaces.push(
        { name: 'eth1', addrs: ['192.0.2.10/24'] },
        { name: 'docker0', kind: 'bridge', addrs: ['172.17.0.1/16'] },
      );
      st.sysctl = { ...st.sysctl, 'net.ipv4.conf.eth1.forwarding': 0, 'net.ipv4.conf.docker0.forwarding': 0 };
    },
    expect: [],
  },
];

for (const row of rows) {
  test(`ip-forward-disabled: ${row.name}`, () => {
    const got = run(row.tweak);
    assert.equal(got.length, row.expect.length, JSON.stringify(got.map((f) => f.title)));
    row.expect.forEach((want, i) => {
      const f = got[i];
      assert.ok(f);
      assert.equal(f.node, want.node);
      assert.equal(f.severity, 'critical');
      const sys = f.evidence.filter((e) => e.kind === 'sysctl' && e.value === '0').map((e) => e.key);
      assert.deepEqual(sys, want.keys);
      for (const e of f.evidence) assert.equal(e.node, want.node);
      assert.equal(f.fix[0], want.fix0);
      assert.match(f.fix.at(-1) ?? '', /\/etc\/sysctl\.d\/.*sysctl -p/);
      if (want.probe)
        assert.ok(
          f.evidence.some((e) => want.probe?.test(e.text)),
          JSON.stringify(f.evidence, null, 1),
        );
    });
  });
}
