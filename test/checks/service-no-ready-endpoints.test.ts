import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { runCheck } from '../../src/checks/define.js';
import check from '../../src/checks/service-no-ready-endpoints.js';
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

const crashing = pod('api-1', {
  labels: { app: 'api' },
  ip: '10.244.1.5',
  node: 'n1',
  ready: false,
  conditions: [
    { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [app]' },
    {
      type: 'ContainersReady',
      status: 'False',
      reason: 'ContainersNotReady',
      message: 'containers with unready status: [app]',
    },
  ],
  containerStatuses: [
    {
      name: 'app',
      ready: false,
      restartCount: 7,
      state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 5m0s restarting failed container' } },
    },
  ],
});
const probeFailing = pod('api-2', {
  labels: { app: 'api' },
  ip: '10.244.2.5',
  node: 'n2',
  ready: false,
  containerStatuses: [
    { name: 'app', ready: false, restartCount: 0, state: { running: { startedAt: '2026-01-01T00:00:00Z' } } },
  ],
});
const readyPod = pod('api-3', { labels: { app: 'api' }, ip: '10.244.2.6', node: 'n2' });
const api = svc('api', { ports: [{ port: 80, targetPort: 8080 }] });

interface Row {
  name: string;
  objects: KubeObject[];
  expect?: { severity: string; title: RegExp; detail?: RegExp[]; evidence?: RegExp[]; fix?: RegExp[] };
}

const rows: Row[] = [
  {
    name: 'EndpointSlice: both endpoints not ready, pods crash-looping and failing readiness',
    objects: [
      api,
      crashing,
      probeFailing,
      slice(
        'api',
        [
          { ip: '10.244.1.5', node: 'n1', pod: 'api-1', ready: false },
          { ip: '10.244.2.5', node: 'n2', pod: 'api-2', ready: false },
        ],
        [{ port: 8080 }],
      ),
    ],
    expect: {
      severity: 'error',
      title: /^Service default\/api has no ready endpoint \(2 not ready\)$/,
      detail: [
        /api-1 on n1: .*container app waiting: CrashLoopBackOff \(back-off 5m0s restarting failed container\), 7 restarts/,
        /ContainersReady=False \(ContainersNotReady: containers with unready status: \[app\]\)/,
        /api-2 on n2: .*container app running but not ready \(readiness probe failing\?\)/,
        /connections.*refused/,
      ],
      evidence: [
        /^endpoint: endpointslice\/api-abcde {2}10\.244\.1\.5:8080\/TCP ready=false serving=false terminating=false node n1 pod api-1$/,
      ],
      fix: [
        /^kubectl -n default get pods -l app=api -o wide$/,
        /^kubectl -n default logs api-1 -c app --previous$/,
        /^kubectl -n default get endpointslices -l kubernetes\.io\/service-name=api -o wide$/,
      ],
    },
  },
  {
    name: 'Endpoints (old cluster): only notReadyAddresses',
    objects: [
      api,
      probeFailing,
      endpoints('api', [], [{ ip: '10.244.2.5', node: 'n2', pod: 'api-2' }], [{ port: 8080 }]),
    ],
    expect: {
      severity: 'error',
      title: /has no ready endpoint \(1 not ready\)/,
      evidence: [/^endpoint: endpoints\/api {2}10\.244\.2\.5:8080\/TCP ready=false/],
      fix: [/^kubectl -n default describe pod api-2$/],
    },
  },
  {
    name: 'only terminating endpoints still serving: a warning',
    objects: [
      api,
      pod('api-old', { labels: { app: 'api' }, ip: '10.244.1.9', node: 'n1', deleting: true }),
      slice(
        'api',
        [{ ip: '10.244.1.9', node: 'n1', pod: 'api-old', ready: false, serving: true, terminating: true }],
        [{ port: 8080 }],
      ),
    ],
    expect: {
      severity: 'warning',
      title: /only terminating ones serve/,
      detail: [/terminating \(deletionTimestamp set\)/, /works until they are gone/],
    },
  },
  {
    name: 'no endpoint yet: the selected pods are pending',
    objects: [
      api,
      pod('api-p', {
        labels: { app: 'api' },
        phase: 'Pending',
        ready: false,
        conditions: [
          { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/2 nodes are available' },
        ],
      }),
      slice('api', [], [{ port: 8080 }]),
    ],
    expect: {
      severity: 'error',
      title: /has no ready endpoint/,
      detail: [/phase Pending; PodScheduled=False \(Unschedulable: 0\/2 nodes are available\)/],
    },
  },
  {
    name: 'IPv6 endpoints are printed in brackets',
    objects: [api, slice('api', [{ ip: 'fd00:10:244:1::5', ready: false }], [{ port: 8080 }], { addressType: 'IPv6' })],
    expect: { severity: 'error', title: /no ready endpoint/, evidence: [/\[fd00:10:244:1::5\]:8080\/TCP ready=false/] },
  },
  {
    name: 'a headless Service: DNS returns only ready addresses',
    objects: [
      svc('api', { clusterIP: 'None' }),
      probeFailing,
      slice('api', [{ ip: '10.244.2.5', pod: 'api-2', ready: false }], [{ port: 8080 }]),
    ],
    expect: {
      severity: 'error',
      title: /no ready endpoint/,
      detail: [/headless: its DNS name returns only ready addresses, so it resolves to none/],
    },
  },
  // near misses
  {
    name: 'one ready endpoint among not-ready ones',
    objects: [
      api,
      crashing,
      readyPod,
      slice(
        'api',
        [
          { ip: '10.244.1.5', pod: 'api-1', ready: false },
          { ip: '10.244.2.6', pod: 'api-3' },
        ],
        [{ port: 8080 }],
      ),
    ],
  },
  {
    name: 'ready endpoint in a second slice',
    objects: [
      api,
      slice('api', [{ ip: '10.244.1.5', ready: false }], [{ port: 8080 }], { name: 'api-a' }),
      slice('api', [{ ip: '10.244.2.6' }], [{ port: 8080 }], { name: 'api-b' }),
    ],
  },
  {
    name: 'publishNotReadyAddresses',
    objects: [
      svc('api', { publishNotReadyAddresses: true }),
      slice('api', [{ ip: '10.244.1.5', ready: false }], [{ port: 8080 }]),
    ],
  },
  {
    name: 'no endpoints and no pods (another check: selector matches nothing)',
    objects: [api, slice('api', [], [{ port: 8080 }])],
  },
  { name: 'no endpoints while the selected pod is ready (stale bundle)', objects: [api, readyPod] },
  {
    name: 'healthy: all ready',
    objects: [api, readyPod, slice('api', [{ ip: '10.244.2.6', pod: 'api-3' }], [{ port: 8080 }])],
  },
];

for (const r of rows)
  test(`service-no-ready-endpoints: ${r.name}`, () => {
    const fs = run(r.objects);
    if (!r.expect) {
      assert.deepEqual(fs, []);
      return;
    }
    assert.equal(fs.length, 1, JSON.stringify(fs, null, 1));
    const f = fs[0];
    assert.ok(f);
    assert.equal(f.severity, r.expect.severity);
    assert.match(f.title, r.expect.title);
    for (const d of r.expect.detail ?? []) assert.match(f.detail, d);
    const ev = f.evidence.map((e) => `${e.kind}: ${e.text}`);
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
    for (const c of f.fix) execFileSync('sh', ['-n', '-c', c]);
  });
