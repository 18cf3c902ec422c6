/**
 * `probe --lab` on seed 000, for real: the matrix shows the seed's symptom (every flow into or out of the broken node's
 * pods across nodes fails, flows elsewhere pass), every failure is explained by the REJECT on the broken node that
 * the lab's plan names, no probe disagrees with its trace, and the HTML report of the run works in a real headless
 * Chromium: no console errors, no request leaves the page, a red cell shows its reason and its path, and a screenshot
 * is saved. The broken node comes from the lab's plan, never assumed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { labUp } from '../../src/lab/lab.js';
import { explainReport } from '../../src/probe/explain.js';
import { probeLab } from '../../src/probe/lab.js';
import { buildMatrix } from '../../src/probe/matrix.js';
import type { ProbeOutcome } from '../../src/probe/model.js';
import { formatProbeHtml } from '../../src/report/html/probe-page.js';
import { formatProbeText } from '../../src/report/probe-text.js';
import { needsRoot } from '../support/netns.js';
import { repoRoot } from '../support/paths.js';
import { openInBrowser } from './browser.js';

const cli = join(repoRoot, 'src', 'cli', 'main.ts');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

interface Seed000 {
  brokenNode: string;
  reject: { chain: string; index: number; text: string };
}

test('probe --lab on seed 000: the symptom in the matrix, the REJECT as the reason, the HTML report in Chromium', async (t) => {
  if (!needsRoot(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'netdoctor-probe-lab-'));
  try {
    const lab = await labUp({ nodes: 3, seed: 5, statePath: join(dir, 'lab.json') });
    try {
      const fault = (await lab.inject('seed-000', 5)) as unknown as Seed000;
      const broken = fault.brokenNode;
      const { report } = await probeLab(lab, { explain: (c, r) => explainReport(c, r, { all: true }), timeoutMs: 800 });
      const crosses = (o: ProbeOutcome) => {
        const a = o.probe.from.node ?? (o.probe.from.kind === 'node' ? o.probe.from.name : undefined);
        const b = o.probe.to.node;
        return a !== undefined && b !== undefined && a !== b && (a === broken || b === broken);
      };
      const podFlows = report.outcomes.filter((o) => o.probe.kind === 'pod-pod' || o.probe.kind === 'node-pod');
      assert.ok(podFlows.length > 50, `planned ${podFlows.length} pod flows`);
      for (const o of podFlows) {
        const label = `${o.probe.id}: ${o.status} ${JSON.stringify(o.result.failures)}`;
        if (crosses(o)) {
          assert.equal(o.status, 'fail', label);
          assert.ok(o.reason, `${label}: explained`);
          assert.match(
            o.reason.summary,
            new RegExp(`^rejected .*${broken} filter/${fault.reject.chain} #${fault.reject.index} `),
            label,
          );
          assert.ok(o.reason.summary.includes(fault.reject.text), label);
          assert.ok(
            (o.reason.hops as { decisive?: boolean; node?: string }[]).some((h) => h.decisive && h.node === broken),
            `${label}: the decisive hop is on ${broken}`,
          );
        } else assert.equal(o.status, 'pass', label);
      }
      // Every flow, passing or not, agrees with its trace through the bundle.
      const disagreeing = report.outcomes.filter((o) => o.reason?.disagreement);
      assert.deepEqual(
        disagreeing.map((o) => `${o.probe.id}: ${o.status}; ${o.reason?.summary}`),
        [],
        'probes that disagree with their trace',
      );
      // The Service reaches every endpoint from a healthy node's pod except those on the broken node.
      const svc = report.outcomes.find(
        (o) => o.probe.kind === 'pod-service' && o.probe.from.node !== broken && o.probe.proto === 'tcp',
      ) as ProbeOutcome;
      assert.ok(svc);
      const onBroken = lab.plan.pods.filter((p) => p.node === broken && p.role === 'echo').map((p) => p.name);
      assert.equal(svc.status, 'partial');
      assert.deepEqual([...svc.missing].sort(), [...onBroken].sort());
      // The overlay between healthy nodes works; to and from the broken node it does not.
      for (const o of report.outcomes.filter((x) => x.probe.kind === 'overlay'))
        assert.equal(
          o.status,
          o.probe.from.name === broken || o.probe.to.name === broken ? 'fail' : 'pass',
          o.probe.id,
        );

      const text = formatProbeText(report, false);
      assert.match(
        text,
        new RegExp(`reason: rejected .*${broken} filter/${fault.reject.chain} #${fault.reject.index}`),
      );

      // The HTML report, in a real browser.
      const html = formatProbeHtml(report, 'en');
      const out = join(repoRoot, 'artifacts');
      mkdirSync(out, { recursive: true });
      const page = join(out, 'probe-seed-000.html');
      writeFileSync(page, html);
      const matrix = buildMatrix(report);
      const redCell = matrix.cells.find(
        (c) => c.status === 'fail' && c.row.startsWith('pod/') && c.col.startsWith('pod/'),
      );
      assert.ok(redCell);
      const seen = await openInBrowser(page, join(out, 'probe-seed-000.png'), {
        click: `td.cell[data-row="${redCell.row}"][data-col="${redCell.col}"]`,
        read: ['#detail', `td.cell[data-row="${redCell.row}"][data-col="${redCell.col}"]`],
      });
      assert.deepEqual(seen.consoleErrors, []);
      assert.deepEqual(seen.outsideRequests, []);
      const [detail, cellTitle] = seen.read;
      assert.ok(cellTitle?.title?.includes(fault.reject.text), `the cell's hover names the rule: ${cellTitle?.title}`);
      assert.ok(detail?.text?.includes(fault.reject.text), 'the detail panel names the rule');
      assert.ok(detail?.text?.includes('decisive'), 'the path diagram marks the decisive hop');
      t.diagnostic(`screenshot: ${join(out, 'probe-seed-000.png')}`);

      // --watch with metrics, as an operator runs it, stopped with Ctrl-C (SIGINT) between rounds.
      const port = await freePort();
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          cli,
          'probe',
          '--lab',
          '--state',
          lab.statePath,
          '--watch',
          '--interval',
          '1s',
          '--count',
          '20',
          '--kinds',
          'overlay',
          '--metrics',
          `127.0.0.1:${port}`,
          '-q',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      try {
        let metrics = '';
        for (let i = 0; i < 60 && !/^netdoctor_probe_rounds_total [1-9]/m.test(metrics); i++) {
          await new Promise((r) => setTimeout(r, 500));
          metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then(
            (r) => r.text(),
            () => '',
          );
        }
        assert.match(metrics, /^netdoctor_probe_rounds_total [1-9]/m, 'a round finished within 30 s');
        const lines = metrics.split('\n').filter((l) => l.startsWith('netdoctor_probe_success{kind="overlay"'));
        assert.equal(lines.length, lab.plan.nodes.length * (lab.plan.nodes.length - 1));
        for (const l of lines) {
          const touches = l.includes(`from="${broken}"`) || l.includes(`to="${broken}"`);
          assert.ok(l.endsWith(touches ? ' 0' : ' 1'), l);
        }
      } finally {
        child.kill('SIGINT');
      }
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('hung'), 15_000))]);
      assert.equal(code, 1, 'Ctrl-C ends the watch; the last round had failures');
      assert.match(stdout, /round 1: 6 probes, 2 pass, 4 not passing/);
    } finally {
      await lab.down();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
