import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import check from '../../src/checks/cluster-dns-unreachable.js';
import { runCheck } from '../../src/checks/define.js';
import { ClusterModel } from '../../src/model/cluster.js';
import type { KubeObject } from '../../src/model/kube.js';
import { loadBundle } from '../../src/snapshot/bundle.js';
import { testBundle } from '../support/bundle.js';
import { repoRoot } from '../support/paths.js';
import { configMap, endpoints, pod, service, withFiles } from './kube-fixtures.js';

const seed000 = () => loadBundle(join(repoRoot, 'examples', 'seed-000'));

test('seed 000 (lab bundle): queries to the DNS pods die at node2, which rejects the overlay', () => {
  const f = runCheck(check, new ClusterModel(seed000()));
  assert.equal(f.length, 1);
  const [x] = f;
  assert.equal(x?.node, 'node2');
  // The packets die encapsulated: the effect of the blocked overlay (overlay-port-blocked is the cause), a warning.
  assert.equal(x?.severity, 'warning');
  assert.match(x?.detail ?? '', /see overlay-port-blocked/);
  assert.match(
    x?.title ?? '',
    /^DNS queries from .* to kube-system\/kube-dns 10\.96\.0\.10:53 are rejected on node2 \(filter\/INPUT #\d+\)/,
  );
  const rule = x?.evidence[0];
  assert.deepEqual(
    [rule?.kind, rule?.node, rule?.chain, rule?.text],
    ['rule', 'node2', 'INPUT', '-A INPUT -j REJECT --reject-with icmp-port-unreachable'],
  );
  // node1's pod reaches the DNS pod on node1 but not the one on node2: the detail names both ends.
  assert.match(x?.detail ?? '', /on node1 → 10\.244\.2\.\d+ \(coredns-[a-z0-9-]+ on node2\)/);
});

test('the healthy twin of seed 000 (udp/8472 accepted on node2): every query is answered', () => {
  const bundle = seed000();
  const n2 = bundle.nodes.get('node2');
  const rec = n2?.commands['iptables-nft-save'];
  assert.ok(rec);
  const before = rec.stdout;
  rec.stdout = rec.stdout.replace(
    '-A INPUT -p tcp -m conntrack --ctstate NEW -m tcp --dport 8472 -j ACCEPT',
    '-A INPUT -p udp -m conntrack --ctstate NEW -m udp --dport 8472 -j ACCEPT',
  );
  assert.notEqual(rec.stdout, before, 'the fault line was found and reverted');
  assert.deepEqual(runCheck(check, new ClusterModel(bundle)), []);
});

test('a FORWARD rule on node1 that drops udp/53: an error on node1, with the rule, not blamed on the overlay', () => {
  const bundle = seed000();
  const n2 = bundle.nodes.get('node2')?.commands['iptables-nft-save'];
  const n1 = bundle.nodes.get('node1')?.commands['iptables-nft-save'];
  assert.ok(n1 && n2);
  n2.stdout = n2.stdout.replace(
    '-A INPUT -p tcp -m conntrack --ctstate NEW -m tcp --dport 8472 -j ACCEPT',
    '-A INPUT -p udp -m conntrack --ctstate NEW -m udp --dport 8472 -j ACCEPT',
  );
  const at = n1.stdout.indexOf('\n-A FORWARD ');
  assert.ok(at > 0);
  n1.stdout = `${n1.stdout.slice(0, at)}\n-A FORWARD -p udp -m udp --dport 53 -j DROP${n1.stdout.slice(at)}`;
  const f = runCheck(check, new ClusterModel(bundle));
  assert.ok(f.length >= 1);
  const x = f.find((y) => y.node === 'node1');
  assert.equal(x?.severity, 'error');
  assert.match(x?.title ?? '', /die on node1 \(filter\/FORWARD #1\)/);
  assert.equal(x?.evidence[0]?.text, '-A FORWARD -p udp -m udp --dport 53 -j DROP');
  assert.doesNotMatch(x?.detail ?? '', /overlay-port-blocked/);
});

const DNS_SVC = service('kube-system', 'kube-dns', '10.96.0.10', [{ name: 'dns', port: 53, protocol: 'UDP' }], {
  'k8s-app': 'kube-dns',
});
const KUBELET = (ip: string) => ({
  '/var/lib/kubelet/config.yaml': `kind: KubeletConfiguration\nclusterDNS:\n- ${ip}\nclusterDomain: cluster.local\n`,
});

test('no ready endpoint: critical, with the pods and why they are not ready', () => {
  const bundle = testBundle(
    [{ name: 'n1', ip: '10.0.0.1' }],
    [
      DNS_SVC,
      endpoints('kube-system', 'kube-dns', [], [{ name: 'dns', port: 53, protocol: 'UDP' }], ['10.244.0.5']),
      pod('kube-system', 'coredns-6d4b75cb6d-x2x7q', 'n1', '10.244.0.5', { 'k8s-app': 'kube-dns' }, false),
    ],
  );
  const f = runCheck(check, new ClusterModel(bundle));
  assert.equal(f.length, 1);
  assert.equal(f[0]?.severity, 'critical');
  assert.equal(
    f[0]?.title,
    'The cluster DNS kube-system/kube-dns (10.96.0.10) has no ready endpoint: no lookup in any pod can succeed',
  );
  assert.equal(f[0]?.evidence[0]?.text, 'Endpoints kube-system/kube-dns: 10.244.0.5:53 (not ready)');
  assert.match(f[0]?.evidence[1]?.text ?? '', /^Pod kube-system\/coredns-6d4b75cb6d-x2x7q: .*Ready=False/);
  assert.equal(f[0]?.fix[0], 'kubectl -n kube-system get pods -l k8s-app=kube-dns -o wide');
});

test('kubelet hands pods another address than the DNS Service', () => {
  const objects: KubeObject[] = [
    DNS_SVC,
    endpoints('kube-system', 'kube-dns', ['10.244.0.5'], [{ name: 'dns', port: 53, protocol: 'UDP' }]),
  ];
  const bundle = testBundle(
    [
      { name: 'a', ip: '10.0.0.1' },
      { name: 'b', ip: '10.0.0.2' },
    ],
    objects,
  );
  withFiles(bundle, 'a', KUBELET('10.96.0.10'));
  withFiles(bundle, 'b', KUBELET('10.254.0.10'));
  const f = runCheck(check, new ClusterModel(bundle));
  assert.equal(f.length, 1);
  assert.equal(f[0]?.node, 'b');
  assert.equal(
    f[0]?.title,
    'kubelet on b gives pods the DNS 10.254.0.10, but the cluster DNS kube-system/kube-dns is 10.96.0.10',
  );
  assert.equal(f[0]?.evidence[0]?.text, '/var/lib/kubelet/config.yaml line 2: clusterDNS: 10.254.0.10');
});

test('kubelet points at an address no Service holds', () => {
  const bundle = testBundle([{ name: 'a', ip: '10.0.0.1' }], [service('default', 'web', '10.96.0.20', [{ port: 80 }])]);
  withFiles(bundle, 'a', KUBELET('10.96.0.10'));
  const f = runCheck(check, new ClusterModel(bundle));
  assert.equal(f[0]?.title, 'kubelet points pods at 10.96.0.10, which no Service holds');
});

test('near misses: a ready DNS without node dumps is not traced; Cilium kube-proxy replacement is not traced', () => {
  const objects: KubeObject[] = [
    DNS_SVC,
    endpoints('kube-system', 'kube-dns', ['10.244.0.5'], [{ name: 'dns', port: 53, protocol: 'UDP' }]),
  ];
  assert.deepEqual(runCheck(check, new ClusterModel(testBundle([{ name: 'a', ip: '10.0.0.1' }], objects))), []);
  const bundle = seed000();
  bundle.objects.push(configMap('cilium-config', 'kube-system', { 'kube-proxy-replacement': 'true' }));
  assert.deepEqual(runCheck(check, new ClusterModel(bundle)), []);
});
