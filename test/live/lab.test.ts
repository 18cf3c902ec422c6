/**
 * `diagnose --live` end to end on the lab: the test API server's nodes are the lab's namespaces, so each collector
 * pod really runs the collector in its node's network namespace (exec over WebSocket, gzip on the way back). The
 * findings must be the ones the offline bundle of the same lab gives (`lab.collect`), the broken node (read from the
 * lab's plan) must be named, and no pod may be left. The node's files come through the pod's hostPath mount of `/`
 * (NETDOCTOR_ROOT), which the fake maps to a directory holding the lab node's own files.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { labDown, labNodeFiles, labUp } from '../../src/lab/lab.js';
import type { NodeSnapshot } from '../../src/snapshot/schema.js';
import { needsRoot } from '../support/netns.js';
import { FakeApiServer, kubeconfigFor } from './fake-apiserver.js';
import { labFakeOptions, startLabFake } from './lab-fake.js';
import { netdoctorAsync } from './run-cli.js';

interface Finding {
  check: string;
  severity: string;
  node?: string;
  title: string;
  evidence: unknown[];
}

/** A finding without where its bundle lives (evidence names the bundle's file). */
const comparable = (bundle: string) => (f: Finding) =>
  JSON.parse(JSON.stringify(f).replaceAll(`${bundle}/`, 'BUNDLE/')) as Finding;

test("diagnose --live on the lab's seed-000 gives the offline bundle's findings", async (t) => {
  if (!needsRoot(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'netdoctor-live-lab-'));
  const statePath = join(dir, 'lab.json');
  let fake: FakeApiServer | undefined;
  try {
    const lab = await labUp({ nodes: 3, seed: 23, statePath });
    const expected = await lab.inject('seed-000', 23);
    assert.ok(expected && 'brokenNode' in expected);
    const broken = expected.brokenNode;

    const offline = join(dir, 'offline');
    await lab.collect(offline);
    const off = await netdoctorAsync(['diagnose', offline, '--format', 'json']);
    assert.equal(off.status, 1, off.stderr);
    const offFindings = (JSON.parse(off.stdout) as { findings: Finding[] }).findings;
    assert.ok(offFindings.some((f) => f.check === 'overlay-port-blocked' && f.node === broken));

    // With exactly the permissions of deploy/rbac.yaml.
    const opts = labFakeOptions(lab, dir);
    const started = await startLabFake(opts, dir);
    fake = started.fake;
    const kc = started.kubeconfig;
    const setting = lab.state.setting;

    const saved = join(dir, 'live');
    const live = await netdoctorAsync([
      'diagnose',
      '--live',
      '--kubeconfig',
      kc,
      '--save-bundle',
      saved,
      '--format',
      'json',
      '--parallel',
      '2',
    ]);
    assert.equal(live.status, 1, live.stderr);
    const liveFindings = (JSON.parse(live.stdout) as { findings: Finding[] }).findings;
    assert.deepEqual(
      liveFindings.map(comparable(saved)),
      offFindings.map(comparable(offline)),
      'the same findings as the offline bundle',
    );
    for (const n of lab.plan.nodes) assert.match(live.stderr, new RegExp(`\\] ${n.name}: collected \\(\\d+ commands`));
    assert.deepEqual(fake.pods('netdoctor'), [], 'no pod left');
    assert.equal(fake.created.length, lab.plan.nodes.length);

    const snap = JSON.parse(readFileSync(join(saved, 'nodes', `${broken}.json`), 'utf8')) as NodeSnapshot;
    assert.equal(snap.collector.transport, 'pod');
    assert.equal(snap.node, broken);
    const brokenPlan = lab.plan.nodes.find((n) => n.name === broken);
    assert.ok(brokenPlan);
    assert.equal(
      snap.files['/run/flannel/subnet.env']?.content,
      labNodeFiles(lab.plan, brokenPlan, setting)['/run/flannel/subnet.env']?.content,
      "the node's files are read through the pod's mount of /",
    );
    assert.match(snap.commands.uname?.stdout ?? '', new RegExp(`^\\S+ ${broken} `), 'the node hostname');

    await t.test('the base64 exec protocol gives the same snapshot', async () => {
      const b64 = new FakeApiServer({ ...opts, execProtocols: ['v4.base64.channel.k8s.io'] });
      try {
        const u = await b64.start();
        writeFileSync(join(dir, 'kc64'), kubeconfigFor(u, opts.token as string, b64.tls.cert));
        const out = join(dir, 'b64');
        const r = await netdoctorAsync([
          'collect',
          '--live',
          '--kubeconfig',
          join(dir, 'kc64'),
          '-o',
          out,
          '--nodes',
          broken,
        ]);
        assert.equal(r.status, 0, r.stderr);
        const s2 = JSON.parse(readFileSync(join(out, 'nodes', `${broken}.json`), 'utf8')) as NodeSnapshot;
        assert.deepEqual(Object.keys(s2.commands).sort(), Object.keys(snap.commands).sort());
        assert.equal(s2.commands['iptables-nft-save']?.stdout !== undefined, true);
        assert.deepEqual(s2.files['/run/flannel/subnet.env'], snap.files['/run/flannel/subnet.env']);
        assert.deepEqual(b64.pods('netdoctor'), []);
      } finally {
        await b64.close();
      }
    });
  } finally {
    await fake?.close();
    await labDown(statePath);
    rmSync(dir, { recursive: true, force: true });
  }
});
