import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCheck } from '../../src/checks/define.js';
import check from '../../src/checks/kube-proxy-known-bug.js';
import { ClusterModel } from '../../src/model/cluster.js';
import type { KubeObject } from '../../src/model/kube.js';
import { bugsAffecting } from '../../src/model/kube-proxy-bugs.js';
import { type TestNode, testBundle } from '../support/bundle.js';
import { kubeProxyConfig, kubeProxyDs, kubeProxyPod } from './kube-fixtures.js';

const run = (objects: KubeObject[], nodes: TestNode[] = [{ name: 'n1', ip: '10.130.29.80' }]) =>
  runCheck(check, new ClusterModel(testBundle(nodes, objects)));

const IPVS_EMPTY_TYPHA = [
  'IP Virtual Server version 1.2.1 (size=4096)',
  'Prot LocalAddress:Port Scheduler Flags',
  '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
  'TCP  10.96.0.1:443 rr',
  '  -> 10.130.29.80:6443            Masq    1      6          0',
  'TCP  10.108.62.55:5473 rr',
].join('\n');

test('seed 003: 1.13.0 in IPVS mode is kubernetes#71071, with the fixed tag, the mode and the symptom', () => {
  const image = 'k8s.gcr.io/kube-proxy:v1.13.0';
  const f = run(
    [kubeProxyDs(image), kubeProxyConfig('ipvs'), kubeProxyPod('kube-proxy-cdsgl', 'n1', image)],
    [{ name: 'n1', ip: '10.130.29.80', commands: { 'ipvsadm-list': IPVS_EMPTY_TYPHA } }],
  );
  assert.equal(f.length, 1);
  const [x] = f;
  assert.equal(x?.severity, 'error');
  assert.match(x?.title ?? '', /kube-proxy v1\.13\.0 has kubernetes#71071/);
  assert.match(x?.detail ?? '', /runs in ipvs mode/);
  assert.match(x?.detail ?? '', /Fixed in 1\.11\.7, 1\.12\.5, 1\.13\.2/);
  const texts = x?.evidence.map((e) => e.text) ?? [];
  assert.ok(texts.includes('DaemonSet kube-system/kube-proxy image k8s.gcr.io/kube-proxy:v1.13.0'));
  assert.ok(texts.includes('Pod kube-system/kube-proxy-cdsgl image k8s.gcr.io/kube-proxy:v1.13.0'));
  assert.ok(texts.some((t) => /ConfigMap kube-system\/kube-proxy config\.conf line \d+: mode: ipvs/.test(t)));
  const symptom = x?.evidence.find((e) => e.kind === 'ipvs');
  assert.deepEqual([symptom?.node, symptom?.text], ['n1', 'TCP 10.108.62.55:5473 rr']);
  assert.equal(
    x?.fix[0],
    'kubectl -n kube-system set image daemonset/kube-proxy kube-proxy=k8s.gcr.io/kube-proxy:v1.13.2',
  );
  assert.ok(x?.fix.some((c) => c.includes('mode: iptables')));
});

const rows: { name: string; image: string; mode?: string; expect: 'error' | 'warning' | 'none'; fixTag?: string }[] = [
  { name: 'first fixed 1.13 release', image: 'k8s.gcr.io/kube-proxy:v1.13.2', mode: 'ipvs', expect: 'none' },
  {
    name: 'last affected 1.13 release',
    image: 'k8s.gcr.io/kube-proxy:v1.13.1',
    mode: 'ipvs',
    expect: 'error',
    fixTag: 'v1.13.2',
  },
  {
    name: 'last affected 1.12 release',
    image: 'k8s.gcr.io/kube-proxy:v1.12.4',
    mode: 'ipvs',
    expect: 'error',
    fixTag: 'v1.12.5',
  },
  { name: 'before graceful termination came in', image: 'k8s.gcr.io/kube-proxy:v1.12.1', mode: 'ipvs', expect: 'none' },
  {
    name: '1.11.6 with an arch suffix image',
    image: 'k8s.gcr.io/kube-proxy-amd64:v1.11.6',
    mode: 'ipvs',
    expect: 'error',
    fixTag: 'v1.11.7',
  },
  {
    name: 'affected version in iptables mode',
    image: 'k8s.gcr.io/kube-proxy:v1.13.0',
    mode: 'iptables',
    expect: 'none',
  },
  {
    name: 'affected version, mode "" (iptables default)',
    image: 'k8s.gcr.io/kube-proxy:v1.13.0',
    mode: '""',
    expect: 'none',
  },
  {
    name: 'affected version, mode unknown',
    image: 'k8s.gcr.io/kube-proxy:v1.12.2',
    expect: 'warning',
    fixTag: 'v1.12.5',
  },
  { name: 'another minor line', image: 'registry.k8s.io/kube-proxy:v1.29.0', mode: 'ipvs', expect: 'none' },
  { name: 'a tag that is no version', image: 'k8s.gcr.io/kube-proxy:latest', mode: 'ipvs', expect: 'none' },
];

for (const r of rows)
  test(`versions: ${r.name}`, () => {
    const objects = [kubeProxyDs(r.image), ...(r.mode ? [kubeProxyConfig(r.mode)] : [])];
    const f = run(objects);
    if (r.expect === 'none') return assert.deepEqual(f, []);
    assert.equal(f.length, 1);
    assert.equal(f[0]?.severity, r.expect);
    assert.ok(f[0]?.fix[0]?.endsWith(`:${r.fixTag}`), f[0]?.fix[0]);
  });

test('a private registry with a port and a digest keeps the registry in the upgrade command', () => {
  const f = run([kubeProxyDs('registry.local:5000/k8s/kube-proxy:v1.13.0@sha256:0123abcd'), kubeProxyConfig('ipvs')]);
  assert.equal(
    f[0]?.fix[0],
    'kubectl -n kube-system set image daemonset/kube-proxy kube-proxy=registry.local:5000/k8s/kube-proxy:v1.13.2',
  );
});

test('a hand-installed kube-proxy: version from the Node, mode from the process flag, systemd fix on that node', () => {
  const nodeObj: KubeObject = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'w1' },
    status: { nodeInfo: { kubeProxyVersion: 'v1.11.5' }, addresses: [{ type: 'InternalIP', address: '10.0.0.2' }] },
  };
  const bundle = testBundle([
    {
      name: 'w1',
      ip: '10.0.0.2',
      commands: {
        processes: '  PID COMMAND\n  812 /usr/bin/kube-proxy --proxy-mode=ipvs --kubeconfig=/etc/k/kp.conf\n',
      },
    },
  ]);
  bundle.objects = bundle.objects.map((o) => (o.kind === 'Node' ? { ...o, status: nodeObj.status } : o));
  const f = runCheck(check, new ClusterModel(bundle));
  assert.equal(f.length, 1);
  assert.equal(f[0]?.severity, 'error');
  assert.equal(f[0]?.evidence[0]?.node, 'w1');
  assert.match(f[0]?.evidence.find((e) => e.kind === 'config')?.text ?? '', /process 812: .*--proxy-mode=ipvs/);
  assert.match(
    f[0]?.fix[0] ?? '',
    /^systemctl restart kube-proxy +# on w1, after installing the kube-proxy v1\.11\.7 binary/,
  );
});

test('the bug table: ranges are [from, fixed)', () => {
  assert.equal(bugsAffecting({ major: 1, minor: 13, patch: 0 }, 'ipvs').length, 1);
  assert.equal(bugsAffecting({ major: 1, minor: 13, patch: 0 }, 'iptables').length, 0);
  assert.equal(bugsAffecting({ major: 1, minor: 13, patch: 0 }, undefined).length, 1);
  assert.equal(bugsAffecting({ major: 1, minor: 11, patch: 4 }, 'ipvs').length, 0);
  assert.equal(bugsAffecting({ major: 1, minor: 14, patch: 0 }, 'ipvs').length, 0);
});
