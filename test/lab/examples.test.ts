/**
 * The lab's example bundles (made by `scripts/make-examples.ts`): `netdoctor diagnose examples/<scenario>` names the
 * cause first with the evidence the scenario's ExpectedFault records (computed from the plan, not stored), and its
 * healthy twin `examples/<scenario>-healthy` has nothing at error level or above. No root needed.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exampleDir, LAB_EXAMPLES } from '../../src/lab/examples.js';
import { buildPlan } from '../../src/lab/plan.js';
import { planFault } from '../../src/lab/scenarios.js';
import { repoRoot } from '../support/paths.js';
import { assertDiagnosis, diagnose, serious } from './diagnosis.js';

for (const e of LAB_EXAMPLES) {
  const ex = planFault(buildPlan({ nodes: e.nodes, seed: e.seed, prefix: 'x' }), e.scenario, e.seed)?.expected;
  const broken = join(repoRoot, exampleDir(e));
  const twin = join(repoRoot, exampleDir(e, true));

  test(`${exampleDir(e)}: made by the lab with --seed ${e.seed}, on the nodes the plan says`, () => {
    assert.ok(ex);
    for (const dir of [broken, twin]) {
      const list = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as {
        items: { kind: string; metadata: { name: string } }[];
      };
      const nodes = list.items.filter((i) => i.kind === 'Node').map((i) => i.metadata.name);
      assert.equal(nodes.length, e.nodes);
      for (const n of nodes) assert.ok(existsSync(join(dir, 'nodes', `${n}.json`)), `${dir}: nodes/${n}.json`);
    }
    assert.ok(ex.summary.length > 0);
  });

  test(`netdoctor diagnose ${exampleDir(e)}: the cause first, with its evidence`, async () => {
    assert.ok(ex);
    const d = await diagnose(broken);
    assert.equal(d.status, 1);
    assertDiagnosis(d.findings, ex);
  });

  test(`netdoctor diagnose ${exampleDir(e, true)}: nothing at error level or above`, async () => {
    const d = await diagnose(twin);
    assert.deepEqual(
      d.findings.filter(serious).map((f) => `${f.check} ${f.node ?? '-'}: ${f.title}`),
      [],
    );
    assert.equal(d.status, 0);
  });
}
