import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCheck } from '../../src/checks/define.js';
import check from '../../src/checks/dns-fallback-nameserver.js';
import { ClusterModel } from '../../src/model/cluster.js';
import type { KubeObject } from '../../src/model/kube.js';
import { testBundle } from '../support/bundle.js';
import { service, withFiles } from './kube-fixtures.js';

const DNS = service('kube-system', 'kube-dns', '10.254.0.10', [{ name: 'dns', port: 53, protocol: 'UDP' }], {
  'k8s-app': 'kube-dns',
});
const docker = (id: string) => `/var/lib/docker/containers/${id}/resolv.conf`;
const SEED000 =
  'search noj.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.254.0.10\nnameserver 8.8.8.8\nnameserver 8.8.4.4\noptions ndots:5\n';
const CLEAN = 'search noj.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.254.0.10\noptions ndots:5\n';

function run(files: Record<string, Record<string, string>>, objects: KubeObject[] = [DNS]) {
  const bundle = testBundle(
    Object.keys(files).map((name, i) => ({ name, ip: `10.0.0.${i + 1}` })),
    objects,
  );
  for (const [node, f] of Object.entries(files)) withFiles(bundle, node, f);
  return runCheck(check, new ClusterModel(bundle));
}

test("seed 000: slave-2's pod lists 8.8.8.8 and 8.8.4.4 after the cluster DNS", () => {
  const f = run({
    'kubernetes-slave-1': { [docker('a1')]: CLEAN },
    'kubernetes-slave-2': {
      [docker('b1')]: SEED000,
      [docker('b2')]: CLEAN,
      '/etc/resolv.conf': 'nameserver 8.8.8.8\n',
    },
  });
  assert.equal(f.length, 1);
  const [x] = f;
  assert.equal(x?.node, 'kubernetes-slave-2');
  assert.equal(x?.severity, 'warning');
  assert.equal(
    x?.title,
    '1 of 2 pods on kubernetes-slave-2 fall back to 8.8.8.8, 8.8.4.4 when the cluster DNS 10.254.0.10 does not answer',
  );
  assert.equal(x?.evidence[0]?.path, docker('b1'));
  assert.equal(x?.evidence[0]?.text, 'nameserver 10.254.0.10; nameserver 8.8.8.8; nameserver 8.8.4.4');
  assert.match(x?.detail ?? '', /every lookup waits 5 s/);
});

test('the cluster DNS from kubelet config counts even without a Service; options timeout is used', () => {
  const f = run(
    {
      n1: {
        '/var/lib/kubelet/config.yaml':
          'kind: KubeletConfiguration\nclusterDNS:\n- 10.96.0.10\nclusterDomain: cluster.local\n',
        [docker('c1')]: 'nameserver 10.96.0.10\nnameserver 1.1.1.1\noptions timeout:2\n',
      },
    },
    [],
  );
  assert.equal(f.length, 1);
  assert.match(f[0]?.detail ?? '', /waits 2 s, then gets its answer from 1\.1\.1\.1/);
});

test('near misses: outside server first, only cluster DNS, a fourth server the resolver never uses, no known DNS', () => {
  // dnsPolicy Default / None with only outside servers: not a fallback (seed 004's pod), another problem.
  assert.deepEqual(run({ n1: { [docker('d1')]: 'nameserver 8.8.8.8\nnameserver 10.254.0.10\n' } }), []);
  assert.deepEqual(run({ n1: { [docker('d2')]: CLEAN } }), []);
  assert.deepEqual(
    run({
      n1: {
        [docker('d3')]: 'nameserver 10.254.0.10\nnameserver 10.254.0.10\nnameserver 10.254.0.10\nnameserver 8.8.8.8\n',
      },
    }),
    [],
  );
  // The node's own /etc/resolv.conf is not a pod's.
  assert.deepEqual(run({ n1: { '/etc/resolv.conf': 'nameserver 10.254.0.10\nnameserver 8.8.8.8\n' } }), []);
  assert.deepEqual(run({ n1: { [docker('d4')]: SEED000 } }, []), []);
});

test('Pod specs: ClusterFirst with extra dnsConfig nameservers, grouped by owner, with the patch', () => {
  const pod = (name: string, spec: Record<string, unknown>): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'noj', ownerReferences: [{ kind: 'ReplicaSet', name: 'noj-web-7d9f8c6b5' }] },
    spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'x' }], ...spec },
  });
  const extra = { dnsConfig: { nameservers: ['8.8.8.8'] } };
  const f = run({ n1: {} }, [DNS, pod('noj-web-7d9f8c6b5-abcde', extra), pod('noj-web-7d9f8c6b5-fghij', extra)]);
  assert.equal(f.length, 1);
  assert.equal(f[0]?.title, 'deployment/noj-web in noj falls back to 8.8.8.8 after the cluster DNS');
  assert.equal(f[0]?.evidence.length, 2);
  assert.equal(
    f[0]?.fix[0],
    `kubectl -n noj patch deployment/noj-web --type=json -p '[{"op":"remove","path":"/spec/template/spec/dnsConfig/nameservers"}]'`,
  );
  // dnsPolicy None listing the cluster DNS first: replace, not remove (None needs nameservers).
  const none = run({ n1: {} }, [
    DNS,
    pod('noj-web-7d9f8c6b5-abcde', { dnsPolicy: 'None', dnsConfig: { nameservers: ['10.254.0.10', '8.8.8.8'] } }),
  ]);
  assert.match(none[0]?.fix[0] ?? '', /"op":"replace",.*"value":\["10\.254\.0\.10"\]/);
  // dnsPolicy Default ignores the cluster DNS: not this check.
  assert.deepEqual(run({ n1: {} }, [DNS, pod('x-1', { dnsPolicy: 'Default', ...extra })]), []);
});
