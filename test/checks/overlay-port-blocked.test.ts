import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCheck } from '../../src/checks/define.js';
import check from '../../src/checks/overlay-port-blocked.js';
import { ClusterModel } from '../../src/model/cluster.js';
import type { KubeObject } from '../../src/model/kube.js';
import { filterInput, flannelConfig, type TestNode, testBundle } from '../support/bundle.js';
import { fixturesDir } from '../support/paths.js';

const FIREWALLD = (vxlanRule: string) =>
  filterInput([
    '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    '-A INPUT -i lo -j ACCEPT',
    '-A INPUT -p tcp -m conntrack --ctstate NEW -m tcp --dport 22 -j ACCEPT',
    vxlanRule,
    '-A INPUT -j REJECT --reject-with icmp-host-prohibited',
  ]);
const UDP = '-A INPUT -p udp -m conntrack --ctstate NEW -m udp --dport 8472 -j ACCEPT';
const TCP = '-A INPUT -p tcp -m conntrack --ctstate NEW -m tcp --dport 8472 -j ACCEPT';

function node(name: string, ip: string, iptables: string, extra: Partial<TestNode> = {}): TestNode {
  return { name, ip, commands: { 'iptables-nft-save': iptables }, ...extra };
}

function findings(nodes: TestNode[], objects: KubeObject[] = [flannelConfig()]) {
  return runCheck(check, new ClusterModel(testBundle(nodes, objects)));
}

interface Row {
  name: string;
  nodes: TestNode[];
  objects?: KubeObject[];
  /** Expected: node → [decisive "table/chain #index", peers named in the title, near-miss substring?]; empty = none. */
  expect: { node: string; decisive: string; peers?: RegExp; nearMiss?: RegExp; fix0: RegExp }[];
}

const rows: Row[] = [
  {
    name: 'seed 000: tcp instead of udp on the new node',
    nodes: [
      node('master', '10.0.0.10', FIREWALLD(UDP)),
      node('slave-1', '10.0.0.11', FIREWALLD(UDP)),
      node('slave-2', '10.0.0.12', FIREWALLD(TCP)),
    ],
    expect: [
      {
        node: 'slave-2',
        decisive: 'filter/INPUT #5',
        peers: /every other node/,
        nearMiss: /near miss: accepts tcp\/8472, but the overlay sends udp\/8472/,
        fix0: /^iptables-nft -I INPUT -s 10\.0\.0\.10,10\.0\.0\.11 -p udp -m udp --dport 8472 -j ACCEPT$/,
      },
    ],
  },
  {
    name: 'healthy twin of seed 000',
    nodes: [
      node('master', '10.0.0.10', FIREWALLD(UDP)),
      node('slave-1', '10.0.0.11', FIREWALLD(UDP)),
      node('slave-2', '10.0.0.12', FIREWALLD(UDP)),
    ],
    expect: [],
  },
  {
    name: 'flannel on port 4789 while the firewall opens 8472',
    objects: [flannelConfig({ Type: 'vxlan', Port: 4789 })],
    nodes: [node('a', '192.168.5.1', FIREWALLD(UDP)), node('b', '192.168.5.2', FIREWALLD(UDP.replace('8472', '4789')))],
    expect: [{ node: 'a', decisive: 'filter/INPUT #5', peers: /from every other node/, fix0: /--dport 4789/ }],
  },
  {
    name: 'the REJECT sits in a user chain',
    nodes: [
      node(
        'a',
        '10.1.0.1',
        filterInput(
          [
            '-A INPUT -j FW',
            '-A FW -p tcp -m tcp --dport 8472 -j ACCEPT',
            '-A FW -j REJECT --reject-with icmp-admin-prohibited',
          ],
          ['FW'],
        ),
      ),
      node('b', '10.1.0.2', filterInput([UDP])),
    ],
    expect: [
      {
        node: 'a',
        decisive: 'filter/FW #2',
        nearMiss: /near miss: accepts tcp\/8472/,
        fix0: /^iptables-nft -I INPUT -s 10\.1\.0\.2 /,
      },
    ],
  },
  {
    name: 'an ACCEPT whose -s misses one peer',
    nodes: [
      node(
        'a',
        '10.2.0.1',
        filterInput(
          [
            '-A INPUT -s 10.2.0.2/32 -p udp -m udp --dport 8472 -j ACCEPT',
            '-A INPUT -s 10.2.0.3/32 -p udp -m udp --dport 8472 -j ACCEPT',
          ],
          [],
          'DROP',
        ),
      ),
      node('b', '10.2.0.2', filterInput([UDP])),
      node('c', '10.2.0.3', filterInput([UDP])),
      node('d', '10.2.0.4', filterInput([UDP])),
    ],
    expect: [
      {
        node: 'a',
        decisive: 'filter/INPUT policy DROP',
        peers: /d \(10\.2\.0\.4\)/,
        nearMiss: /only from 10\.2\.0\.2\/32, which does not include 10\.2\.0\.4/,
        fix0: /-s 10\.2\.0\.4 -p udp/,
      },
    ],
  },
  {
    name: 'port given by the VXLAN device of the sender',
    objects: [flannelConfig({ Type: 'vxlan' })],
    nodes: [
      node('a', '10.3.0.1', FIREWALLD(UDP), {
        commands: {
          'iptables-nft-save': FIREWALLD(UDP),
          'ip-link': JSON.stringify([
            {
              ifindex: 5,
              ifname: 'flannel.1',
              flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
              mtu: 1450,
              operstate: 'UNKNOWN',
              link_type: 'ether',
              address: '8a:4c:19:3e:71:02',
              linkinfo: { info_kind: 'vxlan', info_data: { id: 1, local: '10.3.0.1', port: 4789, learning: false } },
            },
          ]),
        },
      }),
      node('b', '10.3.0.2', FIREWALLD(UDP)),
    ],
    expect: [{ node: 'b', decisive: 'filter/INPUT #5', fix0: /--dport 4789/ }],
  },
  {
    name: 'host-gw has no overlay port',
    objects: [flannelConfig({ Type: 'host-gw' })],
    nodes: [node('a', '10.4.0.1', FIREWALLD(TCP)), node('b', '10.4.0.2', FIREWALLD(TCP))],
    expect: [],
  },
];

for (const row of rows) {
  test(`overlay-port-blocked: ${row.name}`, () => {
    const got = findings(row.nodes, row.objects);
    assert.equal(got.length, row.expect.length, JSON.stringify(got.map((f) => f.title)));
    row.expect.forEach((want, i) => {
      const f = got[i];
      assert.ok(f);
      assert.equal(f.node, want.node);
      assert.equal(f.severity, 'critical');
      const d = f.evidence[0];
      assert.equal(d?.node, want.node);
      assert.equal(
        d?.kind === 'rule'
          ? `${d.table}/${d.chain} #${d.index}`
          : `${d?.table}/${d?.chain} policy ${d?.text.split(' policy ')[1]}`,
        want.decisive,
      );
      if (want.peers) assert.match(f.title, want.peers);
      if (want.nearMiss)
        assert.ok(
          f.evidence.some((e) => want.nearMiss?.test(e.detail ?? '')),
          JSON.stringify(f.evidence, null, 1),
        );
      assert.match(f.fix[0] ?? '', want.fix0);
    });
  });
}

test('overlay-port-blocked: a firewalld inet nft table', () => {
  const json = readFileSync(join(fixturesDir, 'nft', 'firewalld.json'), 'utf8');
  const tcp = json.replace(
    '{"protocol": "udp", "field": "dport"}}, "right": 8472',
    '{"protocol": "tcp", "field": "dport"}}, "right": 8472',
  );
  assert.notEqual(tcp, json);
  const nodes = (broken: string): TestNode[] => [
    { name: 'a', ip: '10.5.0.1', commands: { 'nft-ruleset': json } },
    { name: 'b', ip: '10.5.0.2', commands: { 'nft-ruleset': broken } },
  ];
  assert.deepEqual(findings(nodes(json)), []);
  const [f] = findings(nodes(tcp));
  assert.equal(f?.node, 'b');
  assert.equal(f?.evidence[0]?.table, 'inet firewalld');
  assert.match(
    f?.fix[0] ?? '',
    /^nft insert rule inet firewalld \S+ ip saddr \{ 10\.5\.0\.1 \} udp dport 8472 accept$/,
  );
  assert.ok(f?.evidence.some((e) => /near miss: accepts tcp\/8472/.test(e.detail ?? '')));
});
