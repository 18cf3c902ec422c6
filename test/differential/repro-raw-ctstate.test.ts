/**
 * REPRODUCTION of a simulator disagreement found by the differential harness (kernel-agreement.test.ts).
 *
 * Before the conntrack hook (priority -200 at prerouting and output) no conntrack entry is attached to the packet, so
 * in the raw table (and native chains below -200) the kernel's `-m conntrack --ctstate` / `-m state --state` /
 * `ct state` see INVALID for every packet, NEW or ESTABLISHED; `CT --notrack` there makes later raw rules see
 * UNTRACKED. The simulator does the same; this was a disagreement the differential harness found.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeIp } from '../../src/core/ip.js';
import { loadRules } from '../../src/parse/ruleset.js';
import { kernelDecide, type OraclePacket } from '../kernel/oracle.js';
import { needsRoot } from '../support/netns.js';
import { compareOne } from './harness.js';

const RAW = `*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p tcp -m conntrack --ctstate NEW -j DROP
-A PREROUTING -p udp -m state --state INVALID -j DROP
-A OUTPUT -p tcp -m conntrack ! --ctstate NEW,ESTABLISHED -j ACCEPT
-A OUTPUT -p tcp -j DROP
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctstate NEW -j ACCEPT
-A OUTPUT -m conntrack --ctstate NEW -j ACCEPT
COMMIT
`;

const NODE = '192.168.10.11';
const packets: OraclePacket[] = [
  // kernel: raw PREROUTING #1 does not match (state INVALID there), #2 does not match (tcp) → filter INPUT #1 accepts
  { path: 'input', proto: 'tcp', src: '192.0.2.7', sport: 40000, dst: NODE, dport: 22, in: 'eth0', state: 'new' },
  // kernel: raw PREROUTING #2 drops the udp packet (state INVALID in raw), although it is NEW
  { path: 'input', proto: 'udp', src: '192.0.2.7', sport: 40000, dst: NODE, dport: 53, in: 'eth0', state: 'new' },
  // kernel: raw OUTPUT #3 accepts (INVALID is neither NEW nor ESTABLISHED) → filter OUTPUT #1 accepts
  { path: 'output', proto: 'tcp', src: NODE, sport: 40000, dst: '192.0.2.8', dport: 443, out: 'eth0', state: 'new' },
];

describe('REPRODUCTION: conntrack state in the raw table (before conntrack)', () => {
  it('the kernel and the simulator see INVALID there', async (t) => {
    if (!needsRoot(t)) return;
    const kernel = await kernelDecide({ backend: 'nft', iptablesSave: RAW, localAddresses: [NODE] }, packets);
    const { ruleset, ipsets } = loadRules([{ name: 'raw-ctstate', text: RAW, kind: 'iptables-save' }]);
    const problems: string[] = [];
    packets.forEach((p, i) => {
      const k = kernel[i];
      assert.ok(k?.batch && !k.error, `oracle error: ${k?.error}`);
      const env = { local: new Set(k.batch.local.map((a) => normalizeIp(a) ?? a)), ipsets };
      const r = compareOne('raw-ctstate', 4, ruleset, p, k, env);
      if (r.outcome !== 'agree')
        problems.push(`${JSON.stringify(p)}\n  kernel:    ${r.kernelKey}\n  simulator: ${r.simKeys.join(' | ')}`);
    });
    assert.deepEqual(problems, []);
  });
});
