/**
 * The faults of seeds 001, 002, 004 and the MTU overlay as data (no namespaces): the seed varies the broken node and
 * the details, the expected findings name what the injected state really holds, the twin keeps the setting without
 * the fault, and the setting shows in cluster.json and the node files the way a real cluster would show it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterList } from '../../src/lab/cluster-json.js';
import { LAB_EXAMPLES } from '../../src/lab/examples.js';
import { leaseKey, NM_UNMANAGED_CONF, overlayRoute, SEED_002_DOMAIN } from '../../src/lab/faults.js';
import { labNodeFiles } from '../../src/lab/lab.js';
import { buildPlan, type LabPlan } from '../../src/lab/plan.js';
import { type OtherFault, planFault, SCENARIO_NAMES, SCENARIOS, type ScenarioName } from '../../src/lab/scenarios.js';
import { applySettingToCluster, labProcesses } from '../../src/lab/setting.js';

const plan = buildPlan({ nodes: 3, seed: 9, prefix: 'ndlabtest2' });
const NEW: ScenarioName[] = [
  'seed-001-ip-forward',
  'seed-001-bridge-nf',
  'seed-001-cidr-overlap',
  'seed-002-networkmanager',
  'seed-004-flannel-lease',
  'mtu-overlay',
];
const fault = (s: ScenarioName, seed: number, twin = false) => {
  const f = planFault(plan, s, seed, { twin });
  assert.ok(f);
  return f;
};

// biome-ignore lint/suspicious/noExplicitAny: walking untyped Kubernetes JSON
type Item = Record<string, any>;

test('every scenario is listed once, with a description and a symptom, and has an example bundle', () => {
  assert.deepEqual(
    SCENARIOS.map((s) => s.name),
    [...SCENARIO_NAMES],
  );
  for (const s of SCENARIOS) assert.ok(s.description.length > 40 && s.symptom.length > 3, s.name);
  assert.deepEqual(LAB_EXAMPLES.map((e) => e.scenario).sort(), [...NEW].sort());
});

test('the seed varies the broken node of every scenario; the expected fault names it', () => {
  for (const s of NEW) {
    const broken = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const ex = fault(s, seed).expected as OtherFault;
      broken.add(ex.brokenNode);
      assert.equal(ex.scenario, s);
      assert.deepEqual(
        ex.healthyNodes,
        plan.nodes.map((n) => n.name).filter((n) => n !== ex.brokenNode),
      );
      assert.ok(ex.findings.length > 0 && ex.fix.length > 0 && ex.summary.includes(ex.brokenNode), s);
      for (const f of ex.findings)
        if (f.node)
          assert.ok(
            plan.nodes.some((n) => n.name === f.node),
            f.node,
          );
    }
    // seed 004's lease-less node is never the control plane (that one runs no kube-proxy).
    assert.equal(broken.size, s === 'seed-004-flannel-lease' ? 2 : 3, s);
  }
});

test('a twin keeps the setting and changes nothing in the network', () => {
  for (const s of NEW) {
    const twin = fault(s, 4, true);
    assert.equal(twin.twin, true);
    assert.deepEqual(twin.changes, { ip: {}, bridge: {}, sysctl: {} }, s);
    assert.deepEqual(twin.setting.noKubeProxy, []);
    assert.equal(twin.setting.kubeletClusterDomain, undefined);
    assert.ok(Object.values(twin.vxlanProto).every((p) => p === 'udp'));
  }
  const nm = fault('seed-002-networkmanager', 4, true).setting;
  for (const n of plan.nodes)
    assert.equal(nm.files[n.name]?.['/etc/NetworkManager/conf.d/k8s.conf'], NM_UNMANAGED_CONF);
  const etcd = fault('seed-004-flannel-lease', 4, true).setting.flannelEtcd;
  assert.deepEqual(Object.keys(etcd?.leases ?? {}).sort(), plan.nodes.map((n) => leaseKey(n.podCIDR)).sort());
});

test('ip_forward: the global sysctl or one interface, in sysctl notation, 0 on the broken node only', () => {
  const where = new Set<string>();
  for (let seed = 0; seed < 30; seed++) {
    const f = fault('seed-001-ip-forward', seed);
    const ex = f.expected as OtherFault;
    const key = ex.facts.sysctl as string;
    where.add(key);
    assert.deepEqual(f.changes.sysctl, { [ex.brokenNode]: { [key]: '0' } });
    assert.deepEqual(ex.findings[0]?.evidence, [`${key} = 0`]);
    assert.equal(ex.fix[0], `sysctl -w ${key}=1`);
  }
  assert.deepEqual([...where].sort(), [
    'net.ipv4.conf.cni0.forwarding',
    'net.ipv4.conf.flannel/1.forwarding',
    'net.ipv4.ip_forward',
  ]);
});

test('cidr overlap: the host address is inside another node’s pod subnet, and flannel’s route to it is gone', () => {
  for (let seed = 0; seed < 20; seed++) {
    const f = fault('seed-001-cidr-overlap', seed);
    const ex = f.expected as OtherFault;
    const victim = plan.nodes.find((n) => n.name === ex.facts.victim) as LabPlan['nodes'][number];
    assert.notEqual(victim.name, ex.brokenNode);
    const address = ex.facts.address as string;
    assert.equal(address.split('.').slice(0, 3).join('.'), victim.podCIDR.split('.').slice(0, 3).join('.'));
    assert.notEqual(address.split('/')[0], victim.gateway, 'not the pods’ gateway');
    assert.deepEqual(f.changes.ip[ex.brokenNode], [
      `route del ${overlayRoute(victim)}`,
      `addr add ${address} dev eth0`,
    ]);
    assert.deepEqual(ex.findings[0]?.evidence, [address, victim.podCIDR]);
  }
});

test('seed 002: NetworkManager files and nmcli on every node, only the broken one without unmanaged-devices', () => {
  const f = fault('seed-002-networkmanager', 3);
  const ex = f.expected as OtherFault;
  const b = ex.brokenNode;
  for (const n of plan.nodes) {
    const files = f.setting.files[n.name] ?? {};
    assert.ok(files['/etc/NetworkManager/NetworkManager.conf']);
    assert.equal(files['/etc/NetworkManager/conf.d/k8s.conf'] === undefined, n.name === b, n.name);
    const nmcli = f.setting.commands[n.name]?.['nmcli-dev']?.stdout ?? '';
    assert.match(nmcli, n.name === b ? /^flannel\.1:vxlan:connected:/m : /^flannel\.1:vxlan:unmanaged:/m);
    assert.match(labProcesses(plan, n, f.setting), /NetworkManager/);
  }
  const me = plan.nodes.find((n) => n.name === b) as LabPlan['nodes'][number];
  const ip = f.changes.ip[b] ?? [];
  assert.ok(
    ip.includes(`addr add ${me.flannelIP}/32 dev lo`) && ip.includes(`addr del ${me.flannelIP}/32 dev flannel.1`),
  );
  for (const p of plan.nodes.filter((n) => n !== me)) assert.ok(ip.includes(`route del ${overlayRoute(p)}`));
  // kubelet's domain differs from CoreDNS's: the kubelet config and the pods' search path say cluster1.local.
  const files = labNodeFiles(plan, me, f.setting);
  assert.match(files['/var/lib/kubelet/config.yaml']?.content ?? '', /^clusterDomain: cluster1\.local$/m);
  const resolv = Object.entries(files).filter(([p]) => p.includes('/sandboxes/'));
  assert.ok(resolv.length > 0 && resolv.every(([, v]) => v.content.includes(`svc.${SEED_002_DOMAIN}`)));
  const list = applySettingToCluster(clusterList(plan, '2024-05-01T10:00:00Z'), plan, f.setting) as Item;
  const corefile = (list.items as Item[]).find((i) => i.kind === 'ConfigMap' && i.metadata.name === 'coredns');
  assert.match(corefile?.data.Corefile, /kubernetes cluster\.local /);
});

test('seed 004: leases of all nodes but one, stale routes to subnets nobody owns, no kube-proxy on the master', () => {
  for (let seed = 0; seed < 10; seed++) {
    const f = fault('seed-004-flannel-lease', seed);
    const ex = f.expected as OtherFault;
    const b = plan.nodes.find((n) => n.name === ex.brokenNode) as LabPlan['nodes'][number];
    const leases = f.setting.flannelEtcd?.leases ?? {};
    assert.deepEqual(
      Object.keys(leases).sort(),
      plan.nodes
        .filter((n) => n !== b)
        .map((n) => leaseKey(n.podCIDR))
        .sort(),
    );
    for (const [k, v] of Object.entries(leases)) {
      const n = plan.nodes.find((x) => leaseKey(x.podCIDR) === k);
      assert.deepEqual(JSON.parse(v).BackendData, { VNI: 1, VtepMAC: n?.vtepMAC });
    }
    const stale = ex.facts.staleSubnets as string[];
    assert.equal(stale.length, 2);
    for (const s of stale) assert.ok(!plan.nodes.some((n) => n.podCIDR === s), `${s} is nobody's`);
    assert.deepEqual(f.setting.noKubeProxy, [ex.facts.master]);
    assert.ok(plan.nodes.find((n) => n.name === ex.facts.master)?.controlPlane);
    assert.ok(
      f.changes.ip[b.name]?.includes(
        `route add ${overlayRoute({ podCIDR: stale[0] as string, flannelIP: (stale[0] as string).replace('/24', '') })}`,
      ),
    );
    for (const p of ex.healthyNodes) assert.deepEqual(f.changes.ip[p]?.[0], `route del ${overlayRoute(b)}`);
  }
  const f = fault('seed-004-flannel-lease', 1);
  const master = (f.expected as OtherFault).facts.master as string;
  const list = applySettingToCluster(clusterList(plan, '2024-05-01T10:00:00Z'), plan, f.setting) as Item;
  const items = list.items as Item[];
  const proxies = items.filter((i) => i.kind === 'Pod' && i.metadata.labels?.['k8s-app'] === 'kube-proxy');
  assert.deepEqual(
    proxies.map((p) => p.spec.nodeName).sort(),
    plan.nodes
      .map((n) => n.name)
      .filter((n) => n !== master)
      .sort(),
  );
  for (const n of items.filter((i) => i.kind === 'Node')) {
    assert.equal(n.spec.podCIDR, undefined, 'etcd-backed flannel: no node pod CIDRs');
    assert.ok(!Object.keys(n.metadata.annotations).some((k) => k.startsWith('flannel.alpha')));
  }
  const flannel = items.find((i) => i.kind === 'DaemonSet' && i.metadata.name === 'kube-flannel-ds');
  assert.ok(
    flannel?.spec.template.spec.containers[0].args.some((a: string) => a.startsWith('--etcd-endpoints=http://')),
  );
  const node = plan.nodes.find((n) => n.name === master) as LabPlan['nodes'][number];
  assert.doesNotMatch(labProcesses(plan, node, f.setting), /kube-proxy/);
  assert.match(labProcesses(plan, node, f.setting), /flanneld .*--etcd-prefix=\/coreos\.com\/network/);
});

test('mtu: only the broken node’s eth0 changes, to 1400', () => {
  const f = fault('mtu-overlay', 5);
  const ex = f.expected as OtherFault;
  assert.deepEqual(f.changes.ip, { [ex.brokenNode]: ['link set dev eth0 mtu 1400'] });
  assert.deepEqual(ex.findings[0]?.evidence, ['1400', '1450']);
});
