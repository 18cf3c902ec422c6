import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCheck } from '../../src/checks/define.js';
import check from '../../src/checks/ipvs-real-servers-mismatch.js';
import { ClusterModel } from '../../src/model/cluster.js';
import type { KubeObject } from '../../src/model/kube.js';
import { type TestNode, testBundle } from '../support/bundle.js';
import { endpoints, kubeProxyPod, service } from './kube-fixtures.js';

const HEADER = [
  'IP Virtual Server version 1.2.1 (size=4096)',
  'Prot LocalAddress:Port Scheduler Flags',
  '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
];
/** Seed 003's table, with the typha virtual server's real servers as given. */
function table(typha: string[] = [], dnsExtra: string[] = []): string {
  return [
    ...HEADER,
    'TCP  10.96.0.1:443 rr',
    '  -> 10.130.29.80:6443            Masq    1      6          0',
    '  -> 10.130.29.81:6443            Masq    1      1          0',
    '  -> 10.130.29.82:6443            Masq    1      0          0',
    'TCP  10.96.0.10:53 rr',
    '  -> 10.244.0.137:53              Masq    1      0          0',
    '  -> 10.244.0.138:53              Masq    1      0          0',
    ...dnsExtra,
    'TCP  10.108.62.55:5473 rr',
    ...typha,
    'UDP  10.96.0.10:53 rr',
    '  -> 10.244.0.137:53              Masq    1      0          0',
    '  -> 10.244.0.138:53              Masq    1      0          0',
  ].join('\n');
}

const base = (typhaReady: string[], typhaNotReady: string[] = []): KubeObject[] => [
  service('default', 'kubernetes', '10.96.0.1', [{ name: 'https', port: 443, targetPort: 6443 }], undefined),
  endpoints('default', 'kubernetes', ['10.130.29.80', '10.130.29.81', '10.130.29.82'], [{ name: 'https', port: 6443 }]),
  service('kube-system', 'kube-dns', '10.96.0.10', [
    { name: 'dns', port: 53, protocol: 'UDP' },
    { name: 'dns-tcp', port: 53, protocol: 'TCP' },
  ]),
  {
    ...endpoints(
      'kube-system',
      'kube-dns',
      ['10.244.0.137', '10.244.0.138'],
      [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
      ],
    ),
  },
  service('kube-system', 'calico-typha', '10.108.62.55', [{ name: 'calico-typha', port: 5473 }]),
  endpoints('kube-system', 'calico-typha', typhaReady, [{ name: 'calico-typha', port: 5473 }], typhaNotReady),
];

const run = (objects: KubeObject[], nodes: TestNode[]) => runCheck(check, new ClusterModel(testBundle(nodes, objects)));
const node = (name: string, ip: string, ipvs: string): TestNode => ({ name, ip, commands: { 'ipvsadm-list': ipvs } });

test('seed 003: calico-typha has a ready endpoint and its virtual server none', () => {
  const f = run(
    [...base(['10.130.29.81']), kubeProxyPod('kube-proxy-cdsgl', 'k8s-80', 'k8s.gcr.io/kube-proxy:v1.13.0')],
    [node('k8s-80', '10.130.29.80', table())],
  );
  assert.equal(f.length, 1);
  const [x] = f;
  assert.equal(x?.severity, 'critical');
  assert.equal(x?.node, 'k8s-80');
  assert.equal(
    x?.title,
    'IPVS has no real server for kube-system/calico-typha 10.108.62.55:5473/TCP on k8s-80, although 1 endpoint is ready',
  );
  const vs = x?.evidence.find((e) => e.kind === 'ipvs');
  assert.equal(vs?.text, 'TCP 10.108.62.55:5473 rr');
  assert.deepEqual(vs?.source, { file: 'nodes/k8s-80.json#ipvsadm-list', line: 11 });
  assert.equal(
    x?.evidence.find((e) => e.kind === 'endpoints')?.text,
    'Endpoints kube-system/calico-typha (port calico-typha/TCP): 10.130.29.81:5473',
  );
  assert.match(x?.detail ?? '', /new connections are refused \(ICMP port unreachable; nmap says "filtered"\)/);
  assert.equal(
    x?.fix[0],
    'kubectl -n kube-system delete pod kube-proxy-cdsgl  # kube-proxy on k8s-80 restarts and rebuilds its IPVS table',
  );
});

test('near misses: an empty virtual server for a Service with no ready endpoint is correct', () => {
  assert.deepEqual(run(base([]), [node('k8s-80', '10.130.29.80', table())]), []);
  assert.deepEqual(run(base([], ['10.130.29.81']), [node('k8s-80', '10.130.29.80', table())]), []);
  // The healthy twin: the real server is there.
  assert.deepEqual(
    run(base(['10.130.29.81']), [
      node('k8s-80', '10.130.29.80', table(['  -> 10.130.29.81:5473            Masq    1      0          0'])),
    ]),
    [],
  );
  // A weight-0 real server that is no longer an endpoint: graceful termination, not drift.
  assert.deepEqual(
    run(base(['10.130.29.81']), [
      node(
        'k8s-80',
        '10.130.29.80',
        table(
          ['  -> 10.130.29.81:5473            Masq    1      0          0'],
          ['  -> 10.244.0.99:53               Masq    0      0          3'],
        ),
      ),
    ]),
    [],
  );
  // No IPVS table at all (iptables mode): nothing to compare.
  assert.deepEqual(run(base(['10.130.29.81']), [{ name: 'k8s-80', ip: '10.130.29.80' }]), []);
});

test('a stale real server (a pod that is gone) on one node, the other node is right', () => {
  const stale = '  -> 10.244.0.99:53               Masq    1      0          0';
  const f = run(base(['10.130.29.81']), [
    node('a', '10.130.29.80', table(['  -> 10.130.29.81:5473 Masq 1 0 0'], [stale])),
    node('b', '10.130.29.81', table(['  -> 10.130.29.81:5473 Masq 1 0 0'])),
  ]);
  assert.equal(f.length, 1);
  assert.equal(f[0]?.severity, 'error');
  assert.equal(
    f[0]?.title,
    "IPVS real servers of kube-system/kube-dns 10.96.0.10:53/TCP on a are not the Service's endpoints",
  );
  const staleEv = f[0]?.evidence.find((e) => e.detail === 'not an endpoint of the Service');
  assert.deepEqual([staleEv?.node, staleEv?.text], ['a', '  -> 10.244.0.99:53 Masq 1 0 0']);
  assert.ok(
    f[0]?.evidence.some((e) => e.node === 'b' && /on b the table matches the endpoints/.test(String(e.detail))),
  );
  assert.match(f[0]?.fix[0] ?? '', /^systemctl restart kube-proxy +# on a/);
});

test('a Service with ready endpoints and no virtual server at all', () => {
  const f = run(
    [
      ...base(['10.130.29.81']),
      service('default', 'web', '10.99.1.2', [{ port: 80, targetPort: 8080 }]),
      endpoints('default', 'web', ['10.244.1.30'], [{ port: 8080 }]),
    ],
    [node('k8s-80', '10.130.29.80', table(['  -> 10.130.29.81:5473 Masq 1 0 0']))],
  );
  assert.equal(f.length, 1);
  assert.equal(
    f[0]?.title,
    'IPVS has no virtual server for default/web 10.99.1.2:80/TCP on k8s-80, although 1 endpoint is ready',
  );
  assert.match(f[0]?.evidence[0]?.text ?? '', /^no virtual server TCP 10\.99\.1\.2:80 among 4$/);
});
