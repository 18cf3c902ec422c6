/**
 * The kernel oracle on small hand-made rulesets whose answers are known, for both iptables backends.
 * Needs root and network namespaces: skipped without them, except under CI=true where that is a failure.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type KernelDecision, kernelDecide, type OraclePacket, type OracleRuleset, oracleStats } from './oracle.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const inCI = process.env.CI === 'true';
const skip = !isRoot && !inCI ? 'kernel oracle needs root (set CI=true to make this a failure)' : false;

function requireRoot(): void {
  if (!isRoot) assert.fail('kernel oracle tests need root and network namespaces (CI=true: not skipped)');
}

const FILTER = `*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:CHK - [0:0]
:GT - [0:0]
-A INPUT -s 10.1.1.1/32 -p tcp -j REJECT --reject-with tcp-reset
-A INPUT -s 10.1.1.2/32 -j DROP
-A INPUT -p tcp --dport 22 -j ACCEPT
-A INPUT -j CHK
-A INPUT -s 10.1.2.0/24 -j DROP
-A INPUT -p tcp -m tcp --dport 8000 -g GT
-A INPUT -p tcp -m tcp --dport 8000 -j DROP
-A INPUT -m mark --mark 0x10/0x10 -j DROP
-A CHK -s 10.1.2.3/32 -j RETURN
-A CHK -p udp -m udp --dport 5353 -j ACCEPT
-A GT -s 10.1.6.6/32 -j DROP
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -i cali+ -j ACCEPT
-A FORWARD -p icmp -j REJECT --reject-with icmp-admin-prohibited
-A OUTPUT -o eth0 -p udp -m udp --dport 53 -j DROP
COMMIT
`;

const FILTER6 = `*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -s 2001:db8:1::1/128 -j DROP
-A FORWARD -i cali+ -j ACCEPT
COMMIT
`;

interface Case {
  name: string;
  p: OraclePacket;
  verdict: KernelDecision['verdict'];
  decisive: Partial<KernelDecision['decisive']>;
}

const base = { proto: 'tcp' as const, state: 'new' as const, dport: 80 };
const filterCases: Case[] = [
  {
    name: 'reject by rule (input)',
    p: { ...base, path: 'input', src: '10.1.1.1', dst: '10.9.0.1', in: 'eth0' },
    verdict: 'reject',
    decisive: { kind: 'rule', table: 'filter', chain: 'INPUT', index: 1 },
  },
  {
    name: 'drop by rule',
    p: { ...base, path: 'input', src: '10.1.1.2', dst: '10.9.0.1', in: 'eth0', proto: 'udp', dport: 53 },
    verdict: 'drop',
    decisive: { kind: 'rule', table: 'filter', chain: 'INPUT', index: 2 },
  },
  {
    name: 'accept by rule',
    p: { ...base, path: 'input', src: '10.1.3.3', dst: '10.9.0.1', in: 'eth0', dport: 22 },
    verdict: 'accept',
    decisive: { kind: 'rule', table: 'filter', chain: 'INPUT', index: 3 },
  },
  {
    name: 'jump into a user chain, RETURN, then drop in the caller',
    p: { ...base, path: 'input', src: '10.1.2.3', dst: '10.9.0.1', in: 'eth0' },
    verdict: 'drop',
    decisive: { kind: 'rule', table: 'filter', chain: 'INPUT', index: 5 },
  },
  {
    name: 'accept inside a user chain',
    p: { ...base, path: 'input', src: '10.1.3.3', dst: '10.9.0.1', in: 'eth0', proto: 'udp', dport: 5353 },
    verdict: 'accept',
    decisive: { kind: 'rule', table: 'filter', chain: 'CHK', index: 2 },
  },
  {
    name: '-g goto: falling off the chain returns past the caller, to the policy',
    p: { ...base, path: 'input', src: '10.1.5.5', dst: '10.9.0.1', in: 'eth0', dport: 8000 },
    verdict: 'accept',
    decisive: { kind: 'policy', table: 'filter', chain: 'INPUT', policy: 'accept' },
  },
  {
    name: '-g goto: drop inside the goto chain',
    p: { ...base, path: 'input', src: '10.1.6.6', dst: '10.9.0.1', in: 'eth0', dport: 8000 },
    verdict: 'drop',
    decisive: { kind: 'rule', table: 'filter', chain: 'GT', index: 1 },
  },
  {
    name: 'packet mark on arrival',
    p: { ...base, path: 'input', src: '10.1.7.7', dst: '10.9.0.1', in: 'eth0', mark: 0x30 },
    verdict: 'drop',
    decisive: { kind: 'rule', table: 'filter', chain: 'INPUT', index: 8 },
  },
  {
    name: 'input accepted by policy',
    p: { ...base, path: 'input', src: '10.1.7.7', dst: '10.9.0.1', in: 'eth0' },
    verdict: 'accept',
    decisive: { kind: 'policy', table: 'filter', chain: 'INPUT', policy: 'accept' },
  },
  {
    name: 'forward: -i cali+ wildcard',
    p: { ...base, path: 'forward', src: '10.244.1.5', dst: '10.244.2.9', in: 'cali1234abcd', out: 'flannel.1' },
    verdict: 'accept',
    decisive: { kind: 'rule', table: 'filter', chain: 'FORWARD', index: 2 },
  },
  {
    name: 'forward: policy drop',
    p: { ...base, path: 'forward', src: '10.244.2.9', dst: '10.244.1.5', in: 'flannel.1', out: 'cali1234abcd' },
    verdict: 'drop',
    decisive: { kind: 'policy', table: 'filter', chain: 'FORWARD', policy: 'drop' },
  },
  {
    name: 'forward: ESTABLISHED accepted by --ctstate',
    p: {
      ...base,
      path: 'forward',
      src: '10.244.2.9',
      dst: '10.244.1.5',
      in: 'flannel.1',
      out: 'cali1234abcd',
      state: 'established',
    },
    verdict: 'accept',
    decisive: { kind: 'rule', table: 'filter', chain: 'FORWARD', index: 1 },
  },
  {
    name: 'forward: ESTABLISHED udp',
    p: {
      ...base,
      path: 'forward',
      proto: 'udp',
      dport: 53,
      src: '10.244.2.9',
      dst: '10.96.0.10',
      in: 'eth0',
      out: 'cni0',
      state: 'established',
    },
    verdict: 'accept',
    decisive: { kind: 'rule', table: 'filter', chain: 'FORWARD', index: 1 },
  },
  {
    name: 'forward: ESTABLISHED icmp echo',
    p: {
      ...base,
      path: 'forward',
      proto: 'icmp',
      src: '10.244.2.9',
      dst: '10.96.0.11',
      in: 'eth0',
      out: 'cni0',
      state: 'established',
    },
    verdict: 'accept',
    decisive: { kind: 'rule', table: 'filter', chain: 'FORWARD', index: 1 },
  },
  {
    name: "forward: ESTABLISHED icmp echo reply (the reply direction of the request's entry)",
    p: {
      ...base,
      path: 'forward',
      proto: 'icmp',
      icmpType: 0,
      src: '10.244.2.9',
      dst: '10.96.0.13',
      in: 'eth0',
      out: 'cni0',
      state: 'established',
    },
    verdict: 'accept',
    decisive: { kind: 'rule', table: 'filter', chain: 'FORWARD', index: 1 },
  },
  {
    name: 'forward: icmp NEW rejected',
    p: { ...base, path: 'forward', proto: 'icmp', src: '10.244.2.9', dst: '10.96.0.12', in: 'eth0', out: 'cni0' },
    verdict: 'reject',
    decisive: { kind: 'rule', table: 'filter', chain: 'FORWARD', index: 3 },
  },
  {
    name: 'output: drop by rule',
    p: { ...base, path: 'output', proto: 'udp', dport: 53, src: '10.9.0.1', dst: '10.96.0.10', out: 'eth0' },
    verdict: 'drop',
    decisive: { kind: 'rule', table: 'filter', chain: 'OUTPUT', index: 1 },
  },
  {
    name: 'output: accepted by policy',
    p: { ...base, path: 'output', src: '10.9.0.1', dst: '10.96.0.10', out: 'eth0' },
    verdict: 'accept',
    decisive: { kind: 'policy', table: 'filter', chain: 'OUTPUT', policy: 'accept' },
  },
];

const NAT = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:SVC - [0:0]
:NODEPORTS - [0:0]
-A PREROUTING -j SVC
-A PREROUTING -m addrtype --dst-type LOCAL -j NODEPORTS
-A SVC -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.244.1.5:8080
-A NODEPORTS -p tcp -m tcp --dport 30080 -j DNAT --to-destination 10.244.1.5:8080
-A POSTROUTING -o eth0 -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -d 10.244.1.5/32 -p tcp -m tcp --dport 8080 -j ACCEPT
COMMIT
`;

const natCases: Case[] = [
  {
    name: 'nat DNAT in PREROUTING, then the filter FORWARD rule decides',
    p: { ...base, path: 'forward', src: '192.0.2.7', dst: '10.96.0.10', natDst: '10.244.1.5', in: 'eth0', out: 'cni0' },
    verdict: 'accept',
    decisive: { kind: 'rule', table: 'filter', chain: 'FORWARD', index: 1 },
  },
  {
    name: 'NodePort: addrtype LOCAL (localAddresses) and DNAT to a pod, then filter FORWARD',
    p: {
      ...base,
      path: 'forward',
      src: '192.0.2.7',
      dst: '10.9.0.1',
      dport: 30080,
      natDst: '10.244.1.5',
      in: 'eth0',
      out: 'cni0',
    },
    verdict: 'accept',
    decisive: { kind: 'rule', table: 'filter', chain: 'FORWARD', index: 1 },
  },
  {
    name: 'to a local address, no NodePort: input',
    p: { ...base, path: 'input', src: '192.0.2.7', dst: '10.9.0.1', dport: 22, in: 'eth0' },
    verdict: 'accept',
    decisive: { kind: 'policy', table: 'filter', chain: 'INPUT', policy: 'accept' },
  },
  {
    name: 'natDst given but the DNAT does not happen (ESTABLISHED): the original dst is routed too',
    p: {
      ...base,
      path: 'forward',
      src: '192.0.2.7',
      dst: '10.96.0.10',
      natDst: '10.244.1.5',
      in: 'eth0',
      out: 'cni0',
      state: 'established',
    },
    verdict: 'drop',
    decisive: { kind: 'policy', table: 'filter', chain: 'FORWARD', policy: 'drop' },
  },
  {
    name: 'not DNATed: filter FORWARD policy drop',
    p: { ...base, path: 'forward', src: '192.0.2.7', dst: '10.244.1.6', in: 'eth0', out: 'cni0', dport: 8080 },
    verdict: 'drop',
    decisive: { kind: 'policy', table: 'filter', chain: 'FORWARD', policy: 'drop' },
  },
  {
    name: 'forward out eth0: FORWARD has no rule for it',
    p: { ...base, path: 'forward', src: '10.244.1.5', dst: '192.0.2.7', in: 'cni0', out: 'eth0' },
    verdict: 'drop',
    decisive: { kind: 'policy', table: 'filter', chain: 'FORWARD', policy: 'drop' },
  },
];

const NATIVE = `table inet fw {
  chain input {
    type filter hook input priority 0; policy drop;
    udp dport 8472 accept
  }
}
`;
const nativeCases: Case[] = [
  {
    name: 'native nft only: accept by rule',
    p: { ...base, path: 'input', proto: 'udp', dport: 8472, src: '192.0.2.8', dst: '10.9.0.1', in: 'eth0' },
    verdict: 'accept',
    decisive: { kind: 'rule', family: 'inet', table: 'fw', chain: 'input', index: 1 },
  },
  {
    name: 'native nft only: policy drop',
    p: { ...base, path: 'input', proto: 'udp', dport: 4789, src: '192.0.2.8', dst: '10.9.0.1', in: 'eth0' },
    verdict: 'drop',
    decisive: { kind: 'policy', family: 'inet', table: 'fw', chain: 'input', policy: 'drop' },
  },
];
// Both chains at priority 0: the kernel runs the hook registered later first. The oracle loads the native script
// before iptables, so iptables' filter INPUT runs first and the native chain is the last filter chain.
const mixedCases: Case[] = [
  {
    name: 'iptables filter INPUT accepts, then the native chain (same priority, registered earlier) accepts last',
    p: nativeCases[0].p,
    verdict: 'accept',
    decisive: { kind: 'rule', family: 'inet', table: 'fw', chain: 'input', index: 1 },
  },
  {
    name: 'native nft policy drop although iptables accepted',
    p: nativeCases[1].p,
    verdict: 'drop',
    decisive: { kind: 'policy', family: 'inet', table: 'fw', chain: 'input', policy: 'drop' },
  },
];

const v6Cases: Case[] = [
  {
    name: 'IPv6 input drop by rule',
    p: { ...base, path: 'input', src: '2001:db8:1::1', dst: '2001:db8:9::1', in: 'eth0' },
    verdict: 'drop',
    decisive: { kind: 'rule', table: 'filter', chain: 'INPUT', index: 1 },
  },
  {
    name: 'IPv6 icmp echo accepted by policy',
    p: { ...base, path: 'input', proto: 'icmp', src: '2001:db8:1::2', dst: '2001:db8:9::1', in: 'eth0' },
    verdict: 'accept',
    decisive: { kind: 'policy', table: 'filter', chain: 'INPUT', policy: 'accept' },
  },
  {
    name: 'IPv6 forward -i cali+',
    p: { ...base, path: 'forward', src: '2001:db8:1::2', dst: '2001:db8:2::9', in: 'cali0abc', out: 'eth0' },
    verdict: 'accept',
    decisive: { kind: 'rule', table: 'filter', chain: 'FORWARD', index: 1 },
  },
];

/** A random ruleset (filter with user chains, jumps, gotos, RETURN, REJECT, marks, ctstate; nat; mangle; raw) and
 * packets for it, from a seed: the nft trace and the legacy counters must read the same decisions. */
function randomCase(seed: number): { save: string; packets: OraclePacket[] } {
  let st = seed;
  const rnd = (n: number) => {
    st = (st + 0x6d2b79f5) | 0;
    let t = Math.imul(st ^ (st >>> 15), 1 | st);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
  const pick = <T>(a: T[]): T => a[rnd(a.length)];
  const srcs = ['10.1.1.1', '10.1.1.2', '10.1.2.3', '192.0.2.9'];
  const match = (chain: string) => {
    const parts: string[] = [];
    if (rnd(5) === 0) parts.push(`-s ${pick(srcs)}/32`);
    const io = chain === 'INPUT' ? ['-i'] : chain === 'FORWARD' ? ['-i', '-o'] : chain === 'OUTPUT' ? ['-o'] : [];
    if (io.length && rnd(5) === 0)
      parts.push(`${rnd(4) === 0 ? '! ' : ''}${pick(io)} ${pick(['eth0', 'cali+', 'cni0'])}`);
    const pr = rnd(7);
    if (pr === 0) parts.push(`-p tcp -m tcp --dport ${pick([22, 80, 443])}`);
    if (pr === 1) parts.push(`-p udp -m udp --dport ${pick([53, 8472])}`);
    if (rnd(5) === 0) parts.push(`-m conntrack --ctstate ${pick(['NEW', 'ESTABLISHED', 'RELATED,ESTABLISHED'])}`);
    if (rnd(8) === 0) parts.push(`-m mark --mark 0x${pick([1, 2, 4])}/0x${pick([1, 2, 4])}`);
    return parts.join(' ');
  };
  const chain = (name: string, n: number, users: string[]) => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const t = rnd(10);
      let tgt =
        t < 3 ? '-j ACCEPT' : t < 5 ? '-j DROP' : t < 6 ? '-j REJECT' : t < 7 ? '-j RETURN' : t < 8 ? '-j LOG' : '';
      if (!tgt) tgt = users.length ? `${t < 9 ? '-j' : '-g'} ${pick(users)}` : '-j MARK --set-xmark 0x2/0x2';
      if (tgt === '-j RETURN' && !name.startsWith('U')) tgt = '-j ACCEPT';
      out.push(`-A ${name} ${match(name)} ${tgt}`);
    }
    return out;
  };
  const nat = [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
  ];
  for (let i = 0; i < 3; i++) {
    const k = rnd(3);
    const m = pick(['', `-s ${pick(srcs)}/32`, '-p tcp', '-p udp -m udp --dport 53', '-m mark --mark 0x2/0x2']);
    nat.push(
      `-A PREROUTING -d 10.244.${k}.0/24 ${m} -j ${pick([`DNAT --to-destination 10.244.${k}.1`, 'RETURN', 'ACCEPT'])}`,
    );
  }
  nat.push(`-A OUTPUT -d 10.244.${rnd(3)}.0/24 -j DNAT --to-destination 10.244.${rnd(3)}.1`);
  for (let i = 0; i < 2; i++)
    nat.push(
      `-A POSTROUTING ${pick(['', '-o eth0', '-p udp'])} -j ${pick(['MASQUERADE', 'SNAT --to-source 10.9.0.1', 'RETURN'])}`,
    );
  const pol = () => pick(['ACCEPT', 'DROP']);
  const lines = [
    '*raw',
    ':PREROUTING ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    `-A PREROUTING -s ${pick(srcs)}/32 -p udp -j NOTRACK`,
    'COMMIT',
    // every built-in chain declared: a legacy table always has all of them, iptables-nft creates only those listed
    '*mangle',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    `-A PREROUTING -s ${pick(srcs)}/32 -j MARK --set-xmark 0x2/0x2`,
    '-A FORWARD -p udp -j MARK --set-xmark 0x4/0x4',
    '-A OUTPUT -p tcp -j MARK --set-xmark 0x1/0x1',
    'COMMIT',
    ...nat,
    'COMMIT',
    '*filter',
    `:INPUT ${pol()} [0:0]`,
    `:FORWARD ${pol()} [0:0]`,
    `:OUTPUT ${pol()} [0:0]`,
    ':U1 - [0:0]',
    ':U2 - [0:0]',
    ':U3 - [0:0]',
    ...chain('U3', 3, []),
    ...chain('U2', 3, ['U3']),
    ...chain('U1', 4, ['U2', 'U3']),
    ...chain('INPUT', 6, ['U1', 'U2']),
    ...chain('FORWARD', 6, ['U1', 'U3']),
    ...chain('OUTPUT', 4, ['U2']),
    'COMMIT',
  ];
  const save = `${lines.map((l) => l.replace(/\s+/g, ' ').trim()).join('\n')}\n`;
  const packets: OraclePacket[] = [];
  for (let i = 0; i < 150; i++) {
    const path = pick(['input', 'forward', 'output'] as const);
    const proto = pick(['tcp', 'udp', 'icmp'] as const);
    const k = rnd(3);
    const dst = path === 'input' ? '10.9.0.1' : `10.244.${k}.${1 + rnd(5)}`;
    packets.push({
      path,
      proto,
      src: path === 'output' ? '10.9.0.1' : pick(srcs),
      dst,
      natDst: path === 'input' ? undefined : `10.244.${k}.1`,
      dport: proto === 'tcp' ? pick([22, 80, 443]) : pick([53, 8472]),
      in: pick(['eth0', 'cni0', 'cali1a2b', 'flannel.1']),
      out: ['eth0', 'cni0', 'cali1a2b'][k],
      state: pick(['new', 'established'] as const),
      mark: rnd(3) === 0 ? pick([1, 2, 4, 6]) : undefined,
    });
  }
  return { save, packets };
}

function check(cases: Case[], got: KernelDecision[]): void {
  const problems: string[] = [];
  cases.forEach((c, k) => {
    const d = got[k];
    const want = { verdict: c.verdict, ...c.decisive };
    const have: Record<string, unknown> = { verdict: d.verdict };
    for (const key of Object.keys(c.decisive)) have[key] = (d.decisive as unknown as Record<string, unknown>)[key];
    if (d.error || JSON.stringify(have) !== JSON.stringify(want)) {
      problems.push(
        `${c.name}: want ${JSON.stringify(want)}, got ${JSON.stringify(have)}${d.error ? ` error: ${d.error}` : ''}\n    ${d.trace.join('\n    ')}`,
      );
    }
  });
  assert.equal(problems.length, 0, problems.join('\n'));
}

describe('kernel oracle: nft trace and legacy counters agree', { skip }, () => {
  it('on random rulesets (chains, jumps, gotos, RETURN, REJECT, marks, ctstate, nat, mangle, raw)', async () => {
    requireRoot();
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const seed of [1, 2, 3]) {
      const { save, packets } = randomCase(seed);
      const [a, b] = await Promise.all([
        kernelDecide({ backend: 'nft', iptablesSave: save }, packets, { parallel: 1 }),
        kernelDecide({ backend: 'legacy', iptablesSave: save }, packets, { parallel: 1 }),
      ]);
      packets.forEach((p, i) => {
        const key = (d: KernelDecision) =>
          `${d.verdict} ${d.decisive.kind} ${d.decisive.table} ${d.decisive.chain} ${d.decisive.index ?? d.decisive.policy} via ${d.chains.join(',')}${d.error ? ` error ${d.error}` : ''}`;
        seen.add(`${a[i].verdict} ${a[i].decisive.kind}`);
        if (key(a[i]) !== key(b[i]) || a[i].error)
          problems.push(`seed ${seed} ${JSON.stringify(p)}\n  nft:    ${key(a[i])}\n  legacy: ${key(b[i])}`);
      });
    }
    assert.equal(problems.length, 0, problems.slice(0, 5).join('\n'));
    // the rulesets exercise every kind of answer
    for (const k of ['accept rule', 'accept policy', 'drop rule', 'drop policy', 'reject rule'])
      assert.ok(seen.has(k), k);
  });
});

for (const backend of ['nft', 'legacy'] as const) {
  describe(`kernel oracle, ${backend} backend`, { skip }, () => {
    it('filter: drop, reject, accept, policy, jump/RETURN, goto, mark, ESTABLISHED, input/forward/output, cali+', async () => {
      requireRoot();
      const rs: OracleRuleset = { backend, iptablesSave: FILTER };
      check(
        filterCases,
        await kernelDecide(
          rs,
          filterCases.map((c) => c.p),
        ),
      );
    });

    it('nat: DNAT in PREROUTING, then the filter chain decides', async () => {
      requireRoot();
      const rs: OracleRuleset = { backend, iptablesSave: NAT, localAddresses: ['10.9.0.1'] };
      const got = await kernelDecide(
        rs,
        natCases.map((c) => c.p),
      );
      check(natCases, got);
      assert.deepEqual(got[0].chains, ['ip nat PREROUTING', 'ip filter FORWARD', 'ip nat POSTROUTING']);
    });

    it('a native nft table, alone and beside iptables', async () => {
      requireRoot();
      check(
        nativeCases,
        await kernelDecide(
          { backend, nftScript: NATIVE },
          nativeCases.map((c) => c.p),
        ),
      );
      const rs: OracleRuleset = {
        backend,
        iptablesSave: '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p udp -j ACCEPT\nCOMMIT\n',
        nftScript: NATIVE,
      };
      const got = await kernelDecide(
        rs,
        mixedCases.map((c) => c.p),
      );
      check(mixedCases, got);
      assert.deepEqual(got[0].chains, ['ip filter INPUT', 'inet fw input']);
      assert.deepEqual(got[1].chains, ['ip filter INPUT', 'inet fw input']);
    });

    it('ipset: --match-set', async () => {
      requireRoot();
      const rs: OracleRuleset = {
        backend,
        ipsetSave: 'create allowed hash:ip family inet hashsize 1024 maxelem 65536\nadd allowed 10.1.8.8\n',
        iptablesSave: `*filter
:INPUT ACCEPT [0:0]
-A INPUT -m set --match-set allowed src -j ACCEPT
-A INPUT -p tcp -j DROP
COMMIT
`,
      };
      const pk = (src: string): OraclePacket => ({ ...base, path: 'input', src, dst: '10.9.0.1', in: 'eth0' });
      const got = await kernelDecide(rs, [pk('10.1.8.8'), pk('10.1.8.9')]);
      assert.deepEqual(
        got.map((d) => `${d.verdict} ${d.decisive.index}${d.error ?? ''}`),
        ['accept 1', 'drop 2'],
      );
    });

    it('IPv6', async () => {
      requireRoot();
      check(
        v6Cases,
        await kernelDecide(
          { backend, ip6tablesSave: FILTER6 },
          v6Cases.map((c) => c.p),
        ),
      );
    });

    it('an ESTABLISHED packet really is ctstate ESTABLISHED (with its ct mark), a NEW one NEW', async () => {
      requireRoot();
      const save = `*filter
:INPUT DROP [0:0]
-A INPUT -m connmark --mark 0x5 -j DROP
-A INPUT -m conntrack --ctstate NEW -j ACCEPT
-A INPUT -m conntrack --ctstate ESTABLISHED -j REJECT
COMMIT
`;
      const pk = (state: 'new' | 'established', proto: 'tcp' | 'udp' | 'icmp'): OraclePacket => ({
        path: 'input',
        proto,
        src: '10.1.9.9',
        dst: '10.9.0.1',
        in: 'eth0',
        state,
      });
      const got = await kernelDecide({ backend, iptablesSave: save }, [
        pk('new', 'tcp'),
        pk('established', 'tcp'),
        pk('new', 'udp'),
        pk('established', 'udp'),
        pk('new', 'icmp'),
        pk('established', 'icmp'),
        { ...pk('established', 'tcp'), ctMark: 5 },
      ]);
      assert.deepEqual(
        got.map((d) => `${d.verdict} ${d.decisive.index}${d.error ? ` ${d.error}` : ''}`),
        ['accept 2', 'reject 3', 'accept 2', 'reject 3', 'accept 2', 'reject 3', 'drop 1'],
      );
    });

    it('throughput', async () => {
      requireRoot();
      const n = backend === 'nft' ? 1000 : 500;
      const packets: OraclePacket[] = [];
      for (let i = 0; i < n; i++) {
        const k = i % 4;
        packets.push(
          k === 0
            ? {
                ...base,
                path: 'input',
                src: `10.1.${1 + (i % 3)}.${1 + (i % 7)}`,
                dst: '10.9.0.1',
                in: 'eth0',
                sport: 1024 + i,
              }
            : k === 1
              ? {
                  ...base,
                  path: 'forward',
                  src: '10.244.1.5',
                  dst: `10.244.2.${i % 250}`,
                  in: 'cali1234abcd',
                  out: 'flannel.1',
                }
              : k === 2
                ? {
                    ...base,
                    path: 'output',
                    proto: 'udp',
                    dport: 53 + (i % 2),
                    src: '10.9.0.1',
                    dst: '10.96.0.10',
                    out: 'eth0',
                  }
                : {
                    ...base,
                    path: 'forward',
                    src: '10.244.2.9',
                    dst: '10.244.1.5',
                    in: 'flannel.1',
                    out: 'cali1234abcd',
                    state: i % 8 === 3 ? 'established' : 'new',
                  },
        );
      }
      const t0 = Date.now();
      const got = await kernelDecide({ backend, iptablesSave: FILTER }, packets);
      const ms = Date.now() - t0;
      const errors = got.filter((d) => d.error);
      assert.equal(errors.length, 0, errors[0]?.error);
      const pps = Math.round((n * 1000) / ms);
      console.log(
        `kernel oracle (${backend}): ${n} packets in ${ms} ms = ${pps} packets/s (${oracleStats.batches} batches, helper time ${oracleStats.helperMs} ms)`,
      );
      assert.ok(pps > 50, `kernel oracle too slow: ${pps} packets/s`);
    });
  });
}
