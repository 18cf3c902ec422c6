/**
 * A firewalld (nftables backend) node: zone public on eth0 with flannel's udp/8472 open, zone trusted on cni0.
 * Seed 000's question in nft form: VXLAN (udp 8472) passes, tcp 8472 ends at the zone's final reject.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectDecision, loadFixture, run } from './helpers.js';

const { ruleset } = loadFixture('firewalld.json');
const FW = 'inet firewalld';
const env = { local: new Set(['192.168.0.2', '127.0.0.1']) };
const fromPeer = { path: 'input' as const, src: '192.168.0.3', dst: '192.168.0.2', in: 'eth0' };

describe('firewalld: input', () => {
  it('accepts flannel VXLAN (udp 8472) in zone public', () => {
    const r = run(ruleset, { ...fromPeer, proto: 'udp', sport: 41000, dport: 8472 }, env);
    expectDecision(r, 'accept', { table: FW, chain: 'filter_IN_public_allow', index: 6 });
    assert.equal(r.decisive?.text, 'udp dport 8472 accept');
    assert.equal(r.branches.length, 1);
  });

  it('rejects tcp 8472 with admin-prohibited at the zone dispatch', () => {
    const r = run(ruleset, { ...fromPeer, proto: 'tcp', dport: 8472 }, env);
    expectDecision(r, 'reject', { table: FW, chain: 'filter_INPUT_POLICIES', index: 4 });
    assert.equal(r.decisive?.text, 'iifname "eth0" reject with icmpx admin-prohibited');
    assert.deepEqual(r.reject, { with: 'icmpx admin-prohibited', clientSees: 'admin prohibited' });
  });

  it('rejects traffic from an interface in no zone at the end of the policies chain', () => {
    const r = run(ruleset, { ...fromPeer, in: 'eth9', proto: 'tcp', dport: 5000 }, env);
    expectDecision(r, 'reject', { table: FW, chain: 'filter_INPUT_POLICIES', index: 6 });
  });

  it('accepts established traffic first', () => {
    const r = run(ruleset, { ...fromPeer, proto: 'tcp', dport: 8472, state: 'established' }, env);
    expectDecision(r, 'accept', { table: FW, chain: 'filter_INPUT', index: 1 });
    assert.equal(r.decisive?.text, 'ct state { established, related } accept');
  });

  it('accepts connections that were DNATed (ct status dnat)', () => {
    const r = run(ruleset, { ...fromPeer, proto: 'tcp', dport: 8080 }, env, (p) => {
      p.ctDnat = true;
    });
    expectDecision(r, 'accept', { table: FW, chain: 'filter_INPUT', index: 2 });
  });

  it('accepts loopback and drops invalid packets', () => {
    expectDecision(
      run(ruleset, { path: 'input', proto: 'tcp', src: '127.0.0.1', dst: '127.0.0.1', dport: 9999, in: 'lo' }, env),
      'accept',
      {
        table: FW,
        chain: 'filter_INPUT',
        index: 3,
      },
    );
    expectDecision(run(ruleset, { ...fromPeer, proto: 'tcp', dport: 22, state: 'invalid' }, env), 'drop', {
      table: FW,
      chain: 'filter_INPUT',
      index: 4,
    });
  });

  it('drops a denied source before the allow list', () => {
    const r = run(ruleset, { ...fromPeer, src: '203.0.113.66', proto: 'tcp', dport: 22 }, env);
    expectDecision(r, 'drop', { table: FW, chain: 'filter_IN_public_deny', index: 1 });
  });

  it('accepts NodePorts through a port range and ICMP through a protocol set', () => {
    expectDecision(run(ruleset, { ...fromPeer, proto: 'tcp', dport: 31000 }, env), 'accept', {
      table: FW,
      chain: 'filter_IN_public_allow',
      index: 7,
    });
    expectDecision(run(ruleset, { ...fromPeer, proto: 'icmp' }, env), 'accept', {
      table: FW,
      chain: 'filter_IN_public',
      index: 6,
    });
  });

  it('trusts pods on cni0', () => {
    const r = run(
      ruleset,
      { path: 'input', proto: 'udp', src: '10.244.1.5', dst: '192.168.0.2', dport: 53, in: 'cni0' },
      env,
    );
    expectDecision(r, 'accept', { table: FW, chain: 'filter_IN_trusted', index: 1 });
  });
});

describe('firewalld: forward and output', () => {
  it('forwards pod traffic out of cni0 to eth0', () => {
    const r = run(
      ruleset,
      { path: 'forward', proto: 'tcp', src: '10.244.1.5', dst: '198.51.100.9', dport: 443, in: 'cni0', out: 'eth0' },
      env,
    );
    expectDecision(r, 'accept', { table: FW, chain: 'filter_FORWARD_POLICIES', index: 2 });
  });

  it('forwards public to public through the zone allow chain', () => {
    const r = run(
      ruleset,
      { path: 'forward', proto: 'udp', src: '198.51.100.9', dst: '192.168.7.7', dport: 53, in: 'eth0', out: 'eth0' },
      env,
    );
    expectDecision(r, 'accept', { table: FW, chain: 'filter_FWD_public_allow', index: 1 });
  });

  it('lets the node send: the output policies return and the chain policy accepts', () => {
    const r = run(
      ruleset,
      { path: 'output', proto: 'tcp', src: '192.168.0.2', dst: '198.51.100.9', dport: 443, out: 'eth0' },
      env,
    );
    expectDecision(r, 'accept', { table: FW, chain: 'filter_OUTPUT', policy: 'ACCEPT' });
  });

  it('is uncertain for IPv6 when the reverse-path check decides (fib ... oif missing)', () => {
    const r = run(
      ruleset,
      { path: 'forward', proto: 'tcp', src: '2001:db8::5', dst: '2002::1', dport: 80, in: 'eth0', out: 'eth0' },
      env,
    );
    assert.equal(r.verdict, 'uncertain');
    assert.equal(r.decisive?.table, FW);
    assert.equal(r.decisive?.chain, 'filter_PREROUTING');
    assert.equal(r.decisive?.index, 2);
    assert.match(r.decisive?.detail ?? '', /fib saddr \. mark \. iif oif missing/);
  });

  it('does not apply the IPv6 reverse-path rule to IPv4 (meta nfproto)', () => {
    const r = run(
      ruleset,
      { path: 'forward', proto: 'tcp', src: '198.51.100.9', dst: '192.168.7.7', dport: 80, in: 'eth0', out: 'eth0' },
      env,
    );
    assert.equal(r.verdict, 'accept');
  });
});
