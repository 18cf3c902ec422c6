import assert from 'node:assert/strict';
import { test } from 'node:test';
import check from '../../src/checks/bridge-subnet-mismatch.js';
import { runCheck } from '../../src/checks/define.js';
import { ClusterModel } from '../../src/model/cluster.js';
import type { Bundle } from '../../src/snapshot/bundle.js';
import { kubeBundle, SEED002, SEED004_NODES, seed004 } from '../support/flannel-bundles.js';
import type { FlannelNodeSpec, NodeState } from '../support/node-state.js';

const { m03, m05, m06 } = SEED004_NODES;
const N1 = SEED002[1] as FlannelNodeSpec;

/** Change node N1's state in the kube-subnet-manager cluster. */
function kube(edit: (st: NodeState) => void, env?: string): Bundle {
  const b = kubeBundle(SEED002, (s, st) => {
    if (s === N1) edit(st);
  });
  if (env) {
    const snap = b.nodes.get(N1.name);
    assert.ok(snap);
    snap.files['/run/flannel/subnet.env'] = {
      content: `FLANNEL_NETWORK=10.187.0.0/16\nFLANNEL_SUBNET=${env}\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n`,
    };
  }
  return b;
}

const readdress = (st: NodeState, dev: string, addr: string) => {
  const i = st.ifaces.find((x) => x.name === dev);
  if (i) i.addrs = [addr];
};

interface Row {
  name: string;
  bundle: () => Bundle;
  expect?: { node: string; device?: string; detail: RegExp; fix: string[] };
}

const rows: Row[] = [
  {
    name: 'seed 004: node 05 has no lease, docker0 on the old subnet',
    bundle: () => seed004(),
    expect: {
      node: m05.name,
      device: 'docker0',
      detail: /mcwk8s05 has no lease in etcd \/coreos\.com\/network\/subnets; no lease holds 172\.17\.98\.0\/24/,
      fix: ['systemctl restart flanneld', 'systemctl restart docker'],
    },
  },
  {
    name: 'seed 004 after restarting flannel only: new lease 172.17.89.0/24, docker0 still on 172.17.98.1/24',
    bundle: () => seed004({ leases: [m03, m06, { ...m05, subnet: '172.17.89.0/24' }], subnet05: '172.17.89.0/24' }),
    expect: {
      node: m05.name,
      device: 'docker0',
      detail: /^not in its lease 172\.17\.89\.0\/24 .*; not in FLANNEL_SUBNET 172\.17\.89\.0\/24/,
      fix: ['systemctl restart docker'],
    },
  },
  {
    name: 'seed 004 healthy twin: 05’s lease holds docker0’s subnet',
    bundle: () => seed004({ leases: [m03, m05, m06] }),
  },
  { name: 'kube subnet manager, healthy', bundle: () => kubeBundle(SEED002) },
  {
    name: 'cni0 left on another subnet than spec.podCIDR and FLANNEL_SUBNET',
    bundle: () => kube((st) => readdress(st, 'cni0', '10.187.9.1/24')),
    expect: {
      node: N1.name,
      device: 'cni0',
      detail: /^not in its lease 10\.187\.1\.0\/24/,
      fix: ['ip link delete cni0', 'kubectl delete pod --all-namespaces --field-selector spec.nodeName=172.31.159.20'],
    },
  },
  {
    name: 'subnet.env stale: FLANNEL_SUBNET is not the lease (cni0 is on the lease)',
    bundle: () => kube(() => {}, '10.187.7.1/24'),
    expect: {
      node: N1.name,
      detail: /^not the node's lease 10\.187\.1\.0\/24/,
      fix: ['systemctl restart flanneld'],
    },
  },
  {
    name: 'near miss: an unused docker0 on 172.17.0.1/16 next to cni0',
    bundle: () => kube((st) => st.ifaces.push({ name: 'docker0', kind: 'bridge', addrs: ['172.17.0.1/16'] })),
  },
];

for (const row of rows) {
  test(`bridge-subnet-mismatch: ${row.name}`, () => {
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
    assert.equal(f.severity, 'error');
    const iface = f.evidence.find((e) => e.kind === (row.expect?.device ? 'interface' : 'file'));
    assert.equal(iface?.device, row.expect.device);
    assert.equal(iface?.node, row.expect.node);
    assert.match(iface?.detail ?? '', row.expect.detail);
    assert.deepEqual(f.fix, row.expect.fix);
  });
}
