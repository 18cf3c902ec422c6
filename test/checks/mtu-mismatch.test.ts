import assert from 'node:assert/strict';
import { test } from 'node:test';
import check from '../../src/checks/mtu-mismatch.js';
import type { KubeObject } from '../../src/model/kube.js';
import type { Bundle } from '../../src/snapshot/bundle.js';
import { testBundle } from '../support/bundle.js';
import { findingsOnNodes } from '../support/checks.js';
import { flannelCm, kubeBundle } from '../support/flannel-bundles.js';
import { type FlannelNodeSpec, type NodeState, nodeCommands } from '../support/node-state.js';

function specs(uplinkMtu: number, overlayMtu: number): FlannelNodeSpec[] {
  return [1, 2].map((k) => ({
    name: `w${k}`,
    ip: `10.30.0.${k}`,
    subnet: `10.187.${k}.0/24`,
    vtepMac: `aa:bb:cc:00:00:0${k}`,
    uplinkMtu,
    overlayMtu,
  }));
}

/** Lower flannel.1 on every node (the pods keep their MTU). */
const flannelMtu = (mtu: number) => (_: FlannelNodeSpec, st: NodeState) => {
  const f = st.ifaces.find((i) => i.name === 'flannel.1');
  if (f) f.mtu = mtu;
};

function calico(uplinkMtu: number): Bundle {
  const objects: KubeObject[] = [
    { kind: 'DaemonSet', metadata: { name: 'calico-node', namespace: 'kube-system' }, spec: {} },
  ];
  return testBundle(
    [
      {
        name: 'c1',
        ip: '10.9.0.1',
        uplink: 'ens3',
        commands: nodeCommands({
          ifaces: [
            { name: 'ens3', mtu: uplinkMtu, addrs: ['10.9.0.1/24'] },
            { name: 'tunl0', kind: 'ipip', mtu: 1480, addrs: ['192.168.1.0/32'] },
            { name: 'cali1a', kind: 'veth', mtu: 1480 },
          ],
        }),
      },
    ],
    objects,
  );
}

interface Row {
  name: string;
  bundle: () => Bundle;
  /** Findings, one per node: severity, the devices over the limit, the fixes. */
  expect: { node: string; severity: string; over: string[]; underlay: string; fix: string[] }[];
}

const both = (f: (n: string) => Row['expect'][number]) => ['w1', 'w2'].map(f);

const rows: Row[] = [
  { name: 'healthy: 1450 over 1500', bundle: () => kubeBundle(specs(1500, 1450)), expect: [] },
  {
    name: 'mtu-overlay: a 1450 VXLAN overlay over a 1400 underlay',
    bundle: () => kubeBundle(specs(1400, 1450)),
    expect: both((n) => ({
      node: n,
      severity: 'error',
      over: ['flannel.1 mtu 1450', 'cni0 mtu 1450', `2 pod veths (veth${n}0, ...) mtu 1450`, 'FLANNEL_MTU=1450'],
      underlay: 'eth0 mtu 1400',
      fix: ['ip link set dev flannel.1 mtu 1350', 'systemctl restart flanneld'],
    })),
  },
  {
    name: 'one node is the odd one out: its uplink is 1400, the peers carry 1500: raise it, not its overlay alone',
    bundle: () => kubeBundle(specs(1500, 1450).map((s) => (s.name === 'w1' ? { ...s, uplinkMtu: 1400 } : s))),
    expect: [
      {
        node: 'w1',
        severity: 'error',
        over: [
          'flannel.1 mtu 1450',
          'cni0 mtu 1450',
          '2 pod veths (vethw10, ...) mtu 1450',
          'FLANNEL_MTU=1450',
          "the other nodes' underlay mtu: 1500",
        ],
        underlay: 'eth0 mtu 1400',
        fix: ['ip link set dev eth0 mtu 1500', 'systemctl restart flanneld'],
      },
    ],
  },
  { name: 'near miss: exactly at the limit (1400 over 1450)', bundle: () => kubeBundle(specs(1450, 1400)), expect: [] },
  {
    name: 'flannel.1 lowered already, the pods still at 1450 (warning)',
    bundle: () => kubeBundle(specs(1400, 1450), flannelMtu(1350)),
    expect: both((n) => ({
      node: n,
      severity: 'warning',
      over: ['cni0 mtu 1450', `2 pod veths (veth${n}0, ...) mtu 1450`, 'FLANNEL_MTU=1450'],
      underlay: 'eth0 mtu 1400',
      fix: ['systemctl restart flanneld'],
    })),
  },
  {
    name: 'host-gw: pods at 1500 over a 1450 uplink',
    bundle: () => kubeBundle(specs(1450, 1500), undefined, [flannelCm('10.187.0.0/16', { Type: 'host-gw' })]),
    expect: both((n) => ({
      node: n,
      severity: 'error',
      over: ['cni0 mtu 1500', `2 pod veths (veth${n}0, ...) mtu 1500`, 'FLANNEL_MTU=1500'],
      underlay: 'eth0 mtu 1450',
      fix: ['systemctl restart flanneld'],
    })),
  },
  { name: 'Calico IP-in-IP: 1480 over 1500', bundle: () => calico(1500), expect: [] },
  {
    name: 'Calico IP-in-IP: 1480 over 1450',
    bundle: () => calico(1450),
    expect: [
      {
        node: 'c1',
        severity: 'error',
        over: ['tunl0 mtu 1480', 'cali1a mtu 1480'],
        underlay: 'ens3 mtu 1450',
        fix: ['ip link set dev tunl0 mtu 1430'],
      },
    ],
  },
];

for (const row of rows) {
  test(`mtu-mismatch: ${row.name}`, () => {
    const got = findingsOnNodes(
      check,
      row.bundle(),
      row.expect.map((w) => w.node),
    );
    row.expect.forEach((want, i) => {
      const f = got[i];
      assert.ok(f);
      assert.equal(f.severity, want.severity);
      assert.equal(f.evidence[0]?.text, want.underlay);
      assert.deepEqual(
        f.evidence.slice(1).map((e) => e.text),
        want.over,
      );
      for (const e of f.evidence) assert.equal(e.node, want.node);
      assert.deepEqual(f.fix, want.fix);
    });
  });
}
