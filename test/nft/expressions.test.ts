/**
 * Expression by expression, on the rules of the features fixture (a wide sample of nft syntax): each rule is run on
 * a packet the way the simulator runs it, and the outcome (no match, a verdict, a choice, the packet's rewrites) is
 * checked.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Flow, NodeEnv, Packet, Rewrite, Rule } from '../../src/netfilter/model.js';
import { makePacket, type PacketQuestion } from '../../src/netfilter/packet.js';
import { loadFixture, table } from './helpers.js';

const { parsed } = loadFixture('features.json');

function byText(label: string, chain: string, text: string): Rule {
  const r = table(parsed, label)
    .chains.get(chain)
    ?.rules.find((x) => x.text === text);
  assert.ok(r, `${label} ${chain}: ${text}`);
  return r;
}

function flowText(f: Flow): string {
  if (f.kind === 'jump' || f.kind === 'goto') return `${f.kind} ${f.chain}`;
  if (f.kind === 'reject') return `reject ${f.reject.with} (${f.reject.clientSees})`;
  if (f.kind === 'unknown') return `unknown: ${f.why}`;
  return f.kind;
}

interface Outcome {
  /** `no match`, `next` (no verdict), a verdict, `random`/`unknown` (a choice), `branches: a | b`. */
  outcome: string;
  rewrites: Rewrite[];
  pkt: Packet;
}

/** Run one rule's expressions in order, as the simulator does. */
function evalRule(r: Rule, pkt: Packet, env: NodeEnv = {}): Outcome {
  const rewrites: Rewrite[] = [];
  for (const e of r.exprs) {
    if (e.kind === 'match') {
      const m = e.test(pkt, env);
      if (m === false) return { outcome: 'no match', rewrites, pkt };
      if (m !== true) return { outcome: m.choice, rewrites, pkt };
      continue;
    }
    const f = e.apply(pkt, env, rewrites);
    if (f === null) continue;
    if (Array.isArray(f)) return { outcome: `branches: ${f.map(flowText).join(' | ')}`, rewrites, pkt };
    if (f.kind === 'continue') continue;
    return { outcome: flowText(f), rewrites, pkt };
  }
  return { outcome: 'next', rewrites, pkt };
}

const P = (q: Partial<PacketQuestion>, tweak?: (p: Packet) => void): Packet => {
  const p = makePacket({ proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', dport: 80, in: 'eth0', ...q });
  tweak?.(p);
  return p;
};
const F = 'inet features';
const out = (label: string, chain: string, text: string, pkt: Packet, env?: NodeEnv) =>
  evalRule(byText(label, chain, text), pkt, env).outcome;

describe('nft expressions: conntrack', () => {
  it('ct state: flag list, single flag, negation, verdict map', () => {
    assert.equal(out(F, 'in', 'ct state established,related accept', P({ state: 'related' })), 'accept');
    assert.equal(out(F, 'in', 'ct state established,related accept', P({ state: 'new' })), 'no match');
    assert.equal(out(F, 'in', 'ct state invalid drop', P({ state: 'invalid' })), 'drop');
    assert.equal(out(F, 'raw', 'ct state != established accept', P({ state: 'new' })), 'accept');
    assert.equal(out(F, 'raw', 'ct state != established accept', P({ state: 'established' })), 'no match');
    const vmap = 'ct state vmap { invalid : drop, established : accept, related : accept }';
    assert.equal(out(F, 'raw', vmap, P({ state: 'invalid' })), 'drop');
    assert.equal(out(F, 'raw', vmap, P({ state: 'new' })), 'no match');
    // != of an OR of flags compares the whole value.
    assert.equal(out(F, 'raw', 'ct state != established | related accept', P({ state: 'established' })), 'accept');
  });

  it('ct status dnat/snat from the packet; no conntrack entry, no status', () => {
    assert.equal(
      out(
        F,
        'in',
        'ct status dnat accept',
        P({}, (p) => (p.ctDnat = true)),
      ),
      'accept',
    );
    assert.equal(
      out(
        F,
        'in',
        'ct status dnat accept',
        P({ state: 'established' }, (p) => (p.ctDnat = true)),
      ),
      'accept',
    );
    assert.equal(out(F, 'in', 'ct status dnat accept', P({})), 'no match');
    assert.equal(
      out(
        F,
        'raw',
        'ct status snat accept',
        P({}, (p) => (p.ctSnat = true)),
      ),
      'accept',
    );
    assert.equal(
      out(
        F,
        'raw',
        'ct status snat accept',
        P({ state: 'untracked' }, (p) => (p.ctSnat = true)),
      ),
      'no match',
    );
  });

  it('ct direction: original for a new connection, unknown later', () => {
    assert.equal(out(F, 'in', 'ct direction original accept', P({ state: 'new' })), 'accept');
    assert.equal(out(F, 'in', 'ct direction original accept', P({ state: 'established' })), 'unknown');
  });

  it('ct mark match, under a mask, and ct mark set; ct original ip saddr', () => {
    assert.equal(out(F, 'raw', 'ct mark 0x00000005 accept', P({ ctmark: 5 })), 'accept');
    assert.equal(out(F, 'raw', 'ct mark & 0x000000ff == 0x00000005 accept', P({ ctmark: 0x305 })), 'accept');
    assert.equal(out(F, 'raw', 'ct mark & 0x000000ff == 0x00000005 accept', P({ ctmark: 0x306 })), 'no match');
    // No conntrack entry, no ct mark: the rule stops.
    assert.equal(out(F, 'raw', 'ct mark 0x00000005 accept', P({ ctmark: 5, state: 'untracked' })), 'no match');
    const set = evalRule(byText(F, 'in', 'ct mark set 0x00000010'), P({}));
    assert.equal(set.outcome, 'next');
    assert.equal(set.pkt.ctmark, 0x10);
    assert.equal(out(F, 'raw', 'ct original ip saddr 10.0.0.1 accept', P({ src: '10.0.0.1' })), 'accept');
    assert.equal(
      out(F, 'raw', 'ct original ip saddr 10.0.0.1 accept', P({ src: 'fd00::1', dst: 'fd00::2' })),
      'no match',
    );
  });

  it('notrack before conntrack makes the packet untracked', () => {
    const r = evalRule(byText(F, 'raw', 'udp dport 8472 notrack'), P({ proto: 'udp', dport: 8472 }));
    assert.equal(r.outcome, 'next');
    assert.equal(r.pkt.state, 'untracked');
    assert.deepEqual(
      r.rewrites.map((w) => w.kind),
      ['notrack'],
    );
  });
});

describe('nft expressions: meta and payload', () => {
  it('protocol keys', () => {
    assert.equal(out(F, 'in', 'ip protocol tcp accept', P({})), 'accept');
    assert.equal(out(F, 'in', 'ip protocol tcp accept', P({ src: 'fd00::1', dst: 'fd00::2' })), 'no match');
    assert.equal(out(F, 'in', 'meta nfproto ipv4 accept', P({})), 'accept');
    assert.equal(out(F, 'raw', 'meta protocol ip accept', P({})), 'accept');
    assert.equal(out(F, 'raw', 'ip6 nexthdr tcp accept', P({ src: 'fd00::1', dst: 'fd00::2' })), 'accept');
    assert.equal(
      out(F, 'in', 'meta l4proto { icmp, ipv6-icmp } accept', P({ proto: 'icmp', src: 'fd00::1', dst: 'fd00::2' })),
      'accept',
    );
  });

  it('interfaces: names, wildcards, indexes', () => {
    assert.equal(out(F, 'in', 'iifname "cali*" accept', P({ in: 'cali0123' })), 'accept');
    assert.equal(out(F, 'in', 'iifname "cali*" accept', P({ in: 'eth0' })), 'no match');
    assert.equal(out(F, 'raw', 'iif "lo" accept', P({ in: 'lo' })), 'accept');
    // Locally generated: no input interface, so iif fails and iifname is empty.
    assert.equal(out(F, 'raw', 'iif "lo" accept', P({ in: undefined })), 'no match');
    assert.equal(out('ip misc', 'in', 'iifname != "lo" accept', P({ in: undefined })), 'accept');
    assert.equal(out('ip misc', 'in', 'iifname { "eth1", "vx*" } accept', P({ in: 'vxlan0' })), 'accept');
    assert.equal(out('ip misc', 'in', 'iifname { "eth1", "vx*" } accept', P({ in: 'eth2' })), 'no match');
    assert.equal(out('ip misc', 'in', 'iifname @ifs accept', P({ in: 'cali9' })), 'accept');
  });

  it('ports: sets, ranges, comparisons, negation under a dependency', () => {
    assert.equal(out(F, 'in', 'tcp dport { 22, 80-90 } accept', P({ dport: 85 })), 'accept');
    assert.equal(out(F, 'in', 'tcp dport { 22, 80-90 } accept', P({ dport: 91 })), 'no match');
    assert.equal(out(F, 'in', 'tcp dport { 22, 80-90 } accept', P({ proto: 'udp', dport: 22 })), 'no match');
    assert.equal(out(F, 'raw', 'udp sport >= 1000 accept', P({ proto: 'udp', sport: 1000, dport: 1 })), 'accept');
    assert.equal(out(F, 'raw', 'udp sport >= 1000 accept', P({ proto: 'udp', sport: 999, dport: 1 })), 'no match');
    // `tcp dport != 22` never matches a UDP packet: the tcp header is a dependency.
    assert.equal(
      out(F, 'in', 'ip saddr @s4 tcp dport != 22 drop', P({ proto: 'udp', src: '10.1.1.1', dport: 53 })),
      'no match',
    );
    assert.equal(out(F, 'in', 'ip saddr @s4 tcp dport != 22 drop', P({ src: '192.168.1.20', dport: 53 })), 'drop');
    assert.equal(
      out(F, 'in', 'ip saddr 10.0.0.0/8 ip daddr != 10.1.2.3 th dport 1-1024 accept', P({ proto: 'udp', dport: 53 })),
      'accept',
    );
    assert.equal(
      out(F, 'in', 'ip saddr 10.0.0.0/8 ip daddr != 10.1.2.3 th dport 1-1024 accept', P({ proto: 'icmp' })),
      'unknown',
    );
  });

  it('TCP flags: any-of, exact, masked', () => {
    assert.equal(out(F, 'raw', 'tcp flags syn accept', P({ tcpFlags: 0x12 })), 'accept');
    assert.equal(out(F, 'raw', 'tcp flags == syn accept', P({ tcpFlags: 0x12 })), 'no match');
    assert.equal(out(F, 'raw', 'tcp flags == syn accept', P({ tcpFlags: 0x02 })), 'accept');
    assert.equal(out(F, 'raw', 'tcp flags != syn / syn,ack accept', P({ tcpFlags: 0x12 })), 'accept');
    assert.equal(out(F, 'raw', 'tcp flags syn / fin,syn,rst,ack accept', P({ tcpFlags: 0x0a })), 'accept');
  });

  it('ICMP, lengths, TTL and DSCP (unknown when the packet does not say)', () => {
    assert.equal(out(F, 'in', 'icmp type echo-request accept', P({ proto: 'icmp' })), 'accept');
    assert.equal(
      out(F, 'raw', 'icmp code port-unreachable accept', P({ proto: 'icmp', icmpType: 3, icmpCode: 3 })),
      'accept',
    );
    assert.equal(
      out(
        F,
        'in',
        'icmpv6 type { echo-request, nd-neighbor-solicit } accept',
        P({ proto: 'icmp', src: 'fd00::1', dst: 'fd00::2', icmpType: 135 }),
      ),
      'accept',
    );
    assert.equal(out(F, 'raw', 'ip length > 100 accept', P({})), 'unknown');
    assert.equal(out(F, 'raw', 'ip length > 100 accept', P({ length: 200 })), 'accept');
    assert.equal(
      out(
        'ip misc',
        'in',
        'ip ttl < 5 drop',
        P({}, (p) => (p.ttl = 3)),
      ),
      'drop',
    );
    assert.equal(
      out(
        'ip misc',
        'in',
        'ip dscp cs1 accept',
        P({}, (p) => (p.dscp = 8)),
      ),
      'accept',
    );
    assert.equal(out('ip misc', 'in', 'ip dscp cs1 accept', P({})), 'unknown');
  });

  it('packet type, socket owner', () => {
    assert.equal(
      out(F, 'in', 'meta pkttype broadcast drop', P({ proto: 'udp', dst: '255.255.255.255', dport: 67 })),
      'drop',
    );
    assert.equal(out(F, 'in', 'meta pkttype broadcast drop', P({})), 'no match');
    assert.equal(out(F, 'in', 'meta skuid 0 accept', P({})), 'unknown');
    assert.equal(out(F, 'in', 'meta skuid 0 accept', P({ in: 'eth0', out: 'eth1' })), 'no match');
  });

  it('fib daddr type local from the node addresses', () => {
    const env = { local: new Set(['10.0.0.2']) };
    assert.equal(out(F, 'in', 'fib daddr type local accept', P({}), env), 'accept');
    assert.equal(out(F, 'in', 'fib daddr type local accept', P({ dst: '10.0.0.3' }), env), 'no match');
    assert.equal(out(F, 'in', 'fib daddr type local accept', P({})), 'unknown');
    assert.equal(out(F, 'in', 'fib saddr . iif oif missing drop', P({}), env), 'unknown');
  });

  it('concatenations with ranges, anonymous sets, negated sets', () => {
    const rule = 'ip saddr . tcp dport { 10.0.0.1 . 80, 10.0.0.0/24 . 90-100 } accept';
    assert.equal(out(F, 'raw', rule, P({ src: '10.0.0.1', dport: 80 })), 'accept');
    assert.equal(out(F, 'raw', rule, P({ src: '10.0.0.9', dport: 95 })), 'accept');
    assert.equal(out(F, 'raw', rule, P({ src: '10.0.0.9', dport: 80 })), 'no match');
    assert.equal(out(F, 'in', 'ip saddr != { 10.0.0.0/8, 192.168.0.0/16 } accept', P({ src: '172.16.0.1' })), 'accept');
    assert.equal(
      out(F, 'in', 'ip saddr != { 10.0.0.0/8, 192.168.0.0/16 } accept', P({ src: '192.168.9.9' })),
      'no match',
    );
    assert.equal(out('ip misc', 'in', 'ip daddr != @blocked accept', P({ dst: '203.0.113.7' })), 'no match');
    assert.equal(out('ip misc', 'in', 'ip protocol != { tcp, udp } drop', P({ proto: 'icmp' })), 'drop');
  });
});

describe('nft expressions: marks, verdict maps, random choices', () => {
  it('meta mark set from the old mark and from the ct mark', () => {
    const or = evalRule(byText(F, 'in', 'meta mark set meta mark | 0x00004000'), P({ mark: 0x1 }));
    assert.equal(or.pkt.mark, 0x4001);
    const masked = evalRule(
      byText('ip misc', 'in', 'meta mark set meta mark & 0xffff0001 | 0x00000001'),
      P({ mark: 0x12345678 }),
    );
    assert.equal(masked.pkt.mark, 0x12340001);
    const fromCt = evalRule(byText('ip misc', 'in', 'meta mark set ct mark'), P({ ctmark: 0x77 }));
    assert.equal(fromCt.pkt.mark, 0x77);
    // Without a conntrack entry there is no ct mark to copy: the rule stops, the mark stays.
    const untracked = evalRule(
      byText('ip misc', 'in', 'meta mark set ct mark'),
      P({ ctmark: 0x77, mark: 1, state: 'untracked' }),
    );
    assert.equal(untracked.outcome, 'no match');
    assert.equal(untracked.pkt.mark, 1);
    assert.equal(out(F, 'in', 'meta mark & 0x00004000 == 0x00004000 return', P({ mark: 0x4000 })), 'return');
  });

  it('verdict maps: named concatenation, prefixes, a miss', () => {
    const rule = 'ip daddr . meta l4proto . th dport vmap @m';
    assert.equal(out(F, 'in', rule, P({ dst: '10.96.0.1', dport: 443 })), 'goto c1');
    assert.equal(out(F, 'in', rule, P({ proto: 'udp', dst: '10.96.0.10', dport: 53 })), 'jump c1');
    assert.equal(out(F, 'in', rule, P({ proto: 'udp', dst: '10.96.0.1', dport: 443 })), 'no match');
    assert.equal(
      out(F, 'raw', 'ip daddr vmap { 10.0.0.0/8 : accept, 192.168.0.0/16 : drop }', P({ dst: '192.168.3.3' })),
      'drop',
    );
  });

  it('numgen, jhash, symhash, limit, quota, meter, ct count: choices', () => {
    assert.equal(
      out(F, 'in', 'numgen random mod 2 vmap { 0 : goto c1, 1 : goto c2 }', P({})),
      'branches: goto c1 | goto c2',
    );
    assert.equal(out(F, 'in', 'jhash ip saddr mod 2 vmap { 0 : accept, 1 : drop }', P({})), 'branches: accept | drop');
    // jhash of an IPv4 field on an IPv6 packet: nothing to hash, the rule stops.
    assert.equal(
      out(F, 'in', 'jhash ip saddr mod 2 vmap { 0 : accept, 1 : drop }', P({ src: 'fd00::1', dst: 'fd00::2' })),
      'no match',
    );
    // numgen inc mod 3 offset 1 yields 1, 2 or 3; 3 has no entry, so the lookup itself is a random choice.
    assert.equal(out(F, 'in', 'numgen inc mod 3 offset 1 vmap { 1 : accept, 2 : drop }', P({})), 'random');
    assert.equal(out('ip misc', 'in', 'symhash mod 2 vmap { 0 : accept, 1 : drop }', P({})), 'branches: accept | drop');
    assert.equal(out(F, 'in', 'limit rate 10/second accept', P({})), 'random');
    assert.equal(out(F, 'raw', 'quota 100 mbytes accept', P({})), 'unknown');
    assert.equal(out('ip misc', 'in', 'meter m1 size 65535 { ip saddr limit rate 10/second } accept', P({})), 'random');
    assert.equal(out('ip misc', 'in', 'ct count over 10 drop', P({})), 'unknown');
  });

  it('statements without a verdict', () => {
    assert.equal(out('ip misc', 'in', 'log group 1', P({})), 'next');
    assert.equal(out('ip misc', 'in', 'counter name "cnt"', P({})), 'next');
    assert.equal(out('ip misc', 'out', 'dup to 10.0.0.9', P({})), 'next');
    assert.equal(out('ip misc', 'in', 'udp dport 53 accept comment "dns"', P({ proto: 'udp', dport: 53 })), 'accept');
  });
});

describe('nft expressions: reject and NAT', () => {
  it('reject: family defaults, icmp/icmpv6 codes, icmpx, tcp reset', () => {
    assert.equal(out('ip misc', 'in', 'reject', P({})), 'reject icmp-port-unreachable (refused)');
    assert.equal(
      out('ip6 six', 'in', 'reject', P({ src: 'fd00::1', dst: 'fd00::2' })),
      'reject icmp6-port-unreachable (refused)',
    );
    assert.equal(
      out('ip6 six', 'in', 'reject with icmpv6 admin-prohibited', P({ src: 'fd00::1', dst: 'fd00::2' })),
      'reject icmp6-adm-prohibited (admin prohibited)',
    );
    assert.equal(out(F, 'in', 'reject', P({})), 'reject icmpx port-unreachable (refused)');
    assert.equal(
      out(F, 'in', 'reject with icmpx admin-prohibited', P({})),
      'reject icmpx admin-prohibited (admin prohibited)',
    );
    assert.equal(
      out(F, 'in', 'reject with icmp host-unreachable', P({})),
      'reject icmp-host-unreachable (no route to host)',
    );
    // In an inet table `reject with icmp ...` only applies to IPv4.
    assert.equal(out(F, 'in', 'reject with icmp host-unreachable', P({ src: 'fd00::1', dst: 'fd00::2' })), 'no match');
    assert.equal(out(F, 'in', 'tcp dport 25 reject with tcp reset', P({ dport: 25 })), 'reject tcp-reset (refused)');
  });

  it('dnat to an address and port, to a range, through a map; not for the other family', () => {
    const d = evalRule(
      byText(F, 'nat', 'ip daddr 10.96.0.1 tcp dport 443 dnat ip to 192.168.1.5:6443'),
      P({ dst: '10.96.0.1', dport: 443 }),
    );
    assert.equal(d.outcome, 'accept');
    assert.equal(d.pkt.dst.value, 0xc0a80105);
    assert.equal(d.pkt.dport, 6443);
    assert.equal(d.pkt.origDst?.value, 0x0a600001);
    assert.equal(d.pkt.origDport, 443);
    assert.equal(d.pkt.ctDnat, true);
    assert.deepEqual(d.rewrites, [{ kind: 'dnat', detail: '10.96.0.1:443 → 192.168.1.5:6443' }]);
    const range = evalRule(
      byText(F, 'nat', 'meta l4proto tcp dnat ip to 10.0.0.1-10.0.0.5:80-90'),
      P({ dst: '10.96.0.9', dport: 1 }),
    );
    assert.equal(range.pkt.dst.value, 0x0a000001);
    assert.equal(range.pkt.dport, 80);
    const map = byText('ip misc', 'pre', 'dnat to ip daddr map @natmap');
    assert.equal(evalRule(map, P({ dst: '10.96.0.5' })).pkt.dst.value, 0x0af40105);
    assert.equal(evalRule(map, P({ dst: '10.96.0.6' })).outcome, 'no match');
    assert.match(
      evalRule(byText('ip misc', 'pre', 'dnat to numgen inc mod 2 map { 0 : 10.0.0.1, 1 : 10.0.0.2 }'), P({})).outcome,
      /^unknown: .*picks one of 2/,
    );
    const v6 = evalRule(
      byText(F, 'nat', 'ip daddr 10.96.0.2 dnat ip to 10.0.0.1'),
      P({ src: 'fd00::1', dst: 'fd00::2' }),
    );
    assert.equal(v6.outcome, 'no match');
  });

  it('redirect, masquerade, snat', () => {
    const red = evalRule(byText(F, 'nat', 'tcp dport 80 redirect to :8080'), P({ dport: 80 }), {
      local: new Set(['10.0.0.2', '192.168.0.2']),
    });
    assert.equal(red.outcome, 'accept');
    assert.equal(red.pkt.dport, 8080);
    assert.equal(red.pkt.ctDnat, true);
    const masq = evalRule(byText(F, 'post', 'ip saddr 10.0.0.0/8 masquerade'), P({ out: 'eth1' }));
    assert.equal(masq.outcome, 'accept');
    assert.equal(masq.pkt.ctSnat, true);
    assert.deepEqual(masq.rewrites, [{ kind: 'masquerade', detail: '10.0.0.1 → the address of eth1' }]);
    const snat = evalRule(byText(F, 'post', 'ip saddr 10.0.0.0/8 snat ip to 1.2.3.4'), P({}));
    assert.equal(snat.pkt.src.value, 0x01020304);
    assert.ok(
      byText(F, 'post', 'ip saddr 10.0.0.0/8 snat ip to 1.2.3.4').exprs.some((e) => e.kind === 'action' && e.natOnly),
    );
  });
});
