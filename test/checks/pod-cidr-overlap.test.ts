import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCheck } from '../../src/checks/define.js';
import check from '../../src/checks/pod-cidr-overlap.js';
import { ClusterModel } from '../../src/model/cluster.js';
import type { KubeObject } from '../../src/model/kube.js';
import { type TestNode, testBundle } from '../support/bundle.js';
import { nodeCommands } from '../support/node-state.js';

function flannel(network: string): KubeObject {
  return {
    kind: 'ConfigMap',
    metadata: { name: 'kube-flannel-cfg', namespace: 'kube-flannel' },
    data: { 'net-conf.json': JSON.stringify({ Network: network, Backend: { Type: 'vxlan' } }) },
  };
}

function apiserver(range: string): KubeObject {
  return {
    kind: 'Pod',
    metadata: { name: 'kube-apiserver-m1', namespace: 'kube-system', labels: { component: 'kube-apiserver' } },
    spec: {
      containers: [
        { command: ['kube-apiserver', '--advertise-address=10.0.0.1', `--service-cluster-ip-range=${range}`] },
      ],
    },
  };
}

function service(name: string, ip: string): KubeObject {
  return { kind: 'Service', metadata: { name, namespace: 'default' }, spec: { clusterIP: ip, type: 'ClusterIP' } };
}

const node = (name: string, ip: string, podCIDR: string, extra: Partial<TestNode> = {}): TestNode => ({
  name,
  ip,
  podCIDR,
  ...extra,
});

interface Row {
  name: string;
  nodes: TestNode[];
  objects: KubeObject[];
  /** Expected findings: [node or '', severity, evidence text that must be there]. */
  expect: { node?: string; severity: string; evidence: RegExp; title: RegExp }[];
}

const rows: Row[] = [
  {
    name: 'seed 001: the pod network 172.28.0.0/16 holds the nodes’ eth1 network',
    objects: [flannel('172.28.0.0/16')],
    nodes: [
      node('172.28.128.101', '172.28.128.101', '172.28.128.0/24', { uplink: 'eth1' }),
      node('172.28.128.102', '172.28.128.102', '172.28.21.0/24', { uplink: 'eth1' }),
      node('172.28.128.103', '172.28.128.103', '172.28.27.0/24', { uplink: 'eth1' }),
    ],
    expect: ['172.28.128.101', '172.28.128.102', '172.28.128.103'].map((n) => ({
      node: n,
      severity: 'critical',
      evidence: new RegExp(`^eth1 ${n.replace(/\./g, '\\.')}/24 \\(network 172\\.28\\.128\\.0/24\\)$`),
      title: /the pod network 172\.28\.0\.0\/16 overlaps eth1's network 172\.28\.128\.0\/24/,
    })),
  },
  {
    name: 'healthy: 10.244.0.0/16 and nodes on 192.168.56.0/24',
    objects: [flannel('10.244.0.0/16'), apiserver('10.96.0.0/12'), service('kubernetes', '10.96.0.1')],
    nodes: [node('a', '192.168.56.11', '10.244.1.0/24'), node('b', '192.168.56.12', '10.244.2.0/24')],
    expect: [],
  },
  {
    name: 'near miss: networks that touch but do not overlap',
    objects: [flannel('10.244.0.0/16'), apiserver('10.240.0.0/14')],
    nodes: [node('a', '10.245.0.11', '10.244.1.0/24'), node('b', '10.243.255.12', '10.244.2.0/24')],
    expect: [],
  },
  {
    name: 'the service range holds the pod network',
    objects: [flannel('10.100.0.0/16'), apiserver('10.96.0.0/12')],
    nodes: [node('a', '192.168.7.11', '10.100.1.0/24')],
    expect: [
      {
        severity: 'error',
        evidence: /^service CIDR 10\.96\.0\.0\/12 \(pod kube-system\/kube-apiserver-m1/,
        title: /ClusterIP range/,
      },
    ],
  },
  {
    name: 'near miss: pod network right after the service range',
    objects: [flannel('10.112.0.0/16'), apiserver('10.96.0.0/12')],
    nodes: [node('a', '192.168.7.11', '10.112.1.0/24')],
    expect: [],
  },
  {
    name: 'no service flag: a ClusterIP inside the pod network',
    objects: [flannel('10.50.0.0/16'), service('web', '10.50.200.7'), service('db', '10.60.0.7')],
    nodes: [node('a', '192.168.7.11', '10.50.1.0/24')],
    expect: [
      { severity: 'error', evidence: /^service\/default\/web clusterIP 10\.50\.200\.7$/, title: /ClusterIP range/ },
    ],
  },
  {
    name: 'two nodes with the same pod subnet',
    objects: [flannel('10.70.0.0/16')],
    nodes: [node('a', '192.168.7.11', '10.70.1.0/24'), node('b', '192.168.7.12', '10.70.1.0/25')],
    expect: [
      {
        severity: 'critical',
        evidence: /^10\.70\.1\.0\/25 \(node\/b spec\.podCIDR\)$/,
        title: /Nodes a and b have overlapping pod subnets/,
      },
    ],
  },
  {
    name: 'an unused docker0 on 172.17.0.1/16 inside the pod network 172.16.0.0/12',
    objects: [flannel('172.16.0.0/12')],
    nodes: [
      node('a', '192.168.7.11', '172.16.1.0/24', {
        commands: nodeCommands({
          ifaces: [
            { name: 'eth0', addrs: ['192.168.7.11/24'] },
            { name: 'docker0', kind: 'bridge', addrs: ['172.17.0.1/16'] },
          ],
        }),
      }),
    ],
    expect: [
      {
        node: 'a',
        severity: 'critical',
        evidence: /^docker0 172\.17\.0\.1\/16/,
        title: /overlaps docker0's network 172\.17\.0\.0\/16/,
      },
    ],
  },
];

for (const row of rows) {
  test(`pod-cidr-overlap: ${row.name}`, () => {
    const got = runCheck(check, new ClusterModel(testBundle(row.nodes, row.objects)));
    assert.equal(got.length, row.expect.length, JSON.stringify(got.map((f) => f.title)));
    row.expect.forEach((want, i) => {
      const f = got[i];
      assert.ok(f);
      assert.equal(f.node, want.node);
      assert.equal(f.severity, want.severity);
      assert.match(f.title, want.title);
      assert.ok(
        f.evidence.some((e) => want.evidence.test(e.text) && (want.node === undefined || e.node === want.node)),
        JSON.stringify(f.evidence, null, 1),
      );
    });
  });
}
