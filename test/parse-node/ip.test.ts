/** The `ip -j` / `bridge -j` parsers on real dumps (test/fixtures/node, made by capture.sh in a namespace). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatCidr } from '../../src/core/ip.js';
import { parseBridgeFdb } from '../../src/parse/bridge-fdb.js';
import { parseIpAddr } from '../../src/parse/ip-addr.js';
import { parseIpLink } from '../../src/parse/ip-link.js';
import { parseIpNeigh } from '../../src/parse/ip-neigh.js';
import { formatRoute, parseIpRoute } from '../../src/parse/ip-route.js';
import { parseIpRule } from '../../src/parse/ip-rule.js';
import { fixturesDir } from '../support/paths.js';

const fixture = (name: string) => readFileSync(join(fixturesDir, 'node', name), 'utf8');

test('ip -d -j link: kinds, bridge ports, veth peers in another namespace, VXLAN details', () => {
  const { links, issues } = parseIpLink(fixture('ip-link.json'), 'ip-link.json');
  assert.deepEqual(issues, []);
  const by = new Map(links.map((l) => [l.name, l]));
  assert.equal(by.get('lo')?.kind, undefined);
  assert.equal(by.get('cni0')?.kind, 'bridge');
  const veth = by.get('veth1');
  assert.equal(veth?.kind, 'veth');
  assert.equal(veth?.master, 'cni0');
  assert.equal(veth?.slaveKind, 'bridge');
  assert.equal(veth?.link, 'if2');
  assert.equal(veth?.linkNetnsid, 0);
  assert.equal(by.get('eth0')?.link, 'eth0p');
  const flannel = by.get('flannel.1');
  assert.equal(flannel?.kind, 'vxlan');
  assert.equal(flannel?.mtu, 1450);
  assert.equal(flannel?.up, true);
  assert.deepEqual(
    { ...flannel?.vxlan, other: undefined },
    {
      id: 1,
      port: 8472,
      local: '192.168.50.10',
      dev: 'eth0',
      learning: false,
      ttl: 0,
      portRange: { low: 0, high: 0 },
      other: undefined,
    },
  );
  const vx = by.get('vx4789');
  assert.equal(vx?.vxlan?.port, 4789);
  assert.equal(vx?.vxlan?.group, '239.1.1.1');
  assert.equal(vx?.up, false);
  assert.match(flannel?.mac ?? '', /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
});

test('ip -j link without -d: a VXLAN device has no details, and that is not an error', () => {
  const r = parseIpLink(
    '[{"ifindex":5,"ifname":"flannel.1","flags":["UP"],"mtu":1450,"linkinfo":{"info_kind":"vxlan"}}]',
    'l.json',
  );
  assert.equal(r.links[0]?.vxlan, undefined);
  assert.match(r.issues[0]?.message ?? '', /ip -d/);
  assert.equal(r.issues[0]?.severity, 'warning');
});

test('ip -j addr: addresses per interface with scope, secondary and flags', () => {
  const { interfaces, issues } = parseIpAddr(fixture('ip-addr.json'), 'ip-addr.json');
  assert.deepEqual(issues, []);
  const eth0 = interfaces.find((i) => i.name === 'eth0');
  assert.deepEqual(
    eth0?.addresses.map((a) => `${a.family} ${a.local}/${a.prefixlen} ${a.scope}${a.secondary ? ' secondary' : ''}`),
    [
      '4 192.168.50.10/24 global',
      '4 192.168.50.20/24 global secondary',
      '6 2001:db8:a::10/64 global',
      `6 ${eth0?.addresses[3]?.local}/64 link`,
    ],
  );
  assert.equal(eth0?.addresses[0]?.broadcast, undefined);
  assert.equal(interfaces.find((i) => i.name === 'flannel.1')?.addresses[0]?.local, '10.244.0.0');
  assert.equal(interfaces.find((i) => i.name === 'lo')?.addresses[0]?.scope, 'host');
});

test('ip -j addr: a bad address is skipped, the interface kept', () => {
  const r = parseIpAddr(
    '[{"ifindex":2,"ifname":"eth0","flags":["UP"],"addr_info":[{"family":"inet","local":"10.0.0.300","prefixlen":24},{"family":"inet","local":"10.0.0.1","prefixlen":24,"scope":"global","dadfailed":true}]}]',
    'a.json',
  );
  assert.equal(r.interfaces[0]?.addresses.length, 1);
  assert.deepEqual(r.interfaces[0]?.addresses[0]?.flags, ['dadfailed']);
  assert.equal(r.issues.length, 1);
});

test('ip -j neigh: flannel peers are PERMANENT on flannel.1; FAILED entries have no lladdr', () => {
  const { neighbours, issues } = parseIpNeigh(fixture('ip-neigh.json'), 'ip-neigh.json');
  assert.deepEqual(issues, []);
  assert.deepEqual(neighbours.map((n) => `${n.dst} ${n.dev} ${n.lladdr ?? '-'} ${n.state.join(',')}`).sort(), [
    '10.244.1.0 flannel.1 0a:58:0a:f4:01:00 PERMANENT',
    '10.244.2.0 flannel.1 0a:58:0a:f4:02:00 PERMANENT',
    '192.168.50.1 eth0 02:00:00:00:00:01 REACHABLE',
    '192.168.50.7 eth0 - FAILED',
  ]);
});

test('bridge -j fdb: VXLAN entries carry the remote VTEP in dst', () => {
  const { entries, issues } = parseBridgeFdb(fixture('bridge-fdb.json'), 'bridge-fdb.json');
  assert.deepEqual(issues, []);
  const vtep = entries.filter((e) => e.dev === 'flannel.1' && e.dst);
  assert.deepEqual(
    vtep.map((e) => `${e.mac} ${e.dst} ${e.self} ${e.permanent}`),
    ['0a:58:0a:f4:02:00 192.168.50.12 true true', '0a:58:0a:f4:01:00 192.168.50.11 true true'],
  );
  const group = entries.find((e) => e.dev === 'vx4789' && e.dst);
  assert.equal(group?.dst, '239.1.1.1');
  assert.equal(group?.via, 'eth0');
  assert.ok(
    entries.some((e) => e.master === 'cni0'),
    'bridge port entries name their bridge',
  );
});

test('ip -j route: tables, types, metrics, onlink, multipath, both families', () => {
  const v4 = parseIpRoute(fixture('ip-route.json'), 'ip-route.json');
  const v6 = parseIpRoute(fixture('ip6-route.json'), 'ip6-route.json', { family: 6 });
  assert.deepEqual([...v4.issues, ...v6.issues], []);
  const find = (t: string) => v4.routes.find((r) => r.text === t);
  const flannel = find('10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink');
  assert.equal(flannel?.table, 'main');
  assert.equal(flannel?.type, 'unicast');
  assert.deepEqual(flannel?.flags, ['onlink']);
  assert.equal(flannel?.scope, 'global');
  const def = find('default via 192.168.50.1 dev eth0 proto dhcp metric 100');
  assert.equal(def?.dst.prefix, 0);
  assert.equal(def?.metric, 100);
  assert.equal(find('blackhole 10.9.0.0/16')?.type, 'blackhole');
  assert.equal(find('unreachable 10.8.0.0/16 metric 5')?.metric, 5);
  assert.equal(find('throw 10.6.0.0/16 table 100')?.table, '100');
  assert.equal(find('prohibit 10.7.0.0/16 table 100')?.type, 'prohibit');
  assert.equal(find('10.5.0.0/16 via 192.168.50.5 dev eth0 table 100 src 192.168.50.20')?.prefsrc, '192.168.50.20');
  assert.equal(find('local 10.100.0.0/16 dev lo table local scope host')?.protocol, undefined);
  const mp = v4.routes.find((r) => r.nexthops);
  assert.deepEqual(
    mp?.nexthops?.map((n) => `${n.gateway} ${n.dev} ${n.weight}`),
    ['192.168.50.1 eth0 1', '192.168.50.2 eth0 2'],
  );
  assert.equal(
    mp?.text,
    '10.4.0.0/16 nexthop via 192.168.50.1 dev eth0 weight 1 nexthop via 192.168.50.2 dev eth0 weight 2',
  );
  // `ip route show table all` lists IPv6 too; `ip -6` gives the same IPv6 routes
  const v6in4 = v4.routes.filter((r) => r.family === 6).map((r) => r.text);
  assert.deepEqual(
    v6in4,
    v6.routes.map((r) => r.text),
  );
  const unreach6 = v6.routes.find((r) => r.type === 'unreachable');
  assert.equal(unreach6?.dev, 'lo');
  assert.equal(formatCidr(unreach6?.dst ?? { family: 6, network: 0n, prefix: 0 }), '2001:db8:2::/48');
});

test('ip route text and ip -j route give the same routes; formatRoute prints the text back', () => {
  const json = parseIpRoute(fixture('ip-route.json'), 'ip-route.json');
  const text = parseIpRoute(fixture('ip-route.txt'), 'ip-route.txt');
  assert.equal(text.format, 'text');
  assert.deepEqual(text.issues, []);
  assert.deepEqual(
    text.routes.map((r) => r.text),
    json.routes.map((r) => r.text),
  );
  const strip = (r: object) => ({ ...r, line: 0 });
  assert.deepEqual(text.routes.map(strip), json.routes.map(strip));
  for (const r of json.routes) assert.equal(formatRoute(r), r.text);
});

test('ip route text: an unknown word is flagged and the route kept', () => {
  const r = parseIpRoute('10.0.0.0/8 via 10.1.1.1 dev eth0 encap mpls 100\n', 'r.txt');
  assert.equal(r.routes[0]?.gateway, '10.1.1.1');
  assert.match(r.issues[0]?.message ?? '', /unknown word "encap"/);
});

test('ip -j route: unknown type and bad prefix are skipped with an error', () => {
  const r = parseIpRoute(
    '[{"type":"weird","dst":"10.0.0.0/8"},{"dst":"10.0.0.0/33"},{"dst":"10.0.0.0/8","dev":"x"}]',
    'r.json',
  );
  assert.equal(r.routes.length, 1);
  assert.deepEqual(
    r.issues.map((i) => i.severity),
    ['error', 'error'],
  );
});

test('ip -j rule: every selector and action of the captured rules; text gives the same', () => {
  const json = parseIpRule(fixture('ip-rule.json'), 'ip-rule.json');
  const text = parseIpRule(fixture('ip-rule.txt'), 'ip-rule.txt');
  assert.deepEqual([...json.issues, ...text.issues], []);
  assert.deepEqual(
    json.rules.map((r) => `${r.priority}: ${r.text}`),
    fixture('ip-rule.txt')
      .trim()
      .split('\n')
      .map((l) => l.replace(/\t/, ' ')),
  );
  const strip = (r: object) => ({ ...r, line: 0 });
  assert.deepEqual(text.rules.map(strip), json.rules.map(strip));
  const by = new Map(json.rules.map((r) => [r.priority, r]));
  assert.deepEqual([by.get(100)?.fwmark, by.get(100)?.fwmask, by.get(100)?.table], [0x10, 0xff, '100']);
  const not = by.get(200);
  assert.equal(not?.not, true);
  assert.equal(not?.iif, 'eth0');
  assert.equal(formatCidr(not?.src ?? { family: 4, network: 0, prefix: 0 }), '10.0.0.0/8');
  assert.equal(by.get(300)?.action, 'blackhole');
  assert.deepEqual([by.get(400)?.action, by.get(400)?.goto, by.get(400)?.oif], ['goto', 500, 'eth0']);
  assert.equal(by.get(500)?.suppressPrefixlength, 0);
  const v6 = parseIpRule(fixture('ip6-rule.json'), 'ip6-rule.json', { family: 6 });
  assert.deepEqual(
    v6.rules.map((r) => `${r.family} ${r.priority} ${r.table}`),
    ['6 0 local', '6 32766 main'],
  );
});

test('ip -j rule: ranges, uid, detached devices, l3mdev and unmodelled selectors', () => {
  const r = parseIpRule(
    JSON.stringify([
      { priority: 5, src: 'all', iif: 'ghost0', iif_detached: null, table: '5' },
      {
        priority: 601,
        src: 'all',
        uid_start: 100,
        uid_end: 200,
        ipproto: 'tcp',
        sport_start: 1000,
        sport_end: 2000,
        dport: 80,
        table: '8',
      },
      { priority: 7, src: 'all', l3mdev: null },
      { priority: 13, src: 'all', table: '13', flow_to: '3' },
      { priority: 14, src: 'all', action: 'frobnicate' },
    ]),
    'r.json',
  );
  const by = new Map(r.rules.map((x) => [x.priority, x]));
  assert.equal(by.get(5)?.iifDetached, true);
  assert.equal(by.get(5)?.text, 'from all iif ghost0 [detached] lookup 5');
  assert.deepEqual(by.get(601)?.sport, { start: 1000, end: 2000 });
  assert.deepEqual(by.get(601)?.dport, { start: 80, end: 80 });
  assert.deepEqual(by.get(601)?.uidrange, { start: 100, end: 200 });
  assert.equal(by.get(7)?.text, 'from all lookup [l3mdev-table]');
  assert.deepEqual(by.get(13)?.unmodelled, ['flow_to']);
  assert.equal(by.has(14), false);
  assert.deepEqual(
    r.issues.map((i) => i.severity),
    ['warning', 'error'],
  );
});
