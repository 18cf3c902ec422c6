/**
 * `netdoctor diff` on a real lab of five nodes, started once: healthy, every pair and `--all` give no difference;
 * with seed 000 injected (the broken node and the rule positions come from the lab's expected fault, never assumed)
 * the broken/healthy pair gives exactly the one 8472 difference naming the lab's own rules, the healthy pairs none,
 * and `--all` names the broken node and nothing else.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { labDown, labUp } from '../../src/lab/lab.js';
import { planFault, type Seed000Fault } from '../../src/lab/scenarios.js';
import { run } from '../../src/lab/shell.js';
import { needsRoot } from '../support/netns.js';

const cli = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.ts');

interface Difference {
  kind: string;
  title: string;
  a: { node: string; evidence: { chain?: string; index?: number; text: string }[] };
  b: { node: string; evidence: { chain?: string; index?: number; text: string }[] };
  classes: { packet: string; a: { verdict: string; by?: string }; b: { verdict: string; by?: string } }[];
}

async function diff(args: string[]): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await run(process.execPath, ['--import', 'tsx', cli, 'diff', ...args, '--format', 'json'], {
    timeoutMs: 60_000,
  });
  assert.ok(r.status === 0 || r.status === 1, `diff ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 500)}`);
  return { status: r.status, json: JSON.parse(r.stdout) as Record<string, unknown> };
}

test('lab, five nodes: healthy alike; seed 000 gives the one difference and --all names the broken node', async (t) => {
  if (!needsRoot(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'netdoctor-diff-lab-'));
  const statePath = join(dir, 'lab.json');
  try {
    const lab = await labUp({ nodes: 5, seed: 5, statePath });
    const names = lab.plan.nodes.map((n) => n.name);

    await t.test('healthy: no difference between any two nodes', async () => {
      const bundle = join(dir, 'healthy');
      await lab.collect(bundle);
      const all = await diff([bundle, '--all']);
      assert.equal(all.status, 0, JSON.stringify(all.json).slice(0, 2000));
      assert.deepEqual(all.json.oddOnesOut, []);
      const pair = await diff([bundle, '--nodes', `${names[0]},${names[names.length - 1]}`]);
      assert.deepEqual(pair.json.differences, []);
      assert.equal(pair.status, 0);
    });

    // Both firewall styles (firewalld's zone chains and a flat INPUT chain), breaking different nodes: from the plan.
    const faultOf = (seed: number) => planFault(lab.plan, 'seed-000', seed)?.expected as Seed000Fault;
    const seeds = Array.from({ length: 32 }, (_, i) => i + 1);
    const seedA = seeds.find((s) => faultOf(s).layout.style === 'firewalld') as number;
    const seedB = seeds.find(
      (s) => faultOf(s).layout.style === 'flat' && faultOf(s).brokenNode !== faultOf(seedA).brokenNode,
    ) as number;
    assert.ok(seedA && seedB);
    for (const seed of [seedA, seedB])
      await t.test(
        `seed 000 (--seed ${seed}, ${faultOf(seed).layout.style}): exactly the one difference, and --all names the broken node`,
        async () => {
          const ex = await lab.inject('seed-000', seed);
          assert.ok(ex?.scenario === 'seed-000');
          const bundle = join(dir, `seed-000-${seed}`);
          await lab.collect(bundle);
          const healthy = ex.healthyRule.node;
          const r = await diff([bundle, '--nodes', `${healthy},${ex.brokenNode}`]);
          assert.equal(r.status, 1);
          const diffs = r.json.differences as Difference[];
          assert.equal(diffs.length, 1, diffs.map((d) => d.title).join('\n'));
          const d = diffs[0] as Difference;
          assert.equal(d.kind, 'netfilter-rule');
          const where = (x: { chain: string; index: number }) => `filter/${x.chain} #${x.index}`;
          assert.equal(
            d.title,
            `8472 accept: ${healthy} \`-p udp\` (${where(ex.healthyRule)}), ${ex.brokenNode} \`-p tcp\` (${where(ex.nearMiss)}) — ` +
              `udp/8472 NEW: ${healthy} accepts, ${ex.brokenNode} rejects (${where(ex.reject)} REJECT); tcp/8472 NEW: the reverse`,
          );
          assert.equal(d.a.evidence[0]?.text, ex.healthyRule.text);
          assert.equal(d.b.evidence[0]?.text, ex.nearMiss.text);

          const others = ex.healthyNodes.filter((n) => n !== healthy);
          const calm = await diff([bundle, '--nodes', `${healthy},${others[0]}`]);
          assert.deepEqual(calm.json.differences, []);

          const all = await diff([bundle, '--all']);
          assert.equal(all.status, 1);
          assert.deepEqual(
            (all.json.oddOnesOut as { node: string }[]).map((o) => o.node),
            [ex.brokenNode],
          );
        },
      );

    // Other faults the lab makes: the odd node is named for a sysctl and for an MTU, by the kind of difference.
    for (const [scenario, kind] of [
      ['seed-001-ip-forward', 'sysctl'],
      ['seed-001-bridge-nf', 'sysctl'],
      ['seed-001-cidr-overlap', 'route'],
      ['seed-002-networkmanager', 'route'],
      ['mtu-overlay', 'interface'],
    ] as const) {
      await t.test(`${scenario}: --all names the broken node by a ${kind} difference`, async () => {
        const ex = await lab.inject(scenario, 5);
        assert.ok(ex?.brokenNode);
        const bundle = join(dir, scenario);
        await lab.collect(bundle);
        const all = await diff([bundle, '--all']);
        const odd = all.json.oddOnesOut as { node: string; differences: Difference[] }[];
        assert.deepEqual(
          odd.map((o) => o.node),
          [ex.brokenNode],
          JSON.stringify(all.json.pairs),
        );
        assert.ok(
          odd[0]?.differences.some((d) => d.kind === kind),
          odd[0]?.differences.map((d) => `${d.kind} ${d.title}`).join('\n'),
        );
      });
    }
  } finally {
    await labDown(statePath);
    rmSync(dir, { recursive: true, force: true });
  }
});
