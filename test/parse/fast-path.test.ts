/** The dump-line fast path must read every line exactly as the general parser does. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Table } from '../../src/netfilter/model.js';
import { parseIptablesSave } from '../../src/parse/iptables-save.js';
import { kubeProxyIptablesSave } from '../../src/synth/kube-proxy-iptables.js';
import { corpusDir } from '../support/paths.js';

function flat(tables: Table[], withIndex = true): string[] {
  const out: string[] = [];
  for (const t of tables)
    for (const c of t.chains.values())
      for (const r of c.rules)
        out.push(
          `${t.name}/${c.name} #${r.index} line ${r.source.line} [${withIndex ? (r.exactDst ?? '') : ''}] ${r.canonical} | ${r.text}`,
        );
  return out;
}

/** Destinations a rule is indexed under: the lazy path may index fewer rules, never another destination. */
function indexed(tables: Table[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const t of tables)
    for (const c of t.chains.values())
      for (const r of c.rules) if (r.exactDst) out.set(`${t.name}/${c.name}#${r.index}`, r.exactDst);
  return out;
}

const inputs: [string, string][] = readdirSync(corpusDir)
  .filter((f) => !f.endsWith('.md') && !f.startsWith('LICENSE'))
  .map((f) => [f, readFileSync(join(corpusDir, f), 'utf8')]);
inputs.push([
  'kube-proxy 300x3',
  kubeProxyIptablesSave({
    services: 300,
    endpointsPerService: 3,
    nodeIP: '10.0.0.12',
    clusterCIDR: '10.244.0.0/16',
    serviceCIDR: '10.96.0.0/12',
    nodePorts: 50,
    noEndpointServices: 5,
    externalTrafficPolicyLocal: 5,
    sessionAffinity: 5,
    seed: 7,
  }).text,
]);

for (const [name, text] of inputs) {
  test(`fast and lazy paths read ${name} as the general parser does`, () => {
    const general = parseIptablesSave(text, { file: name, generalOnly: true });
    const fast = parseIptablesSave(text, { file: name, eager: true });
    const lazy = parseIptablesSave(text, { file: name });
    assert.deepEqual(flat(fast.tables), flat(general.tables));
    assert.deepEqual(fast.issues, general.issues);
    // Lazy rules compile when read (flat reads them all); their problems come then, in rule order.
    assert.deepEqual(flat(lazy.tables, false), flat(general.tables, false));
    const eagerIndex = indexed(general.tables);
    for (const [rule, dst] of indexed(lazy.tables))
      assert.equal(dst, eagerIndex.get(rule), `${rule} indexed under ${dst}`);
    const byLine = (a: { line: number }, b: { line: number }) => a.line - b.line;
    assert.deepEqual([...lazy.issues].sort(byLine), [...general.issues].sort(byLine));
  });
}
