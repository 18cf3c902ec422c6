/**
 * routeGet and the routing state on the captured node (test/fixtures/node): the answers the kernel gave there, checked
 * without root. test/route/kernel.test.ts compares against the live kernel.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatCidr, parseCidr, parseIp } from '../../src/core/ip.js';
import { parseIpAddr } from '../../src/parse/ip-addr.js';
import { parseIpLink } from '../../src/parse/ip-link.js';
import { parseIpRoute } from '../../src/parse/ip-route.js';
import { parseIpRule } from '../../src/parse/ip-rule.js';
import { parseSysctl } from '../../src/parse/sysctl.js';
import { type RouteGetResult, type RouteQuery, routeGet } from '../../src/route/get.js';
import {
  addressType,
  broadcastAddresses,
  buildRoutingState,
  localAddresses,
  localPrefixes,
} from '../../src/route/state.js';
import { PrefixTrie } from '../../src/route/trie.js';
import { fixturesDir } from '../support/paths.js';

const fixture = (name: string) => readFileSync(join(fixturesDir, 'node', name), 'utf8');

const state = buildRoutingState({
  routes: [
    ...parseIpRoute(fixture('ip-route.json'), 'ip-route').routes,
    ...parseIpRoute(fixture('ip6-route.json'), 'ip6-route', { family: 6 }).routes,
  ],
  rules: [
    ...parseIpRule(fixture('ip-rule.json'), 'ip-rule').rules,
    ...parseIpRule(fixture('ip6-rule.json'), 'ip6-rule', { family: 6 }).rules,
  ],
  links: parseIpLink(fixture('ip-link.json'), 'ip-link').links,
  addresses: parseIpAddr(fixture('ip-addr.json'), 'ip-addr').interfaces,
  sysctl: parseSysctl(fixture('sysctl.txt'), 'sysctl').values,
});

const text = (r: RouteGetResult) => (r.ok ? r.text : r.message);
const get = (q: RouteQuery | string) => routeGet(state, typeof q === 'string' ? { dst: q } : q);

test('the state: IPv6 routes listed twice are kept once; rules in priority order', () => {
  assert.deepEqual(state.issues, []);
  const v6main = state.v6.tables.get('main')?.routes.map((r) => r.text);
  assert.equal(new Set(v6main).size, v6main?.length);
  assert.deepEqual(
    state.v4.rules.map((r) => r.priority),
    [0, 100, 200, 300, 400, 500, 32766, 32767],
  );
  assert.equal(state.v4.customRules, true);
  assert.equal(state.v4.customLocalRoutes, true, 'local 10.100.0.0/16 dev lo was added by hand');
  assert.equal(state.v6.rulesKnown, true);
});

test('flannel: a remote pod subnet goes over flannel.1 to the peer VTEP, onlink, from the flannel.1 address', () => {
  const r = get('10.244.1.5');
  assert.equal(text(r), '10.244.1.5 via 10.244.1.0 dev flannel.1 src 10.244.0.0');
  assert.ok(r.ok && r.route?.text === '10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink');
  assert.equal(r.ok && r.rule?.text, 'from all lookup main suppress_prefixlength 0', 'rule 500 answers first');
});

test("seed 002: the flannel.1 address is the pod subnet's network address, so that address is local", () => {
  assert.equal(text(get('10.244.0.0')), 'local 10.244.0.0 dev lo table local src 10.244.0.0');
  assert.equal(text(get('10.244.0.7')), '10.244.0.7 dev cni0 src 10.244.0.1');
  assert.equal(text(get('10.244.0.255')), 'broadcast 10.244.0.255 dev cni0 table local src 10.244.0.1');
});

test("reject routes and rules answer with the kernel's errors, and say why", () => {
  const cases: [RouteQuery, string, RegExp][] = [
    [{ dst: '10.9.1.1' }, 'RTNETLINK answers: Invalid argument', /blackhole route 10.9.0.0\/16 in table main/],
    [{ dst: '10.8.1.1' }, 'RTNETLINK answers: No route to host', /unreachable route/],
    [
      { dst: '10.7.1.1', mark: 0x10 },
      'RTNETLINK answers: Permission denied',
      /prohibit route 10.7.0.0\/16 in table 100/,
    ],
    [{ dst: '198.51.100.1', src: '10.1.2.3', iif: 'eth0' }, 'RTNETLINK answers: Invalid argument', /rule 300/],
    [{ dst: '2001:db8:2::1' }, 'RTNETLINK answers: No route to host', /unreachable/],
    [{ dst: '2001:db8:9::1' }, 'RTNETLINK answers: Network is unreachable', /no route in tables local, main/],
    [{ dst: '10.0.0.1', oif: 'nope0' }, 'Cannot find device "nope0"', /nope0/],
    [{ dst: '10.0.0.1', src: '192.0.2.1' }, 'RTNETLINK answers: Network is unreachable', /not an address of this node/],
  ];
  for (const [q, message, reason] of cases) {
    const r = get(q);
    assert.equal(r.ok, false, JSON.stringify(q));
    if (!r.ok) {
      assert.equal(r.message, message, JSON.stringify(q));
      assert.match(r.reason, reason);
    }
  }
});

test('fwmark rule: table 100, a throw route there falls through to main', () => {
  assert.equal(
    text(get({ dst: '10.5.3.3', mark: 0x10 })),
    '10.5.3.3 via 192.168.50.5 dev eth0 table 100 src 192.168.50.20',
  );
  assert.equal(
    text(get({ dst: '10.5.3.3', mark: 0x110 })),
    '10.5.3.3 via 192.168.50.5 dev eth0 table 100 src 192.168.50.20',
  );
  assert.equal(text(get({ dst: '10.5.3.3', mark: 0x11 })), '10.5.3.3 via 192.168.50.1 dev eth0 src 192.168.50.10');
  const thrown = get({ dst: '10.6.3.3', mark: 0x10 });
  assert.equal(text(thrown), '10.6.3.3 via 192.168.50.1 dev eth0 src 192.168.50.10');
  assert.equal(thrown.ok && thrown.table, 'main');
});

test('multipath: every nexthop is a possible answer', () => {
  const r = get('10.4.0.9');
  assert.ok(r.ok);
  assert.deepEqual(
    r.alternatives?.map((n) => n.gateway),
    ['192.168.50.1', '192.168.50.2'],
  );
  assert.match(r.notes.join(' '), /hash/);
});

test('input path: forwarded, delivered locally, and refused when forwarding is off', () => {
  assert.equal(
    text(get({ dst: '10.244.1.5', src: '10.244.0.5', iif: 'cni0' })),
    '10.244.1.5 from 10.244.0.5 via 10.244.1.0 dev flannel.1 iif cni0',
  );
  assert.equal(
    text(get({ dst: '192.168.50.10', src: '192.168.50.99', iif: 'eth0' })),
    'local 192.168.50.10 from 192.168.50.99 dev lo table local iif eth0',
  );
  const noForward = buildRoutingState({
    routes: parseIpRoute(fixture('ip-route.json'), 'r').routes,
    sysctl: new Map([['net.ipv4.ip_forward', '0']]),
  });
  const r = routeGet(noForward, { dst: '10.244.1.5', src: '10.244.0.5', iif: 'cni0' });
  assert.equal(text(r), 'RTNETLINK answers: No route to host');
  assert.ok(!r.ok && /forwarding is off/.test(r.reason));
});

test('without sysctls or rules the kernel defaults stand in, and the answer says so', () => {
  const bare = buildRoutingState({ routes: parseIpRoute(fixture('ip-route.json'), 'r').routes });
  assert.equal(bare.v4.rulesKnown, false);
  assert.deepEqual(
    bare.v4.rules.map((r) => `${r.priority}: ${r.text}`),
    ['0: from all lookup local', '32766: from all lookup main', '32767: from all lookup default'],
  );
  const r = routeGet(bare, { dst: '10.244.1.5', src: '10.244.0.5', iif: 'cni0' });
  assert.ok(r.ok);
  assert.match(r.notes.join(' '), /sysctls not known/);
  // without custom rules the kernel names the merged local/main table "main"
  const local = routeGet(bare, { dst: '10.244.0.1' });
  assert.ok(local.ok && local.type === 'local' && local.table === 'main');
});

test('local addresses and address types for addrtype', () => {
  const local = localAddresses(state);
  for (const a of ['10.244.0.0', '10.244.0.1', '192.168.50.10', '192.168.50.20', '127.0.0.1', '::1', '2001:db8:a::10'])
    assert.ok(local.has(a), a);
  assert.equal(local.has('10.100.0.0'), false, 'an AnyIP prefix is not one address');
  assert.ok(localPrefixes(state).some((c) => formatCidr(c) === '10.100.0.0/16'));
  assert.ok(broadcastAddresses(state).has('10.244.0.255'));
  const type = (ip: string) => addressType(state, parseIp(ip) as NonNullable<ReturnType<typeof parseIp>>);
  assert.equal(type('10.100.3.3'), 'local');
  assert.equal(type('127.9.9.9'), 'local');
  assert.equal(type('192.168.50.255'), 'broadcast');
  assert.equal(type('198.51.100.7'), 'unicast');
  assert.equal(type('224.0.0.5'), 'multicast');
  assert.equal(type('ff02::1'), 'multicast');
});

test('the trie: every containing prefix, longest first; exact prefixes; both families', () => {
  const t4 = new PrefixTrie<string>(4);
  for (const c of ['0.0.0.0/0', '10.0.0.0/8', '10.1.0.0/16', '10.1.2.3/32', '10.1.0.0/16'])
    t4.insert(parseCidr(c) as NonNullable<ReturnType<typeof parseCidr>>, c);
  const m = t4.matches(parseIp('10.1.2.3') as NonNullable<ReturnType<typeof parseIp>>);
  assert.deepEqual(
    m.map((x) => `${x.prefix}:${x.values.length}`),
    ['32:1', '16:2', '8:1', '0:1'],
  );
  assert.deepEqual(
    t4.matches(parseIp('11.0.0.1') as NonNullable<ReturnType<typeof parseIp>>).map((x) => x.prefix),
    [0],
  );
  assert.equal(t4.size, 5);
  assert.deepEqual(t4.get(parseCidr('10.1.0.0/16') as NonNullable<ReturnType<typeof parseCidr>>), [
    '10.1.0.0/16',
    '10.1.0.0/16',
  ]);
  const t6 = new PrefixTrie<string>(6);
  for (const c of ['2001:db8::/32', '2001:db8:1::/48', '::/0', '2001:db8:1::1/128'])
    t6.insert(parseCidr(c) as NonNullable<ReturnType<typeof parseCidr>>, c);
  assert.deepEqual(
    t6.matches(parseIp('2001:db8:1::1') as NonNullable<ReturnType<typeof parseIp>>).map((x) => x.prefix),
    [128, 48, 32, 0],
  );
  assert.deepEqual(t6.matches(parseIp('10.0.0.1') as NonNullable<ReturnType<typeof parseIp>>), []);
  assert.throws(() => t6.insert(parseCidr('10.0.0.0/8') as NonNullable<ReturnType<typeof parseCidr>>, 'x'));
});

test('a big table (a Calico node: 20,000 /32 routes) builds and answers', () => {
  const lines: string[] = [];
  for (let i = 0; i < 20000; i++)
    lines.push(
      `{"dst":"10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}","dev":"cali${i}","scope":"link","flags":[]}`,
    );
  lines.push('{"dst":"default","gateway":"192.168.50.1","dev":"eth0","flags":[]}');
  const big = buildRoutingState({ routes: parseIpRoute(`[${lines.join(',')}]`, 'big').routes });
  const r = routeGet(big, { dst: '10.0.77.32' });
  assert.ok(r.ok && r.dev === `cali${77 * 256 + 32}`);
  const miss = routeGet(big, { dst: '10.0.78.32' });
  assert.ok(miss.ok && miss.gateway === '192.168.50.1');
});
