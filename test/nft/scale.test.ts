/**
 * A kube-proxy nftables ruleset with 10,000 services (the fixture's layout, generated): it parses, the service map is
 * one hashed lookup, and a service deep in the map is found. Timing is printed as a diagnostic, not asserted
 * (performance is measured by the benchmark script).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIpv4 } from '../../src/core/ip.js';
import { parseNftJson } from '../../src/parse/nft-json.js';
import { expectDecision, fixtureText, rulesetOf, run } from './helpers.js';

type Obj = Record<string, unknown>;

const FAMILY = { family: 'ip', table: 'kube-proxy' };
const match = (left: Obj, right: unknown, op = '==') => ({ match: { op, left, right } });
const payload = (protocol: string, field: string) => ({ payload: { protocol, field } });

/** The fixture's table with its per-service chains and map elements replaced by `n` generated services. */
export function kubeProxyNft(n: number): string {
  const base = (JSON.parse(fixtureText('kube-proxy.json')).nftables as Obj[]).filter((o) => {
    const c = (o.chain ?? o.rule) as Obj | undefined;
    const name = String(c?.name ?? c?.chain ?? '');
    return !/^(service|endpoint|external|firewall)-[A-Z0-9]{8}-/.test(name);
  });
  const out: Obj[] = [];
  const serviceIps: unknown[] = [];
  const clusterIps: string[] = [];
  let handle = 1000;
  const rules: Obj[] = [];
  const chain = (name: string) => out.push({ chain: { ...FAMILY, name, handle: handle++ } });
  const rule = (chainName: string, expr: unknown[]) =>
    rules.push({ rule: { ...FAMILY, chain: chainName, handle: handle++, expr } });
  for (let i = 0; i < n; i++) {
    const vip = formatIpv4((0xac1e0000 + 16 + i) >>> 0);
    const eps = i % 2 === 0 ? 1 : 2;
    const svc = `service-S${i}-ns/svc${i}/tcp/p80`;
    clusterIps.push(vip);
    serviceIps.push([{ concat: [vip, 'tcp', 80] }, { goto: { target: svc } }]);
    chain(svc);
    rule(svc, [
      match(payload('ip', 'daddr'), vip),
      match(payload('tcp', 'dport'), 80),
      match(payload('ip', 'saddr'), { prefix: { addr: '10.0.0.0', len: 8 } }, '!='),
      { jump: { target: 'mark-for-masquerade' } },
    ]);
    const targets: unknown[] = [];
    for (let e = 0; e < eps; e++) {
      const ep = formatIpv4((0x0ab40000 + 2 * i + e) >>> 0);
      const epc = `endpoint-E${i}x${e}-ns/svc${i}/tcp/p80__${ep}/80`;
      chain(epc);
      rule(epc, [match(payload('ip', 'saddr'), ep), { jump: { target: 'mark-for-masquerade' } }]);
      rule(epc, [match({ meta: { key: 'l4proto' } }, 'tcp'), { dnat: { addr: ep, port: 80 } }]);
      targets.push([e, { goto: { target: epc } }]);
    }
    rule(svc, [{ vmap: { key: { numgen: { mode: 'random', mod: eps, offset: 0 } }, data: { set: targets } } }]);
  }
  for (const o of base) {
    const s = (o.set ?? o.map) as Obj | undefined;
    if (s?.name === 'service-ips') s.elem = serviceIps;
    if (s?.name === 'cluster-ips') s.elem = clusterIps;
    if (s?.name === 'firewall-ips' || s?.name === 'no-endpoint-services' || s?.name === 'service-nodeports')
      delete s.elem;
  }
  return JSON.stringify({ nftables: [...base, ...out, ...rules] });
}

describe('nft JSON at kube-proxy scale', () => {
  it('parses 10,000 services and finds one deep in the map', (t) => {
    const text = kubeProxyNft(10_000);
    const started = performance.now();
    const parsed = parseNftJson(text, 'big.json');
    const ms = performance.now() - started;
    t.diagnostic(`${(text.length / 1e6).toFixed(1)} MB, ${ms.toFixed(0)} ms to parse`);
    assert.deepEqual(
      parsed.issues.filter((i) => i.severity === 'error'),
      [],
    );
    const kp = parsed.tables[0];
    assert.ok(kp);
    assert.equal([...kp.chains.keys()].filter((c) => c.startsWith('service-S')).length, 10_000);
    assert.equal([...kp.chains.keys()].filter((c) => c.startsWith('endpoint-E')).length, 15_000);
    const ruleset = rulesetOf(parsed, 'big.json');
    const env = { local: new Set(['192.168.0.2']) };
    const pod = { path: 'forward' as const, src: '10.0.0.2', in: 'cni0', out: 'eth0', proto: 'tcp' };
    // Service 9998 (one endpoint): ClusterIP 172.30.39.30.
    const vip = formatIpv4((0xac1e0000 + 16 + 9998) >>> 0);
    const started2 = performance.now();
    const r = run(ruleset, { ...pod, dst: vip, dport: 80 }, env);
    t.diagnostic(`${(performance.now() - started2).toFixed(1)} ms for the first packet`);
    expectDecision(r, 'accept', { table: 'ip kube-proxy', chain: 'filter-forward', policy: 'ACCEPT' });
    assert.deepEqual(
      r.rewrites.filter((w) => w.kind === 'dnat').map((w) => w.detail),
      [`${vip}:80 → ${formatIpv4((0x0ab40000 + 2 * 9998) >>> 0)}:80`],
    );
    // A ClusterIP port that is not a service: rejected by cluster-ips-check.
    expectDecision(run(ruleset, { ...pod, dst: vip, dport: 81 }, env), 'reject', {
      table: 'ip kube-proxy',
      chain: 'cluster-ips-check',
      index: 1,
    });
  });
});
