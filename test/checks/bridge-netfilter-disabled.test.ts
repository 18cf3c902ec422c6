import assert from 'node:assert/strict';
import { test } from 'node:test';
import check from '../../src/checks/bridge-netfilter-disabled.js';
import { runCheck } from '../../src/checks/define.js';
import { ClusterModel } from '../../src/model/cluster.js';
import { flannelConfig, type TestNode, testBundle } from '../support/bundle.js';
import { type FlannelNodeSpec, flannelCluster, type NodeState, nodeCommands } from '../support/node-state.js';

const SPECS: FlannelNodeSpec[] = [
  { name: 'a', ip: '10.20.0.11', subnet: '10.40.1.0/24', vtepMac: 'aa:00:00:00:00:01' },
  { name: 'b', ip: '10.20.0.12', subnet: '10.40.2.0/24', vtepMac: 'aa:00:00:00:00:02' },
];

const noBridge = (st: NodeState) => {
  const { 'net.bridge.bridge-nf-call-iptables': _, ...rest } = st.sysctl ?? {};
  st.sysctl = rest;
};

interface Row {
  name: string;
  tweak?: (s: FlannelNodeSpec, st: NodeState) => void;
  nodes?: TestNode[];
  /** Finding on node b: the sysctl value shown and the first fix; undefined = no finding. */
  expect?: { value: string; fix: string[]; modulesEvidence?: boolean };
}

const rows: Row[] = [
  { name: 'healthy', tweak: () => {} },
  {
    name: 'seed 001: bridge-nf-call-iptables = 0',
    tweak: (s, st) => {
      if (s.name === 'b') st.sysctl = { ...st.sysctl, 'net.bridge.bridge-nf-call-iptables': 0 };
    },
    expect: {
      value: '0',
      fix: [
        'sysctl -w net.bridge.bridge-nf-call-iptables=1',
        "echo 'net.bridge.bridge-nf-call-iptables = 1' > /etc/sysctl.d/99-kubernetes-bridge-nf.conf && sysctl -p /etc/sysctl.d/99-kubernetes-bridge-nf.conf",
      ],
    },
  },
  {
    name: 'br_netfilter not loaded: no net.bridge keys',
    tweak: (s, st) => {
      if (s.name === 'b') noBridge(st);
    },
    expect: {
      value: 'missing',
      fix: [
        'modprobe br_netfilter',
        'sysctl -w net.bridge.bridge-nf-call-iptables=1',
        'echo br_netfilter > /etc/modules-load.d/br_netfilter.conf',
        "echo 'net.bridge.bridge-nf-call-iptables = 1' > /etc/sysctl.d/99-kubernetes-bridge-nf.conf && sysctl -p /etc/sysctl.d/99-kubernetes-bridge-nf.conf",
      ],
      modulesEvidence: true,
    },
  },
  {
    name: "near miss: sysctl 0 but the bridge's own nf_call_iptables is 1",
    tweak: (s, st) => {
      if (s.name !== 'b') return;
      st.sysctl = { ...st.sysctl, 'net.bridge.bridge-nf-call-iptables': 0 };
      const br = st.ifaces.find((i) => i.name === 'cni0');
      if (br) br.info = { nf_call_iptables: 1 };
    },
  },
  {
    name: 'near miss: sysctl 0 on a node whose only bridge is an unused docker0',
    nodes: [
      {
        name: 'b',
        ip: '10.20.0.12',
        commands: nodeCommands({
          ifaces: [
            { name: 'eth0', addrs: ['10.20.0.12/24'] },
            { name: 'docker0', kind: 'bridge', addrs: ['172.17.0.1/16'] },
            { name: 'cali1234', kind: 'veth', mtu: 1480 },
          ],
          routes: ['10.40.2.7 dev cali1234 scope link'],
          sysctl: { 'net.ipv4.ip_forward': 1, 'net.bridge.bridge-nf-call-iptables': 0 },
        }),
      },
    ],
  },
];

for (const row of rows) {
  test(`bridge-netfilter-disabled: ${row.name}`, () => {
    const nodes = row.nodes ?? flannelCluster(SPECS, row.tweak);
    for (const n of nodes)
      if (n.name === 'b' && row.expect?.modulesEvidence)
        n.files = { ...n.files, '/proc/modules': 'overlay 151552 0 - Live 0x0000000000000000\n' };
    const got = runCheck(check, new ClusterModel(testBundle(nodes, [flannelConfig()])));
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
    assert.equal(f.node, 'b');
    assert.equal(f.severity, 'error');
    const sys = f.evidence.find((e) => e.kind === 'sysctl');
    assert.equal(sys?.key, 'net.bridge.bridge-nf-call-iptables');
    assert.equal(sys?.value, row.expect.value);
    const br = f.evidence.find((e) => e.kind === 'interface');
    assert.equal(br?.device, 'cni0');
    assert.match(br?.text ?? '', /^cni0 10\.40\.2\.1\/24: 2 pod port\(s\) \(vethb0, vethb1\)$/);
    assert.deepEqual(f.fix, row.expect.fix);
    assert.equal(
      f.evidence.some((e) => e.text === '/proc/modules lists no br_netfilter'),
      row.expect.modulesEvidence === true,
    );
  });
}
