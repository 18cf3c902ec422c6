/**
 * Seed 000 end to end, for real: the lab reproduces it, `lab collect` makes a bundle with the real collector,
 * `netdoctor diagnose` names the rejecting rule on the broken node (and the near miss), the finding's first fix is
 * run verbatim from the JSON inside the broken node, and then pods talk again and a fresh diagnosis is clean. The
 * healthy lab gives no finding at error level or above. Two seeds, so nothing about the broken node is assumed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Lab, labDown, labUp } from '../../src/lab/lab.js';
import type { PodPlan } from '../../src/lab/plan.js';
import { planFault, type Seed000Fault } from '../../src/lab/scenarios.js';
import { run } from '../../src/lab/shell.js';
import { needsRoot } from '../support/netns.js';

const cli = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.ts');

interface Finding {
  check: string;
  severity: string;
  node?: string;
  title: string;
  evidence: { kind: string; node?: string; table?: string; chain?: string; index?: number; text?: string }[];
  fix: string[];
}

async function diagnose(bundle: string): Promise<{ status: number; findings: Finding[] }> {
  const r = await run(process.execPath, ['--import', 'tsx', cli, 'diagnose', bundle, '--format', 'json'], {
    timeoutMs: 60_000,
  });
  assert.ok(r.status === 0 || r.status === 1, `diagnose exited ${r.status}: ${r.stderr.slice(0, 500)}`);
  return { status: r.status, findings: (JSON.parse(r.stdout) as { findings: Finding[] }).findings };
}

const serious = (f: Finding) => f.severity === 'critical' || f.severity === 'error';

async function pingOk(lab: Lab, from: PodPlan, to: PodPlan, tries: number): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    const r = await lab.exec(from.name, ['ping', '-c', '1', '-W', '1', to.ip], { timeoutMs: 3_000 });
    if (r.status === 0) return true;
  }
  return false;
}

test('seed 000 end to end: lab, collect, diagnose, the fix from the JSON, ping', async (t) => {
  if (!needsRoot(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'netdoctor-e2e-'));
  const statePath = join(dir, 'lab.json');
  const started = Date.now();
  try {
    const lab = await labUp({ nodes: 3, seed: 11, statePath });
    const echoOn = (node: string) => lab.plan.pods.find((p) => p.role === 'echo' && p.node === node) as PodPlan;

    await t.test('healthy: no finding at error level or above', async () => {
      await lab.collect(join(dir, 'healthy'));
      const d = await diagnose(join(dir, 'healthy'));
      assert.deepEqual(d.findings.filter(serious), []);
      assert.equal(d.status, 0);
    });

    const faultOf = (seed: number) => planFault(lab.plan, 'seed-000', seed)?.expected as Seed000Fault;
    // One seed with firewalld's zone chains, one flat, breaking different nodes: chosen from the plan.
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
    const seedA = seeds.find((s) => faultOf(s).layout.style === 'firewalld') as number;
    const seedB = seeds.find(
      (s) => faultOf(s).layout.style === 'flat' && faultOf(s).brokenNode !== faultOf(seedA).brokenNode,
    ) as number;
    assert.ok(seedA && seedB);
    for (const seed of [seedA, seedB]) {
      await t.test(`seed-000 --seed ${seed}: diagnosed, fixed with fix[0], clean again`, async () => {
        const ex = (await lab.inject('seed-000', seed)) as Seed000Fault;
        const from = echoOn(ex.healthyNodes[0] as string);
        const to = echoOn(ex.brokenNode);
        assert.equal(await pingOk(lab, from, to, 1), false, 'the fault blocks the ping');

        const bundle = join(dir, `seed-${seed}`);
        await lab.collect(bundle);
        const d = await diagnose(bundle);
        assert.equal(d.status, 1);
        const f = d.findings.find((x) => x.check === 'overlay-port-blocked' && x.node === ex.brokenNode);
        assert.ok(
          f,
          `no overlay-port-blocked finding on ${ex.brokenNode}: ${d.findings.map((x) => x.title).join('; ')}`,
        );
        assert.equal(f.severity, 'critical');
        assert.deepEqual(
          [...new Set(d.findings.filter(serious).map((x) => x.node))],
          [ex.brokenNode],
          'only the broken node is named',
        );
        const has = (r: { node: string; chain: string; index: number; text: string }) =>
          f.evidence.some((e) => e.node === r.node && e.chain === r.chain && e.index === r.index && e.text === r.text);
        assert.ok(has(ex.reject), `the rejecting rule ${ex.reject.chain} #${ex.reject.index} is evidence`);
        assert.ok(has(ex.nearMiss), `the near miss ${ex.nearMiss.chain} #${ex.nearMiss.index} is evidence`);
        assert.ok(
          f.evidence.some(
            (e) => e.node !== undefined && ex.healthyNodes.includes(e.node) && e.text === ex.healthyRule.text,
          ),
          "a healthy node's udp rule is evidence",
        );

        const fix = f.fix[0] as string;
        assert.ok(fix, 'the finding has a fix');
        const applied = await lab.exec(ex.brokenNode, ['sh', '-c', fix]);
        assert.equal(applied.status, 0, `fix[0] \`${fix}\`: ${applied.stderr}`);
        assert.equal(await pingOk(lab, from, to, 3), true, `the ping passes after \`${fix}\``);
        assert.equal(await pingOk(lab, to, from, 3), true, 'and back');

        const after = join(dir, `seed-${seed}-fixed`);
        await lab.collect(after);
        const d2 = await diagnose(after);
        assert.deepEqual(d2.findings.filter(serious), []);
        await lab.revert();
      });
    }
  } finally {
    await labDown(statePath);
    rmSync(dir, { recursive: true, force: true });
    t.diagnostic(`whole test ${Date.now() - started} ms`);
  }
});
