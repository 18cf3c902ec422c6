import assert from 'node:assert/strict';
import { test } from 'node:test';
import check from '../../src/checks/rp-filter-strict.js';
import type { Bundle } from '../../src/snapshot/bundle.js';
import { findingsOnNodes } from '../support/checks.js';
import { flannelCm, kubeBundle } from '../support/flannel-bundles.js';
import type { FlannelNodeSpec, NodeState } from '../support/node-state.js';

const SPECS: FlannelNodeSpec[] = [1, 2, 3].map((k) => ({
  name: `r${k}`,
  ip: `192.168.77.${k}`,
  subnet: `10.88.${k}.0/24`,
  vtepMac: `aa:bb:cc:dd:00:0${k}`,
}));

/** r1 sends r2's pods straight over eth0 (DirectRouting on r1 only); r2 still uses the tunnel towards r1. */
function asymmetric(sysctl: Record<string, string | number> = {}, directRouting = true): Bundle {
  return kubeBundle(
    SPECS,
    (s, st: NodeState) => {
      st.sysctl = { ...st.sysctl, ...sysctl };
      if (s.name === 'r1')
        st.routes = (st.routes ?? []).map((r) =>
          r.startsWith('10.88.2.0/24') ? '10.88.2.0/24 via 192.168.77.2 dev eth0' : r,
        );
    },
    [flannelCm('10.88.0.0/16', { Type: 'vxlan', DirectRouting: directRouting })],
  );
}

interface Want {
  node: string;
  device: string;
  peers: string[];
  text: RegExp;
  detail: RegExp;
  fix: string[];
}

interface Row {
  name: string;
  bundle: () => Bundle;
  expect: Want[];
}

const persist = (key: string) => `printf '${key} = 2\\n' > /etc/sysctl.d/99-kubernetes-rp-filter.conf`;

const BOTH: Want[] = [
  {
    node: 'r1',
    device: 'flannel.1',
    peers: ['r2'],
    text: /^ip route get 10\.88\.1\.2 from 10\.88\.2\.2 iif flannel\.1: /,
    detail: /reverse-path filter \(rp_filter=1\) on flannel\.1: the route back to 10\.88\.2\.2 leaves by eth0/,
    fix: ['sysctl -w net.ipv4.conf.flannel/1.rp_filter=2', persist('net.ipv4.conf.flannel/1.rp_filter')],
  },
  {
    node: 'r2',
    device: 'eth0',
    peers: ['r1'],
    text: /^ip route get 10\.88\.2\.2 from 10\.88\.1\.2 iif eth0: /,
    detail: /reverse-path filter \(rp_filter=1\) on eth0: the route back to 10\.88\.1\.2 leaves by flannel\.1/,
    fix: ['sysctl -w net.ipv4.conf.eth0.rp_filter=2', persist('net.ipv4.conf.eth0.rp_filter')],
  },
];

const rows: Row[] = [
  { name: 'healthy: rp_filter=1 everywhere, symmetric VXLAN', bundle: () => kubeBundle(SPECS), expect: [] },
  {
    name: 'DirectRouting on r1 only: each side drops what the other sends in by the other path',
    bundle: () => asymmetric(),
    expect: BOTH,
  },
  {
    name: 'without DirectRouting r1’s direct route is stale: r1’s drop is left to overlay-route-stale',
    bundle: () => asymmetric({}, false),
    expect: BOTH.slice(1),
  },
  {
    name: 'near miss: the same asymmetry with loose filtering (all = 2)',
    bundle: () => asymmetric({ 'net.ipv4.conf.all.rp_filter': 2 }),
    expect: [],
  },
  {
    name: 'strict for all, loose on flannel.1 (max wins there): only r2’s eth0 drops',
    bundle: () => asymmetric({ 'net.ipv4.conf.flannel/1.rp_filter': 2 }),
    expect: BOTH.slice(1),
  },
  {
    name: 'near miss: loose on both arriving devices',
    bundle: () => asymmetric({ 'net.ipv4.conf.flannel/1.rp_filter': 2, 'net.ipv4.conf.eth0.rp_filter': 2 }),
    expect: [],
  },
];

for (const row of rows) {
  test(`rp-filter-strict: ${row.name}`, () => {
    const got = findingsOnNodes(
      check,
      row.bundle(),
      row.expect.map((w) => w.node),
    );
    row.expect.forEach((want, i) => {
      const f = got[i];
      assert.ok(f);
      assert.equal(f.severity, 'error');
      const sys = f.evidence.find((e) => e.kind === 'sysctl');
      assert.equal(sys?.device, want.device);
      assert.match(
        sys?.detail ?? '',
        new RegExp(`effective rp_filter on ${want.device.replace('.', '\\.')}: 1 \\(strict\\)`),
      );
      const drops = f.evidence.filter((e) => e.kind === 'route-get');
      assert.deepEqual(
        drops.map((e) => e.peer),
        want.peers,
      );
      assert.match(drops[0]?.text ?? '', want.text);
      assert.match(drops[0]?.detail ?? '', want.detail);
      for (const e of f.evidence) assert.equal(e.node, want.node);
      assert.deepEqual(f.fix, want.fix);
    });
  });
}
