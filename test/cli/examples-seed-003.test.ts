/**
 * examples/seed-003-ipvs (built from seed 003's own ipvsadm -Ln, routes, Services and pods by
 * scripts/make-seed-003-ipvs.ts) and its healthy twin: diagnose names the IPVS virtual server without real servers
 * first, then the kube-proxy version that leaves it; the twin has nothing at error level or above. The committed
 * bundles are what the script makes (reproducible).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SEED_003_DIRS, seed003Cluster, seed003Node } from '../../scripts/make-seed-003-ipvs.js';
import type { Finding } from '../../src/core/vocabulary.js';
import { netdoctor } from '../support/cli.js';
import { repoRoot } from '../support/paths.js';

const readJson = (path: string) => JSON.parse(readFileSync(join(repoRoot, path), 'utf8'));

test('the committed bundles are what scripts/make-seed-003-ipvs.ts makes from the pasted files', () => {
  for (const v of ['fault', 'healthy'] as const) {
    const dir = SEED_003_DIRS[v];
    assert.deepEqual(
      readJson(`${dir}/cluster.json`),
      JSON.parse(JSON.stringify(seed003Cluster(v))),
      `${dir}/cluster.json`,
    );
    const committed = readJson(`${dir}/nodes/master1.json`);
    const made = JSON.parse(JSON.stringify(seed003Node(v)));
    // The tool's version is stamped at import time; everything else must match.
    committed.collector.version = made.collector.version;
    assert.deepEqual(committed, made, `${dir}/nodes/master1.json`);
  }
  // The twin differs in the fault only: the typha real server and the fixed kube-proxy.
  const fault = readFileSync(join(repoRoot, SEED_003_DIRS.fault, 'pasted', 'ipvsadm.txt'), 'utf8').split('\n');
  const healthy = readFileSync(join(repoRoot, SEED_003_DIRS.healthy, 'pasted', 'ipvsadm.txt'), 'utf8').split('\n');
  assert.deepEqual(
    healthy.filter((l) => !fault.includes(l)),
    ['-> 10.130.29.81:5473 Masq 1 0 0'],
  );
});

test('netdoctor diagnose examples/seed-003-ipvs: the empty typha virtual server first, then kubernetes#71071', () => {
  const text = netdoctor(['diagnose', SEED_003_DIRS.fault]);
  assert.equal(text.status, 1, text.stderr);
  assert.match(
    text.stdout,
    /^CRITICAL {2}IPVS has no real server for kube-system\/calico-typha 10\.108\.62\.55:5473\/TCP on master1, although 1 endpoint is ready/,
  );
  assert.match(text.stdout, /master1 {2}ipvs: TCP 10\.108\.62\.55:5473 rr/);
  assert.match(text.stdout, /\$ kubectl -n kube-system delete pod kube-proxy-cdsgl/);

  const r = netdoctor(['diagnose', SEED_003_DIRS.fault, '--format', 'json']);
  const findings = (JSON.parse(r.stdout) as { findings: Finding[] }).findings;
  const serious = findings.filter((f) => f.severity === 'critical' || f.severity === 'error');
  assert.deepEqual(
    serious.map((f) => f.check),
    ['ipvs-real-servers-mismatch', 'kube-proxy-known-bug'],
  );
  const [ipvs, bug] = serious;
  const vs = ipvs?.evidence.find((e) => e.kind === 'ipvs');
  assert.deepEqual(
    [vs?.node, vs?.text, (vs?.source as { line: number } | undefined)?.line],
    ['master1', 'TCP 10.108.62.55:5473 rr', 19],
  );
  assert.equal(
    ipvs?.evidence.find((e) => e.kind === 'endpoints')?.text,
    'Endpoints kube-system/calico-typha (port calico-typha/TCP): 10.130.29.81:5473 calico-typha-5b8c6fdd5d-k2x9p',
  );
  assert.match(bug?.title ?? '', /kube-proxy v1\.13\.0 has kubernetes#71071/);
  assert.match(bug?.detail ?? '', /Fixed in 1\.11\.7, 1\.12\.5, 1\.13\.2/);
  assert.equal(
    bug?.fix[0],
    'kubectl -n kube-system set image daemonset/kube-proxy kube-proxy=k8s.gcr.io/kube-proxy:v1.13.2',
  );
  assert.ok(
    bug?.fix.some((c) => c.includes('mode: iptables')),
    'the workaround (iptables mode)',
  );
  // Only master1 was collected; the others are in cluster.json without snapshot, which is said on stderr.
  assert.match(r.stderr, /node master2 is in cluster.json but has no snapshot/);
});

test('netdoctor diagnose examples/seed-003-ipvs-healthy: nothing at error level or above', () => {
  const r = netdoctor(['diagnose', SEED_003_DIRS.healthy, '--format', 'json']);
  assert.equal(r.status, 0, r.stdout);
  const findings = (JSON.parse(r.stdout) as { findings: Finding[] }).findings;
  assert.deepEqual(
    findings.filter((f) => f.severity === 'critical' || f.severity === 'error').map((f) => `${f.check}: ${f.title}`),
    [],
  );
});
