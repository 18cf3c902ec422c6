import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { runCheck } from '../../src/checks/define.js';
import check from '../../src/checks/service-target-port-mismatch.js';
import { ClusterModel } from '../../src/model/cluster.js';
import type { KubeObject } from '../../src/model/kube.js';
import { pod, svc } from '../kube/fixtures.js';
import { testBundle } from '../support/bundle.js';

const NODES = [{ name: 'n1', ip: '192.168.56.11' }];

function run(objects: KubeObject[]) {
  return runCheck(check, new ClusterModel(testBundle(NODES, objects)));
}

type Ports = { name?: string; containerPort: number; protocol?: string }[];
const web = (n: number, ports: Ports | undefined, name = 'web') =>
  Array.from({ length: n }, (_, i) =>
    pod(`${name}-${i}`, {
      labels: { app: 'web', 'pod-template-hash': 'abc' },
      ip: `10.244.1.${i + 2}`,
      node: 'n1',
      ...(ports ? { ports } : {}),
    }),
  );
const HTTP: Ports = [{ name: 'http', containerPort: 8080 }];

interface Row {
  name: string;
  objects: KubeObject[];
  expect?: { severity: string; title: RegExp; detail?: RegExp[]; evidence?: RegExp[]; fix?: RegExp[] };
}

const rows: Row[] = [
  {
    name: 'named targetPort no pod declares: error, with the close name as the fix',
    objects: [svc('web', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'htpp' }] }), ...web(2, HTTP)],
    expect: {
      severity: 'error',
      title: /^Service default\/web targetPort "htpp" is not a port of any selected pod$/,
      detail: [
        /none of the 2 pods it selects declares a TCP port with that name \(declared: http=8080\/TCP\)/,
        /no endpoint/,
      ],
      evidence: [
        /^service: default\/web {2}port 80\/TCP → targetPort htpp$/,
        /^pod: default\/web-0 {2}declares http=8080\/TCP$/,
      ],
      fix: [
        /^kubectl -n default patch svc web --type=json -p '\[\{"op":"replace","path":"\/spec\/ports\/0\/targetPort","value":"http"\}\]'$/,
      ],
    },
  },
  {
    name: 'named targetPort declared with another protocol',
    objects: [
      svc('dns', { selector: { app: 'web' }, ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 'dns' }] }),
      ...web(1, [{ name: 'dns', containerPort: 53, protocol: 'TCP' }]),
    ],
    expect: {
      severity: 'error',
      title: /targetPort "dns" is not a port of any selected pod/,
      detail: [
        /the pod it selects does not declare a UDP port with that name/,
        /The name exists with protocol TCP, not UDP/,
      ],
    },
  },
  {
    name: 'named targetPort on some pods only (a rollout renamed the port): warning',
    objects: [
      svc('web', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] }),
      ...web(1, HTTP, 'old'),
      ...web(2, [{ name: 'web', containerPort: 8080 }], 'new'),
    ],
    expect: {
      severity: 'warning',
      title: /targetPort "http" is not a port of 2 of its pods/,
      detail: [/2 of the 3 pods it selects do not declare/, /only 1 pod serve it/],
    },
  },
  {
    name: 'numeric targetPort the pods do not declare while they declare another: warning at most',
    objects: [svc('web', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 80 }] }), ...web(2, HTTP)],
    expect: {
      severity: 'warning',
      title: /^Service default\/web targets port 80\/TCP, which its pods do not declare$/,
      detail: [
        /Kubernetes does not require declaring ports/,
        /If the application listens on 8080, point targetPort there/,
      ],
      fix: [/"path":"\/spec\/ports\/0\/targetPort","value":8080/, /-o 'custom-columns=NAME:\.metadata\.name,/],
    },
  },
  {
    name: 'numeric targetPort declared only as UDP',
    objects: [
      svc('web', { selector: { app: 'web' }, ports: [{ port: 53, targetPort: 53, protocol: 'TCP' }] }),
      ...web(1, [
        { containerPort: 53, protocol: 'UDP' },
        { containerPort: 9153, protocol: 'TCP' },
      ]),
    ],
    expect: {
      severity: 'warning',
      title: /targets port 53\/TCP/,
      detail: [/Port 53 is declared with protocol UDP, not TCP/],
    },
  },
  // near misses
  {
    name: 'healthy: named targetPort declared',
    objects: [svc('web', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] }), ...web(2, HTTP)],
  },
  {
    name: 'healthy: numeric targetPort declared',
    objects: [svc('web', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] }), ...web(2, HTTP)],
  },
  {
    name: 'numeric targetPort and pods that declare no port at all (allowed, common)',
    objects: [svc('web', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] }), ...web(2, undefined)],
  },
  {
    name: 'numeric targetPort declared by one pod of two',
    objects: [
      svc('web', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] }),
      ...web(1, HTTP, 'a'),
      ...web(1, [{ containerPort: 9090 }], 'b'),
    ],
  },
  {
    name: 'numeric undeclared but the pods declare only ports of another protocol',
    objects: [
      svc('web', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 80 }] }),
      ...web(1, [{ containerPort: 80, protocol: 'UDP' }]),
    ],
  },
  {
    name: 'no selected pod (another check)',
    objects: [svc('web', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'x' }] })],
  },
  {
    name: 'finished pods are not asked',
    objects: [
      svc('web', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] }),
      pod('job', { labels: { app: 'web' }, phase: 'Succeeded' }),
    ],
  },
];

for (const r of rows)
  test(`service-target-port-mismatch: ${r.name}`, () => {
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
