import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { runCheck } from '../../src/checks/define.js';
import check from '../../src/checks/service-external-traffic-local.js';
import { ClusterModel } from '../../src/model/cluster.js';
import type { KubeObject } from '../../src/model/kube.js';
import { pod, slice, svc } from '../kube/fixtures.js';
import { testBundle } from '../support/bundle.js';

// seed 004's shape: a master and two workers, the pod on one worker
const NODES = [
  { name: 'mcwk8s03', ip: '10.0.0.33' },
  { name: 'mcwk8s05', ip: '10.0.0.35' },
  { name: 'mcwk8s06', ip: '10.0.0.36' },
];

function run(objects: KubeObject[], nodes = NODES) {
  return runCheck(check, new ClusterModel(testBundle(nodes, objects)));
}

const mcw = pod('mcwtest-deploy-6465665557-g9zjd', {
  labels: { app: 'mcwpython' },
  ip: '172.17.98.13',
  node: 'mcwk8s05',
});
const service = (o: { type?: string; etp?: string } = {}) =>
  svc('mcwtest-svc', {
    type: o.type ?? 'NodePort',
    externalTrafficPolicy: o.etp ?? 'Local',
    selector: { app: 'mcwpython' },
    ports: [{ name: 'mcwport', port: 2024, targetPort: 20000, nodePort: 41527 }],
  });
const endpointsOn = (
  ...eps: { ip: string; node: string; pod?: string; ready?: boolean; serving?: boolean; terminating?: boolean }[]
) => slice('mcwtest-svc', eps, [{ name: 'mcwport', port: 20000 }]);

interface Row {
  name: string;
  objects: KubeObject[];
  nodes?: typeof NODES;
  expect?: { severity: string; title: RegExp; evidence?: RegExp[]; detail?: RegExp[] };
}

const rows: Row[] = [
  {
    name: 'seed 004 reading: the NodePort answers only on the pod node',
    objects: [service(), mcw, endpointsOn({ ip: '172.17.98.13', node: 'mcwk8s05', pod: mcw.metadata.name })],
    expect: {
      severity: 'warning',
      title:
        /^NodePort default\/mcwtest-svc \(externalTrafficPolicy: Local\) answers on mcwk8s05 only; mcwk8s03, mcwk8s06 drop it$/,
      evidence: [
        /^service: default\/mcwtest-svc {2}type NodePort, externalTrafficPolicy Local, nodePorts 41527\/TCP$/,
        /^node: mcwk8s05 answers: local endpoint mcwtest-deploy-6465665557-g9zjd 172\.17\.98\.13$/,
        /^node: mcwk8s03 drops: no local ready endpoint$/,
        /^node: mcwk8s06 drops: no local ready endpoint$/,
      ],
      detail: [/client times out/],
    },
  },
  {
    name: 'a LoadBalancer: by design, info',
    objects: [service({ type: 'LoadBalancer' }), mcw, endpointsOn({ ip: '172.17.98.13', node: 'mcwk8s05' })],
    expect: {
      severity: 'info',
      title: /^LoadBalancer default\/mcwtest-svc/,
      detail: [/health-checks healthCheckNodePort/],
    },
  },
  {
    name: 'a node whose only endpoint is not ready drops',
    objects: [
      service(),
      endpointsOn(
        { ip: '172.17.98.13', node: 'mcwk8s05' },
        { ip: '172.17.9.4', node: 'mcwk8s06', ready: false, serving: false },
      ),
    ],
    expect: { severity: 'warning', title: /answers on mcwk8s05 only; mcwk8s03, mcwk8s06 drop it/ },
  },
  {
    name: 'a node with only a terminating but serving endpoint still answers',
    objects: [
      service(),
      endpointsOn(
        { ip: '172.17.98.13', node: 'mcwk8s05' },
        { ip: '172.17.9.4', node: 'mcwk8s06', ready: false, serving: true, terminating: true },
      ),
    ],
    expect: { severity: 'warning', title: /answers on mcwk8s05, mcwk8s06 only; mcwk8s03 drops it/ },
  },
  // near misses
  {
    name: 'externalTrafficPolicy: Cluster',
    objects: [service({ etp: 'Cluster' }), mcw, endpointsOn({ ip: '172.17.98.13', node: 'mcwk8s05' })],
  },
  {
    name: 'an endpoint on every node',
    objects: [
      service(),
      endpointsOn(
        { ip: '172.17.83.2', node: 'mcwk8s03' },
        { ip: '172.17.98.13', node: 'mcwk8s05' },
        { ip: '172.17.9.4', node: 'mcwk8s06' },
      ),
    ],
  },
  {
    name: 'no ready endpoint anywhere (another check)',
    objects: [service(), endpointsOn({ ip: '172.17.98.13', node: 'mcwk8s05', ready: false, serving: false })],
  },
  {
    name: 'a ClusterIP service with Local (not external)',
    objects: [service({ type: 'ClusterIP' }), endpointsOn({ ip: '172.17.98.13', node: 'mcwk8s05' })],
  },
  {
    name: 'a one-node cluster',
    nodes: [{ name: 'solo', ip: '10.0.0.1' }],
    objects: [service(), endpointsOn({ ip: '172.17.98.13', node: 'solo' })],
  },
];

for (const r of rows)
  test(`service-external-traffic-local: ${r.name}`, () => {
    const fs = run(r.objects, r.nodes);
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
    const ev = f.evidence.map((e) => `${e.kind}: ${e.node ? `${e.node} ` : ''}${e.text}`);
    for (const e of r.expect.evidence ?? [])
      assert.ok(
        ev.some((x) => e.test(x)),
        `${e}\n${ev.join('\n')}`,
      );
    assert.deepEqual(f.fix.slice(-1), [
      `kubectl -n default patch svc mcwtest-svc -p '{"spec":{"externalTrafficPolicy":"Cluster"}}'`,
    ]);
    for (const c of f.fix) execFileSync('sh', ['-n', '-c', c]);
  });
