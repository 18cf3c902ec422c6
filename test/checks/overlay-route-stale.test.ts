import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCheck } from '../../src/checks/define.js';
import check from '../../src/checks/overlay-route-stale.js';
import { ClusterModel } from '../../src/model/cluster.js';
import type { Bundle } from '../../src/snapshot/bundle.js';
import { kubeBundle, SEED002, SEED004_NODES, seed004 } from '../support/flannel-bundles.js';

const { m03, m05, m06 } = SEED004_NODES;
const m05new = { ...m05, subnet: '172.17.89.0/24' };

interface Row {
  name: string;
  bundle: () => Bundle;
  /** The node, the routes named, the fixes; undefined = no finding. */
  expect?: { node: string; routes: string[]; fix: string[]; title: RegExp };
}

const rows: Row[] = [
  { name: 'healthy', bundle: () => kubeBundle(SEED002) },
  {
    name: 'seed 004: routes to 172.17.59.0/24 and 172.17.61.0/24, which no lease holds',
    bundle: () => seed004(),
    expect: {
      node: m05.name,
      routes: [
        '172.17.59.0/24 via 172.17.59.0 dev flannel.1 onlink',
        '172.17.61.0/24 via 172.17.61.0 dev flannel.1 onlink',
      ],
      fix: [
        'ip route del 172.17.59.0/24 via 172.17.59.0 dev flannel.1 onlink',
        'ip route del 172.17.61.0/24 via 172.17.61.0 dev flannel.1 onlink',
        'systemctl restart flanneld',
      ],
      title: /routes 172\.17\.59\.0\/24, 172\.17\.61\.0\/24, which no node owns$/,
    },
  },
  {
    name: 'seed 004 after the fix: 05 leased 172.17.89.0/24 and routes to the leases',
    bundle: () =>
      seed004({
        leases: [m03, m06, m05new],
        subnet05: m05new.subnet,
        routes05: [m03, m06].map((s) => `${s.subnet} via ${s.subnet.split('/')[0]} dev flannel.1 onlink`),
      }),
  },
  {
    name: 'a peer’s subnet routed through the wrong VTEP',
    bundle: () =>
      kubeBundle(SEED002, (s, st) => {
        if (s.name === '172.31.159.20')
          st.routes = (st.routes ?? []).map((r) =>
            r.startsWith('10.187.2.0/24') ? '10.187.2.0/24 via 10.187.3.0 dev flannel.1 onlink' : r,
          );
      }),
    expect: {
      node: '172.31.159.20',
      routes: ['10.187.2.0/24 via 10.187.3.0 dev flannel.1 onlink'],
      fix: ['ip route replace 10.187.2.0/24 via 10.187.2.0 dev flannel.1 onlink', 'systemctl restart flanneld'],
      title: /routes 10\.187\.2\.0\/24 the wrong way$/,
    },
  },
  {
    name: 'near miss: a host network over a peer’s subnet is pod-cidr-overlap’s finding, not a stale route',
    bundle: () =>
      kubeBundle(SEED002, (s, st) => {
        if (s.name !== '172.31.159.20') return;
        st.ifaces.push({ name: 'eth1', addrs: ['10.187.2.50/24'] });
        st.routes = (st.routes ?? []).filter((r) => !r.startsWith('10.187.2.0/24'));
      }),
  },
  {
    name: 'near miss: routes outside the pod network and to owned subnets',
    bundle: () =>
      kubeBundle(SEED002, (s, st) => {
        if (s.name === '172.31.159.21')
          st.routes = [...(st.routes ?? []), '192.168.100.0/24 via 172.31.159.254 dev eno1'];
      }),
  },
];

for (const row of rows) {
  test(`overlay-route-stale: ${row.name}`, () => {
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
    assert.match(f.title, row.expect.title);
    const routes = f.evidence.filter((e) => e.kind === 'route');
    assert.deepEqual(
      routes.map((e) => e.route),
      row.expect.routes,
    );
    for (const e of routes) assert.equal(e.node, row.expect.node);
    assert.deepEqual(f.fix, row.expect.fix);
  });
}
