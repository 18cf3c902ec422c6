import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { runCheck } from '../../src/checks/define.js';
import check from '../../src/checks/service-selector-matches-nothing.js';
import { ClusterModel } from '../../src/model/cluster.js';
import type { KubeObject } from '../../src/model/kube.js';
import { endpoints, pod, slice, svc } from '../kube/fixtures.js';
import { testBundle } from '../support/bundle.js';

const NODES = [
  { name: 'n1', ip: '192.168.56.11' },
  { name: 'n2', ip: '192.168.56.12' },
];

function run(objects: KubeObject[]) {
  return runCheck(check, new ClusterModel(testBundle(NODES, objects)));
}

const replicas = (n: number, labels: Record<string, string>, ns = 'default') =>
  Array.from({ length: n }, (_, i) =>
    pod(`web-5d8f7-${i}`, {
      ns,
      labels: { ...labels, 'pod-template-hash': '5d8f7' },
      ip: `10.244.1.${10 + i}`,
      node: 'n1',
    }),
  );

interface Row {
  name: string;
  objects: KubeObject[];
  /** undefined: no finding expected */
  expect?: { title: RegExp; detail?: RegExp[]; evidence?: RegExp[]; fix?: RegExp[] };
}

const rows: Row[] = [
  {
    name: 'a value differs (tier front vs frontend): names the closest pods and the pair',
    objects: [
      svc('web', { selector: { app: 'web', tier: 'frontend' } }),
      ...replicas(3, { app: 'web', tier: 'front' }),
      pod('db-0', { labels: { app: 'db' }, ip: '10.244.2.5', node: 'n2' }),
    ],
    expect: {
      title: /^Service default\/web selects no pod \(selector app=web,tier=frontend\)$/,
      detail: [
        /Closest: web-5d8f7-0 \(tier=front, the selector wants tier=frontend\)/,
        /connections to it are refused/,
      ],
      evidence: [
        /^service: default\/web {2}selector app=web,tier=frontend — type ClusterIP/,
        /^pod: default\/web-5d8f7-0 {2}app=web,pod-template-hash=5d8f7,tier=front — closest labels \(and 2 more pods with the same labels\): tier=front, the selector wants tier=frontend$/,
      ],
      fix: [
        /^kubectl -n default get pods -l app=web,tier=frontend -o wide$/,
        /^kubectl -n default get pods --show-labels$/,
        /^kubectl -n default patch svc web -p '\{"spec":\{"selector":\{"app":"web","tier":"front"\}\}\}'$/,
      ],
    },
  },
  {
    name: 'an extra selector key no pod has: the patch removes it',
    objects: [svc('web', { selector: { app: 'web', version: 'v2' } }), ...replicas(2, { app: 'web' })],
    expect: {
      title: /selects no pod/,
      detail: [/no label version/],
      fix: [/patch svc web -p '\{"spec":\{"selector":\{"app":"web","version":null\}\}\}'$/],
    },
  },
  {
    name: 'the pods live in another namespace',
    objects: [
      svc('web', { ns: 'shop' }),
      pod('cart', { ns: 'shop', labels: { app: 'cart' } }),
      ...replicas(2, { app: 'web' }),
    ],
    expect: {
      title: /Service shop\/web selects no pod/,
      detail: [/Pods with these labels run in namespace default, but a Service selects only pods of its own namespace/],
      evidence: [/matches the selector, but in namespace default/],
      fix: [/^kubectl -n default get pods -l app=web -o wide$/],
    },
  },
  {
    name: 'an empty namespace',
    objects: [svc('web', { ns: 'empty' }), ...replicas(1, { app: 'other' })],
    expect: { title: /empty\/web selects no pod/, detail: [/Namespace empty has no pods in the bundle/] },
  },
  {
    name: 'a headless Service: DNS resolves to nothing',
    objects: [svc('web', { clusterIP: 'None' }), ...replicas(1, { app: 'web2' })],
    expect: {
      title: /default\/web selects no pod/,
      detail: [/headless Service has no endpoints and its DNS name resolves to no address/],
    },
  },
  // near misses
  {
    name: 'healthy twin: the selector matches',
    objects: [svc('web', { selector: { app: 'web', tier: 'front' } }), ...replicas(3, { app: 'web', tier: 'front' })],
  },
  {
    name: 'a selector that matches one pod among many',
    objects: [
      svc('web', { selector: { app: 'web' } }),
      ...replicas(1, { app: 'web' }),
      pod('x', { labels: { app: 'x' } }),
    ],
  },
  {
    name: 'a Service without selector (endpoints by hand)',
    objects: [svc('ext', { selector: null }), pod('a', { labels: { app: 'a' } })],
  },
  {
    name: 'an ExternalName Service',
    objects: [{ ...svc('ext'), spec: { type: 'ExternalName', externalName: 'example.org' } }, pod('a')],
  },
  { name: 'no pods in the bundle at all (not collected)', objects: [svc('web')] },
  {
    name: 'endpoints exist although no collected pod matches (stale bundle)',
    objects: [
      svc('web'),
      pod('a', { labels: { app: 'a' } }),
      slice('web', [{ ip: '10.244.1.10', pod: 'web-x' }], [{ port: 8080 }]),
    ],
  },
  {
    name: 'Endpoints (old cluster) exist although no collected pod matches',
    objects: [
      svc('web'),
      pod('a', { labels: { app: 'a' } }),
      endpoints('web', [{ ip: '10.244.1.10' }], [], [{ port: 8080 }]),
    ],
  },
];

for (const r of rows)
  test(`service-selector-matches-nothing: ${r.name}`, () => {
    const fs = run(r.objects);
    if (!r.expect) {
      assert.deepEqual(fs, []);
      return;
    }
    assert.equal(fs.length, 1, JSON.stringify(fs, null, 1));
    const f = fs[0];
    assert.ok(f);
    assert.equal(f.severity, 'error');
    assert.match(f.title, r.expect.title);
    for (const d of r.expect.detail ?? []) assert.match(f.detail, d);
    const ev = f.evidence.map((e) => `${e.kind}: ${e.text}${e.detail ? ` — ${e.detail}` : ''}`);
    for (const e of r.expect.evidence ?? [])
      assert.ok(
        ev.some((x) => e.test(x)),
        `${e}\n${ev.join('\n')}`,
      );
    for (const x of r.expect.fix ?? [])
      assert.ok(
        f.fix.some((c) => x.test(c)),
        `${x}\n${f.fix.join('\n')}`,
      );
  });

test('service-selector-matches-nothing: every fix parses as a shell command', () => {
  const fs = run(rows[0]?.objects ?? []);
  for (const c of fs[0]?.fix ?? []) execFileSync('sh', ['-n', '-c', c]);
});
