/** The trace engine on small clusters in memory: one test (and a near miss) per kind of hop. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NotFoundError } from '../../src/kube/names.js';
import { resolveQuery } from '../../src/trace/endpoints.js';
import { TraceEngine } from '../../src/trace/engine.js';
import type { TraceResult } from '../../src/trace/types.js';
import { buildCluster, type NodeSpec, nodeIp, type PodSpec, podIp, rules } from './cluster.js';

const two = (over: Partial<Record<'node1' | 'node2', Partial<NodeSpec>>> = {}): NodeSpec[] => [
  { name: 'node1', index: 1, ...over.node1 },
  { name: 'node2', index: 2, ...over.node2 },
];
const pods = [
  { name: 'a', node: 'node1', host: 2 },
  { name: 'b', node: 'node2', host: 2 },
  { name: 'c', node: 'node1', host: 3 },
];

function trace(cluster: ReturnType<typeof buildCluster>, from: string, to: string, proto = 'tcp'): TraceResult {
  return new TraceEngine(cluster).trace(resolveQuery(cluster, from, to, proto));
}

const kinds = (r: TraceResult) => r.hops.map((h) => `${h.direction}:${h.node}:${h.kind}`);

/** kube-proxy's rules for one ClusterIP with two endpoints (statistic 0.5), as iptables-save prints them. */
function kubeProxyNat(clusterIP: string, port: number, eps: string[], target: number): string[] {
  return [
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    `-A KUBE-SERVICES -d ${clusterIP}/32 -p tcp -m comment --comment "default/web cluster IP" -m tcp --dport ${port} -j KUBE-SVC-WEB`,
    ...eps.map((ep, i) =>
      i < eps.length - 1
        ? `-A KUBE-SVC-WEB -m comment --comment "default/web -> ${ep}:${target}" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-${i}`
        : `-A KUBE-SVC-WEB -m comment --comment "default/web -> ${ep}:${target}" -j KUBE-SEP-${i}`,
    ),
    ...eps.map(
      (ep, i) =>
        `-A KUBE-SEP-${i} -p tcp -m comment --comment "default/web" -m tcp -j DNAT --to-destination ${ep}:${target}`,
    ),
  ];
}

describe('trace: pod to pod', () => {
  test('across nodes over flannel VXLAN: encapsulated, through the receiver INPUT, decapsulated, delivered, and back', () => {
    const c = buildCluster('vxlan', two(), pods);
    const r = trace(c, 'pod/default/a', 'pod/default/b:8080');
    assert.equal(r.verdict, 'delivered');
    assert.equal(r.decisive, null);
    const k = kinds(r);
    const want = [
      'request:node1:send',
      'request:node1:prerouting',
      'request:node1:forward',
      'request:node1:encap',
      'request:node1:output',
      'request:node2:prerouting',
      'request:node2:input',
      'request:node2:decap',
      'request:node2:forward',
      'request:node2:deliver',
      'reply:node2:encap',
      'reply:node1:input',
      'reply:node1:deliver',
    ];
    // In this order, with other hops in between.
    let at = 0;
    for (const hop of k) if (hop === want[at]) at++;
    assert.equal(at, want.length, `hops ${k.join(' ')} miss ${want[at]}`);
    const encap = r.hops.find((h) => h.kind === 'encap') as (typeof r.hops)[number];
    assert.match(encap.packet, new RegExp(`udp ${nodeIp(1)}:\\d+ > ${nodeIp(2)}:8472`));
    assert.ok(r.hops.some((h) => h.direction === 'reply' && h.kind === 'encap' && h.node === 'node2'));
  });

  test("a REJECT on the receiver's INPUT catches the outer packet: rejected, the client sees a timeout", () => {
    const firewall = rules([
      '-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT',
      '-A INPUT -p tcp -m tcp --dport 8472 -j ACCEPT',
      '-A INPUT -j REJECT --reject-with icmp-host-prohibited',
    ]);
    const c = buildCluster('vxlan', two({ node2: { iptables: firewall } }), pods);
    const r = trace(c, 'pod/default/a', 'pod/default/b:8080');
    assert.equal(r.verdict, 'rejected');
    assert.deepEqual(r.decisive, {
      node: 'node2',
      kind: 'rule',
      table: 'filter',
      chain: 'INPUT',
      index: 3,
      text: '-A INPUT -j REJECT --reject-with icmp-host-prohibited',
    });
    assert.equal(r.branches[0]?.clientSees, 'timeout');
    const decisive = r.hops.filter((h) => h.decisive);
    assert.equal(decisive.length, 1);
    assert.equal(decisive[0]?.kind, 'input');
    // The other way the request passes (node1 accepts everything) and the reply's outer packet dies on node2's INPUT.
    const back = trace(c, 'pod/default/b', 'pod/default/a:8080');
    assert.equal(back.verdict, 'rejected');
    assert.equal(back.hops.filter((h) => h.decisive)[0]?.direction, 'reply');
    // Near miss: the same firewall accepting udp 8472 lets everything through.
    const fixed = rules([
      '-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT',
      '-A INPUT -p udp -m udp --dport 8472 -j ACCEPT',
      '-A INPUT -j REJECT --reject-with icmp-host-prohibited',
    ]);
    const ok = buildCluster('vxlan', two({ node2: { iptables: fixed } }), pods);
    assert.equal(trace(ok, 'pod/default/a', 'pod/default/b:8080').verdict, 'delivered');
  });

  test('same node: bridged; with bridge-nf-call-iptables=1 iptables FORWARD decides, with 0 it never sees it', () => {
    const dropPods = rules([`-A FORWARD -s ${podIp(1, 2)}/32 -d ${podIp(1, 3)}/32 -j DROP`]);
    const on = buildCluster('vxlan', two({ node1: { iptables: dropPods } }), pods);
    const r = trace(on, 'pod/default/a', 'pod/default/c:80');
    assert.equal(r.verdict, 'dropped');
    assert.equal(r.decisive?.chain, 'FORWARD');
    assert.ok(r.hops.some((h) => h.kind === 'bridge'));
    const off = buildCluster(
      'vxlan',
      two({ node1: { iptables: dropPods, sysctl: { 'net.bridge.bridge-nf-call-iptables': '0' } } }),
      pods,
    );
    assert.equal(trace(off, 'pod/default/a', 'pod/default/c:80').verdict, 'delivered');
  });

  test('ip_forward=0 on the node that must forward: dropped, decisive kind sysctl', () => {
    const c = buildCluster('vxlan', two({ node2: { sysctl: { 'net.ipv4.ip_forward': '0' } } }), pods);
    const r = trace(c, 'pod/default/a', 'pod/default/b:8080', 'udp');
    assert.equal(r.verdict, 'dropped');
    assert.equal(r.decisive?.kind, 'sysctl');
    assert.equal(r.decisive?.node, 'node2');
    assert.equal(r.branches[0]?.clientSees, 'timeout');
    assert.equal(r.decisive?.text, 'net.ipv4.ip_forward=0');
    // Only cni0's own switch off: that one is named.
    const dev = buildCluster(
      'vxlan',
      two({ node2: { sysctl: { 'net.ipv4.conf.cni0.forwarding': '0', 'net.ipv4.conf.flannel/1.forwarding': '1' } } }),
      pods,
    );
    const rd = trace(dev, 'pod/default/b', 'pod/default/a:8080', 'udp');
    assert.equal(rd.verdict, 'dropped');
    assert.equal(rd.decisive?.text, 'net.ipv4.conf.cni0.forwarding=0');
    // The node itself still reaches its pods (nothing to forward).
    assert.equal(trace(c, 'node/node2', 'pod/default/b', 'icmp').verdict, 'delivered');
  });

  test('host-gw: the route via the other node address, no encapsulation', () => {
    const c = buildCluster('host-gw', two(), pods);
    const r = trace(c, 'pod/default/a', 'pod/default/b:8080');
    assert.equal(r.verdict, 'delivered');
    assert.ok(!r.hops.some((h) => h.kind === 'encap'));
    assert.ok(r.hops.some((h) => h.kind === 'wire' && h.node === 'node1'));
  });

  test('Calico IP-in-IP: an outer protocol-4 packet that the receiver INPUT must accept', () => {
    const noIpip = rules([
      '-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT',
      '-A INPUT -p udp -j ACCEPT',
      '-A INPUT -j DROP',
    ]);
    const blocked = buildCluster('ipip', two({ node2: { iptables: noIpip } }), pods);
    const r = trace(blocked, 'pod/default/a', 'pod/default/b:8080');
    assert.equal(r.verdict, 'dropped');
    assert.equal(r.decisive?.node, 'node2');
    assert.equal(r.decisive?.chain, 'INPUT');
    assert.match(r.hops.find((h) => h.kind === 'encap')?.packet ?? '', /^ipencap|^ipip|^4 /);
    const open = buildCluster('ipip', two(), pods);
    assert.equal(trace(open, 'pod/default/a', 'pod/default/b:8080').verdict, 'delivered');
  });

  test('MTU: a full-size packet black-holed by a small receiving uplink, and "frag needed" at a small sending one', () => {
    const c = buildCluster('vxlan', two({ node2: { mtu: { eth0: 1400 } } }), pods);
    const q = (from: string, to: string, size?: number) => {
      const query = resolveQuery(c, from, to, 'icmp');
      if (size) query.size = size;
      return new TraceEngine(c).trace(query);
    };
    assert.equal(q('pod/default/a', 'pod/default/b').verdict, 'delivered', 'small packets pass');
    assert.equal(q('pod/default/a', 'pod/default/b', 1350).verdict, 'delivered', '1350 + 50 fits 1400');
    const into = q('pod/default/a', 'pod/default/b', 1450);
    assert.equal(into.verdict, 'dropped');
    assert.equal(into.branches[0]?.clientSees, 'timeout');
    assert.deepEqual({ node: into.decisive?.node, kind: into.decisive?.kind }, { node: 'node2', kind: 'mtu' });
    const out = q('pod/default/b', 'pod/default/a', 1450);
    assert.equal(out.verdict, 'rejected');
    assert.equal(out.branches[0]?.clientSees, 'frag needed');
    assert.equal(out.decisive?.node, 'node2');
    // Larger than the overlay device itself: refused before encapsulation, on the sender.
    const huge = q('pod/default/a', 'pod/default/b', 1451);
    assert.equal(huge.decisive?.text, 'flannel.1 mtu 1450 (packet 1451 bytes)');
  });

  test('a node missing from the bundle: uncertain, naming it', () => {
    const c = buildCluster('vxlan', two({ node2: { missing: true } }), pods);
    const r = trace(c, 'pod/default/a', 'pod/default/b:8080');
    assert.equal(r.verdict, 'uncertain');
    assert.equal(r.decisive?.kind, 'missing-data');
    assert.equal(r.decisive?.node, 'node2');
  });
});

describe('trace: services', () => {
  const svc = { name: 'web', clusterIP: '10.96.0.20', port: 80, targetPort: 8080, selector: { tier: 'web' } };
  const webPods: PodSpec[] = [
    { name: 'a', node: 'node1', host: 2, labels: { app: 'client' } },
    { name: 'w1', node: 'node1', host: 3, labels: { tier: 'web' } },
    { name: 'w2', node: 'node2', host: 2, labels: { tier: 'web' } },
  ];
  const nat = rules([], kubeProxyNat('10.96.0.20', 80, [podIp(1, 3), podIp(2, 2)], 8080), {
    nat: ['KUBE-SERVICES', 'KUBE-SVC-WEB', 'KUBE-SEP-0', 'KUBE-SEP-1'],
  });

  test('ClusterIP: one branch per endpoint kube-proxy can pick, each delivered to its pod', () => {
    const c = buildCluster('vxlan', two({ node1: { iptables: nat }, node2: { iptables: nat } }), webPods, [svc]);
    const r = trace(c, 'pod/default/a', 'svc/default/web:80');
    assert.equal(r.verdict, 'delivered');
    assert.deepEqual(r.branches.map((b) => b.endpoint?.pod).sort(), ['default/w1', 'default/w2']);
    for (const b of r.branches) assert.ok(b.choices.length > 0, 'the statistic choice is recorded');
    // The reply's source is the ClusterIP again when it reaches the client.
    const last = r.branches[0]?.hops.at(-1);
    assert.match(last?.packet ?? '', /^tcp 10\.96\.0\.20:80 > /);
  });

  test('bridge-nf-call-iptables=0: the reply of a same-node endpoint skips conntrack, the DNAT is not undone', () => {
    const local = { ...svc, endpoints: ['w1'] };
    const oneEp = rules([], kubeProxyNat('10.96.0.20', 80, [podIp(1, 3)], 8080), {
      nat: ['KUBE-SERVICES', 'KUBE-SVC-WEB', 'KUBE-SEP-0'],
    });
    const off = buildCluster(
      'vxlan',
      two({ node1: { iptables: oneEp, sysctl: { 'net.bridge.bridge-nf-call-iptables': '0' } } }),
      webPods,
      [local],
    );
    const r = trace(off, 'pod/default/a', 'svc/default/web:80');
    assert.equal(r.verdict, 'dropped');
    assert.deepEqual(
      { kind: r.decisive?.kind, text: r.decisive?.text, dir: r.hops.find((h) => h.decisive)?.direction },
      { kind: 'sysctl', text: 'net.bridge.bridge-nf-call-iptables=0', dir: 'reply' },
    );
    const on = buildCluster('vxlan', two({ node1: { iptables: oneEp } }), webPods, [local]);
    assert.equal(trace(on, 'pod/default/a', 'svc/default/web:80').verdict, 'delivered');
  });

  test('a node without the service rules sends the ClusterIP out of the cluster: dropped, saying so', () => {
    const c = buildCluster('vxlan', two({ node2: { iptables: nat } }), webPods, [svc]);
    const r = trace(c, 'pod/default/a', 'svc/default/web:80');
    assert.equal(r.verdict, 'dropped');
    assert.match(r.branches[0]?.reason ?? '', /no kube-proxy rule/);
  });

  test('kube-proxy REJECT for a service without endpoints: rejected, connection refused', () => {
    const reject = rules(
      [
        '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -m comment --comment "default/web has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable',
      ],
      [],
      { filter: ['KUBE-SERVICES'] },
    );
    const c = buildCluster('vxlan', two({ node1: { iptables: reject } }), webPods, [{ ...svc, endpoints: [] }]);
    const r = trace(c, 'pod/default/a', 'svc/default/web:80');
    assert.equal(r.verdict, 'rejected');
    assert.equal(r.branches[0]?.clientSees, 'refused');
    assert.match(r.decisive?.text ?? '', /has no endpoints/);
    assert.match(
      r.branches[0]?.reason ?? '',
      /service default\/web has no endpoints: its selector matches no pod|no ready endpoint/,
    );
    const q = resolveQuery(c, 'pod/default/a', 'svc/default/web:80', 'tcp');
    assert.ok(q.to.kind === 'service' && q.to.notes.some((n) => /no ready endpoint|no endpoints/.test(n)));
  });

  test('IPVS: a virtual server without real servers rejects; with them, each real server is a branch', () => {
    const empty = '-A -t 10.96.0.20:80 -s rr\n';
    const full = `-A -t 10.96.0.20:80 -s rr\n-a -t 10.96.0.20:80 -r ${podIp(1, 3)}:8080 -m -w 1\n-a -t 10.96.0.20:80 -r ${podIp(2, 2)}:8080 -m -w 1\n`;
    const ipvsNode = (save: string): Partial<NodeSpec> => ({
      addresses: [['kube-ipvs0', '10.96.0.20/32']],
      commands: { 'ipvsadm-save': save },
    });
    const c = buildCluster('vxlan', two({ node1: ipvsNode(empty) }), webPods, [svc]);
    const r = trace(c, 'pod/default/a', 'svc/default/web:80');
    assert.equal(r.verdict, 'rejected');
    assert.equal(r.decisive?.kind, 'ipvs');
    assert.equal(r.branches[0]?.clientSees, 'refused');
    const ok = buildCluster('vxlan', two({ node1: ipvsNode(full) }), webPods, [svc]);
    const r2 = trace(ok, 'pod/default/a', 'svc/default/web:80');
    assert.equal(r2.verdict, 'delivered');
    assert.deepEqual(r2.branches.map((b) => b.endpoint?.pod).sort(), ['default/w1', 'default/w2']);
  });

  test('a NodePort from outside the cluster, and the drop rule of externalTrafficPolicy Local on a node without an endpoint', () => {
    const local = rules(
      [
        '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
        '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
        '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "default/web has no local endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 30080 -j DROP',
      ],
      [],
      { filter: ['KUBE-EXTERNAL-SERVICES'] },
    );
    const c = buildCluster('vxlan', two({ node2: { iptables: local } }), webPods, [{ ...svc, nodePort: 30080 }]);
    const r = trace(c, '192.168.56.1', 'node/node2:30080');
    assert.equal(r.verdict, 'dropped');
    assert.match(r.decisive?.text ?? '', /has no local endpoints/);
    // Near miss: node1 has no such rule, and no kube-proxy rule at all: its own stack answers the NodePort (refused).
    const r1 = trace(c, '192.168.56.1', 'node/node1:30080');
    assert.equal(r1.verdict, 'rejected');
    assert.equal(r1.decisive?.kind, 'service');
    assert.equal(r1.branches[0]?.clientSees, 'refused');
  });
});

describe('trace: NetworkPolicy', () => {
  const policy = (name: string, spec: Record<string, unknown>) => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: 'default' },
    spec,
  });
  const labelled: PodSpec[] = [
    { name: 'a', node: 'node1', host: 2, labels: { role: 'client' } },
    { name: 'b', node: 'node2', host: 2, labels: { role: 'db' } },
    { name: 'x', node: 'node1', host: 3, labels: { role: 'other' } },
  ];
  const dbIngress = policy('db-ingress', {
    podSelector: { matchLabels: { role: 'db' } },
    policyTypes: ['Ingress'],
    ingress: [
      { from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ protocol: 'TCP', port: 5432 }] },
    ],
  });

  test('ingress at the destination: allowed from the selected pods and port, denied otherwise, naming the policy', () => {
    const c = buildCluster('vxlan', two(), labelled, [], [dbIngress]);
    const ok = trace(c, 'pod/default/a', 'pod/default/b:5432');
    assert.equal(ok.verdict, 'delivered');
    assert.ok(ok.hops.some((h) => h.kind === 'network-policy' && h.result === 'pass'));
    const otherPod = trace(c, 'pod/default/x', 'pod/default/b:5432');
    assert.equal(otherPod.verdict, 'dropped');
    assert.equal(otherPod.decisive?.kind, 'policy-object');
    assert.match(otherPod.decisive?.text ?? '', /default\/db-ingress/);
    assert.equal(otherPod.decisive?.node, 'node2');
    assert.equal(otherPod.branches[0]?.clientSees, 'timeout');
    const otherPort = trace(c, 'pod/default/a', 'pod/default/b:5433');
    assert.equal(otherPort.verdict, 'dropped');
  });

  test('egress at the source: a default-deny egress policy stops the packet at the source pod', () => {
    const denyAll = policy('deny-egress', {
      podSelector: { matchLabels: { role: 'client' } },
      policyTypes: ['Egress'],
    });
    const c = buildCluster('vxlan', two(), labelled, [], [denyAll]);
    const r = trace(c, 'pod/default/a', 'pod/default/b:5432');
    assert.equal(r.verdict, 'dropped');
    assert.match(r.decisive?.text ?? '', /deny-egress/);
    assert.equal(r.decisive?.node, 'node1');
    const last = r.hops.at(-1);
    assert.equal(last?.kind, 'network-policy');
    assert.ok(last?.decisive);
    // Not selected: pod x is not isolated.
    assert.equal(trace(c, 'pod/default/x', 'pod/default/b:5432').verdict, 'delivered');
  });
});

describe('trace: the question', () => {
  const c = buildCluster('vxlan', two(), pods);

  test('unknown names are input errors with close matches', () => {
    assert.throws(
      () => resolveQuery(c, 'pod/default/aa', 'pod/default/b:80', 'tcp'),
      (e: unknown) => e instanceof NotFoundError && /did you mean default\/a/.test(e.message),
    );
    assert.throws(() => resolveQuery(c, 'node/nod1', 'pod/default/b:80', 'tcp'), /did you mean node1/);
    assert.throws(() => resolveQuery(c, 'pod/default/a', 'svc/default/nope:80', 'tcp'), NotFoundError);
    assert.throws(() => resolveQuery(c, 'pod/default/a', 'pod/default/b', 'tcp'), /needs a port/);
    assert.throws(() => resolveQuery(c, 'pod/default/a', 'pod/default/b:80', 'sctp'), /use tcp, udp or icmp/);
  });

  test('IPv6: families must match; an outside IPv6 client is traced as far as the bundle says', () => {
    assert.throws(() => resolveQuery(c, 'pod/default/a', 'fd00::1:80', 'tcp'), /different IP families|not a port/);
    const r = trace(c, 'fd00::5', '[fd00::1]:80');
    assert.equal(r.verdict, 'uncertain');
    assert.match(r.branches[0]?.reason ?? '', /outside the cluster/);
  });
});
