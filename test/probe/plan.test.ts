/**
 * Probe planning from a bundle: what each probe expects comes from the objects (the Service's ready endpoints, the
 * NodePort's traffic policy, the pod's resolv.conf, the pod MTU), never from the lab.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { kubeIndex } from '../../src/kube/objects.js';
import { ClusterModel } from '../../src/model/cluster.js';
import type { KubeObject } from '../../src/model/kube.js';
import { explainReport } from '../../src/probe/explain.js';
import { judge, type ProbeReport, type ProbeSource } from '../../src/probe/model.js';
import { planProbes, triesForEndpoints } from '../../src/probe/plan.js';
import { loadBundle } from '../../src/snapshot/bundle.js';
import { repoRoot } from '../support/paths.js';

const example = join(repoRoot, 'examples', 'seed-000');

function setup(mutate?: (objects: KubeObject[]) => void) {
  const bundle = loadBundle(example);
  mutate?.(bundle.objects);
  const cluster = new ClusterModel(bundle);
  const idx = kubeIndex(cluster);
  const pods = idx.pods.filter((p) => !p.hostNetwork);
  const sources: ProbeSource[] = [
    ...pods.map((p): ProbeSource => ({ kind: 'pod', name: `${p.namespace}/${p.name}`, node: p.nodeName as string })),
    ...idx.nodes.map((n): ProbeSource => ({ kind: 'node', name: n.name, node: n.name })),
    { kind: 'outside', name: 'outside' },
  ];
  const echoPods = new Set(pods.filter((p) => p.labels.app === 'echo').map((p) => `${p.namespace}/${p.name}`));
  const resolv = (s: ProbeSource) =>
    s.kind === 'pod'
      ? 'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\nnameserver 192.0.2.53\noptions ndots:5 timeout:1\n'
      : undefined;
  return {
    cluster,
    idx,
    pods,
    echoPods,
    probes: planProbes({ cluster, sources, echo: { pods: echoPods, port: 8080 }, resolvConf: resolv }),
  };
}

test('pod to pod: every echo pod on TCP, UDP and ICMP, expecting its own name; never a pod to itself', () => {
  const { probes, echoPods, pods } = setup();
  assert.ok(echoPods.size >= 2, 'the example has echo pods');
  const podPod = probes.filter((p) => p.kind === 'pod-pod');
  assert.equal(podPod.length, pods.length * echoPods.size * 3 - [...echoPods].length * 3);
  for (const p of podPod) {
    assert.notEqual(p.from.name, p.to.name);
    if (p.proto === 'icmp') assert.deepEqual(p.expect, []);
    else assert.deepEqual(p.expect, [p.to.name.split('/')[1]]);
    assert.equal(p.agent.dst, p.to.ip);
  }
  assert.equal(new Set(probes.map((p) => p.id)).size, probes.length, 'ids are unique');
});

test('pod to Service: every ready endpoint must answer, with enough tries to hear each', () => {
  const { probes, idx } = setup();
  const svcProbes = probes.filter((p) => p.kind === 'pod-service' && p.to.name === 'default/echo');
  assert.ok(svcProbes.length > 0);
  const ready = idx.pods
    .filter((p) => p.labels.app === 'echo' && p.ready)
    .map((p) => p.name)
    .sort();
  for (const p of svcProbes) {
    assert.deepEqual([...p.expect].sort(), ready);
    assert.equal(p.agent.tries, triesForEndpoints(ready.length));
  }
});

test('a Service without ready endpoints is planned as blocked: silence passes, kube-proxy rejects it', () => {
  const { probes } = setup((objects) => {
    for (const o of objects)
      if (o.kind === 'Pod' && o.metadata.labels?.app === 'echo') {
        const conds = (o.status?.conditions ?? []) as { type: string; status: string }[];
        for (const c of conds) if (c.type === 'Ready') c.status = 'False';
      }
    // Endpoints/EndpointSlices as the endpoints controller would write them for unready pods.
    for (const o of objects) {
      if (o.kind === 'EndpointSlice' && o.metadata.labels?.['kubernetes.io/service-name'] === 'echo')
        for (const e of (o as { endpoints?: { conditions?: Record<string, boolean> }[] }).endpoints ?? [])
          e.conditions = { ready: false, serving: false, terminating: false };
      if (o.kind === 'Endpoints' && o.metadata.name === 'echo')
        for (const s of (o as { subsets?: { addresses?: unknown[]; notReadyAddresses?: unknown[] }[] }).subsets ?? []) {
          s.notReadyAddresses = [...(s.notReadyAddresses ?? []), ...(s.addresses ?? [])];
          s.addresses = [];
        }
    }
  });
  const svcProbes = probes.filter((p) => p.kind === 'pod-service' && p.to.name === 'default/echo');
  assert.ok(svcProbes.length > 0);
  for (const p of svcProbes) {
    assert.deepEqual(p.expect, []);
    assert.match(p.blocked ?? '', /no ready endpoint/);
  }
});

test('NodePort with externalTrafficPolicy Local: nodes without a local endpoint must stay silent', () => {
  const { probes, idx } = setup((objects) => {
    for (const o of objects)
      if (o.kind === 'Service' && (o.spec as { type?: string }).type === 'NodePort')
        (o.spec as Record<string, unknown>).externalTrafficPolicy = 'Local';
  });
  const np = probes.filter((p) => p.kind === 'nodeport');
  assert.ok(np.length >= idx.nodes.length, 'every node is probed');
  const echoNodes = new Set(idx.pods.filter((p) => p.labels.app === 'echo' && p.ready).map((p) => p.nodeName));
  let blocked = 0;
  for (const p of np) {
    const local = idx.pods
      .filter((x) => x.labels.app === 'echo' && x.ready && x.nodeName === p.to.name)
      .map((x) => x.name);
    if (echoNodes.has(p.to.name)) assert.deepEqual([...p.expect].sort(), local.sort());
    else {
      blocked++;
      assert.deepEqual(p.expect, []);
      assert.match(p.blocked ?? '', /externalTrafficPolicy: Local/);
    }
  }
  // Without Local every node forwards to every endpoint.
  const ready = idx.pods
    .filter((x) => x.labels.app === 'echo' && x.ready)
    .map((x) => x.name)
    .sort();
  const plain = setup().probes.filter((x) => x.kind === 'nodeport' && x.note?.startsWith('default/echo '));
  assert.equal(plain.length, np.filter((x) => x.note?.startsWith('default/echo ')).length);
  assert.ok(plain.length >= idx.nodes.length);
  for (const p of plain) {
    assert.equal(p.blocked, undefined);
    assert.deepEqual([...p.expect].sort(), ready);
  }
  assert.equal(blocked, np.filter((p) => !echoNodes.has(p.to.name)).length);
});

test('DNS: the pod resolver nameservers in order, the name in its cluster domain, the timeout capped', () => {
  const { probes } = setup();
  const dns = probes.filter((p) => p.kind === 'dns');
  assert.ok(dns.length > 0);
  for (const p of dns) {
    assert.deepEqual(p.agent.nameservers, ['10.96.0.10', '192.0.2.53']);
    assert.equal(p.agent.name, 'kubernetes.default.svc.cluster.local');
    assert.equal(p.agent.timeoutMs, 1000, 'options timeout:1 is kept (below the cap)');
  }
});

test('overlay and MTU: peers tunnel addresses, and a DF ping filling the pod MTU to every other node', () => {
  const { probes, cluster } = setup();
  const overlay = probes.filter((p) => p.kind === 'overlay');
  const flannelAddr = new Map(
    cluster.nodes.map((n) => [n.name, n.addresses.find((a) => a.ifname === 'flannel.1')?.address]),
  );
  assert.equal(overlay.length, cluster.nodes.length * (cluster.nodes.length - 1));
  for (const p of overlay) assert.equal(p.agent.dst, flannelAddr.get(p.to.name));
  const mtu = probes.filter((p) => p.kind === 'mtu');
  assert.ok(mtu.length > 0);
  for (const p of mtu) {
    const cni0 = cluster.node(p.from.node as string)?.links.find((l) => l.name === 'cni0')?.mtu as number;
    assert.equal(p.agent.size, cni0 - 28);
    assert.notEqual(p.to.node, p.from.node);
  }
});

test('tries to hear every endpoint: grows with endpoints, bounded', () => {
  assert.equal(triesForEndpoints(1), 3);
  assert.ok(triesForEndpoints(2) >= 14 && triesForEndpoints(2) <= 20);
  assert.ok(triesForEndpoints(5) > triesForEndpoints(3));
  assert.equal(triesForEndpoints(100), 60);
});

test('live planning: Services of other workloads by TCP connect with every try; NodePorts from the next node', () => {
  const { cluster, idx, pods } = setup();
  // Nothing speaks the echo protocol (a live cluster's own workloads): only opaque Service probes are possible.
  const sources: ProbeSource[] = [
    ...pods
      .slice(0, 1)
      .map((p): ProbeSource => ({ kind: 'pod', name: `${p.namespace}/${p.name}`, node: p.nodeName as string })),
    ...idx.nodes.map((n): ProbeSource => ({ kind: 'node', name: n.name, node: n.name })),
  ];
  const base = { cluster, sources, echo: { pods: new Set<string>(), port: 8080 } };
  const closed = planProbes(base);
  assert.deepEqual(
    closed.filter((p) => p.kind === 'pod-service' || p.kind === 'nodeport'),
    [],
    'without opaqueServices, workloads that cannot be judged are not probed',
  );
  const probes = planProbes({ ...base, opaqueServices: true, nodePortsFrom: 'next-node' });
  const svc = probes.filter((p) => p.kind === 'pod-service');
  assert.ok(svc.length > 0);
  for (const p of svc) {
    assert.equal(p.proto, 'tcp', `${p.id}: UDP cannot be judged without an echo`);
    assert.deepEqual(p.expect, []);
    assert.equal(p.agent.connect, true);
    assert.equal(p.agent.all, true);
    assert.ok(p.agent.tries >= 6 && p.agent.tries <= 24, `${p.id}: ${p.agent.tries} tries`);
  }
  const nodePorts = probes.filter((p) => p.kind === 'nodeport');
  const names = idx.nodes.map((n) => n.name).sort();
  assert.ok(nodePorts.length > 0);
  for (const p of nodePorts) {
    const i = names.indexOf(p.from.name);
    assert.equal(p.to.node, names[(i + 1) % names.length], `${p.id}: the next node`);
  }
  assert.deepEqual([...new Set(nodePorts.map((p) => p.to.node))].sort(), names, "every node's NodePorts");
  // Without outside sources and with the default, no NodePort probe at all (none would be sent from a node).
  assert.deepEqual(
    planProbes({ ...base, opaqueServices: true }).filter((p) => p.kind === 'nodeport'),
    [],
  );
});

test('a NetworkPolicy that closes a Service to the probe: its silence passes, named as the reason', () => {
  const deny: KubeObject = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'default-deny', namespace: 'default' },
    spec: { podSelector: {}, policyTypes: ['Ingress'] },
  };
  for (const withPolicy of [true, false]) {
    const { cluster, idx, pods } = setup((objects) => {
      if (withPolicy) objects.push(deny);
    });
    const from = pods.find((p) => p.namespace !== 'default') ?? pods[0];
    assert.ok(from);
    const sources: ProbeSource[] = [
      { kind: 'pod', name: `${from.namespace}/${from.name}`, node: from.nodeName as string },
    ];
    const [probe] = planProbes({
      cluster,
      sources,
      echo: { pods: new Set<string>(), port: 8080 },
      opaqueServices: true,
      kinds: ['pod-service'],
    }).filter((p) => p.to.name === 'default/echo');
    assert.ok(probe && idx.nodes.length > 0);
    const result = {
      id: probe.agent.id,
      outcome: 'timeout' as const,
      attempts: 6,
      answers: [],
      failures: { timeout: 6 },
    };
    const report: ProbeReport = {
      schemaVersion: 1,
      kind: 'ProbeReport',
      target: 'test',
      startedAt: '',
      durationMs: 0,
      outcomes: [{ probe, result, ...judge(probe, result) }],
      findings: [],
      problems: [],
    };
    explainReport(cluster, report);
    const [o] = report.outcomes;
    if (withPolicy) {
      assert.equal(o?.status, 'pass', JSON.stringify(o?.reason));
      assert.match(o?.probe.blocked ?? '', /NetworkPolicy default\/default-deny .* denies it/);
    } else {
      assert.equal(o?.status, 'fail', 'without the policy, silence is a failure');
      assert.equal(o?.probe.blocked, undefined);
    }
  }
});
