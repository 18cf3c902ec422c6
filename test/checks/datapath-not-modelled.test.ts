import assert from 'node:assert/strict';
import { test } from 'node:test';
import check from '../../src/checks/datapath-not-modelled.js';
import { runCheck } from '../../src/checks/define.js';
import { ClusterModel } from '../../src/model/cluster.js';
import type { KubeObject } from '../../src/model/kube.js';
import { testBundle } from '../support/bundle.js';
import { configMap } from './kube-fixtures.js';

function ds(name: string, container: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace: 'kube-system' },
    spec: { template: { spec: { containers: [{ name, ...container }] } } },
  };
}

const run = (objects: KubeObject[], processes?: string) =>
  runCheck(
    check,
    new ClusterModel(
      testBundle([{ name: 'n1', ip: '10.0.0.1', ...(processes ? { commands: { processes } } : {}) }], objects),
    ),
  );

const rows: { name: string; objects: KubeObject[]; processes?: string; expect?: RegExp; source?: string }[] = [
  {
    name: 'cilium-config kube-proxy-replacement: true',
    objects: [configMap('cilium-config', 'kube-system', { 'kube-proxy-replacement': 'true', tunnel: 'vxlan' })],
    expect: /Cilium kube-proxy replacement \(true\)/,
    source: 'ConfigMap kube-system/cilium-config: kube-proxy-replacement: true',
  },
  {
    name: 'cilium-config strict (before 1.14)',
    objects: [configMap('cilium-config', 'kube-system', { 'kube-proxy-replacement': 'strict' })],
    expect: /Cilium kube-proxy replacement \(strict\)/,
  },
  {
    name: 'Calico eBPF on calico-node',
    objects: [ds('calico-node', { image: 'calico/node:v3.27.0', env: [{ name: 'FELIX_BPFENABLED', value: 'true' }] })],
    expect: /Calico eBPF dataplane/,
    source: 'DaemonSet kube-system/calico-node: FELIX_BPFENABLED=true',
  },
  {
    name: 'kube-router with its service proxy',
    objects: [
      ds('kube-router', {
        image: 'cloudnativelabs/kube-router',
        args: ['--run-router=true', '--run-service-proxy=true'],
      }),
    ],
    expect: /kube-router's service proxy/,
  },
  {
    name: 'the cilium-agent flag on a node',
    objects: [],
    processes: '  PID COMMAND\n  99 cilium-agent --config-dir=/tmp/cilium/config-map --kube-proxy-replacement=true\n',
    expect: /Cilium kube-proxy replacement/,
  },
  // Near misses: the same software without the unmodelled datapath.
  {
    name: 'cilium without replacement',
    objects: [configMap('cilium-config', 'kube-system', { 'kube-proxy-replacement': 'false' })],
  },
  { name: 'cilium-config without the key', objects: [configMap('cilium-config', 'kube-system', { tunnel: 'vxlan' })] },
  {
    name: 'calico-node with BPF off',
    objects: [ds('calico-node', { image: 'calico/node:v3.27.0', env: [{ name: 'FELIX_BPFENABLED', value: 'false' }] })],
  },
  {
    name: 'kube-router as router only',
    objects: [ds('kube-router', { image: 'cloudnativelabs/kube-router', args: ['--run-router=true'] })],
  },
];

for (const r of rows)
  test(r.name, () => {
    const f = run(r.objects, r.processes);
    if (!r.expect) return assert.deepEqual(f, []);
    assert.equal(f.length, 1, 'reported once');
    assert.equal(f[0]?.severity, 'info');
    assert.match(f[0]?.title ?? '', r.expect);
    if (r.source) assert.equal(f[0]?.evidence[0]?.text, r.source);
  });
