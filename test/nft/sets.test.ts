/**
 * Sets and maps: interval sets (prefixes and ranges), concatenations with ranges, interface wildcards, a named
 * verdict map, a ct state verdict map, masks on marks and TCP flags, negations. Input chain with policy drop.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectDecision, loadFixture, run } from './helpers.js';

const { parsed, ruleset } = loadFixture('sets.json');
const T = 'inet filter-sets';
const env = { local: new Set(['192.168.0.2', '192.168.1.1', '2001:db8::2']) };
const base = { path: 'input' as const, src: '192.168.0.3', dst: '192.168.0.2', in: 'eth0' };
const at = (index: number) => ({ table: T, chain: 'input', index });

describe('nft sets: verdict maps and interval sets', () => {
  it('parses without problems', () => {
    assert.deepEqual(parsed.issues, []);
  });

  it('ct state vmap: established accepts, invalid drops', () => {
    expectDecision(run(ruleset, { ...base, proto: 'tcp', dport: 5, state: 'established' }, env), 'accept', at(1));
    expectDecision(run(ruleset, { ...base, proto: 'tcp', dport: 5, state: 'related' }, env), 'accept', at(1));
    expectDecision(run(ruleset, { ...base, proto: 'tcp', dport: 5, state: 'invalid' }, env), 'drop', at(1));
  });

  it('interval set: prefix, range and single address, and what lies just outside', () => {
    for (const src of ['198.51.100.7', '203.0.113.10', '203.0.113.15', '203.0.113.20', '192.0.2.7']) {
      expectDecision(run(ruleset, { ...base, src, proto: 'udp', dport: 5000 }, env), 'drop', at(3));
    }
    for (const src of ['203.0.113.9', '203.0.113.21', '192.0.2.8', '198.51.101.1']) {
      expectDecision(run(ruleset, { ...base, src, proto: 'udp', dport: 5000 }, env), 'reject', at(18));
    }
  });

  it('IPv6 interval set', () => {
    expectDecision(
      run(ruleset, { ...base, src: '2001:db8:bad::1', dst: '2001:db8::2', proto: 'udp', dport: 5000 }, env),
      'drop',
      at(4),
    );
    expectDecision(
      run(ruleset, { ...base, src: '2001:db8:bae::1', dst: '2001:db8::2', proto: 'udp', dport: 5000 }, env),
      'reject',
      at(18),
    );
  });

  it('concatenation set keyed by protocol and port (meta l4proto . th dport)', () => {
    expectDecision(run(ruleset, { ...base, proto: 'tcp', dport: 22 }, env), 'accept', at(9));
    expectDecision(run(ruleset, { ...base, proto: 'udp', dport: 53 }, env), 'accept', at(9));
    // udp/22 is not in the set; it falls to the final reject.
    expectDecision(run(ruleset, { ...base, proto: 'udp', dport: 22 }, env), 'reject', at(18));
  });

  it('concatenation with prefixes and port ranges, behind an interface wildcard set', () => {
    expectDecision(
      run(ruleset, { ...base, in: 'cali12ab', src: '10.244.3.4', proto: 'tcp', dport: 8500 }, env),
      'accept',
      at(8),
    );
    expectDecision(
      run(ruleset, { ...base, in: 'cni0', src: '10.245.1.9', proto: 'tcp', dport: 9100 }, env),
      'accept',
      at(8),
    );
    // 9100 is only allowed from 10.245.1.0/24; eth0 is in no pod interface set.
    expectDecision(
      run(ruleset, { ...base, in: 'cali12ab', src: '10.244.3.4', proto: 'tcp', dport: 9100 }, env),
      'reject',
      at(18),
    );
    expectDecision(
      run(ruleset, { ...base, in: 'eth0', src: '10.244.3.4', proto: 'tcp', dport: 8500 }, env),
      'reject',
      at(18),
    );
  });

  it('named verdict map: drop, accept, and a jump that returns', () => {
    expectDecision(run(ruleset, { ...base, proto: 'tcp', dport: 25 }, env), 'drop', at(10));
    expectDecision(run(ruleset, { ...base, proto: 'tcp', dport: 8080 }, env), 'accept', at(10));
    expectDecision(run(ruleset, { ...base, src: '10.1.2.3', proto: 'tcp', dport: 2222 }, env), 'accept', {
      table: T,
      chain: 'ssh-alt',
      index: 1,
    });
    // From elsewhere ssh-alt returns and the walk goes on after the vmap rule.
    const r = run(ruleset, { ...base, src: '10.9.9.9', proto: 'tcp', dport: 2222 }, env);
    expectDecision(r, 'reject', at(18));
    assert.ok(r.matched.some((m) => m.chain === 'ssh-alt' && m.index === 2));
  });
});

describe('nft sets: masks, negations, comparisons', () => {
  it('mark masks', () => {
    expectDecision(run(ruleset, { ...base, proto: 'udp', dport: 5000, mark: 0x100 }, env), 'accept', at(5));
    expectDecision(run(ruleset, { ...base, proto: 'udp', dport: 5000, mark: 0xff0100 }, env), 'accept', at(5));
    expectDecision(run(ruleset, { ...base, proto: 'udp', dport: 5000, mark: 0x200 }, env), 'drop', at(6));
    expectDecision(run(ruleset, { ...base, proto: 'udp', dport: 5000, mark: 0x1 }, env), 'reject', at(18));
  });

  it('TCP flags under a mask: SYN alone, not SYN+ACK', () => {
    expectDecision(run(ruleset, { ...base, proto: 'tcp', dport: 8443, tcpFlags: 0x02 }, env), 'accept', at(7));
    expectDecision(run(ruleset, { ...base, proto: 'tcp', dport: 8443, tcpFlags: 0x12 }, env), 'reject', at(18));
    expectDecision(run(ruleset, { ...base, proto: 'tcp', dport: 8443, tcpFlags: 0x02 | 0x08 }, env), 'accept', at(7));
  });

  it('a negated prefix before a port', () => {
    expectDecision(run(ruleset, { ...base, src: '192.168.0.3', proto: 'udp', dport: 8472 }, env), 'drop', at(11));
    expectDecision(run(ruleset, { ...base, src: '10.0.0.5', proto: 'udp', dport: 8472 }, env), 'accept', at(12));
  });

  it('ICMP type set', () => {
    expectDecision(run(ruleset, { ...base, proto: 'icmp' }, env), 'accept', at(13));
    expectDecision(run(ruleset, { ...base, proto: 'icmp', icmpType: 3, icmpCode: 1 }, env), 'accept', at(13));
    expectDecision(run(ruleset, { ...base, proto: 'icmp', icmpType: 0 }, env), 'reject', at(18));
  });

  it('a negated anonymous set and a port range', () => {
    expectDecision(run(ruleset, { ...base, src: '192.168.5.5', proto: 'tcp', dport: 10050 }, env), 'accept', at(14));
    expectDecision(
      run(ruleset, { ...base, src: '192.168.5.5', dst: '192.168.1.1', proto: 'tcp', dport: 10050 }, env),
      'reject',
      at(18),
    );
    expectDecision(run(ruleset, { ...base, src: '192.168.5.5', proto: 'tcp', dport: 10101 }, env), 'reject', at(18));
  });

  it('a negated interface wildcard', () => {
    expectDecision(run(ruleset, { ...base, in: 'ens3', proto: 'tcp', dport: 9000 }, env), 'accept', at(15));
    expectDecision(run(ruleset, { ...base, in: 'eth1', proto: 'tcp', dport: 9000 }, env), 'reject', at(18));
  });

  it('ct mark under a mask', () => {
    expectDecision(run(ruleset, { ...base, proto: 'udp', dport: 5000, ctmark: 0x105 }, env), 'accept', at(16));
    expectDecision(run(ruleset, { ...base, proto: 'udp', dport: 5000, ctmark: 0x106 }, env), 'reject', at(18));
  });

  it('a less-than comparison picks the TCP reset; everything else gets admin-prohibited', () => {
    const rst = run(ruleset, { ...base, proto: 'tcp', dport: 80 }, env);
    expectDecision(rst, 'reject', at(17));
    assert.deepEqual(rst.reject, { with: 'tcp-reset', clientSees: 'refused' });
    const other = run(ruleset, { ...base, proto: 'udp', dport: 5000 }, env);
    expectDecision(other, 'reject', at(18));
    assert.deepEqual(other.reject, { with: 'icmpx admin-prohibited', clientSees: 'admin prohibited' });
  });
});
