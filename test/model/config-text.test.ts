/** The few YAML shapes netdoctor reads from component configs, and command-line flags as Go's flag package does. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { flagValue, topLevelList, topLevelScalar } from '../../src/model/config-text.js';

test('top-level scalars: quotes, comments, nested keys of the same name are not top-level', () => {
  const text = 'ipvs:\n  mode: nested\nmode: "ipvs" # set by kubeadm\nclusterDomain: cluster1.local\n';
  assert.deepEqual(topLevelScalar(text, 'mode'), { value: 'ipvs', line: 3 });
  assert.deepEqual(topLevelScalar(text, 'clusterDomain'), { value: 'cluster1.local', line: 4 });
  assert.equal(topLevelScalar(text, 'absent'), undefined);
  assert.deepEqual(topLevelScalar('mode: ""\n', 'mode'), { value: '', line: 1 });
  assert.deepEqual(topLevelScalar('{"mode": "iptables"}', 'mode'), { value: 'iptables', line: 1 });
});

test('top-level lists: block, flow and single-value forms', () => {
  assert.deepEqual(topLevelList('clusterDNS:\n- 10.96.0.10\n- "10.96.0.11"\nkind: X\n', 'clusterDNS'), {
    values: ['10.96.0.10', '10.96.0.11'],
    line: 1,
  });
  assert.deepEqual(topLevelList('clusterDNS: [10.96.0.10, 10.96.0.11]\n', 'clusterDNS')?.values, [
    '10.96.0.10',
    '10.96.0.11',
  ]);
  assert.deepEqual(topLevelList('a: 1\nclusterDNS:\n  - 169.254.20.10\n', 'clusterDNS'), {
    values: ['169.254.20.10'],
    line: 2,
  });
  assert.equal(topLevelList('kind: X\n', 'clusterDNS'), undefined);
});

test('flags: --f=v, --f v, -f=v, the last one wins, a following flag is no value', () => {
  assert.equal(flagValue(['kube-proxy', '--proxy-mode=iptables', '--proxy-mode', 'ipvs'], 'proxy-mode'), 'ipvs');
  assert.equal(flagValue(['kubelet', '-cluster-domain=cluster1.local'], 'cluster-domain'), 'cluster1.local');
  assert.equal(flagValue(['x', '--proxy-mode', '--v=2'], 'proxy-mode'), undefined);
  assert.equal(flagValue(['x', '--proxy-mode-extra=1'], 'proxy-mode'), undefined);
});
