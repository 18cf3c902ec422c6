import assert from 'node:assert/strict';
import { test } from 'node:test';
import check from '../../src/checks/cluster-domain-mismatch.js';
import { runCheck } from '../../src/checks/define.js';
import { ClusterModel } from '../../src/model/cluster.js';
import type { KubeObject } from '../../src/model/kube.js';
import { testBundle } from '../support/bundle.js';
import { configMap, withFiles } from './kube-fixtures.js';

const kubeletCfg = (domain: string) =>
  `apiVersion: kubelet.config.k8s.io/v1beta1\nclusterDNS:\n- 10.186.0.2\nclusterDomain: ${domain}\nkind: KubeletConfiguration\n`;
const corefile = (zone: string) =>
  configMap('coredns', 'kube-system', {
    Corefile: `.:53 {\n    errors\n    kubernetes ${zone} in-addr.arpa ip6.arpa {\n       pods insecure\n    }\n    forward . /etc/resolv.conf\n}\n`,
  });

function run(
  domains: Record<string, string>,
  objects: KubeObject[],
  extraFiles: Record<string, Record<string, string>> = {},
) {
  const bundle = testBundle(
    Object.keys(domains).map((name, i) => ({ name, ip: `10.0.0.${i + 1}` })),
    objects,
  );
  for (const [node, d] of Object.entries(domains))
    withFiles(bundle, node, { '/var/lib/kubelet/config.yaml': kubeletCfg(d), ...(extraFiles[node] ?? {}) });
  return runCheck(check, new ClusterModel(bundle));
}

test('seed 002: cluster1.local everywhere, a manifest asks for cluster.local', () => {
  const app: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: 'monitoring' },
    spec: {
      template: {
        spec: {
          containers: [
            { name: 'a', env: [{ name: 'API', value: 'https://kubernetes.default.svc.cluster.local:443' }] },
          ],
        },
      },
    },
  };
  const f = run({ a: 'cluster1.local', b: 'cluster1.local' }, [corefile('cluster1.local'), app]);
  assert.equal(f.length, 1);
  assert.equal(f[0]?.severity, 'error');
  assert.equal(f[0]?.title, '1 object uses names in cluster.local, but the cluster domain is cluster1.local');
  assert.equal(f[0]?.evidence[0]?.text, 'DaemonSet monitoring/agent: kubernetes.default.svc.cluster.local');
  assert.equal(f[0]?.evidence[1]?.text, '/var/lib/kubelet/config.yaml line 4: clusterDomain: cluster1.local');
  assert.match(
    f[0]?.fix[0] ?? '',
    /kubectl -n monitoring get daemonset agent -o yaml \| sed 's\/\\\.svc\\\.cluster\\\.local\/\.svc\.cluster1\.local\/g'/,
  );
});

test('seed 002 without any object using cluster.local: said once, as info (the operator typed it)', () => {
  const f = run({ a: 'cluster1.local' }, [corefile('cluster1.local')]);
  assert.equal(f.length, 1);
  assert.equal(f[0]?.severity, 'info');
  assert.match(f[0]?.title ?? '', /The cluster domain is cluster1\.local, not cluster\.local/);
  assert.equal(
    f[0]?.fix[0],
    "nslookup kubernetes.default.svc.cluster1.local  # from a pod: the name in this cluster's domain",
  );
});

test('CoreDNS serves another zone than kubelet gives pods', () => {
  const f = run({ a: 'cluster1.local' }, [corefile('cluster.local')]);
  assert.equal(f.length, 1);
  assert.equal(
    f[0]?.title,
    'CoreDNS answers for cluster.local, but kubelet gives pods the cluster domain cluster1.local',
  );
  assert.match(f[0]?.evidence[0]?.text ?? '', /Corefile line 3: kubernetes cluster\.local in-addr\.arpa ip6\.arpa/);
});

test('kubelets that disagree, and the kubelet flag wins over the file', () => {
  const bundle = testBundle(
    [
      { name: 'a', ip: '10.0.0.1' },
      { name: 'b', ip: '10.0.0.2' },
      {
        name: 'c',
        ip: '10.0.0.3',
        commands: {
          processes:
            '  PID COMMAND\n 900 /usr/bin/kubelet --config=/var/lib/kubelet/config.yaml --cluster-domain=cluster2.local\n',
        },
      },
    ],
    [corefile('cluster.local')],
  );
  for (const n of ['a', 'b', 'c'])
    withFiles(bundle, n, { '/var/lib/kubelet/config.yaml': kubeletCfg('cluster.local') });
  const f = runCheck(check, new ClusterModel(bundle));
  assert.equal(f.length, 1);
  assert.equal(f[0]?.node, 'c');
  assert.equal(f[0]?.title, 'kubelet on c uses cluster domain cluster2.local, the other nodes cluster.local');
  assert.equal(f[0]?.evidence[0]?.text, 'kubelet process 900: --cluster-domain=cluster2.local');
});

test('pods whose search list shows an old domain', () => {
  const f = run({ a: 'cluster1.local' }, [corefile('cluster1.local')], {
    a: {
      '/var/lib/docker/containers/x/resolv.conf':
        'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.186.0.2\n',
    },
  });
  const w = f.find((x) => x.severity === 'warning');
  assert.equal(w?.title, "1 pods on a search cluster.local, kubelet's cluster domain is cluster1.local");
});

test('near misses: cluster.local everywhere, names of outside hosts that contain .svc., short names', () => {
  const app: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default' },
    spec: {
      containers: [
        {
          name: 'a',
          args: ['--db=db.prod.svc.example.com', '--api=kubernetes.default.svc', '--x=web.default.svc.cluster.local'],
        },
      ],
    },
  };
  assert.deepEqual(run({ a: 'cluster.local', b: 'cluster.local' }, [corefile('cluster.local'), app]), []);
  assert.deepEqual(
    run({ a: 'cluster.local' }, [corefile('cluster.local')], {
      a: {
        '/var/lib/docker/containers/x/resolv.conf':
          'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\n',
      },
    }),
    [],
  );
});

test("without kubelet config, the pods' search lists give the domain (pasted resolv.conf against the Corefile)", () => {
  const bundle = testBundle([{ name: 'a', ip: '10.0.0.1' }], [corefile('cluster.local')]);
  withFiles(bundle, 'a', {
    '/var/lib/docker/containers/x/resolv.conf':
      'search default.svc.cluster1.local svc.cluster1.local cluster1.local\nnameserver 10.186.0.2\n',
  });
  const f = runCheck(check, new ClusterModel(bundle));
  assert.equal(f.length, 1);
  assert.equal(
    f[0]?.title,
    'CoreDNS answers for cluster.local, but kubelet gives pods the cluster domain cluster1.local',
  );
  assert.equal(f[0]?.evidence[1]?.text, "search cluster1.local (1 pods' resolv.conf)");
});
