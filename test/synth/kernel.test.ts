/**
 * The kernel accepts what the generators write, and gives it back unchanged: each ruleset is loaded into a
 * throw-away network namespace with iptables-restore (nft and legacy backends), `nft -f` or `ipset restore`, and
 * what the tools list afterwards is compared with the generated text.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addKubeProxyIptables, kubeProxyIptablesSave } from '../../src/synth/kube-proxy-iptables.js';
import { buildCluster } from '../../src/synth/kube-services.js';
import { randomRuleset } from '../../src/synth/random-ruleset.js';
import { SaveDocument } from '../../src/synth/save-writer.js';
import {
  addFirewalldInput,
  addFlannel,
  calicoShaped,
  dockerShaped,
  firewalldInputShaped,
  firewalldNft,
  flannelShaped,
  kubeProxyNftables,
} from '../../src/synth/shapes.js';
import { inNs, iptablesRoundTrip, kernelAvailable, saveTables, withNetns } from './kernel-helpers.js';
import { normalizeNftListing } from './nft-normalize.js';

const BACKENDS = ['nft', 'legacy'] as const;
const IPTABLES_TOOLS = ['iptables-nft-restore', 'iptables-legacy-restore'];

/** Loads and saves `text`, then compares table by table (the table order differs between backends). */
function assertRoundTrip(text: string, backend: 'nft' | 'legacy', before?: (ns: string) => void): void {
  const saved = saveTables(iptablesRoundTrip(text, backend, before));
  for (const [table, lines] of saveTables(text)) {
    const got = saved.get(table);
    assert.ok(got, `${backend}: table ${table} missing after restore`);
    if (got.join('\n') === lines.join('\n')) continue;
    const i = lines.findIndex((l, k) => l !== got[k]);
    assert.fail(`${backend} ${table}: line ${i + 1} differs\n  generated: ${lines[i]}\n  kernel:    ${got[i]}`);
  }
}

describe('generated iptables rulesets load and save back unchanged', () => {
  test('kube-proxy (iptables mode)', (t) => {
    if (!kernelAvailable(t, IPTABLES_TOOLS)) return;
    for (const seed of [1, 2]) {
      for (const b of BACKENDS) assertRoundTrip(kubeProxyIptablesSave({ ...optsFor(seed), backend: b }).text, b);
    }
    // kube-proxy above 1000 endpoints: no per-endpoint comments.
    const large = kubeProxyIptablesSave({ ...optsFor(4), services: 300, largeClusterMode: 'auto' }).text;
    assertRoundTrip(large, 'nft');
  });

  test('flannel, docker and host-firewall shapes', (t) => {
    if (!kernelAvailable(t, IPTABLES_TOOLS)) return;
    const texts = [
      flannelShaped({ seed: 1 }).text,
      dockerShaped({ seed: 1, publishedContainers: 3, userNetworks: 2 }).text,
      firewalldInputShaped({ vxlanProto: 'tcp' }).text,
      firewalldInputShaped({ vxlanProto: 'udp', style: 'flat' }).text,
    ];
    for (const text of texts) for (const b of BACKENDS) assertRoundTrip(text, b);
  });

  test('calico, with its ipsets restored first', (t) => {
    if (!kernelAvailable(t, [...IPTABLES_TOOLS, 'ipset'])) return;
    for (const encapsulation of ['ipip', 'vxlan'] as const) {
      const r = calicoShaped({ seed: 4, workloads: 3, encapsulation });
      for (const b of BACKENDS) assertRoundTrip(r.text, b, (ns) => inNs(ns, 'ipset', ['restore'], r.ipset));
    }
  });

  test('the ipset text restores and lists the same sets and members', (t) => {
    if (!kernelAvailable(t, ['ipset'])) return;
    const r = calicoShaped({ seed: 7 });
    const listed = withNetns((ns) => {
      inNs(ns, 'ipset', ['restore'], r.ipset);
      return inNs(ns, 'ipset', ['save']);
    });
    const norm = (s: string) =>
      s
        .split('\n')
        .filter(Boolean)
        .map((l) => l.replace(/\/32$/, ''))
        .sort();
    assert.deepEqual(norm(listed), norm(r.ipset));
  });

  test('a node stacked from kube-proxy, flannel and the seed-000 firewall', (t) => {
    if (!kernelAvailable(t, IPTABLES_TOOLS)) return;
    const doc = new SaveDocument();
    const model = buildCluster(optsFor(3));
    addKubeProxyIptables(doc, model);
    addFlannel(doc, { seed: 3 });
    addFirewalldInput(doc, { vxlanProto: 'tcp' });
    for (const b of BACKENDS) assertRoundTrip(doc.render({ backend: b, seed: 3 }), b);
  });

  test('random rulesets in canonical form come back byte for byte', (t) => {
    if (!kernelAvailable(t, IPTABLES_TOOLS)) return;
    for (let seed = 1; seed <= 12; seed++) {
      const { text } = randomRuleset(seed, { tables: seed % 2 ? ['nat', 'mangle', 'raw'] : undefined });
      for (const b of BACKENDS) assertRoundTrip(text, b);
    }
  });

  test('random rulesets in hand-typed form load with every rule', (t) => {
    if (!kernelAvailable(t, IPTABLES_TOOLS)) return;
    for (let seed = 1; seed <= 8; seed++) {
      const r = randomRuleset(seed, { canonical: false, tables: ['nat', 'mangle', 'raw'] });
      for (const b of BACKENDS) {
        const saved = saveTables(iptablesRoundTrip(r.text, b));
        for (const [key, count] of Object.entries(r.ruleCounts)) {
          const [table, chain] = key.split('/') as [string, string];
          const got = (saved.get(table) ?? []).filter((l) => l === `-A ${chain}` || l.startsWith(`-A ${chain} `));
          assert.equal(got.length, count, `seed ${seed} ${b} ${key}`);
        }
      }
    }
  });
});

describe('generated nftables rulesets load with nft -f and list back the same', () => {
  const nftRoundTrip = (text: string) =>
    withNetns((ns) => {
      inNs(ns, 'nft', ['-f', '-'], text);
      return inNs(ns, 'nft', ['list', 'ruleset']);
    });

  test('firewalld (nftables backend)', (t) => {
    if (!kernelAvailable(t, ['nft'])) return;
    for (const o of [
      { vxlanProto: 'tcp' as const },
      { vxlanProto: 'udp' as const, trustedSources: ['10.244.0.0/16'] },
    ]) {
      const { text } = firewalldNft(o);
      assert.equal(normalizeNftListing(nftRoundTrip(text)), normalizeNftListing(text));
    }
  });

  test('kube-proxy (nftables mode)', (t) => {
    if (!kernelAvailable(t, ['nft'])) return;
    for (const seed of [1, 2, 3]) {
      const { text } = kubeProxyNftables({ ...optsFor(seed), services: 40 });
      assert.equal(normalizeNftListing(nftRoundTrip(text)), normalizeNftListing(text));
    }
  });
});

function optsFor(seed: number) {
  return {
    services: 150,
    endpointsPerService: 4,
    nodeIP: '192.168.10.11',
    clusterCIDR: '10.244.0.0/16',
    serviceCIDR: '10.96.0.0/12',
    seed,
    nodePorts: true,
    noEndpointServices: 5,
    externalTrafficPolicyLocal: 6,
    sessionAffinity: 3,
  };
}
