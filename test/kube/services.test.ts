import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NotFoundError } from '../../src/kube/names.js';
import { findPod, nodeByName, podByIp } from '../../src/kube/objects.js';
import {
  nodesWithLocalEndpoints,
  proxyEndpoints,
  resolveService,
  serviceByIp,
  serviceByNodePort,
  serviceState,
} from '../../src/kube/services.js';
import { endpoints, node, objects, pod, slice, svc } from './fixtures.js';

const webPods = [
  pod('web-1', {
    labels: { app: 'web' },
    ip: '10.244.1.5',
    node: 'n1',
    ports: [{ name: 'http', containerPort: 8080 }],
  }),
  pod('web-2', {
    labels: { app: 'web' },
    ip: '10.244.2.5',
    node: 'n2',
    ports: [{ name: 'http', containerPort: 9090 }],
  }),
  pod('other', { labels: { app: 'db' }, ip: '10.244.2.9', node: 'n2' }),
];

test('EndpointSlice v1: ports per service port, conditions, nodes, pods', () => {
  const c = objects(
    ...webPods,
    svc('web', {
      type: 'NodePort',
      ports: [
        { name: 'http', port: 80, targetPort: 'http', nodePort: 30080 },
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 },
      ],
    }),
    slice(
      'web',
      [
        { ip: '10.244.1.5', node: 'n1', pod: 'web-1' },
        { ip: '10.244.2.5', node: 'n2', pod: 'web-2', ready: false, serving: true, terminating: true },
      ],
      [{ name: 'http', port: 8080 }],
      { name: 'web-a' },
    ),
    slice('web', [{ ip: '10.244.2.5', node: 'n2', pod: 'web-2' }], [{ name: 'http', port: 9090 }], { name: 'web-b' }),
  );
  const r = resolveService(c, 'default', 'web');
  assert.equal(r.endpointSource, 'EndpointSlice');
  assert.deepEqual(
    r.pods.map((p) => p.name),
    ['web-1', 'web-2'],
  );
  const http = r.ports.find((p) => p.name === 'http');
  assert.ok(http);
  assert.deepEqual(
    http.endpoints.map((e) => [
      e.ip,
      e.port,
      e.ready,
      e.serving,
      e.terminating,
      e.nodeName,
      e.pod?.name,
      e.source.name,
    ]),
    [
      ['10.244.1.5', 8080, true, true, false, 'n1', 'web-1', 'web-a'],
      ['10.244.2.5', 8080, false, true, true, 'n2', 'web-2', 'web-a'],
      ['10.244.2.5', 9090, true, true, false, 'n2', 'web-2', 'web-b'],
    ],
  );
  // named targetPort resolves per pod
  assert.deepEqual(
    http.targets.map((t) => [t.pod.name, t.port, t.declared]),
    [
      ['web-1', 8080, true],
      ['web-2', 9090, true],
    ],
  );
  // the UDP port has no slice port: no endpoints; numeric target undeclared
  const dns = r.ports.find((p) => p.name === 'dns');
  assert.deepEqual(dns?.endpoints, []);
  assert.deepEqual(
    dns?.targets.map((t) => [t.port, t.declared]),
    [
      [5353, false],
      [5353, false],
    ],
  );
  // one port asked: by number, by name, by protocol
  assert.deepEqual(
    resolveService(c, 'default', 'web', 80).ports.map((p) => p.name),
    ['http'],
  );
  assert.deepEqual(
    resolveService(c, 'default', 'web', 'dns').ports.map((p) => p.port),
    [53],
  );
  assert.deepEqual(
    resolveService(c, 'default', 'web', '53', 'UDP').ports.map((p) => p.port),
    [53],
  );
  assert.throws(() => resolveService(c, 'default', 'web', 53, 'TCP'), NotFoundError);
});

test('EndpointSlice conditions: nil ready means ready, nil serving follows ready; v1beta1 topology', () => {
  const c = objects(
    svc('a', { ports: [{ port: 80, targetPort: 80 }] }),
    slice(
      'a',
      [
        { ip: '10.0.0.1', ready: null, serving: null },
        { ip: '10.0.0.2', ready: false, serving: null },
      ],
      [{ port: 80 }],
    ),
    svc('b', { ports: [{ port: 80, targetPort: 80 }] }),
    slice('b', [{ ip: '10.0.0.3', node: 'n3', ready: false }], [{ port: 80 }], { beta: true }),
  );
  const a = resolveService(c, 'default', 'a').ports[0]?.endpoints ?? [];
  assert.deepEqual(
    a.map((e) => [e.ready, e.serving]),
    [
      [true, true],
      [false, false],
    ],
  );
  const b = resolveService(c, 'default', 'b').ports[0]?.endpoints ?? [];
  assert.deepEqual(
    b.map((e) => [e.ip, e.ready, e.nodeName]),
    [['10.0.0.3', false, 'n3']],
  );
});

test('Endpoints (no slices): addresses are ready, notReadyAddresses are not; FQDN slices ignored', () => {
  const c = objects(
    ...webPods,
    svc('web', { ports: [{ port: 80, targetPort: 8080 }] }),
    endpoints(
      'web',
      [{ ip: '10.244.1.5', node: 'n1', pod: 'web-1' }],
      [{ ip: '10.244.2.5', pod: 'web-2' }],
      [{ port: 8080 }],
    ),
    svc('ext', { ports: [{ port: 80 }] }),
    slice('ext', [{ ip: '10.9.9.9' }], [{ port: 80 }], { addressType: 'FQDN' }),
  );
  const r = resolveService(c, 'default', 'web');
  assert.equal(r.endpointSource, 'Endpoints');
  assert.deepEqual(
    r.ports[0]?.endpoints.map((e) => [e.ip, e.port, e.ready, e.nodeName]),
    [
      ['10.244.1.5', 8080, true, 'n1'],
      // nodeName from the pod when the address has none
      ['10.244.2.5', 8080, false, 'n2'],
    ],
  );
  assert.deepEqual(resolveService(c, 'default', 'ext').ports[0]?.endpoints, []);
});

test('IPv6 and dual stack: addresses normalised, lookups by any form', () => {
  const c = objects(
    pod('v6', { labels: { app: 'v6' }, ips: ['10.244.1.7', 'fd00:10:244:1::0007'], node: 'n1' }),
    svc('v6', { clusterIP: 'fd00:96::0010', clusterIPs: ['fd00:96::10', '10.96.0.77'], ports: [{ port: 80 }] }),
    slice('v6', [{ ip: 'fd00:10:244:1:0:0:0:7', pod: 'v6' }], [{ port: 80 }], { addressType: 'IPv6' }),
  );
  const r = resolveService(c, 'default', 'v6');
  assert.equal(r.service.clusterIP, 'fd00:96::10');
  assert.deepEqual(r.service.clusterIPs, ['fd00:96::10', '10.96.0.77']);
  assert.deepEqual(
    r.ports[0]?.endpoints.map((e) => [e.ip, e.family, e.pod?.name]),
    [['fd00:10:244:1::7', 6, 'v6']],
  );
  assert.equal(podByIp(c, 'FD00:10:244:1::7')?.name, 'v6');
  assert.equal(podByIp(c, '10.244.1.7')?.name, 'v6');
  assert.equal(serviceByIp(c, 'fd00:96:0::10')?.service.name, 'v6');
  assert.equal(serviceByIp(c, '10.96.0.77')?.via, 'clusterIP');
});

test('unknown names: typed errors with close matches', () => {
  const c = objects(...webPods, svc('web'), svc('web', { ns: 'prod' }), node('worker-1', '192.168.1.1'));
  assert.throws(
    () => resolveService(c, 'default', 'wbe'),
    /service default\/wbe not found.*did you mean default\/web\?/,
  );
  assert.throws(() => resolveService(c, 'staging', 'web'), /did you mean default\/web, prod\/web\?/);
  assert.throws(
    () => resolveService(c, 'default', 'web', 81),
    /default\/web:81 .*did you mean default\/web:80\?.*80\/TCP/,
  );
  assert.throws(() => findPod(c, 'default', 'web'), /did you mean default\/web-1, default\/web-2\?/);
  assert.throws(() => nodeByName(c, 'worker1'), /node worker1 not found.*did you mean worker-1\?/);
  try {
    findPod(c, 'default', 'zzzzzz');
    assert.fail('no error');
  } catch (e) {
    assert.ok(e instanceof NotFoundError);
    assert.deepEqual(e.suggestions, []);
  }
  assert.equal(nodeByName(c, 'worker-1').internalIP, '192.168.1.1');
});

test('podByIp: the pod-network pod, not host-network or finished pods', () => {
  const c = objects(
    pod('old', { ip: '10.244.1.9', phase: 'Succeeded' }),
    pod('host', { ip: '10.244.1.9', hostNetwork: true }),
    pod('live', { ip: '10.244.1.9' }),
    pod('agent', { ip: '192.168.1.1', hostNetwork: true, node: 'n1' }),
  );
  assert.equal(podByIp(c, '10.244.1.9')?.name, 'live');
  assert.equal(podByIp(c, '192.168.1.1'), undefined);
});

test('serviceByNodePort, externalIPs and load-balancer IPs', () => {
  const c = objects(
    svc('np', {
      type: 'LoadBalancer',
      ports: [{ port: 80, nodePort: 30080 }],
      externalIPs: ['203.0.113.5'],
      lbIPs: ['198.51.100.7'],
    }),
  );
  assert.equal(serviceByNodePort(c, 30080)?.service.name, 'np');
  assert.equal(serviceByNodePort(c, 30080, 'UDP'), undefined);
  assert.equal(serviceByNodePort(c, 30081), undefined);
  assert.equal(serviceByIp(c, '203.0.113.5')?.via, 'externalIP');
  assert.equal(serviceByIp(c, '198.51.100.7')?.via, 'loadBalancerIP');
});

test('traffic policies: which endpoints kube-proxy uses on a node', () => {
  const eps = [
    { ip: '10.244.1.5', node: 'n1', pod: 'web-1' },
    { ip: '10.244.2.5', node: 'n2', ready: false, serving: true, terminating: true },
    { ip: '10.244.2.6', node: 'n2', ready: false, serving: false },
  ];
  const c = objects(
    svc('web', {
      type: 'NodePort',
      externalTrafficPolicy: 'Local',
      internalTrafficPolicy: 'Local',
      ports: [{ port: 80, nodePort: 30080 }],
    }),
    slice('web', eps, [{ port: 80 }]),
  );
  const r = resolveService(c, 'default', 'web');
  const p = r.ports[0];
  assert.ok(p);
  const on = (node: string, external: boolean) => proxyEndpoints(r.service, p, { node, external });
  assert.deepEqual(
    on('n1', true).endpoints.map((e) => e.ip),
    ['10.244.1.5'],
  );
  // n2 has no ready endpoint: its serving terminating one
  assert.equal(on('n2', true).using, 'terminating');
  assert.deepEqual(
    on('n2', true).endpoints.map((e) => e.ip),
    ['10.244.2.5'],
  );
  // n3 has none: drop (endpoints exist elsewhere)
  assert.deepEqual([on('n3', true).using, on('n3', true).whenNone], ['none', 'drop']);
  assert.deepEqual([on('n3', false).using, on('n3', false).whenNone], ['none', 'drop']);
  assert.deepEqual(nodesWithLocalEndpoints(p), ['n1', 'n2']);
  // Cluster policy: every ready endpoint, wherever the packet arrives
  const cl = proxyEndpoints({ ...r.service, externalTrafficPolicy: 'Cluster' }, p, { node: 'n3', external: true });
  assert.deepEqual([cl.localOnly, cl.endpoints.map((e) => e.ip)], [false, ['10.244.1.5']]);
  // no usable endpoint anywhere: reject
  const none = proxyEndpoints(r.service, { endpoints: [] }, { node: 'n1', external: true });
  assert.equal(none.whenNone, 'reject');
});

test('serviceState names why a Service cannot take a connection', () => {
  const c = objects(
    pod('a-1', { labels: { app: 'a' }, ip: '10.244.1.2', ready: false }),
    svc('ready', { selector: { app: 'a' } }),
    slice('ready', [{ ip: '10.244.1.2', ready: true }], [{ port: 8080 }]),
    svc('unready', { selector: { app: 'a' } }),
    slice('unready', [{ ip: '10.244.1.2', ready: false }], [{ port: 8080 }]),
    svc('term', { selector: { app: 'a' } }),
    slice('term', [{ ip: '10.244.1.2', ready: false, serving: true, terminating: true }], [{ port: 8080 }]),
    svc('nomatch', { selector: { app: 'zzz' } }),
    svc('pending', { selector: { app: 'a' } }),
    svc('manual', { selector: null }),
    { ...svc('alias'), spec: { type: 'ExternalName', externalName: 'db.example.org' } },
  );
  const state = (n: string) => serviceState(resolveService(c, 'default', n));
  assert.equal(state('ready').state, 'ok');
  assert.deepEqual(state('unready'), {
    state: 'no-ready-endpoints',
    text: 'service default/unready has no ready endpoint (1 not ready)',
  });
  assert.equal(state('term').state, 'terminating-only');
  assert.deepEqual(state('nomatch'), {
    state: 'selector-matches-nothing',
    text: 'service default/nomatch has no endpoints: its selector app=zzz matches no pod of namespace default',
  });
  assert.equal(state('pending').state, 'no-ready-endpoints');
  assert.equal(state('manual').state, 'no-endpoints');
  assert.equal(state('alias').state, 'external-name');
});

test('proxyEndpoints: one IP family per proxier on a dual-stack Service', () => {
  const c = objects(
    svc('ds', { clusterIPs: ['10.96.0.9', 'fd00:96::9'], ports: [{ port: 80 }] }),
    slice('ds', [{ ip: '10.244.1.2', node: 'n1' }], [{ port: 80 }], { name: 'ds-v4' }),
    slice('ds', [{ ip: 'fd00:10:244:1::2', node: 'n1' }], [{ port: 80 }], { name: 'ds-v6', addressType: 'IPv6' }),
  );
  const r = resolveService(c, 'default', 'ds');
  const p = r.ports[0];
  assert.ok(p);
  assert.equal(p.endpoints.length, 2);
  const ips = (family?: 4 | 6) =>
    proxyEndpoints(r.service, p, { external: false, ...(family ? { family } : {}) }).endpoints.map((e) => e.ip);
  assert.deepEqual(ips(4), ['10.244.1.2']);
  assert.deepEqual(ips(6), ['fd00:10:244:1::2']);
  assert.deepEqual(ips(), ['10.244.1.2', 'fd00:10:244:1::2']);
});
