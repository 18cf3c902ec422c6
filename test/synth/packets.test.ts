import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ipToInt } from '../../src/synth/ipv4.js';
import { kubeProxyIptablesSave } from '../../src/synth/kube-proxy-iptables.js';
import { boundaryPackets, extractRuleFacts, type Packet, tokenizeRule } from '../../src/synth/packets.js';
import { randomRuleset } from '../../src/synth/random-ruleset.js';
import { calicoShaped, dockerShaped, firewalldInputShaped, flannelShaped } from '../../src/synth/shapes.js';

function usable(ip: string): boolean {
  const v = ipToInt(ip);
  const first = v >>> 24;
  return first !== 0 && first !== 127 && first < 224;
}

function checkConstraints(packets: Packet[], batches: ReturnType<typeof boundaryPackets>['batches']): void {
  for (const p of packets) {
    assert.ok(usable(p.src) && usable(p.dst), JSON.stringify(p));
    assert.notEqual(p.src, p.dst);
    if (p.path === 'input' || p.path === 'forward') assert.ok(p.in, 'in required');
    if (p.path === 'forward' || p.path === 'output') assert.ok(p.out, 'out required');
    if (p.path === 'input') assert.equal(p.out, undefined);
    if (p.path === 'output') assert.equal(p.in, undefined);
    for (const i of [p.in, p.out]) {
      if (i === undefined) continue;
      assert.ok(!i.includes('+') && i !== 'lo' && i.length <= 15, i);
    }
    if (p.proto === 'icmp') {
      assert.ok([0, 8, 13].includes(p.icmpType as number));
      assert.equal(p.sport, undefined);
      if (p.icmpType === 0) assert.equal(p.state, 'established');
    } else {
      assert.ok(Number.isInteger(p.sport) && Number.isInteger(p.dport));
      assert.ok((p.dport as number) >= 1 && (p.dport as number) <= 65535);
    }
  }
  for (const b of batches) {
    const local = new Set<string>();
    const routed = new Map<string, string>();
    const arriving = new Set<string>();
    for (const p of b.packets) {
      if (p.path === 'input') {
        local.add(p.dst);
        arriving.add(p.src);
      } else {
        const prev = routed.get(p.dst);
        assert.ok(prev === undefined || prev === p.out, `${p.dst} routed out of two interfaces`);
        routed.set(p.dst, p.out as string);
        if (p.path === 'output') local.add(p.src);
        else arriving.add(p.src);
      }
    }
    for (const a of local) {
      assert.ok(!routed.has(a), `${a} both local and routed`);
      assert.ok(!arriving.has(a), `${a} is local and a foreign source`);
    }
    assert.deepEqual(new Set(b.localAddresses), local);
    assert.deepEqual(new Map(b.routes.map((r) => [r.dst, r.out])), routed);
  }
}

describe('tokenizeRule / extractRuleFacts', () => {
  test('splits quoted comments and reads negations', () => {
    assert.deepEqual(tokenizeRule('-A X -m comment --comment "a \\"b\\" c" -j ACCEPT'), [
      '-A',
      'X',
      '-m',
      'comment',
      '--comment',
      'a "b" c',
      '-j',
      'ACCEPT',
    ]);
    const [f] = extractRuleFacts(
      '*filter\n-A INPUT ! -s 10.1.2.0/24 -i cali+ -p 6 -m multiport ! --dports 80,8000:8080 -m conntrack --ctstate NEW -j DROP\n',
    );
    assert.ok(f);
    assert.equal(f.table, 'filter');
    assert.deepEqual(f.src, { value: { network: ipToInt('10.1.2.0'), prefix: 24 }, neg: true });
    assert.deepEqual(f.in, { value: 'cali+', neg: false });
    assert.deepEqual(f.proto, { value: 'tcp', neg: false });
    assert.deepEqual(f.dports, {
      value: [
        { lo: 80, hi: 80 },
        { lo: 8000, hi: 8080 },
      ],
      neg: true,
    });
    assert.deepEqual(f.states, { value: ['NEW'], neg: false });
    assert.equal(f.target, 'DROP');
  });
});

describe('boundaryPackets', () => {
  const fw = firewalldInputShaped({ vxlanProto: 'tcp' }).text;

  test('is deterministic', () => {
    assert.deepEqual(boundaryPackets(fw, 4, 100), boundaryPackets(fw, 4, 100));
    assert.notDeepEqual(boundaryPackets(fw, 4, 100).packets, boundaryPackets(fw, 5, 100).packets);
  });

  test('probes the edges of what rules mention', () => {
    const { packets } = boundaryPackets(fw, 1, 400);
    const dports = new Set(packets.map((p) => `${p.proto}/${p.dport}`));
    // `--dport 8472` (tcp): exact and one off on each side; the range 30000:32767 at and past both ends.
    for (const want of ['tcp/8472', 'tcp/30000', 'tcp/32767']) assert.ok(dports.has(want), want);
    assert.ok(['tcp/8471', 'tcp/8473'].some((d) => dports.has(d)));
    assert.ok(['tcp/29999', 'tcp/32768'].some((d) => dports.has(d)));
    // udp/8472 is the packet seed 000 is about: the near miss on the protocol.
    assert.ok(packets.some((p) => p.proto === 'udp' && p.dport === 8472 && p.path === 'input'));

    const src = boundaryPackets('*filter\n-A INPUT -s 10.1.2.0/24 -i eth1 -j DROP\nCOMMIT\n', 2, 200).packets.map(
      (p) => p.src,
    );
    for (const want of ['10.1.2.0', '10.1.2.1', '10.1.2.255']) assert.ok(src.includes(want), want);
    assert.ok(src.includes('10.1.1.255') || src.includes('10.1.3.0'));
  });

  test('expands interface wildcards to concrete names', () => {
    const { packets } = boundaryPackets('*filter\n-A FORWARD -i cali+ -o flannel+ -j ACCEPT\nCOMMIT\n', 3, 100);
    assert.ok(packets.some((p) => p.in?.startsWith('cali') && p.out?.startsWith('flannel')));
    assert.ok(packets.every((p) => p.path === 'forward' || p.path === 'input' || p.path === 'output'));
  });

  test('keeps the oracle constraints for every kind of ruleset', () => {
    const rulesets = [
      fw,
      flannelShaped({ seed: 1 }).text,
      calicoShaped({ seed: 1 }).text,
      dockerShaped({ seed: 1 }).text,
      kubeProxyIptablesSave({
        services: 30,
        endpointsPerService: 3,
        nodeIP: '192.168.10.11',
        clusterCIDR: '10.244.0.0/16',
        serviceCIDR: '10.96.0.0/12',
        nodePorts: true,
        noEndpointServices: 2,
        externalTrafficPolicyLocal: 2,
      }).text,
      ...Array.from({ length: 15 }, (_, i) => randomRuleset(i + 1, { tables: ['nat', 'mangle', 'raw'] }).text),
    ];
    rulesets.forEach((text, i) => {
      const r = boundaryPackets(text, i, 250);
      assert.ok(r.packets.length >= 240, `ruleset ${i}: ${r.packets.length} packets`);
      checkConstraints(r.packets, r.batches);
      const paths = new Set(r.packets.map((p) => p.path));
      assert.equal(paths.size, 3, `ruleset ${i} covers all paths`);
    });
  });

  test('can be restricted to some paths', () => {
    const r = boundaryPackets(fw, 1, 50, { paths: ['input'] });
    assert.ok(r.packets.every((p) => p.path === 'input'));
  });
});
