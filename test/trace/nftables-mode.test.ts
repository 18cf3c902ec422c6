/**
 * kube-proxy in nftables mode: a ClusterIP is translated by a `numgen random mod N vmap` that picks one endpoint
 * chain; each element is a branch of the trace. The ruleset is kube-proxy's own shape (src/synth), loaded into a
 * throw-away namespace with `nft -f` and dumped with `nft -j list ruleset`, as the collector records it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderKubeProxyNft } from '../../src/synth/nft-shapes.js';
import { resolveQuery } from '../../src/trace/endpoints.js';
import { TraceEngine } from '../../src/trace/engine.js';
import { needsRoot, nsRun, withNetns } from '../support/netns.js';
import { ACCEPT_ALL, buildCluster, nodeIp, type PodSpec, podIp } from './cluster.js';

const pods: PodSpec[] = [
  { name: 'a', node: 'node1', host: 2, labels: { role: 'client' } },
  { name: 'w1', node: 'node1', host: 3, labels: { tier: 'web' } },
  { name: 'w2', node: 'node2', host: 2, labels: { tier: 'web' } },
  { name: 'w3', node: 'node2', host: 3, labels: { tier: 'web' } },
];

test('kube-proxy nftables mode: one branch per endpoint the numgen vmap can pick', async (t) => {
  if (!needsRoot(t)) return;
  const endpoints = [podIp(1, 3), podIp(2, 2), podIp(2, 3)];
  const rendered = renderKubeProxyNft({
    nodeIP: nodeIp(1),
    clusterCIDR: '10.244.0.0/16',
    serviceCIDR: '10.96.0.0/12',
    nodePodCIDR: '10.244.1.0/24',
    services: [
      {
        namespace: 'default',
        name: 'web',
        portName: '',
        servicePortName: 'default/web',
        clusterIP: '10.96.0.20',
        port: 80,
        protocol: 'tcp',
        targetPort: 8080,
        externalTrafficPolicy: 'Cluster',
        sessionAffinity: 'None',
        endpoints: endpoints.map((ip) => ({ ip, port: 8080, local: ip.startsWith('10.244.1.') })),
      },
    ],
  });
  const json = await withNetns('kpnft', (ns) => {
    const load = nsRun(ns, 'nft', ['-f', '-'], rendered.text);
    assert.equal(load.status, 0, `nft -f: ${load.stderr}`);
    const dump = nsRun(ns, 'nft', ['-j', 'list', 'ruleset']);
    assert.equal(dump.status, 0, dump.stderr);
    return dump.stdout;
  });
  const c = buildCluster(
    'vxlan',
    [
      { name: 'node1', index: 1, commands: { 'nft-ruleset': json, 'iptables-nft-save': ACCEPT_ALL } },
      { name: 'node2', index: 2 },
    ],
    pods,
    [{ name: 'web', clusterIP: '10.96.0.20', port: 80, targetPort: 8080, selector: { tier: 'web' } }],
  );
  const r = new TraceEngine(c).trace(resolveQuery(c, 'pod/default/a', 'svc/default/web:80', 'tcp'));
  assert.equal(r.verdict, 'delivered');
  assert.deepEqual(r.branches.map((b) => b.endpoint?.pod).sort(), ['default/w1', 'default/w2', 'default/w3']);
  for (const b of r.branches)
    assert.ok(
      b.choices.some((x) => /branch \d/.test(x)),
      `numgen choice in ${b.choices}`,
    );
  // The DNAT is the native table's own rule.
  const dnat = r.branches[0]?.hops.find((h) => h.kind === 'prerouting' && h.rewrites?.length);
  assert.ok(dnat?.rules?.some((x) => x.table.includes('kube-proxy')));
});
