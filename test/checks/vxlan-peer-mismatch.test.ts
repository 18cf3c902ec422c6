import assert from 'node:assert/strict';
import { test } from 'node:test';
import check from '../../src/checks/vxlan-peer-mismatch.js';
import type { Bundle } from '../../src/snapshot/bundle.js';
import { findingsOnNodes } from '../support/checks.js';
import { flannelCm, flannelPods, kubeBundle, SEED002, seed004 } from '../support/flannel-bundles.js';
import type { FlannelNodeSpec, NodeState } from '../support/node-state.js';

const [N0, N1, N2, N3] = SEED002 as [FlannelNodeSpec, FlannelNodeSpec, FlannelNodeSpec, FlannelNodeSpec];
const NEW_MAC = '06:11:22:33:44:55';

function bundle(tweak?: (s: FlannelNodeSpec, st: NodeState) => void): Bundle {
  return kubeBundle(SEED002, tweak, [flannelCm('10.187.0.0/16'), ...flannelPods(SEED002)]);
}

/** N1 re-created flannel.1: its annotation announces a new MAC, and its device has it; the others still have the old. */
function recreated(): Bundle {
  const b = bundle((s, st) => {
    if (s === N1) {
      const f = st.ifaces.find((i) => i.name === 'flannel.1');
      if (f) f.mac = NEW_MAC;
    }
  });
  const node = b.objects.find((o) => o.kind === 'Node' && o.metadata.name === N1.name);
  assert.ok(node?.metadata.annotations);
  node.metadata.annotations['flannel.alpha.coreos.com/backend-data'] = JSON.stringify({ VNI: 1, VtepMAC: NEW_MAC });
  return b;
}

interface Want {
  node: string;
  peers: string[];
  evidence: RegExp[];
  fix: string[];
}

interface Row {
  name: string;
  bundle: () => Bundle;
  expect: Want[];
}

const rows: Row[] = [
  { name: 'healthy', bundle: () => bundle(), expect: [] },
  {
    name: 'a peer re-created flannel.1 with a new MAC',
    bundle: recreated,
    expect: [N0, N2, N3].map((n, k) => ({
      node: n.name,
      peers: [N1.name, N1.name],
      evidence: [
        /^10\.187\.1\.0 dev flannel\.1 lladdr f2:d2:28:8e:4c:61 PERMANENT$/,
        /^no fdb entry for 06:11:22:33:44:55 on flannel\.1 \(172\.31\.159\.20 is reached by the old MAC f2:d2:28:8e:4c:61\)$/,
      ],
      fix: [
        'ip neigh replace 10.187.1.0 dev flannel.1 lladdr 06:11:22:33:44:55 nud permanent',
        'bridge fdb replace 06:11:22:33:44:55 dev flannel.1 dst 172.31.159.20 self permanent',
        `kubectl -n kube-system delete pod kube-flannel-ds-${[0, 2, 3][k]}x${[0, 2, 3][k]}`,
      ],
    })),
  },
  {
    name: 'the node’s own flannel.1 MAC is not the one its annotation announces',
    bundle: () =>
      bundle((s, st) => {
        if (s !== N2) return;
        const f = st.ifaces.find((i) => i.name === 'flannel.1');
        if (f) f.mac = NEW_MAC;
      }),
    expect: [
      {
        node: N2.name,
        peers: [],
        evidence: [/^flannel\.1 link\/ether 06:11:22:33:44:55$/],
        fix: ['kubectl -n kube-system delete pod kube-flannel-ds-2x2'],
      },
    ],
  },
  {
    name: 'an fdb entry points at an old address of the peer',
    bundle: () =>
      bundle((s, st) => {
        if (s === N0) st.fdb = (st.fdb ?? []).map((f) => (f.mac === N2.vtepMac ? { ...f, dst: '172.31.159.99' } : f));
      }),
    expect: [
      {
        node: N0.name,
        peers: [N2.name],
        evidence: [/^2a:f1:d4:d0:32:24 dev flannel\.1 dst 172\.31\.159\.99$/],
        fix: [
          'bridge fdb replace 2a:f1:d4:d0:32:24 dev flannel.1 dst 172.31.159.21 self permanent',
          'kubectl -n kube-system delete pod kube-flannel-ds-0x0',
        ],
      },
    ],
  },
  {
    name: 'entries flushed on one node',
    bundle: () =>
      bundle((s, st) => {
        if (s !== N3) return;
        st.neigh = [];
        st.fdb = [];
      }),
    expect: [
      {
        node: N3.name,
        peers: [N0, N0, N1, N1, N2, N2].map((n) => n.name),
        evidence: [/^no neighbour 10\.187\.0\.0 on flannel\.1$/, /^no fdb entry for b6:9b:ed:b0:37:74 on flannel\.1$/],
        fix: [
          'ip neigh replace 10.187.0.0 dev flannel.1 lladdr b6:9b:ed:b0:37:74 nud permanent',
          'bridge fdb replace b6:9b:ed:b0:37:74 dev flannel.1 dst 172.31.159.19 self permanent',
          'ip neigh replace 10.187.1.0 dev flannel.1 lladdr f2:d2:28:8e:4c:61 nud permanent',
          'bridge fdb replace f2:d2:28:8e:4c:61 dev flannel.1 dst 172.31.159.20 self permanent',
          'ip neigh replace 10.187.2.0 dev flannel.1 lladdr 2a:f1:d4:d0:32:24 nud permanent',
          'bridge fdb replace 2a:f1:d4:d0:32:24 dev flannel.1 dst 172.31.159.21 self permanent',
          'kubectl -n kube-system delete pod kube-flannel-ds-3x3',
        ],
      },
    ],
  },
  {
    name: 'near miss: extra entries (an old MAC nobody has, the flood entry) next to the right ones',
    bundle: () =>
      bundle((s, st) => {
        if (s === N0)
          st.fdb = [
            ...(st.fdb ?? []),
            { mac: '0a:0b:0c:0d:0e:0f', ifname: 'flannel.1', dst: '172.31.159.77' },
            { mac: '00:00:00:00:00:00', ifname: 'flannel.1', dst: '172.31.159.20' },
          ];
      }),
    expect: [],
  },
  {
    name: 'near miss: etcd leases, entries for every leased peer (seed 004 shape)',
    bundle: () => seed004(),
    expect: [],
  },
];

for (const row of rows) {
  test(`vxlan-peer-mismatch: ${row.name}`, () => {
    const got = findingsOnNodes(
      check,
      row.bundle(),
      row.expect.map((w) => w.node),
    );
    row.expect.forEach((want, i) => {
      const f = got[i];
      assert.ok(f);
      assert.equal(f.severity, 'critical');
      assert.deepEqual(
        f.evidence.filter((e) => e.peer).map((e) => e.peer),
        want.peers,
      );
      for (const re of want.evidence)
        assert.ok(
          f.evidence.some((e) => re.test(e.text) && e.node === want.node),
          `${re} in ${JSON.stringify(f.evidence, null, 1)}`,
        );
      assert.deepEqual(f.fix, want.fix);
    });
  });
}
