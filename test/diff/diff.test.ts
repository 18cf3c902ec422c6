/**
 * `diff` on synthetic nodes: each kind of difference is found (one row proves it), and what is expected to differ
 * between nodes (their addresses, pod subnet, MACs, kube-proxy's hashes, comments, counters) is not (the near miss).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { diffAll, diffNodes } from '../../src/diff/diff.js';
import type { DiffResult } from '../../src/diff/types.js';
import { ClusterModel } from '../../src/model/cluster.js';
import { flannelCluster, nodesOf, seedFirewall } from './fixtures.js';

function pair(c: ReturnType<typeof flannelCluster>, a = 'node1', b = 'node2'): DiffResult {
  const [x, y] = nodesOf(c, a, b) as [NonNullable<ReturnType<typeof c.node>>, NonNullable<ReturnType<typeof c.node>>];
  return diffNodes(x, y);
}

const kinds = (r: DiffResult) => r.differences.map((d) => d.kind);

describe('netfilter by behaviour', () => {
  test("seed 000's typo: exactly one difference, worded with both rules and both classes", () => {
    const c = flannelCluster(3, { 2: { rules: seedFirewall('tcp') } }, { rules: seedFirewall('udp') });
    const r = pair(c);
    assert.deepEqual(kinds(r), ['netfilter-rule']);
    const d = r.differences[0];
    assert.ok(d);
    assert.equal(
      d.title,
      '8472 accept: node1 `-p udp` (filter/INPUT #5), node2 `-p tcp` (filter/INPUT #5) — ' +
        'udp/8472 NEW: node1 accepts, node2 rejects (filter/INPUT #7 REJECT); tcp/8472 NEW: the reverse',
    );
    assert.deepEqual(
      d.classes.map((x) => [x.packet, x.path, x.a.verdict, x.b.verdict]),
      [
        ['udp/8472 NEW', 'input', 'accept', 'reject'],
        ['tcp/8472 NEW', 'input', 'reject', 'accept'],
      ],
    );
    assert.equal(d.a.evidence[0]?.text, '-A INPUT -p udp -m conntrack --ctstate NEW -m udp --dport 8472 -j ACCEPT');
    assert.equal(d.b.evidence[0]?.index, 5);
    // The healthy pair: nothing, although addresses, pod subnets, MACs and peers differ everywhere.
    assert.deepEqual(pair(c, 'node1', 'node3').differences, []);
  });

  test('comments, counters and a reorder of rules that do not overlap are no difference; a reorder that matters is', () => {
    const a = seedFirewall('udp');
    const b = a
      .replace('-A INPUT -p icmp -j ACCEPT', '-A INPUT -p icmp -m comment --comment "ping" -j ACCEPT')
      .replace(':INPUT ACCEPT [0:0]', ':INPUT ACCEPT [123:4567]')
      // iptables-save -c: counters before each rule.
      .replace('-A INPUT -i lo -j ACCEPT', '[17:2040] -A INPUT -i lo -j ACCEPT');
    const lines = a.split('\n');
    const ssh = lines.findIndex((l) => l.includes('--dport 22 '));
    const kubelet = lines.findIndex((l) => l.includes('--dport 10250 '));
    const swapped = [...lines];
    swapped[ssh] = lines[kubelet] as string;
    swapped[kubelet] = lines[ssh] as string;
    assert.deepEqual(pair(flannelCluster(2, { 2: { rules: b } }, { rules: a })).differences, []);
    assert.deepEqual(pair(flannelCluster(2, { 2: { rules: swapped.join('\n') } }, { rules: a })).differences, []);
    // Moving the REJECT above the kubelet accept changes what happens to tcp/10250.
    const rejectFirst = a.replace(
      '-A INPUT -p tcp -m conntrack --ctstate NEW -m tcp --dport 10250 -j ACCEPT\n-A INPUT -j REJECT --reject-with icmp-host-prohibited',
      '-A INPUT -j REJECT --reject-with icmp-host-prohibited\n-A INPUT -p tcp -m conntrack --ctstate NEW -m tcp --dport 10250 -j ACCEPT',
    );
    assert.notEqual(rejectFirst, a);
    const r = pair(flannelCluster(2, { 2: { rules: rejectFirst } }, { rules: a }));
    assert.ok(r.differences.length >= 1);
    assert.ok(r.differences.every((d) => d.kind === 'netfilter-rule'));
    assert.ok(r.differences.some((d) => d.classes.some((x) => x.packet === 'tcp/10250 NEW')));
  });

  test("rules on the node's own addresses and pod subnet are the same rule on every node", () => {
    const own = seedFirewall('udp', ['-A INPUT -d {NODE_IP}/32 -p tcp -m tcp --dport 6443 -j ACCEPT']);
    assert.deepEqual(pair(flannelCluster(2, {}, { rules: own })).differences, []);
    // The near miss: one node accepts 6443 on every address, the other only on its own.
    const any = seedFirewall('udp', ['-A INPUT -p tcp -m tcp --dport 6443 -j ACCEPT']);
    const r = pair(flannelCluster(2, { 2: { rules: any } }, { rules: own }));
    assert.deepEqual(kinds(r), ['netfilter-rule']);
    assert.ok(r.differences[0]?.classes.some((x) => x.packet.startsWith('tcp/6443 NEW to ')));
  });

  test("what follows where pods run (Calico's per-pod chains, hostPorts, Local traffic policy) is no difference", () => {
    const perPods = (iface: string, extra: string[]) =>
      seedFirewall('udp')
        .replace(
          ':OUTPUT ACCEPT [0:0]',
          `:OUTPUT ACCEPT [0:0]\n:cali-from-wl-dispatch - [0:0]\n:cali-fw-${iface} - [0:0]\n:KUBE-EXTERNAL-SERVICES - [0:0]`,
        )
        .replace(
          '-A INPUT -j REJECT',
          [
            '-A INPUT -m conntrack --ctstate NEW -j KUBE-EXTERNAL-SERVICES',
            `-A cali-from-wl-dispatch -i ${iface} -m comment --comment "cali:x" -g cali-fw-${iface}`,
            `-A cali-fw-${iface} -p tcp -m tcp --dport 5000 -j DROP`,
            '-A FORWARD -i cali+ -j cali-from-wl-dispatch',
            ...extra,
            '-A INPUT -j REJECT',
          ].join('\n'),
        );
    const noLocal =
      '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "default/web:http has no local endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 31000 -j DROP';
    const a = perPods('cali1a2b3c4d5e6', []);
    const b = perPods('cali9f8e7d6c5b4', [noLocal]);
    assert.deepEqual(pair(flannelCluster(2, { 2: { rules: b } }, { rules: a })).differences, []);
    // The same nodes with seed 000's typo on one: that, and only that, is found.
    const typo = b.replace(
      '-p udp -m conntrack --ctstate NEW -m udp --dport 8472',
      '-p tcp -m conntrack --ctstate NEW -m tcp --dport 8472',
    );
    assert.notEqual(typo, b);
    const r = pair(flannelCluster(2, { 2: { rules: typo } }, { rules: a }));
    assert.deepEqual(kinds(r), ['netfilter-rule']);
    assert.match(r.differences[0]?.title ?? '', /^8472 accept: /);
  });

  test('a port range one port shorter: the class at the boundary differs, nothing else', () => {
    const wide = seedFirewall('udp', ['-A INPUT -p tcp -m tcp --dport 30000:32767 -j ACCEPT']);
    const narrow = seedFirewall('udp', ['-A INPUT -p tcp -m tcp --dport 30000:32766 -j ACCEPT']);
    const r = pair(flannelCluster(2, { 2: { rules: narrow } }, { rules: wide }));
    assert.deepEqual(kinds(r), ['netfilter-rule']);
    assert.deepEqual(
      r.differences[0]?.classes.map((x) => `${x.packet} ${x.a.verdict}/${x.b.verdict}`),
      ['tcp/32767 NEW accept/reject'],
    );
  });

  test('a source prefix one bit longer: the addresses it no longer covers differ', () => {
    const a = seedFirewall('udp', ['-A INPUT -s 10.1.0.0/24 -p tcp -m tcp --dport 9100 -j ACCEPT']);
    const b = seedFirewall('udp', ['-A INPUT -s 10.1.0.0/25 -p tcp -m tcp --dport 9100 -j ACCEPT']);
    const r = pair(flannelCluster(2, { 2: { rules: b } }, { rules: a }));
    assert.deepEqual(kinds(r), ['netfilter-rule']);
    const classes = r.differences[0]?.classes.map((x) => x.packet) ?? [];
    assert.ok(classes.includes('tcp/9100 NEW from 10.1.0.254'), classes.join('; '));
    assert.ok(!classes.some((x) => x.includes('from 10.1.0.1 ')));
  });

  test('a chain policy: reported when packets reach it, not when a final REJECT catches everything first', () => {
    const open = seedFirewall('udp').replace('-A INPUT -j REJECT --reject-with icmp-host-prohibited\n', '');
    const closed = open.replace(':INPUT ACCEPT', ':INPUT DROP');
    const r = pair(flannelCluster(2, { 2: { rules: closed } }, { rules: open }));
    assert.deepEqual(kinds(r), ['netfilter-policy']);
    assert.match(r.differences[0]?.title ?? '', /^filter\/INPUT policy: node1 ACCEPT, node2 DROP — /);
    const unreachable = seedFirewall('udp').replace(':INPUT ACCEPT', ':INPUT DROP');
    assert.deepEqual(
      pair(flannelCluster(2, { 2: { rules: unreachable } }, { rules: seedFirewall('udp') })).differences,
      [],
    );
  });

  test('kube-proxy: other hashes for the same services are no difference; a changed endpoint is, with the DNAT on both', () => {
    const kube = (svcHash: string, sepHash: string, endpoint: string) =>
      [
        '*nat',
        ':PREROUTING ACCEPT [0:0]',
        ':INPUT ACCEPT [0:0]',
        ':OUTPUT ACCEPT [0:0]',
        ':POSTROUTING ACCEPT [0:0]',
        ':KUBE-SERVICES - [0:0]',
        ':KUBE-MARK-MASQ - [0:0]',
        `:KUBE-SVC-${svcHash} - [0:0]`,
        `:KUBE-SEP-${sepHash} - [0:0]`,
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
        `-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-${svcHash}`,
        `-A KUBE-SVC-${svcHash} -m comment --comment "kube-system/kube-dns:dns -> ${endpoint}:53" -j KUBE-SEP-${sepHash}`,
        `-A KUBE-SEP-${sepHash} -s ${endpoint}/32 -m comment --comment "kube-system/kube-dns:dns" -j KUBE-MARK-MASQ`,
        `-A KUBE-SEP-${sepHash} -p udp -m comment --comment "kube-system/kube-dns:dns" -m udp -j DNAT --to-destination ${endpoint}:53`,
        'COMMIT',
        '',
      ].join('\n');
    const a = kube('TCOU7JCQXEZGVUNU', 'AAAAAAAAAAAAAAAA', '10.244.1.5');
    const sameOtherHashes = kube('ZZZZZZZZZZZZZZZZ', 'BBBBBBBBBBBBBBBB', '10.244.1.5');
    assert.deepEqual(pair(flannelCluster(2, { 2: { rules: sameOtherHashes } }, { rules: a })).differences, []);
    const moved = kube('TCOU7JCQXEZGVUNU', 'CCCCCCCCCCCCCCCC', '10.244.2.9');
    const r = pair(flannelCluster(2, { 2: { rules: moved } }, { rules: a }));
    assert.deepEqual(kinds(r), ['netfilter-rule']);
    const d = r.differences[0];
    assert.ok(d);
    assert.match(
      d.title,
      /KUBE-SEP\(kube-system\/kube-dns:dns->10\.244\.1\.5:53\).*KUBE-SEP\(kube-system\/kube-dns:dns->10\.244\.2\.9:53\)/,
    );
    const cls = d.classes.find((x) => x.packet === 'udp/53 NEW to 10.96.0.10');
    assert.ok(cls, d.classes.map((x) => x.packet).join('; '));
    assert.deepEqual(
      cls.a.dnat?.map((x) => x.replace(/^.*→\s*/, '')),
      ['10.244.1.5:53'],
    );
    assert.deepEqual(
      cls.b.dnat?.map((x) => x.replace(/^.*→\s*/, '')),
      ['10.244.2.9:53'],
    );
  });
});

test('native nftables (firewalld on RHEL 8+): the same typo in nft syntax, found through the zone chains', () => {
  const healthy = readFileSync(new URL('../fixtures/nft/firewalld.json', import.meta.url), 'utf8');
  const udp = '{"payload": {"protocol": "udp", "field": "dport"}}, "right": 8472}';
  assert.ok(healthy.includes(udp));
  const broken = healthy.replace(udp, udp.replace('udp', 'tcp'));
  const c = flannelCluster(3, { 2: { nft: broken } }, { nft: healthy });
  assert.deepEqual(pair(c, 'node1', 'node3').differences, []);
  const r = pair(c);
  assert.deepEqual(kinds(r), ['netfilter-rule']);
  const d = r.differences[0];
  assert.match(
    d?.title ?? '',
    /^8472 accept: node1 `udp dport 8472 accept` \(inet firewalld\/filter_IN_public_allow #\d+\), node2 `tcp dport 8472 accept`/,
  );
  const udpClass = d?.classes.find((x) => x.packet === 'udp/8472 NEW');
  assert.equal(udpClass?.a.verdict, 'accept');
  assert.equal(udpClass?.b.verdict, 'reject');
});

test('ip6tables: IPv6 packets are asked of IPv6 tables', () => {
  const v6 = (proto: string) =>
    [
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':FORWARD ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      '-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT',
      `-A INPUT -p ${proto} -m ${proto} --dport 8472 -j ACCEPT`,
      '-A INPUT -j REJECT --reject-with icmp6-adm-prohibited',
      'COMMIT',
      '',
    ].join('\n');
  const c = flannelCluster(3, { 2: { rules6: v6('tcp') } }, { rules: seedFirewall('udp'), rules6: v6('udp') });
  assert.deepEqual(pair(c, 'node1', 'node3').differences, []);
  const r = pair(c);
  assert.deepEqual(kinds(r), ['netfilter-rule']);
  assert.match(r.differences[0]?.title ?? '', /^IPv6 8472 accept: node1 `-p udp` \(filter\/INPUT #2\), node2 `-p tcp`/);
  assert.deepEqual(
    r.differences[0]?.classes.map((x) => [x.packet, x.a.verdict, x.b.verdict]),
    [
      ['udp/8472 NEW', 'accept', 'reject'],
      ['tcp/8472 NEW', 'reject', 'accept'],
    ],
  );
});

test("a node without kube-proxy's jump: the Services behind it are the classes, not just any packet", () => {
  const kube = (jump: boolean) =>
    [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':INPUT ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':POSTROUTING ACCEPT [0:0]',
      ':KUBE-SERVICES - [0:0]',
      ...(jump ? ['-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'] : []),
      '-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.244.1.5:53',
      'COMMIT',
      '',
    ].join('\n');
  const r = pair(flannelCluster(2, { 2: { rules: kube(false) } }, { rules: kube(true) }));
  assert.deepEqual(kinds(r), ['netfilter-rule']);
  assert.match(r.differences[0]?.title ?? '', /^PREROUTING → KUBE-SERVICES only on node1: /);
  assert.ok(r.differences[0]?.classes.some((c) => c.packet === 'udp/53 NEW to 10.96.0.10' && c.a.dnat && !c.b.dnat));
});

describe('node state', () => {
  test('sysctls: ip_forward and bridge-nf-call-iptables, with both values', () => {
    const c = flannelCluster(2, {
      2: { sysctl: { 'net.ipv4.ip_forward': '0', 'net.bridge.bridge-nf-call-iptables': '0' } },
    });
    const r = pair(c);
    assert.deepEqual(kinds(r), ['sysctl', 'sysctl']);
    assert.equal(r.differences[0]?.title, 'net.ipv4.ip_forward: node1 1, node2 0');
    assert.equal(r.differences[0]?.a.evidence[0]?.text, 'net.ipv4.ip_forward = 1');
    assert.equal(r.differences[1]?.title, 'net.bridge.bridge-nf-call-iptables: node1 1, node2 0');
    // kernel.hostname differs on every node and is no networking sysctl.
    assert.deepEqual(pair(flannelCluster(2, { 2: { sysctl: { 'kernel.hostname': 'other' } } })).differences, []);
  });

  test('interfaces by role: flannel.1 MTU; other MACs and addresses are no difference', () => {
    const r = pair(flannelCluster(2, { 2: { flannelMtu: 1500 } }));
    assert.deepEqual(kinds(r), ['interface']);
    assert.equal(r.differences[0]?.title, 'flannel.1 mtu: node1 1450, node2 1500');
  });

  test('routes per remote pod subnet, normalised to the peer', () => {
    // Each node routes to the other's subnet (different prefixes, same role): no difference.
    assert.deepEqual(pair(flannelCluster(3)).differences, []);
    const r = pair(flannelCluster(3, { 2: { noRouteTo: [3] } }));
    assert.deepEqual(kinds(r), ['route']);
    assert.equal(
      r.differences[0]?.title,
      'route to 10.244.3.0/24: node1 `10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink`, node2 none',
    );
    // The route to the peer itself missing is a difference too (node2 has none to node1's subnet).
    const toPeer = pair(flannelCluster(3, { 2: { noRouteTo: [1] } }));
    assert.deepEqual(kinds(toPeer), ['route']);
    assert.equal(
      toPeer.differences[0]?.title,
      'route to 10.244.2.0/24 on node1, 10.244.1.0/24 on node2: node1 `10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink`, node2 none',
    );
  });

  test('overlay fdb and neighbour entries, normalised to the peer', () => {
    const r = pair(flannelCluster(3, { 2: { noFdbFor: [3], noNeighFor: [3] } }));
    assert.deepEqual(kinds(r), ['overlay-fdb', 'overlay-neigh']);
    assert.match(
      r.differences[0]?.title ?? '',
      /^fdb entry flannel\.1 dst 192\.168\.56\.13: node1 `02:00:00:00:04:03 dev flannel\.1 dst 192\.168\.56\.13 permanent`, node2 none$/,
    );
  });

  test("a stale VTEP MAC for a peer is a difference; the peer's own MAC seen from each side is not", () => {
    const c = flannelCluster(3);
    const node2 = c.bundle.nodes.get('node2');
    const fdb = node2?.commands['bridge-fdb'];
    assert.ok(fdb?.stdout);
    fdb.stdout = (fdb.stdout as string).replace('02:00:00:00:04:03', '02:00:00:00:04:99');
    const r = pair(new ClusterModel(c.bundle));
    assert.deepEqual(kinds(r), ['overlay-fdb']);
    assert.match(
      r.differences[0]?.title ?? '',
      /dst 192\.168\.56\.13: node1 `02:00:00:00:04:03 .*`, node2 `02:00:00:00:04:99 /,
    );
  });

  test('IPVS: a virtual server without real servers on one node', () => {
    const full =
      '-A -t 10.96.0.10:53 -s rr\n-a -t 10.96.0.10:53 -r 10.244.1.5:53 -m -w 1\n-a -t 10.96.0.10:53 -r 10.244.3.7:53 -m -w 1\n';
    const empty = '-A -t 10.96.0.10:53 -s rr\n';
    const r = pair(flannelCluster(2, { 2: { ipvs: empty } }, { ipvs: full }), 'node1', 'node2');
    const ipvs = r.differences.filter((d) => d.kind === 'ipvs');
    assert.equal(ipvs.length, 1);
    assert.match(
      ipvs[0]?.title ?? '',
      /node1 2 real servers \(10\.244\.1\.5:53, 10\.244\.3\.7:53\), node2 0 real servers/,
    );
    assert.match(ipvs[0]?.detail ?? '', /on node2 connections to this Service are dropped/);
    assert.deepEqual(pair(flannelCluster(2, {}, { ipvs: full })).differences, []);
  });

  test('kube-proxy mode from its command line', () => {
    const ps = (mode: string) =>
      `  PID COMMAND\n  1544 /usr/local/bin/kube-proxy --proxy-mode=${mode} --hostname-override=x\n`;
    const r = pair(flannelCluster(2, { 2: { processes: ps('ipvs') } }, { processes: ps('iptables') }));
    assert.deepEqual(kinds(r), ['kube-proxy']);
    assert.equal(r.differences[0]?.title, 'kube-proxy mode: node1 iptables, node2 ipvs');
  });

  test('something collected on one node only is said, not taken for a difference', () => {
    const r = pair(flannelCluster(2, { 2: { noLinks: true } }));
    assert.deepEqual(r.differences, []);
    assert.deepEqual(
      r.notCompared.map((n) => n.kind),
      ['interface', 'overlay-fdb'],
    );
  });
});

describe('--all', () => {
  test('five nodes, one broken: that one is the odd one out, with its difference from a healthy peer', () => {
    for (const broken of [1, 4]) {
      const c = flannelCluster(5, { [broken]: { rules: seedFirewall('tcp') } }, { rules: seedFirewall('udp') });
      const r = diffAll(c.nodes);
      assert.deepEqual(
        r.oddOnesOut.map((o) => o.node),
        [`node${broken}`],
      );
      const odd = r.oddOnesOut[0];
      assert.ok(odd?.reference && odd.reference !== `node${broken}`);
      assert.equal(odd.differences.length, 1);
      assert.match(
        odd.differences[0]?.title ?? '',
        new RegExp(`^8472 accept: ${odd.reference} \`-p udp\` .*, node${broken} \`-p tcp\``),
      );
      assert.ok(r.pairs.length <= 5 * 4);
    }
  });

  test('all alike: no odd one; two nodes that differ: undecided, not a guess', () => {
    const same = diffAll(flannelCluster(4, {}, { rules: seedFirewall('udp') }).nodes);
    assert.deepEqual(same.oddOnesOut, []);
    assert.equal(same.undecided, undefined);
    const two = diffAll(flannelCluster(2, { 2: { rules: seedFirewall('tcp') } }, { rules: seedFirewall('udp') }).nodes);
    assert.deepEqual(two.oddOnesOut, []);
    assert.deepEqual(two.undecided, ['node1', 'node2']);
  });
});
