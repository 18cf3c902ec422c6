import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCheck } from '../../src/checks/define.js';
import check from '../../src/checks/flannel-lease-missing.js';
import { ClusterModel } from '../../src/model/cluster.js';
import type { Bundle } from '../../src/snapshot/bundle.js';
import { NODE_SNAPSHOT_SCHEMA } from '../../src/snapshot/schema.js';
import { flannelCm, flannelPods, kubeBundle, SEED002, SEED004_NODES, seed004 } from '../support/flannel-bundles.js';
import { nodeCommands } from '../support/node-state.js';

const { m03, m05, m06 } = SEED004_NODES;

/** Kube subnet manager: node 2 has no podCIDR and flannel never registered it. */
function kubeNoCidr(): Bundle {
  const b = kubeBundle(SEED002, undefined, [flannelCm('10.187.0.0/16'), ...flannelPods(SEED002)]);
  const n = b.objects.find((o) => o.kind === 'Node' && o.metadata.name === SEED002[2]?.name);
  assert.ok(n?.metadata.annotations);
  delete n.spec;
  for (const k of Object.keys(n.metadata.annotations))
    if (k.startsWith('flannel.alpha.coreos.com/')) delete n.metadata.annotations[k];
  return b;
}

/** Seed 004 plus a node that does not run flannel at all. */
function withEdgeNode(): Bundle {
  const b = seed004();
  b.nodes.set('edge', {
    schemaVersion: NODE_SNAPSHOT_SCHEMA,
    kind: 'NodeSnapshot',
    node: 'edge',
    collectedAt: '2026-01-01T00:00:00Z',
    collector: { version: 'test', transport: 'import' },
    commands: Object.fromEntries(
      Object.entries(nodeCommands({ ifaces: [{ name: 'eth0', addrs: ['10.0.0.40/24'] }] })).map(([id, stdout]) => [
        id,
        { command: id, stdout, stderr: '', exitCode: 0 },
      ]),
    ),
    files: {},
  });
  return b;
}

interface Row {
  name: string;
  bundle: () => Bundle;
  expect?: { node: string; evidence: RegExp[]; fix: string[] };
}

const rows: Row[] = [
  {
    name: 'seed 004: etcd has no lease for node 05',
    bundle: () => seed004(),
    expect: {
      node: m05.name,
      evidence: [
        /^etcd \/coreos\.com\/network\/subnets: 172\.17\.83\.0\/24 → 10\.0\.0\.33, 172\.17\.9\.0\/24 → 10\.0\.0\.36$/,
        /^\/run\/flannel\/subnet\.env FLANNEL_SUBNET=172\.17\.98\.1\/24$/,
        /^docker0 172\.17\.98\.1\/24$/,
      ],
      fix: ['systemctl restart flanneld', 'systemctl restart docker'],
    },
  },
  {
    name: 'seed 004 fixed: 05 leased 172.17.89.0/24',
    bundle: () => seed004({ leases: [m03, m06, { ...m05, subnet: '172.17.89.0/24' }], subnet05: '172.17.89.0/24' }),
  },
  { name: 'kube subnet manager, every node registered', bundle: () => kubeBundle(SEED002) },
  {
    name: 'kube subnet manager: a node without podCIDR',
    bundle: kubeNoCidr,
    expect: {
      node: SEED002[2]?.name as string,
      evidence: [/^node\/172\.31\.159\.21: spec\.podCIDR \(none\), flannel\.alpha\.coreos\.com\/public-ip \(none\)$/],
      fix: [
        "kubectl get node 172.31.159.21 -o jsonpath='{.spec.podCIDR}'   # empty: kube-controller-manager needs --allocate-node-cidrs=true --cluster-cidr",
        'kubectl -n kube-system delete pod kube-flannel-ds-2x2',
      ],
    },
  },
  {
    name: 'near miss: a node without flannel has no lease and needs none',
    bundle: withEdgeNode,
    expect: {
      node: m05.name,
      evidence: [/^docker0 172\.17\.98\.1\/24$/],
      fix: ['systemctl restart flanneld', 'systemctl restart docker'],
    },
  },
];

for (const row of rows) {
  test(`flannel-lease-missing: ${row.name}`, () => {
    const got = runCheck(check, new ClusterModel(row.bundle()));
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
    for (const re of row.expect.evidence)
      assert.ok(
        f.evidence.some((e) => re.test(e.text)),
        `${re} in ${JSON.stringify(f.evidence, null, 1)}`,
      );
    for (const e of f.evidence) if (e.node !== undefined) assert.equal(e.node, row.expect.node);
    assert.deepEqual(f.fix, row.expect.fix);
  });
}
