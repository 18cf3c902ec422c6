/**
 * The lab's plan, rules, scenarios and cluster.json as pure functions: no namespaces needed. The lab test proves
 * them against the kernel; these prove the details that must hold for every seed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterList } from '../../src/lab/cluster-json.js';
import { REJECT_TYPES } from '../../src/lab/firewall.js';
import { buildPlan, CLUSTER_CIDR, type LabPlan, subnetEnv } from '../../src/lab/plan.js';
import { nodeRuleset } from '../../src/lab/rules.js';
import { layoutForSeed, planFault, type Seed000Fault } from '../../src/lab/scenarios.js';

const plan = buildPlan({ nodes: 3, seed: 42, prefix: 'ndlabtest1' });

// biome-ignore lint/suspicious/noExplicitAny: walking untyped Kubernetes JSON
type Item = Record<string, any>;
const items = (list: Item, kind: string): Item[] => (list.items as Item[]).filter((i) => i.kind === kind);

test('plan: addresses, names and namespaces', () => {
  assert.equal(plan.nodes.length, 3);
  const ips = new Set([...plan.nodes.map((n) => n.ip), ...plan.pods.map((p) => p.ip)]);
  assert.equal(ips.size, plan.nodes.length + plan.pods.length, 'every address is unique');
  for (const n of plan.nodes) {
    assert.match(n.ip, /^192\.168\.56\.\d+$/);
    assert.equal(n.podCIDR, `10.244.${n.index}.0/24`);
    assert.equal(n.gateway, `10.244.${n.index}.1`);
    assert.equal(n.flannelIP, `10.244.${n.index}.0`);
    assert.match(n.vtepMAC, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.equal(Number.parseInt(n.vtepMAC.slice(0, 2), 16) & 3, 2, 'locally administered unicast');
    assert.ok(n.underlayPort.length <= 15, 'interface names fit IFNAMSIZ');
    const pods = plan.pods.filter((p) => p.node === n.name);
    assert.ok(pods.filter((p) => p.role === 'echo').length >= 2, 'two echo pods per node');
    for (const p of pods) assert.equal(p.ip.split('.').slice(0, 3).join('.'), `10.244.${n.index}`);
  }
  for (const ns of [plan.underlay.netns, ...plan.nodes.map((n) => n.netns), ...plan.pods.map((p) => p.netns)])
    assert.ok(ns.startsWith('ndlabtest1-'), ns);
  for (const p of plan.pods) assert.ok(p.hostVeth.length <= 15);
  assert.equal(plan.pods.filter((p) => p.role === 'dns').length, 2);
  const echo = plan.services.find((s) => s.name === 'echo');
  assert.deepEqual(
    echo?.endpoints.map((e) => e.pod).sort(),
    plan.pods
      .filter((p) => p.role === 'echo')
      .map((p) => p.name)
      .sort(),
  );
  assert.equal(
    subnetEnv(plan, plan.nodes[1] as LabPlan['nodes'][number]).split('\n')[1],
    'FLANNEL_SUBNET=10.244.2.1/24',
  );
  assert.throws(() => buildPlan({ nodes: 1, seed: 1, prefix: 'ndlabx' }), RangeError);
});

test('scenarios: the seed varies the broken node, the firewall style, the rule position and the reject type', () => {
  const broken = new Set<string>();
  const styles = new Set<string>();
  const rejects = new Set<string>();
  const positions = new Set<number>();
  for (let seed = 0; seed < 60; seed++) {
    const f = planFault(plan, 'seed-000', seed);
    assert.ok(f);
    broken.add(f.expected.brokenNode);
    styles.add(f.layout.style);
    rejects.add(f.layout.rejectWith);
    positions.add(f.layout.vxlanPosition);
    assert.deepEqual(f.layout, layoutForSeed(seed), 'the fault keeps the lab layout of its seed');
  }
  assert.equal(broken.size, 3);
  assert.deepEqual([...styles].sort(), ['firewalld', 'flat']);
  assert.deepEqual([...rejects].sort(), [...REJECT_TYPES].sort());
  assert.ok(positions.size >= 5);
  assert.equal(planFault(plan, 'healthy', 1), undefined);
});

test('seed-000: the broken node differs from its healthy self by one word, and line counts match everywhere', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const f = planFault(plan, 'seed-000', seed);
    assert.ok(f);
    const ex = f.expected as Seed000Fault;
    const node = plan.nodes.find((n) => n.name === ex.brokenNode) as LabPlan['nodes'][number];
    const bad = nodeRuleset(plan, node, f.layout, 'tcp').text.split('\n');
    const good = nodeRuleset(plan, node, f.layout, 'udp').text.split('\n');
    assert.equal(bad.length, good.length);
    const diff = bad.flatMap((line, i) => (line === good[i] ? [] : [[good[i], line]]));
    assert.equal(diff.length, 1, 'exactly one rule differs');
    const [was, now] = diff[0] as [string, string];
    assert.equal(now, ex.nearMiss.text);
    assert.equal(was.replaceAll('udp', 'tcp'), now);
    for (const other of plan.nodes) {
      assert.equal(nodeRuleset(plan, other, f.layout, 'udp').text.split('\n').length, bad.length);
    }

    // The recorded positions are the ones iptables-save lists.
    const chainRules = (chain: string) => bad.filter((l) => l.startsWith(`-A ${chain} `));
    assert.equal(chainRules(ex.reject.chain)[ex.reject.index - 1], ex.reject.text);
    assert.equal(ex.reject.chain, 'INPUT');
    assert.match(ex.reject.text, new RegExp(`REJECT --reject-with ${f.layout.rejectWith}$`));
    assert.equal(chainRules(ex.nearMiss.chain)[ex.nearMiss.index - 1], ex.nearMiss.text);
    assert.match(ex.nearMiss.text, /-p tcp .*--dport 8472/);
    assert.match(ex.healthyRule.text, /-p udp .*--dport 8472/);
    assert.notEqual(ex.healthyRule.node, ex.brokenNode);
    assert.equal(ex.nearMiss.chain, f.layout.style === 'flat' ? 'INPUT' : 'IN_public_allow');
    // kube-proxy's jumps sit above the firewall, as on a real node.
    assert.match(chainRules('INPUT')[0] as string, /KUBE-PROXY-FIREWALL/);
  }
});

test('rules: kube-proxy renders the lab services with the node IP and cluster CIDR', () => {
  const node = plan.nodes[2] as LabPlan['nodes'][number];
  const text = nodeRuleset(plan, node, layoutForSeed(1), 'udp').text;
  const echo = plan.services.find((s) => s.name === 'echo');
  assert.ok(echo);
  assert.match(text, new RegExp(`-d ${echo.clusterIP.replaceAll('.', '\\.')}/32 -p tcp .*--dport 80 -j KUBE-SVC-`));
  assert.match(text, /-A KUBE-NODEPORTS -p tcp .*--dport 30080 -j KUBE-EXT-/);
  assert.match(text, new RegExp(`! -s ${CLUSTER_CIDR.replace('.', '\\.')} -d 10\\.96\\.0\\.10/32 -p udp`));
  // Six echo endpoints: the first is picked with probability 1/6.
  assert.match(text, /--mode random --probability 0\.166666666\d+ -j KUBE-SEP-/);
  for (const p of plan.pods.filter((x) => x.role === 'echo')) {
    assert.ok(text.includes(`-j DNAT --to-destination ${p.ip}:8080`), p.ip);
  }
  assert.match(text, /-A FLANNEL-POSTRTG -s 10\.244\.3\.0\/24 -d 10\.244\.0\.0\/16/);
});

test('cluster.json: a List as kubectl prints it, with flannel and kube-proxy as they are configured', () => {
  const list = clusterList(plan, '2024-05-01T10:00:00Z') as Item;
  assert.equal(list.kind, 'List');
  assert.equal(list.apiVersion, 'v1');
  const nodes = items(list, 'Node');
  assert.equal(nodes.length, 3);
  for (const n of nodes) {
    const p = plan.nodes.find((x) => x.name === n.metadata.name);
    assert.ok(p);
    assert.equal(n.spec.podCIDR, p.podCIDR);
    assert.deepEqual(n.status.addresses[0], { address: p.ip, type: 'InternalIP' });
    const a = n.metadata.annotations;
    assert.equal(a['flannel.alpha.coreos.com/public-ip'], p.ip);
    assert.equal(a['flannel.alpha.coreos.com/backend-type'], 'vxlan');
    assert.equal(a['flannel.alpha.coreos.com/kube-subnet-manager'], 'true');
    assert.deepEqual(JSON.parse(a['flannel.alpha.coreos.com/backend-data']), { VNI: 1, VtepMAC: p.vtepMAC });
  }
  const pods = items(list, 'Pod');
  for (const n of plan.nodes) {
    for (const prefix of ['kube-proxy-', 'kube-flannel-ds-']) {
      const pod = pods.find((p) => p.spec.nodeName === n.name && p.metadata.name.startsWith(prefix));
      assert.ok(pod, `${prefix} on ${n.name}`);
      assert.equal(pod.spec.hostNetwork, true);
      assert.equal(pod.status.podIP, n.ip);
    }
  }
  for (const p of plan.pods) {
    const pod = pods.find((x) => x.metadata.name === p.name);
    assert.ok(pod);
    assert.equal(pod.status.podIP, p.ip);
    assert.equal(pod.spec.nodeName, p.node);
    assert.equal(pod.status.hostIP, plan.nodes.find((n) => n.name === p.node)?.ip);
  }
  assert.equal(pods.filter((p) => p.metadata.labels['k8s-app'] === 'kube-dns').length, 2);

  const services = items(list, 'Service');
  assert.deepEqual(services.map((s) => s.metadata.name).sort(), ['echo', 'kube-dns', 'kubernetes']);
  assert.equal(services.find((s) => s.metadata.name === 'kube-dns')?.spec.clusterIP, '10.96.0.10');
  const slices = items(list, 'EndpointSlice');
  assert.ok(slices.every((s) => s.apiVersion === 'discovery.k8s.io/v1' && s.addressType === 'IPv4'));
  const echoSlice = slices.find((s) => s.metadata.labels['kubernetes.io/service-name'] === 'echo');
  assert.equal(echoSlice?.endpoints.length, 6);
  assert.ok(echoSlice?.endpoints.every((e: Item) => e.conditions.ready === true && e.targetRef.kind === 'Pod'));
  assert.equal(items(list, 'Endpoints').length, 3);
  assert.deepEqual(
    items(list, 'DaemonSet')
      .map((d) => d.metadata.name)
      .sort(),
    ['kube-flannel-ds', 'kube-proxy'],
  );

  const cms = items(list, 'ConfigMap');
  const flannel = cms.find((c) => c.metadata.name === 'kube-flannel-cfg');
  assert.equal(flannel?.metadata.namespace, 'kube-flannel');
  const netConf = JSON.parse(flannel?.data['net-conf.json']);
  assert.equal(netConf.Network, CLUSTER_CIDR);
  assert.deepEqual(netConf.Backend, { Type: 'vxlan', Port: 8472 });
  const proxy = cms.find((c) => c.metadata.name === 'kube-proxy');
  assert.match(proxy?.data['config.conf'], /^mode: iptables$/m);
  assert.match(proxy?.data['config.conf'], /^clusterCIDR: 10\.244\.0\.0\/16$/m);
  assert.ok(cms.every((c) => ['kube-proxy', 'coredns', 'kube-flannel-cfg'].includes(c.metadata.name)));
  assert.deepEqual(clusterList(plan, '2024-05-01T10:00:00Z'), list, 'deterministic');
});
