/** Table-driven semantics of the walk: each row a ruleset, a packet and what the kernel does. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeEnv, Path } from '../../src/netfilter/model.js';
import { makePacket, type PacketQuestion } from '../../src/netfilter/packet.js';
import { simulate } from '../../src/netfilter/simulate.js';
import { loadRules } from '../../src/parse/ruleset.js';

function save(tables: Record<string, string[]>): string {
  const base: Record<string, string[]> = {
    filter: ['INPUT', 'FORWARD', 'OUTPUT'],
    nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
    mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
    raw: ['PREROUTING', 'OUTPUT'],
  };
  const out: string[] = [];
  for (const [name, lines] of Object.entries(tables)) {
    out.push(`*${name}`);
    const declared = new Set<string>();
    for (const l of lines) {
      const m = /^:(\S+)/.exec(l);
      if (m) declared.add(m[1] as string);
    }
    for (const c of base[name] ?? []) if (!declared.has(c)) out.push(`:${c} ACCEPT [0:0]`);
    out.push(...lines, 'COMMIT');
  }
  return `${out.join('\n')}\n`;
}

interface Row {
  name: string;
  rules: Record<string, string[]>;
  path?: Path;
  pkt: PacketQuestion;
  env?: NodeEnv;
  verdict: string;
  decisive?: string;
  branches?: number;
  /** A parse error the row expects (the rest must parse cleanly). */
  parseError?: RegExp;
  check?: (r: ReturnType<typeof simulate>) => void;
}

const tcp = (dport: number, extra: Partial<PacketQuestion> = {}): PacketQuestion => ({
  proto: 'tcp',
  src: '10.0.0.1',
  dst: '10.0.0.2',
  dport,
  in: 'eth0',
  ...extra,
});

const rows: Row[] = [
  {
    name: 'policy drop',
    rules: { filter: [':INPUT DROP [0:0]'] },
    pkt: tcp(80),
    verdict: 'drop',
    decisive: 'filter/INPUT policy DROP',
  },
  {
    name: 'accept by rule',
    rules: { filter: [':INPUT DROP [0:0]', '-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT'] },
    pkt: tcp(80),
    verdict: 'accept',
    decisive: 'filter/INPUT #1',
  },
  {
    name: 'port boundary',
    rules: { filter: [':INPUT DROP [0:0]', '-A INPUT -p tcp -m tcp --dport 80:90 -j ACCEPT'] },
    pkt: tcp(91),
    verdict: 'drop',
    decisive: 'filter/INPUT policy DROP',
  },
  {
    name: 'seed 000: tcp 8472 accept, udp 8472 rejected',
    rules: {
      filter: [
        '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
        '-A INPUT -p tcp -m conntrack --ctstate NEW -m tcp --dport 8472 -j ACCEPT',
        '-A INPUT -j REJECT --reject-with icmp-host-prohibited',
      ],
    },
    pkt: { proto: 'udp', src: '10.0.0.1', dst: '10.0.0.2', dport: 8472, in: 'eth0' },
    verdict: 'reject',
    decisive: 'filter/INPUT #3',
    check: (r) => assert.deepEqual(r.reject, { with: 'icmp-host-prohibited', clientSees: 'no route to host' }),
  },
  {
    name: 'established skips the reject',
    rules: { filter: ['-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', '-A INPUT -j REJECT'] },
    pkt: { ...tcp(80), state: 'established' },
    verdict: 'accept',
    decisive: 'filter/INPUT #1',
  },
  {
    name: 'negated source',
    rules: { filter: [':INPUT DROP [0:0]', '-A INPUT ! -s 10.0.0.0/24 -j ACCEPT'] },
    pkt: tcp(80, { src: '10.0.1.1' }),
    verdict: 'accept',
    decisive: 'filter/INPUT #1',
  },
  {
    name: 'user chain, RETURN, then policy',
    rules: {
      filter: [
        ':INPUT DROP [0:0]',
        ':X - [0:0]',
        '-A INPUT -j X',
        '-A INPUT -p udp -j ACCEPT',
        '-A X -p tcp -j RETURN',
        '-A X -j ACCEPT',
      ],
    },
    pkt: tcp(80),
    verdict: 'drop',
    decisive: 'filter/INPUT policy DROP',
  },
  {
    name: 'goto does not come back',
    rules: {
      filter: [
        ':INPUT ACCEPT [0:0]',
        ':A - [0:0]',
        ':B - [0:0]',
        '-A INPUT -j A',
        '-A INPUT -j DROP',
        '-A A -g B',
        '-A A -j DROP',
        '-A B -p udp -j DROP',
      ],
    },
    pkt: tcp(80),
    // B falls off: back to INPUT after `-j A` (rule 2 drops) — a goto skips the rest of A.
    verdict: 'drop',
    decisive: 'filter/INPUT #2',
  },
  {
    name: 'goto from a base chain falls to its policy',
    rules: {
      filter: [':INPUT DROP [0:0]', ':B - [0:0]', '-A INPUT -g B', '-A INPUT -j ACCEPT', '-A B -p udp -j ACCEPT'],
    },
    pkt: tcp(80),
    verdict: 'drop',
    decisive: 'filter/INPUT policy DROP',
  },
  {
    name: 'interface wildcard',
    rules: { filter: [':FORWARD DROP [0:0]', '-A FORWARD -i cali+ -j ACCEPT'] },
    path: 'forward',
    pkt: tcp(80, { in: 'cali12345678', out: 'eth0' }),
    verdict: 'accept',
    decisive: 'filter/FORWARD #1',
  },
  {
    name: 'mark set in mangle, matched in filter',
    rules: {
      mangle: ['-A PREROUTING -p tcp -j MARK --set-xmark 0x4000/0x4000'],
      filter: [':INPUT DROP [0:0]', '-A INPUT -m mark --mark 0x4000/0x4000 -j ACCEPT'],
    },
    pkt: tcp(80),
    verdict: 'accept',
    decisive: 'filter/INPUT #1',
  },
  {
    name: 'connmark is not the packet mark',
    rules: {
      mangle: ['-A PREROUTING -p tcp -j MARK --set-xmark 0x4000/0x4000'],
      filter: [':INPUT DROP [0:0]', '-A INPUT -m connmark --mark 0x4000/0x4000 -j ACCEPT'],
    },
    pkt: tcp(80),
    verdict: 'drop',
  },
  {
    name: 'DNAT then filter sees the new destination (ctstate DNAT)',
    rules: {
      nat: ['-A PREROUTING -d 10.96.0.10/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.244.1.5:53'],
      filter: [':FORWARD DROP [0:0]', '-A FORWARD -d 10.244.1.5/32 -m conntrack --ctstate DNAT -j ACCEPT'],
    },
    path: 'forward',
    pkt: { proto: 'udp', src: '10.244.2.3', dst: '10.96.0.10', dport: 53, in: 'cni0', out: 'flannel.1' },
    verdict: 'accept',
    decisive: 'filter/FORWARD #1',
    check: (r) => assert.equal(r.rewrites[0]?.kind, 'dnat'),
  },
  {
    name: 'nat is skipped for established packets',
    rules: {
      nat: ['-A PREROUTING -j DNAT --to-destination 10.9.9.9'],
      filter: [':INPUT DROP [0:0]', '-A INPUT -d 10.0.0.2/32 -j ACCEPT'],
    },
    pkt: { ...tcp(80), state: 'established' },
    verdict: 'accept',
  },
  {
    name: 'statistic: every endpoint is a branch',
    rules: {
      nat: [
        ':SVC - [0:0]',
        ':SEP1 - [0:0]',
        ':SEP2 - [0:0]',
        ':SEP3 - [0:0]',
        '-A PREROUTING -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j SVC',
        '-A SVC -m statistic --mode random --probability 0.33333333349 -j SEP1',
        '-A SVC -m statistic --mode random --probability 0.50000000000 -j SEP2',
        '-A SVC -j SEP3',
        '-A SEP1 -p tcp -m tcp -j DNAT --to-destination 10.244.1.1:6443',
        '-A SEP2 -p tcp -m tcp -j DNAT --to-destination 10.244.1.2:6443',
        '-A SEP3 -p tcp -m tcp -j DNAT --to-destination 10.244.1.3:6443',
      ],
    },
    path: 'forward',
    pkt: tcp(443, { dst: '10.96.0.1', out: 'eth1' }),
    verdict: 'accept',
    branches: 3,
    check: (r) =>
      assert.deepEqual(
        r.branches.map((b) => b.rewrites[0]?.detail),
        ['10.96.0.1:443 → 10.244.1.1:6443', '10.96.0.1:443 → 10.244.1.2:6443', '10.96.0.1:443 → 10.244.1.3:6443'],
      ),
  },
  {
    name: 'addrtype LOCAL from the node addresses',
    rules: { filter: [':INPUT DROP [0:0]', '-A INPUT -m addrtype --dst-type LOCAL -j ACCEPT'] },
    pkt: tcp(80),
    env: { local: new Set(['10.0.0.2']) },
    verdict: 'accept',
  },
  {
    name: 'addrtype without node addresses is uncertain, naming the rule',
    rules: { filter: [':INPUT DROP [0:0]', '-A INPUT -m addrtype --dst-type LOCAL -j ACCEPT'] },
    pkt: tcp(80),
    verdict: 'uncertain',
    decisive: 'filter/INPUT #1',
  },
  {
    name: 'an unknown match that cannot change the outcome stays certain',
    rules: { filter: [':INPUT DROP [0:0]', '-A INPUT -m frobnicate --foo 1 -j LOG', '-A INPUT -p tcp -j ACCEPT'] },
    pkt: tcp(80),
    verdict: 'accept',
    decisive: 'filter/INPUT #2',
  },
  {
    name: 'unknown target is uncertain',
    rules: { filter: ['-A INPUT -p tcp -j FROBNICATE'] },
    pkt: tcp(80),
    verdict: 'uncertain',
    decisive: 'filter/INPUT #1',
    parseError: /-j FROBNICATE: no chain or target/,
  },
  {
    name: 'output path: OUTPUT then POSTROUTING',
    rules: {
      filter: [':OUTPUT DROP [0:0]', '-A OUTPUT -o eth0 -p udp -m udp --dport 53 -j ACCEPT'],
      nat: ['-A POSTROUTING -o eth0 -j MASQUERADE'],
    },
    path: 'output',
    pkt: { proto: 'udp', src: '10.0.0.2', dst: '198.51.100.53', dport: 53, out: 'eth0' },
    verdict: 'accept',
    decisive: 'filter/OUTPUT #1',
    check: (r) => assert.equal(r.rewrites[0]?.kind, 'masquerade'),
  },
  {
    name: 'multiport and negation',
    rules: { filter: [':INPUT ACCEPT [0:0]', '-A INPUT -p tcp -m multiport ! --dports 22,80,8000:8080 -j DROP'] },
    pkt: tcp(8081),
    verdict: 'drop',
    decisive: 'filter/INPUT #1',
  },
  {
    name: 'icmp type',
    rules: { filter: [':INPUT DROP [0:0]', '-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT'] },
    pkt: { proto: 'icmp', src: '10.0.0.1', dst: '10.0.0.2', in: 'eth0' },
    verdict: 'accept',
  },
  {
    name: 'tcp flags: a NEW packet is a SYN',
    rules: {
      filter: [
        ':INPUT ACCEPT [0:0]',
        '-A INPUT -p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -m conntrack --ctstate NEW -j DROP',
      ],
    },
    pkt: tcp(80),
    verdict: 'accept',
  },
  {
    name: 'raw NOTRACK makes the packet untracked',
    rules: {
      raw: ['-A PREROUTING -p udp -j CT --notrack'],
      filter: [':INPUT DROP [0:0]', '-A INPUT -m conntrack --ctstate UNTRACKED -j ACCEPT'],
    },
    pkt: { proto: 'udp', src: '10.0.0.1', dst: '10.0.0.2', dport: 53, in: 'eth0' },
    verdict: 'accept',
  },
];

for (const row of rows) {
  test(`simulate: ${row.name}`, () => {
    const { ruleset, ipsets } = loadRules([{ name: 'rules', text: save(row.rules) }], { eager: true });
    const errors = ruleset.issues.filter((i) => i.severity === 'error').map((i) => i.message);
    if (row.parseError) assert.ok(errors.length === 1 && row.parseError.test(errors[0] as string), errors.join('; '));
    else assert.deepEqual(errors, []);
    const r = simulate(ruleset, makePacket(row.pkt), row.path ?? 'input', { ipsets, ...row.env });
    assert.equal(r.verdict, row.verdict);
    if (row.decisive) {
      const d = r.decisive;
      const text =
        d?.kind === 'rule' ? `${d.table}/${d.chain} #${d.index}` : `${d?.table}/${d?.chain} policy ${d?.policy}`;
      assert.equal(text, row.decisive);
    }
    if (row.branches !== undefined) assert.equal(r.branches.length, row.branches);
    row.check?.(r);
  });
}
