/**
 * NetworkPolicy semantics, one row per rule of the spec with its near misses. Every row states the policies, the two
 * ends and the expected decisions; the expectation names the allowing rule or the isolating policies.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  evaluatePolicies,
  ipPeer,
  type Peer,
  type PolicyProtocol,
  podPeer,
  policyDecisive,
} from '../../src/kube/networkpolicy.js';
import { findPod } from '../../src/kube/objects.js';
import type { LabelSelector } from '../../src/kube/selectors.js';
import { ClusterModel } from '../../src/model/cluster.js';
import type { KubeObject } from '../../src/model/kube.js';
import { testBundle } from '../support/bundle.js';
import { namespace, netpol, node, objects, pod } from './fixtures.js';

/** The cluster every row runs in: two namespaces (labelled), pods with named ports, two nodes. */
const BASE: KubeObject[] = [
  namespace('default', { team: 'a' }),
  namespace('prod', { team: 'b', env: 'prod' }),
  node('n1', '192.168.56.11'),
  node('n2', '192.168.56.12'),
  pod('web', {
    labels: { app: 'web', tier: 'front' },
    ip: '10.244.1.10',
    node: 'n1',
    hostIP: '192.168.56.11',
    ports: [
      { name: 'http', containerPort: 8080 },
      { name: 'dns', containerPort: 5353, protocol: 'UDP' },
    ],
  }),
  pod('client', { labels: { app: 'client' }, ip: '10.244.2.20', node: 'n2' }),
  pod('other', { labels: { app: 'other' }, ip: '10.244.2.21', node: 'n2' }),
  pod('pclient', { ns: 'prod', labels: { app: 'client' }, ip: '10.244.2.30', node: 'n2' }),
  pod('pweb', {
    ns: 'prod',
    labels: { app: 'web' },
    ip: '10.244.1.30',
    node: 'n1',
    ports: [{ name: 'http', containerPort: 9090 }],
  }),
  pod('hostpod', { labels: { app: 'client' }, ip: '192.168.56.12', node: 'n2', hostNetwork: true }),
];

type End = string; // "ns/pod" or an IP

interface Row {
  name: string;
  policies: KubeObject[];
  from: End;
  to: End;
  port?: number;
  proto?: PolicyProtocol;
  /** Expected: allowed at all, and per direction either true/false; `by` a substring of the allowing rule's text. */
  allowed: boolean;
  egress?: boolean;
  ingress?: boolean;
  by?: RegExp;
  deniedBy?: string[];
  /** Objects to drop from BASE (e.g. the Namespace objects). */
  without?: string[];
  uncertain?: RegExp;
}

const sel = (labels: Record<string, string>) => ({ matchLabels: labels });
const ingressOnly = (
  name: string,
  ingress: unknown[] | undefined,
  podSelector: LabelSelector = sel({ app: 'web' }),
  ns = 'default',
) => netpol(name, { podSelector, policyTypes: ['Ingress'], ...(ingress ? { ingress } : {}) }, ns);

const rows: Row[] = [
  // isolation
  {
    name: 'no policy: everything allowed',
    policies: [],
    from: 'default/client',
    to: 'default/web',
    port: 8080,
    allowed: true,
  },
  {
    name: 'deny-all ingress (ingress missing) isolates',
    policies: [ingressOnly('deny', undefined, {})],
    from: 'default/client',
    to: 'default/web',
    port: 8080,
    allowed: false,
    egress: true,
    ingress: false,
    deniedBy: ['default/deny'],
  },
  {
    name: 'ingress: [] denies all',
    policies: [ingressOnly('deny', [])],
    from: 'default/client',
    to: 'default/web',
    port: 8080,
    allowed: false,
    deniedBy: ['default/deny'],
  },
  {
    name: 'a policy that selects another pod does not isolate this one',
    policies: [ingressOnly('deny', [], sel({ app: 'other' }))],
    from: 'default/client',
    to: 'default/web',
    port: 8080,
    allowed: true,
  },
  {
    name: 'a policy of another namespace does not isolate',
    policies: [ingressOnly('deny', [], {}, 'prod')],
    from: 'default/client',
    to: 'default/web',
    port: 8080,
    allowed: true,
  },
  {
    name: 'ingress: [{}] allows all',
    policies: [ingressOnly('all', [{}])],
    from: 'default/client',
    to: 'default/web',
    port: 1,
    allowed: true,
    by: /default\/all ingress\[0\]: from anywhere, any port/,
  },
  // policyTypes defaulting
  {
    name: 'no policyTypes and egress rules: Egress too',
    policies: [
      netpol('eg', { podSelector: sel({ app: 'client' }), egress: [{ to: [{ podSelector: sel({ app: 'other' }) }] }] }),
    ],
    from: 'default/client',
    to: 'default/web',
    port: 8080,
    allowed: false,
    egress: false,
    // Ingress is implied too, but the policy selects the client, not web
    ingress: true,
    deniedBy: ['default/eg'],
  },
  {
    name: 'no policyTypes and no egress: Ingress only (egress not isolated)',
    policies: [netpol('in', { podSelector: sel({ app: 'client' }), ingress: [] })],
    from: 'default/client',
    to: 'default/web',
    port: 8080,
    allowed: true,
  },
  {
    name: 'policyTypes Egress only with egress: [] denies egress, not ingress',
    policies: [netpol('eg', { podSelector: {}, policyTypes: ['Egress'], egress: [] })],
    from: 'default/client',
    to: 'default/other',
    port: 80,
    allowed: false,
    egress: false,
    ingress: true,
  },
  // peers
  {
    name: 'podSelector peer: same namespace pod allowed',
    policies: [ingressOnly('p', [{ from: [{ podSelector: sel({ app: 'client' }) }] }])],
    from: 'default/client',
    to: 'default/web',
    port: 8080,
    allowed: true,
    by: /from podSelector app=client, any port/,
  },
  {
    name: 'podSelector peer: same labels in another namespace denied',
    policies: [ingressOnly('p', [{ from: [{ podSelector: sel({ app: 'client' }) }] }])],
    from: 'prod/pclient',
    to: 'default/web',
    port: 8080,
    allowed: false,
    deniedBy: ['default/p'],
  },
  {
    name: 'podSelector peer: other labels denied',
    policies: [ingressOnly('p', [{ from: [{ podSelector: sel({ app: 'client' }) }] }])],
    from: 'default/other',
    to: 'default/web',
    port: 8080,
    allowed: false,
  },
  {
    name: 'namespaceSelector alone: every pod of the namespace',
    policies: [ingressOnly('n', [{ from: [{ namespaceSelector: sel({ team: 'b' }) }] }])],
    from: 'prod/pclient',
    to: 'default/web',
    port: 8080,
    allowed: true,
    by: /namespaceSelector team=b/,
  },
  {
    name: 'namespaceSelector alone: a pod of another namespace denied',
    policies: [ingressOnly('n', [{ from: [{ namespaceSelector: sel({ team: 'b' }) }] }])],
    from: 'default/client',
    to: 'default/web',
    port: 8080,
    allowed: false,
  },
  {
    name: 'namespaceSelector {}: every namespace',
    policies: [ingressOnly('n', [{ from: [{ namespaceSelector: {} }] }])],
    from: 'prod/pclient',
    to: 'default/web',
    port: 8080,
    allowed: true,
  },
  {
    name: 'namespaceSelector AND podSelector in one peer: both must hold',
    policies: [
      ingressOnly('and', [{ from: [{ namespaceSelector: sel({ team: 'b' }), podSelector: sel({ app: 'other' }) }] }]),
    ],
    from: 'prod/pclient',
    to: 'default/web',
    port: 8080,
    allowed: false,
    deniedBy: ['default/and'],
  },
  {
    name: 'namespaceSelector AND podSelector in one peer: the right pod in the right namespace',
    policies: [
      ingressOnly('and', [{ from: [{ namespaceSelector: sel({ team: 'b' }), podSelector: sel({ app: 'client' }) }] }]),
    ],
    from: 'prod/pclient',
    to: 'default/web',
    port: 8080,
    allowed: true,
    by: /namespaceSelector team=b AND podSelector app=client/,
  },
  {
    name: 'namespaceSelector OR podSelector as two peers: either is enough',
    policies: [
      ingressOnly('or', [
        { from: [{ namespaceSelector: sel({ team: 'b' }) }, { podSelector: sel({ app: 'other' }) }] },
      ]),
    ],
    from: 'prod/pclient',
    to: 'default/web',
    port: 8080,
    allowed: true,
    by: /from namespaceSelector team=b,/,
  },
  {
    name: 'matchExpressions in a namespaceSelector',
    policies: [
      ingressOnly('expr', [
        { from: [{ namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] } }] },
      ]),
    ],
    from: 'prod/pclient',
    to: 'default/web',
    port: 8080,
    allowed: false,
  },
  {
    name: 'namespace labels implied without Namespace objects: metadata.name works',
    without: ['Namespace'],
    policies: [ingressOnly('n', [{ from: [{ namespaceSelector: sel({ 'kubernetes.io/metadata.name': 'prod' }) }] }])],
    from: 'prod/pclient',
    to: 'default/web',
    port: 8080,
    allowed: true,
  },
  {
    name: 'namespace labels implied without Namespace objects: other labels are uncertain',
    without: ['Namespace'],
    policies: [ingressOnly('n', [{ from: [{ namespaceSelector: sel({ team: 'b' }) }] }])],
    from: 'prod/pclient',
    to: 'default/web',
    port: 8080,
    allowed: false,
    uncertain: /without its Namespace object/,
  },
  // ipBlock
  {
    name: 'ipBlock: an outside address inside the CIDR',
    policies: [ingressOnly('ip', [{ from: [{ ipBlock: { cidr: '203.0.113.0/24', except: ['203.0.113.128/25'] } }] }])],
    from: '203.0.113.127',
    to: 'default/web',
    port: 8080,
    allowed: true,
    by: /ipBlock 203\.0\.113\.0\/24 except 203\.0\.113\.128\/25/,
  },
  {
    name: 'ipBlock except: the first address of the except range is out',
    policies: [ingressOnly('ip', [{ from: [{ ipBlock: { cidr: '203.0.113.0/24', except: ['203.0.113.128/25'] } }] }])],
    from: '203.0.113.128',
    to: 'default/web',
    port: 8080,
    allowed: false,
  },
  {
    name: 'ipBlock except: the last address of the except range is out',
    policies: [ingressOnly('ip', [{ from: [{ ipBlock: { cidr: '203.0.113.0/24', except: ['203.0.113.128/25'] } }] }])],
    from: '203.0.113.255',
    to: 'default/web',
    port: 8080,
    allowed: false,
  },
  {
    name: 'ipBlock: just outside the CIDR',
    policies: [ingressOnly('ip', [{ from: [{ ipBlock: { cidr: '203.0.113.0/24' } }] }])],
    from: '203.0.114.0',
    to: 'default/web',
    port: 8080,
    allowed: false,
  },
  {
    name: 'ipBlock IPv6',
    policies: [ingressOnly('ip6', [{ from: [{ ipBlock: { cidr: '2001:db8::/64', except: ['2001:db8::/120'] } }] }])],
    from: '2001:db8::1:0',
    to: 'default/web',
    port: 8080,
    allowed: true,
  },
  {
    name: 'ipBlock IPv6 except',
    policies: [ingressOnly('ip6', [{ from: [{ ipBlock: { cidr: '2001:db8::/64', except: ['2001:db8::/120'] } }] }])],
    from: '2001:db8::ff',
    to: 'default/web',
    port: 8080,
    allowed: false,
  },
  {
    name: 'ipBlock matches a pod IP (noted as CNI-defined)',
    policies: [ingressOnly('ip', [{ from: [{ ipBlock: { cidr: '10.244.2.0/24' } }] }])],
    from: 'default/client',
    to: 'default/web',
    port: 8080,
    allowed: true,
    uncertain: /left to the CNI/,
  },
  {
    name: 'podSelector {} never matches an outside address',
    policies: [ingressOnly('p', [{ from: [{ podSelector: {} }] }])],
    from: '203.0.113.9',
    to: 'default/web',
    port: 8080,
    allowed: false,
  },
  // ports
  {
    name: 'port: exact number',
    policies: [ingressOnly('port', [{ ports: [{ protocol: 'TCP', port: 8080 }] }])],
    from: 'default/client',
    to: 'default/web',
    port: 8080,
    allowed: true,
    by: /any peer|from anywhere, port TCP\/8080/,
  },
  {
    name: 'port: off by one',
    policies: [ingressOnly('port', [{ ports: [{ protocol: 'TCP', port: 8080 }] }])],
    from: 'default/client',
    to: 'default/web',
    port: 8081,
    allowed: false,
  },
  {
    name: 'port: protocol defaults to TCP, so UDP is denied',
    policies: [ingressOnly('port', [{ ports: [{ port: 8080 }] }])],
    from: 'default/client',
    to: 'default/web',
    port: 8080,
    proto: 'UDP',
    allowed: false,
  },
  {
    name: 'port: protocol without port is every port of it',
    policies: [ingressOnly('port', [{ ports: [{ protocol: 'UDP' }] }])],
    from: 'default/client',
    to: 'default/web',
    port: 5353,
    proto: 'UDP',
    allowed: true,
  },
  {
    name: 'port: SCTP',
    policies: [ingressOnly('port', [{ ports: [{ protocol: 'SCTP', port: 3868 }] }])],
    from: 'default/client',
    to: 'default/web',
    port: 3868,
    proto: 'SCTP',
    allowed: true,
  },
  {
    name: 'endPort: the upper bound is included',
    policies: [ingressOnly('range', [{ ports: [{ port: 32000, endPort: 32768 }] }])],
    from: 'default/client',
    to: 'default/web',
    port: 32768,
    allowed: true,
    by: /TCP\/32000-32768/,
  },
  {
    name: 'endPort: one above the upper bound',
    policies: [ingressOnly('range', [{ ports: [{ port: 32000, endPort: 32768 }] }])],
    from: 'default/client',
    to: 'default/web',
    port: 32769,
    allowed: false,
  },
  {
    name: 'endPort: one below the lower bound',
    policies: [ingressOnly('range', [{ ports: [{ port: 32000, endPort: 32768 }] }])],
    from: 'default/client',
    to: 'default/web',
    port: 31999,
    allowed: false,
  },
  {
    name: 'named port: resolved against the destination pod',
    policies: [ingressOnly('named', [{ ports: [{ port: 'http' }] }])],
    from: 'default/client',
    to: 'default/web',
    port: 8080,
    allowed: true,
    by: /TCP\/http/,
  },
  {
    name: 'named port: another number than the pod declares',
    policies: [ingressOnly('named', [{ ports: [{ port: 'http' }] }])],
    from: 'default/client',
    to: 'default/web',
    port: 9090,
    allowed: false,
  },
  {
    name: 'named port: the name with another protocol does not match',
    policies: [ingressOnly('named', [{ ports: [{ port: 'dns' }] }])],
    from: 'default/client',
    to: 'default/web',
    port: 5353,
    allowed: false,
  },
  {
    name: 'named port in egress: resolved against the destination (prod/pweb http=9090)',
    policies: [
      netpol('eg', {
        podSelector: sel({ app: 'client' }),
        policyTypes: ['Egress'],
        egress: [{ ports: [{ port: 'http' }] }],
      }),
    ],
    from: 'default/client',
    to: 'prod/pweb',
    port: 9090,
    allowed: true,
  },
  {
    name: 'named port in egress: the source pod would say 8080, the destination says 9090',
    policies: [
      netpol('eg', {
        podSelector: sel({ app: 'client' }),
        policyTypes: ['Egress'],
        egress: [{ ports: [{ port: 'http' }] }],
      }),
    ],
    from: 'default/client',
    to: 'prod/pweb',
    port: 8080,
    allowed: false,
    egress: false,
  },
  {
    name: 'named port in egress to an outside IP never matches',
    policies: [
      netpol('eg', {
        podSelector: sel({ app: 'client' }),
        policyTypes: ['Egress'],
        egress: [{ ports: [{ port: 'http' }] }],
      }),
    ],
    from: 'default/client',
    to: '203.0.113.10',
    port: 8080,
    allowed: false,
  },
  {
    name: 'a rule needs a matching peer AND a matching port',
    policies: [ingressOnly('both', [{ from: [{ podSelector: sel({ app: 'client' }) }], ports: [{ port: 443 }] }])],
    from: 'default/client',
    to: 'default/web',
    port: 8080,
    allowed: false,
  },
  {
    name: 'ICMP: only a rule without ports allows it',
    policies: [ingressOnly('icmp', [{ ports: [{ port: 8080 }] }, { from: [{ podSelector: sel({ app: 'client' }) }] }])],
    from: 'default/client',
    to: 'default/web',
    proto: 'ICMP',
    allowed: true,
    by: /ingress\[1\]/,
  },
  // union
  {
    name: 'policies are a union: a deny-all and an allow',
    policies: [
      ingressOnly('deny', [], {}),
      ingressOnly('allow', [{ from: [{ podSelector: sel({ app: 'client' }) }] }]),
    ],
    from: 'default/client',
    to: 'default/web',
    port: 8080,
    allowed: true,
    by: /default\/allow ingress\[0\]/,
  },
  {
    name: 'a denial names every isolating policy',
    policies: [
      ingressOnly('deny', [], {}),
      ingressOnly('allow', [{ from: [{ podSelector: sel({ app: 'client' }) }] }]),
    ],
    from: 'default/other',
    to: 'default/web',
    port: 8080,
    allowed: false,
    deniedBy: ['default/deny', 'default/allow'],
  },
  // egress and ingress both
  {
    name: 'egress allowed but ingress denied',
    policies: [
      netpol('eg', { podSelector: {}, policyTypes: ['Egress'], egress: [{}] }),
      ingressOnly('in', [{ from: [{ podSelector: sel({ app: 'other' }) }] }]),
    ],
    from: 'default/client',
    to: 'default/web',
    port: 8080,
    allowed: false,
    egress: true,
    ingress: false,
    deniedBy: ['default/in'],
  },
  // what policies cannot see
  {
    name: "the destination pod's own node is always allowed in",
    policies: [ingressOnly('deny', [], {})],
    from: '192.168.56.11',
    to: 'default/web',
    port: 8080,
    allowed: true,
  },
  {
    name: 'another node is not',
    policies: [ingressOnly('deny', [], {})],
    from: '192.168.56.12',
    to: 'default/web',
    port: 8080,
    allowed: false,
  },
  {
    name: 'a host-network pod is its node IP: a podSelector does not match it',
    policies: [ingressOnly('p', [{ from: [{ podSelector: sel({ app: 'client' }) }] }])],
    from: 'default/hostpod',
    to: 'default/web',
    port: 8080,
    allowed: false,
  },
  {
    name: 'a host-network pod as destination is never isolated',
    policies: [ingressOnly('deny', [], {})],
    from: 'default/client',
    to: 'default/hostpod',
    port: 8080,
    allowed: true,
  },
];

function end(c: { objects: KubeObject[] }, e: End): Peer {
  if (e.includes('/')) {
    const [ns, name] = e.split('/') as [string, string];
    return podPeer(c, findPod(c, ns, name));
  }
  return ipPeer(c, e);
}

for (const r of rows)
  test(`networkpolicy: ${r.name}`, () => {
    const c = objects(...BASE.filter((o) => !r.without?.includes(o.kind)), ...r.policies);
    const ev = evaluatePolicies(c, end(c, r.from), end(c, r.to), r.port, r.proto ?? 'TCP');
    const show = JSON.stringify(ev, null, 1);
    assert.equal(ev.allowed, r.allowed, show);
    if (r.egress !== undefined) assert.equal(ev.egress.allowed, r.egress, show);
    if (r.ingress !== undefined) assert.equal(ev.ingress.allowed, r.ingress, show);
    if (r.by) {
      const texts = [...ev.egress.allowedBy, ...ev.ingress.allowedBy].map((a) => a.text).join('\n');
      assert.match(texts, r.by, show);
    }
    if (r.deniedBy) {
      const denied = [...ev.egress.deniedBy, ...ev.ingress.deniedBy].map((p) => `${p.namespace}/${p.name}`);
      assert.deepEqual(denied, r.deniedBy, show);
      const reason = !ev.ingress.allowed ? ev.ingress.reason : ev.egress.reason;
      for (const d of r.deniedBy) assert.ok(reason.includes(d), reason);
    }
    if (!r.allowed) assert.ok(ev.egress.allowedBy.length === 0 || ev.ingress.allowedBy.length === 0);
    const unc = [...ev.egress.uncertain, ...ev.ingress.uncertain].join('\n');
    if (r.uncertain) assert.match(unc, r.uncertain);
    else assert.equal(unc, '', 'no uncertainty expected');
  });

test('networkpolicy: an IP peer names its node; a source node IP from a node snapshot address too', () => {
  const c = objects(...BASE);
  assert.deepEqual(ipPeer(c, '192.168.56.12'), { kind: 'ip', ip: '192.168.56.12', node: 'n2' });
  assert.deepEqual(ipPeer(c, '203.0.113.1'), { kind: 'ip', ip: '203.0.113.1' });
  const p = ipPeer(c, '10.244.2.20');
  assert.equal(p.kind === 'pod' && p.name, 'client');
  assert.equal(p.kind === 'pod' && p.namespaceLabels.team, 'a');
});

test("networkpolicy: the node's other addresses (cni0, from its snapshot) count as the node", () => {
  const ipAddr = JSON.stringify([
    {
      ifindex: 2,
      ifname: 'eth0',
      flags: ['UP'],
      mtu: 1500,
      operstate: 'UP',
      addr_info: [{ family: 'inet', local: '192.168.56.11', prefixlen: 24, scope: 'global' }],
    },
    {
      ifindex: 5,
      ifname: 'cni0',
      flags: ['UP'],
      mtu: 1450,
      operstate: 'UP',
      addr_info: [{ family: 'inet', local: '10.244.1.1', prefixlen: 24, scope: 'global' }],
    },
  ]);
  const c = new ClusterModel(
    testBundle(
      [
        { name: 'n1', ip: '192.168.56.11', commands: { 'ip-addr': ipAddr } },
        { name: 'n2', ip: '192.168.56.12' },
      ],
      [...BASE.filter((o) => o.kind !== 'Node'), netpol('deny', { podSelector: {}, policyTypes: ['Ingress'] })],
    ),
  );
  const src = ipPeer(c, '10.244.1.1');
  assert.deepEqual(src, { kind: 'ip', ip: '10.244.1.1', node: 'n1' });
  const web = podPeer(c, findPod(c, 'default', 'web'));
  const ev = evaluatePolicies(c, src, web, 8080, 'TCP');
  assert.equal(ev.allowed, true);
  assert.match(ev.ingress.reason, /the pod's own node: always allowed in/);
  // an address no snapshot or Node object holds is not the pod's node
  const other = evaluatePolicies(c, ipPeer(c, '10.244.2.1'), web, 8080, 'TCP');
  assert.equal(other.allowed, false);
  assert.deepEqual(other.ingress.deniedBy, [{ namespace: 'default', name: 'deny' }]);
});

test('networkpolicy: the decisive object of a denial names the policies and the enforcing node', () => {
  const c = objects(...BASE, netpol('deny', { podSelector: sel({ app: 'web' }), policyTypes: ['Ingress'] }));
  const client = podPeer(c, findPod(c, 'default', 'client'));
  const web = podPeer(c, findPod(c, 'default', 'web'));
  const denied = evaluatePolicies(c, client, web, 8080, 'TCP');
  assert.deepEqual(policyDecisive(denied), {
    kind: 'policy-object',
    node: 'n1',
    policy: 'default/deny',
    text: 'NetworkPolicy default/deny (ingress)',
    detail: denied.ingress.reason,
  });
  assert.equal(policyDecisive(evaluatePolicies(c, web, client, 8080, 'TCP')), undefined);
  // egress is decided first: a pod denied both ways names its egress policy
  const c2 = objects(
    ...BASE,
    netpol('deny-in', { podSelector: sel({ app: 'web' }), policyTypes: ['Ingress'] }),
    netpol('deny-out', { podSelector: sel({ app: 'client' }), policyTypes: ['Egress'] }),
  );
  const both = evaluatePolicies(
    c2,
    podPeer(c2, findPod(c2, 'default', 'client')),
    podPeer(c2, findPod(c2, 'default', 'web')),
    80,
    'TCP',
  );
  assert.equal(policyDecisive(both)?.policy, 'default/deny-out');
  assert.equal(policyDecisive(both)?.node, 'n2');
});
