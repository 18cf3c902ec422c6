/** `ip route` text to the `ip -j` form: iproute2's own JSON is the oracle. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { routeTextToJson } from '../../src/collect/route-text.js';
import { needsRoot, nsRun, withNetns } from '../support/netns.js';

function nsSh(ns: string, script: string): string {
  const r = nsRun(ns, 'sh', ['-ec', script]);
  assert.equal(r.status, 0, `${script}\n${r.stderr}`);
  return r.stdout;
}

const ROUTES = `sysctl -qw net.ipv6.conf.default.addr_gen_mode=1
ip link set lo up
ip link add eth0 type bridge
ip link set eth0 up
ip addr add 10.9.0.1/24 dev eth0
ip -6 addr add 2001:db8::1/64 dev eth0 nodad
ip link add flannel.1 type vxlan id 1 dstport 8472 local 10.9.0.1 dev eth0 nolearning
ip link set flannel.1 up
ip addr add 10.244.0.0/32 dev flannel.1
ip route add 10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink
ip route add 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink
ip route add default via 10.9.0.254 dev eth0 proto static metric 100
ip route add blackhole 10.99.0.0/16
ip route add prohibit 10.95.0.0/16
ip route add unreachable 10.98.0.0/16 table 100
ip route add throw 10.94.0.0/16 table 100
ip route add 10.97.0.0/16 dev eth0 src 10.9.0.1 table 200 mtu lock 1400 advmss 1200 initcwnd 10
ip route add 10.96.0.0/16 nexthop via 10.9.0.2 dev eth0 weight 1 nexthop via 10.9.0.3 dev eth0 weight 2
ip route add 10.93.0.5 via 10.9.0.9 dev eth0 tos 0x10 realm 5
ip route add 10.32.0.0/16 dev eth0 realms 3/4
ip route add 10.33.0.0/16 dev eth0 proto 77 scope 20
ip route add 10.36.0.0/16 dev eth0 proto bird
ip route add 10.40.0.0/16 dev eth0 table 253
ip route add 10.41.0.0/16 dev eth0 table 1000000
ip route add 10.35.0.0/16 via inet6 fe80::1 dev eth0
ip -6 route add 2001:db8:1::/64 via 2001:db8::2 dev eth0 metric 5
ip -6 route add 2001:db8:5::/64 from 2001:db8::/64 dev eth0
ip -6 route add unreachable 2001:db8:9::/64`;

describe('ip route text to JSON', () => {
  it('gives what `ip -j` gives, for every kind of route the kernel holds here (IPv4 and IPv6, -d or not)', async (t) => {
    if (!needsRoot(t)) return;
    await withNetns('routes', (ns) => {
      nsSh(ns, ROUTES);
      for (const family of [[], ['-6']]) {
        const json = JSON.parse(nsSh(ns, `ip -j ${family.join(' ')} route show table all`));
        for (const details of [[], ['-d']]) {
          const text = nsSh(ns, `ip ${details.join(' ')} ${family.join(' ')} route show table all`);
          const converted = routeTextToJson(text);
          assert.ok(converted.ok, JSON.stringify(converted));
          assert.deepEqual(converted.routes, json, `ip ${details} ${family} route`);
        }
        // The main table alone (what plain `ip route` prints) is converted too.
        const main = routeTextToJson(nsSh(ns, `ip ${family.join(' ')} route`));
        assert.ok(main.ok);
        assert.deepEqual(main.routes, JSON.parse(nsSh(ns, `ip -j ${family.join(' ')} route`)));
      }
    });
  });

  it("converts the routes printed in the seeds' reports", () => {
    const r = routeTextToJson(
      [
        'default via 192.168.1.1 dev eth0 proto dhcp metric 100 ',
        '10.187.0.0/16 dev flannel.1 ',
        '10.187.1.0/24 via 10.187.1.0 dev flannel.1 onlink ',
        '10.187.2.0/24 dev docker0 proto kernel scope link src 10.187.2.1 linkdown ',
        'local 10.187.0.0 dev lo table local proto kernel scope host src 10.187.0.0',
        '2001:db8:7::/64 dev eth0 metric 1024 expires 298sec pref medium',
        '',
      ].join('\n'),
    );
    assert.ok(r.ok);
    assert.deepEqual(r.routes, [
      { dst: 'default', gateway: '192.168.1.1', dev: 'eth0', protocol: 'dhcp', metric: 100, flags: [] },
      { dst: '10.187.0.0/16', dev: 'flannel.1', flags: [] },
      { dst: '10.187.1.0/24', gateway: '10.187.1.0', dev: 'flannel.1', flags: ['onlink'] },
      {
        dst: '10.187.2.0/24',
        dev: 'docker0',
        protocol: 'kernel',
        scope: 'link',
        prefsrc: '10.187.2.1',
        flags: ['linkdown'],
      },
      {
        type: 'local',
        dst: '10.187.0.0',
        dev: 'lo',
        table: 'local',
        protocol: 'kernel',
        scope: 'host',
        prefsrc: '10.187.0.0',
        flags: [],
      },
      { dst: '2001:db8:7::/64', dev: 'eth0', metric: 1024, flags: [], expires: 298, pref: 'medium' },
    ]);
  });

  it('refuses what it cannot convert exactly, naming the line', () => {
    for (const [text, line, reason] of [
      ['default via 10.0.0.1 dev eth0\n10.1.0.0/16 encap mpls 100 via 10.0.0.2 dev eth0\n', 2, /"encap"/],
      ['10.1.0.0/16 dev eth0 rtt 10ms\n', 1, /"rtt"/],
      ['Kernel IP routing table\nDestination Gateway Genmask\n', 1, /no destination/],
      ['10.1.0.0/16 dev eth0\n    cache\n', 2, /indented line/],
      ['default via\n', 1, /"via" without an address/],
      ['\tnexthop via 10.0.0.1 dev eth0 weight 1\n', 1, /before any route/],
    ] as const) {
      const r = routeTextToJson(text);
      assert.equal(r.ok, false, text);
      if (r.ok) continue;
      assert.equal(r.line, line, text);
      assert.match(r.reason, reason);
    }
  });
});
