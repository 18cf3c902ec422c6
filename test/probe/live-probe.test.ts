/**
 * `probe --live` end to end against the test API server on the lab's seed 000 (its kubelet gives probe pods real
 * namespaces on the lab's cni0, so their traffic crosses the lab's real overlay and firewall). The command line
 * creates the probe pods, collects the bundle, probes and deletes the pods; the report must show the seed's symptom
 * (every flow between the broken node — read from the lab's plan — and the others fails, with the REJECT as the
 * reason; flows elsewhere pass), cover every probe kind, judge Services in front of workloads that do not speak the
 * echo protocol by TCP connect, render in Chromium, and leave no pod or namespace behind, also when interrupted
 * with Ctrl-C.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { labDown, labUp } from '../../src/lab/lab.js';
import { listNetns } from '../../src/lab/shell.js';
import { buildMatrix } from '../../src/probe/matrix.js';
import type { ProbeOutcome, ProbeReport } from '../../src/probe/model.js';
import { PROBE_KINDS } from '../../src/probe/model.js';
import { formatProbeHtml } from '../../src/report/html/probe-page.js';
import type { FakeApiServer } from '../live/fake-apiserver.js';
import { labFakeOptions, startLabFake } from '../live/lab-fake.js';
import { CLI, netdoctorAsync } from '../live/run-cli.js';
import { needsRoot } from '../support/netns.js';
import { repoRoot } from '../support/paths.js';
import { openInBrowser } from './browser.js';

interface Seed000 {
  brokenNode: string;
  reject: { chain: string; index: number; text: string; node: string };
}

/** The node a probe starts on and the node it ends on (undefined for a Service). */
const ends = (o: ProbeOutcome) => [o.probe.from.node ?? o.probe.from.name, o.probe.to.node] as const;

test('probe --live on the lab seed 000: probe pods show the symptom with the REJECT as reason, and are deleted', async (t) => {
  if (!needsRoot(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'netdoctor-probe-live-'));
  const statePath = join(dir, 'lab.json');
  let fake: FakeApiServer | undefined;
  try {
    const lab = await labUp({ nodes: 3, seed: 23, statePath });
    const fault = (await lab.inject('seed-000', 23)) as unknown as Seed000;
    const broken = fault.brokenNode;
    const started = await startLabFake(labFakeOptions(lab, dir), dir);
    fake = started.fake;
    const podNetns = async () => (await listNetns()).filter((n) => n.startsWith(`${lab.prefix}-pod-`));

    const r = await netdoctorAsync(
      ['probe', '--live', '--kubeconfig', started.kubeconfig, '--format', 'json', '--timeout', '800ms'],
      {},
      240_000,
    );
    assert.equal(r.status, 1, r.stderr);
    const report = JSON.parse(r.stdout) as ProbeReport;
    assert.match(report.target, /^live https:\/\/127\.0\.0\.1:\d+ /);
    assert.deepEqual(report.problems, []);
    for (const n of lab.plan.nodes) assert.match(r.stderr, new RegExp(`\\] ${n.name}: probe pods ready`));

    // Nothing left: the pods, their namespaces, their processes.
    assert.deepEqual(fake.pods('netdoctor'), [], 'no pod left');
    assert.deepEqual(await podNetns(), [], 'no pod namespace left');
    assert.deepEqual(fake.kubeletErrors, []);
    // 3 probe pods and 1 collector pod per node.
    assert.equal(fake.created.length, 4 * lab.plan.nodes.length);

    const kinds = new Set(report.outcomes.map((o) => o.probe.kind));
    assert.deepEqual(
      [...PROBE_KINDS].filter((k) => !kinds.has(k)),
      [],
      'every kind of probe ran',
    );
    assert.equal(report.outcomes.filter((o) => o.status === 'error').length, 0);

    // Pod and overlay flows: across the broken node they fail on its REJECT, everywhere else they pass.
    const flows = report.outcomes.filter((o) => ['pod-pod', 'node-pod', 'overlay', 'mtu'].includes(o.probe.kind));
    assert.ok(flows.length >= 60, `${flows.length} pod and overlay flows`);
    for (const o of flows) {
      const [a, b] = ends(o);
      const label = `${o.probe.id}: ${o.status} ${JSON.stringify(o.result.failures)} ${o.reason?.summary ?? ''}`;
      if (a !== b && (a === broken || b === broken)) {
        assert.equal(o.status, 'fail', label);
        assert.ok(o.reason?.summary.includes(`${broken} filter/${fault.reject.chain} #${fault.reject.index}`), label);
        assert.ok(o.reason?.summary.includes(fault.reject.text), label);
      } else assert.equal(o.status, 'pass', label);
    }
    // Same node, on the broken node too: pod to pod through cni0 works.
    const sameNode = flows.filter((o) => o.probe.kind === 'pod-pod' && ends(o)[0] === ends(o)[1]);
    assert.equal(new Set(sameNode.map((o) => ends(o)[0])).size, lab.plan.nodes.length);

    // The lab's echo Service has endpoints on every node and does not speak netdoctor's echo protocol to these
    // probes (its pods are not netdoctor's): TCP connect, every try; some fail (the broken node's endpoints).
    const echoSvc = report.outcomes.filter((o) => o.probe.kind === 'pod-service' && o.probe.to.name === 'default/echo');
    assert.equal(echoSvc.length, lab.plan.nodes.length);
    for (const o of echoSvc) {
      const label = `${o.probe.id}: ${o.status} ${JSON.stringify(o.result.failures)}`;
      assert.equal(o.probe.agent.connect, true, label);
      assert.equal(o.status, 'partial', label);
      assert.equal(o.result.attempts, o.probe.agent.tries, `${label}: every try ran`);
      assert.deepEqual(o.unexpected, [], `${label}: a connection is not an unexpected answer`);
      assert.ok(o.reason?.summary.includes(fault.reject.text), label);
    }
    // NodePorts: each node's, probed from the next node.
    const nodePorts = report.outcomes.filter((o) => o.probe.kind === 'nodeport');
    assert.deepEqual(nodePorts.map((o) => o.probe.to.node).sort(), lab.plan.nodes.map((n) => n.name).sort());
    assert.ok(nodePorts.every((o) => o.probe.from.kind === 'node' && o.probe.from.name !== o.probe.to.node));
    // A Service whose endpoint does not listen (the lab's API server address): delivered and refused, said so.
    const refused = report.outcomes.filter((o) => o.reason?.refused);
    assert.ok(refused.length > 0, 'a connection refused at the endpoint');
    for (const o of refused) assert.match(o.reason?.summary ?? '', /^delivered, and refused there: nothing listens/);
    // DNS through each probe pod's resolv.conf.
    const dns = report.outcomes.filter((o) => o.probe.kind === 'dns');
    assert.equal(dns.length, lab.plan.nodes.length);
    // No probe contradicts its trace.
    assert.deepEqual(
      report.outcomes.filter((o) => o.reason?.disagreement).map((o) => `${o.probe.id}: ${o.reason?.disagreement}`),
      [],
    );

    // The same report as a page, in a real headless Chromium: a red cell between probe pods names the REJECT.
    const out = join(repoRoot, 'artifacts');
    mkdirSync(out, { recursive: true });
    const page = join(out, 'probe-live-seed-000.html');
    writeFileSync(page, formatProbeHtml(report, 'en'));
    const red = buildMatrix(report).cells.find(
      (c) => c.status === 'fail' && c.row.startsWith('pod/') && c.col.startsWith('pod/'),
    );
    assert.ok(red);
    const cell = `td.cell[data-row="${red.row}"][data-col="${red.col}"]`;
    const seen = await openInBrowser(page, join(out, 'probe-live-seed-000.png'), { click: cell, read: ['#detail'] });
    assert.deepEqual(seen.consoleErrors, []);
    assert.deepEqual(seen.outsideRequests, []);
    assert.ok(seen.read[0]?.text?.includes(fault.reject.text), 'the detail panel names the rule');

    await t.test('Ctrl-C while probing deletes every probe pod', async () => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', CLI, 'probe', '--live', '--kubeconfig', started.kubeconfig, '--format', 'json'],
        { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1' } },
      );
      let stderr = '';
      let signalled = false;
      const exited = new Promise<number | null>((resolve) => {
        const limit = setTimeout(() => child.kill('SIGKILL'), 120_000);
        child.on('close', (code) => {
          clearTimeout(limit);
          resolve(code);
        });
      });
      child.stderr.on('data', (c: Buffer) => {
        stderr += c;
        if (!signalled && stderr.includes('sending ')) {
          signalled = true;
          child.kill('SIGINT');
        }
      });
      const code = await exited;
      assert.ok(signalled, stderr);
      assert.equal(code, 2, stderr);
      assert.match(stderr, /SIGINT: deleting the probe pods \(\d+\)/);
      assert.match(stderr, /interrupted/);
      assert.deepEqual(fake?.pods('netdoctor'), [], 'no pod left');
      assert.deepEqual(await podNetns(), [], 'no pod namespace left');
    });

    await t.test('an agent image that cannot be pulled: the reason per node, exit 2, no pod left', async () => {
      const { fake: pullFake, kubeconfig } = await startLabFake(
        { ...labFakeOptions(lab, join(dir, 'pull')), unpullable: (image) => image.includes('nope') },
        dir,
        'kubeconfig-pull',
      );
      try {
        const bad = await netdoctorAsync([
          'probe',
          '--live',
          '--kubeconfig',
          kubeconfig,
          '--agent-image',
          'registry.invalid/nope:1',
          '--pod-timeout',
          '20s',
        ]);
        assert.equal(bad.status, 2, bad.stderr);
        for (const n of lab.plan.nodes)
          assert.match(
            bad.stderr,
            new RegExp(`\\] ${n.name}: FAILED: the image could not be pulled \\(container agent\\): ErrImagePull`),
          );
        assert.match(bad.stderr, /no probe pod came up/);
        assert.deepEqual(pullFake.pods('netdoctor'), []);
        assert.deepEqual(await podNetns(), []);
      } finally {
        await pullFake.close();
      }
    });
  } finally {
    await fake?.close();
    await labDown(statePath);
    rmSync(dir, { recursive: true, force: true });
  }
});
