/**
 * `probe --lab` on every fault scenario of the lab (seed 000 has its own test): the symptom shows in the matrix,
 * every failed flow touches a node the scenario's expected fault names and is explained (the trace's decisive
 * rule, route or sysctl, or diagnose's finding where the trace cannot see the fault, like an MTU), no flow
 * contradicts its trace unless a finding explains it, and pods on the other nodes still reach each other.
 * Scenarios come from the lab's own list; the broken nodes from the lab's plan.
 * (Every failure is explained by a node of the flow or of the fault: some faults span nodes.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { labUp } from '../../src/lab/lab.js';
import { SCENARIOS } from '../../src/lab/scenarios.js';
import { explainReport } from '../../src/probe/explain.js';
import { probeLab } from '../../src/probe/lab.js';
import type { ProbeKind } from '../../src/probe/model.js';
import { needsRoot } from '../support/netns.js';

const KINDS: ProbeKind[] = ['pod-pod', 'pod-service', 'node-service', 'overlay', 'mtu'];

test('probe --lab on each fault scenario: the symptom, and a reason on a faulty node', async (t) => {
  if (!needsRoot(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'netdoctor-probe-scen-'));
  const seed = 7;
  try {
    const lab = await labUp({ nodes: 3, seed, statePath: join(dir, 'lab.json') });
    try {
      for (const scenario of SCENARIOS) {
        if (scenario.name === 'healthy' || scenario.name === 'seed-000') continue;
        await t.test(scenario.name, async () => {
          const expected = await lab.inject(scenario.name, seed);
          assert.ok(expected, 'a fault scenario has an expected fault');
          const faulty = new Set([
            expected.brokenNode,
            ...expected.findings.map((f) => f.node).filter((n): n is string => !!n),
          ]);
          try {
            const { report } = await probeLab(lab, {
              kinds: KINDS,
              timeoutMs: 800,
              explain: (c, r) => explainReport(c, r, { all: true }),
            });
            const failed = report.outcomes.filter((o) => o.status === 'fail' || o.status === 'partial');
            assert.ok(failed.length > 0, `the symptom shows: ${scenario.symptom}`);
            for (const o of failed) {
              const label = `${o.probe.id}: ${o.status}, reason ${o.reason?.summary}`;
              assert.ok(o.reason, `${label}: explained`);
              // The reason sits on a node of the flow or of the fault (a fault can span nodes: the peers' routes
              // to a lease-less node, the node whose subnet another node's uplink overlaps).
              const decisive = o.reason.decisive as { node?: string } | null | undefined;
              const node = o.reason.finding?.node ?? decisive?.node;
              const flowNodes = [o.probe.from.node, o.probe.to.node].filter((n): n is string => !!n);
              const around = new Set([...faulty, ...flowNodes]);
              assert.ok(
                node ? around.has(node) : [...around].some((n) => o.reason?.summary.includes(n)),
                `${label}: the reason is on a node of the flow or of the fault (${[...around]})`,
              );
              if (o.probe.kind === 'pod-pod' || o.probe.kind === 'overlay' || o.probe.kind === 'mtu')
                assert.ok(
                  flowNodes.some((n) => faulty.has(n)),
                  `${label}: a failing flow touches a faulty node (${[...faulty]})`,
                );
              if (o.reason.disagreement)
                assert.ok(o.reason.finding, `${label}: a contradiction with the trace is explained by a finding`);
            }
            for (const o of report.outcomes) {
              if (o.status === 'pass' || o.status === 'slow')
                assert.equal(o.reason?.disagreement, undefined, o.probe.id);
              const a = o.probe.from.node;
              const b = o.probe.to.node;
              if (o.probe.kind === 'pod-pod' && a && b && !faulty.has(a) && !faulty.has(b))
                assert.equal(o.status, 'pass', `${o.probe.id}: pods away from the fault still talk`);
            }
            t.diagnostic(
              `${scenario.name} on ${[...faulty].join(',')}: ${report.outcomes.length} probes, ${failed.length} failed, all explained`,
            );
          } finally {
            await lab.revert();
          }
        });
      }
    } finally {
      await lab.down();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
