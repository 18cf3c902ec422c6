import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCheck } from '../../src/checks/define.js';
import check from '../../src/checks/kube-proxy-missing-on-node.js';
import { ClusterModel } from '../../src/model/cluster.js';
import type { KubeObject } from '../../src/model/kube.js';
import { type TestNode, testBundle } from '../support/bundle.js';
import { configMap, kubeProxyDs, kubeProxyPod, service } from './kube-fixtures.js';

const IPVS_HEADER = [
  'IP Virtual Server version 1.2.1 (size=4096)',
  'Prot LocalAddress:Port Scheduler Flags',
  '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
];
const IPVS_WITH_SERVICE = [
  ...IPVS_HEADER,
  'TCP  10.2.0.155:2024 rr',
  '  -> 172.17.89.10:20000          Masq    1      0          0',
].join('\n');
const IPVS_EMPTY = IPVS_HEADER.join('\n');
const PS_PROXY =
  '  PID COMMAND\n 1544 /opt/kubernetes/bin/kube-proxy --proxy-mode=ipvs --kubeconfig=/opt/kubernetes/cfg/kube-proxy.kubeconfig\n';
const PS_NONE = '  PID COMMAND\n 1032 /opt/kubernetes/bin/kubelet --config=/opt/kubernetes/cfg/kubelet.config\n';
const NAT_KUBE = [
  '*nat',
  ':PREROUTING ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  ':KUBE-SERVICES - [0:0]',
  '-A PREROUTING -j KUBE-SERVICES',
  '-A OUTPUT -j KUBE-SERVICES',
  '-A KUBE-SERVICES -d 10.2.0.155/32 -p tcp -m tcp --dport 2024 -j KUBE-MARK-MASQ',
  'COMMIT',
  '',
].join('\n');
const NAT_EMPTY = ['*nat', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', 'COMMIT', ''].join('\n');

const svc = service('default', 'mcwtest-svc', '10.2.0.155', [{ port: 2024, targetPort: 20000 }]);

const run = (nodes: TestNode[], objects: KubeObject[] = [svc]) =>
  runCheck(check, new ClusterModel(testBundle(nodes, objects)));

test('seed 004: the master has no kube-proxy (systemd installs, IPVS elsewhere), evidence and fix name it', () => {
  const f = run([
    {
      name: 'mcwk8s03',
      ip: '10.0.0.3',
      commands: { 'ipvsadm-list': IPVS_EMPTY, processes: PS_NONE, 'iptables-nft-save': NAT_EMPTY },
    },
    {
      name: 'mcwk8s05',
      ip: '10.0.0.5',
      commands: { 'ipvsadm-list': IPVS_WITH_SERVICE, processes: PS_PROXY, 'iptables-nft-save': NAT_EMPTY },
    },
    {
      name: 'mcwk8s06',
      ip: '10.0.0.6',
      commands: { 'ipvsadm-list': IPVS_WITH_SERVICE, processes: PS_PROXY, 'iptables-nft-save': NAT_EMPTY },
    },
  ]);
  assert.equal(f.length, 1);
  const [x] = f;
  assert.equal(x?.node, 'mcwk8s03');
  assert.equal(x?.severity, 'error');
  assert.match(
    x?.title ?? '',
    /mcwk8s03 runs no kube-proxy: ClusterIPs such as 10\.2\.0\.155:2024 \(default\/mcwtest-svc\)/,
  );
  const absent = x?.evidence.filter((e) => e.kind === 'absent').map((e) => e.text);
  assert.deepEqual(absent, [
    'no kube-proxy process on mcwk8s03',
    'no rules in a nat KUBE-SERVICES chain on mcwk8s03',
    'no nft table kube-proxy on mcwk8s03',
    'IPVS table on mcwk8s03 is empty',
  ]);
  const present = x?.evidence.filter((e) => e.kind === 'present');
  assert.equal(present?.[0]?.node, 'mcwk8s05');
  assert.match(present?.map((e) => e.text).join('\n') ?? '', /process 1544: .*kube-proxy --proxy-mode=ipvs/);
  assert.match(x?.fix[0] ?? '', /^systemctl enable --now kube-proxy +# on mcwk8s03, .* as on mcwk8s05/);
});

test('iptables mode: KUBE-SERVICES rules count as kube-proxy even without a process list', () => {
  assert.deepEqual(
    run([
      { name: 'a', ip: '10.0.0.1', commands: { 'iptables-nft-save': NAT_KUBE } },
      { name: 'b', ip: '10.0.0.2', commands: { 'iptables-nft-save': NAT_KUBE } },
    ]),
    [],
  );
  const f = run([
    { name: 'a', ip: '10.0.0.1', commands: { 'iptables-nft-save': NAT_KUBE } },
    { name: 'b', ip: '10.0.0.2', commands: { 'iptables-nft-save': NAT_EMPTY } },
  ]);
  assert.deepEqual(
    f.map((x) => x.node),
    ['b'],
  );
});

test('DaemonSet whose tolerations do not cover the node taint: the taint is evidence, the fix adds a toleration', () => {
  const image = 'registry.k8s.io/kube-proxy:v1.29.4';
  const bundle = testBundle(
    [
      { name: 'cp', ip: '10.0.0.1', commands: { 'iptables-nft-save': NAT_EMPTY } },
      { name: 'w', ip: '10.0.0.2', commands: { 'iptables-nft-save': NAT_KUBE } },
    ],
    [
      svc,
      kubeProxyDs(image, { tolerations: [{ key: 'CriticalAddonsOnly', operator: 'Exists' }] }),
      kubeProxyPod('kube-proxy-abcde', 'w', image),
    ],
  );
  const cp = bundle.objects.find((o) => o.kind === 'Node' && o.metadata.name === 'cp');
  if (cp) cp.spec = { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] };
  const f = runCheck(check, new ClusterModel(bundle));
  assert.equal(f.length, 1);
  assert.equal(f[0]?.node, 'cp');
  assert.ok(f[0]?.evidence.some((e) => e.kind === 'absent' && e.text === 'no kube-proxy pod on cp (1 on other nodes)'));
  assert.equal(
    f[0]?.evidence.find((e) => e.kind === 'taint')?.text,
    'node-role.kubernetes.io/control-plane:NoSchedule',
  );
  assert.match(
    f[0]?.fix[0] ?? '',
    /kubectl -n kube-system patch daemonset kube-proxy --type=json .*"operator":"Exists"/,
  );
});

test('quiet: a pod on the node is enough; nothing collected is not absence; no kube-proxy anywhere is not this check', () => {
  const image = 'registry.k8s.io/kube-proxy:v1.29.4';
  // The pod is scheduled on b even though b's dump is empty (rules being written).
  assert.deepEqual(
    run(
      [
        { name: 'a', ip: '10.0.0.1', commands: { 'iptables-nft-save': NAT_KUBE } },
        { name: 'b', ip: '10.0.0.2', commands: { 'iptables-nft-save': NAT_EMPTY } },
      ],
      [svc, kubeProxyDs(image), kubeProxyPod('kube-proxy-a', 'a', image), kubeProxyPod('kube-proxy-b', 'b', image)],
    ),
    [],
  );
  // b collected nothing about its datapath.
  assert.deepEqual(
    run([
      { name: 'a', ip: '10.0.0.1', commands: { 'iptables-nft-save': NAT_KUBE } },
      { name: 'b', ip: '10.0.0.2' },
    ]),
    [],
  );
  // No node shows kube-proxy and there is no DaemonSet: some other service proxy, not a missing one.
  assert.deepEqual(
    run([
      { name: 'a', ip: '10.0.0.1', commands: { 'iptables-nft-save': NAT_EMPTY } },
      { name: 'b', ip: '10.0.0.2', commands: { 'iptables-nft-save': NAT_EMPTY } },
    ]),
    [],
  );
});

test('quiet under Cilium kube-proxy replacement', () => {
  const nodes: TestNode[] = [
    { name: 'a', ip: '10.0.0.1', commands: { 'iptables-nft-save': NAT_KUBE } },
    { name: 'b', ip: '10.0.0.2', commands: { 'iptables-nft-save': NAT_EMPTY } },
  ];
  assert.equal(run(nodes).length, 1);
  assert.deepEqual(
    run(nodes, [svc, configMap('cilium-config', 'kube-system', { 'kube-proxy-replacement': 'true' })]),
    [],
  );
  // "false" is no replacement: the check speaks again.
  assert.equal(
    run(nodes, [svc, configMap('cilium-config', 'kube-system', { 'kube-proxy-replacement': 'false' })]).length,
    1,
  );
});
