import assert from 'node:assert/strict';
import { test } from 'node:test';
import check from '../../src/checks/conntrack-table-full.js';
import { runCheck } from '../../src/checks/define.js';
import { ClusterModel } from '../../src/model/cluster.js';
import { parseConntrackStats } from '../../src/parse/conntrack-stats.js';
import { testBundle } from '../support/bundle.js';
import { withFiles } from './kube-fixtures.js';

const stats = (drop: number, early: number) =>
  [
    `cpu=0   \tfound=0 invalid=3 insert=0 insert_failed=0 drop=${drop} early_drop=${early} error=0 search_restart=1 clash_resolve=0 chaintoolong=0 `,
    'cpu=1   \tfound=0 invalid=0 insert=0 insert_failed=0 drop=0 early_drop=0 error=0 search_restart=0 clash_resolve=0 chaintoolong=0 ',
  ].join('\n');

function run(count: number | undefined, max: number | undefined, conntrack?: string, viaSysctl = false) {
  const sysctl = viaSysctl
    ? `net.netfilter.nf_conntrack_count = ${count}\nnet.netfilter.nf_conntrack_max = ${max}\n`
    : undefined;
  const bundle = testBundle([
    {
      name: 'w1',
      ip: '10.0.0.2',
      commands: { ...(conntrack ? { 'conntrack-stats': conntrack } : {}), ...(sysctl ? { sysctl } : {}) },
    },
  ]);
  if (!viaSysctl) {
    const files: Record<string, string> = {};
    if (count !== undefined) files['/proc/sys/net/netfilter/nf_conntrack_count'] = `${count}\n`;
    if (max !== undefined) files['/proc/sys/net/netfilter/nf_conntrack_max'] = `${max}\n`;
    withFiles(bundle, 'w1', files);
  }
  return runCheck(check, new ClusterModel(bundle));
}

test('full now: count at 95% of max, with the drops counted', () => {
  const f = run(124518, 131072, stats(42, 1800));
  assert.equal(f.length, 1);
  assert.equal(f[0]?.severity, 'error');
  assert.equal(f[0]?.title, "w1's conntrack table is 95% full (124518 of 131072)");
  assert.equal(f[0]?.evidence[0]?.text, 'nf_conntrack_count 124518 / nf_conntrack_max 131072 (95%)');
  assert.equal(f[0]?.evidence[1]?.text, 'conntrack -S: drop=42 early_drop=1800 (summed over 2 CPUs, since boot)');
  assert.equal(f[0]?.evidence[1]?.detail, 'cpu=0 drop=42 early_drop=1800');
  assert.equal(f[0]?.fix[0], 'sysctl -w net.netfilter.nf_conntrack_max=262144');
});

test('read from sysctl -a when /proc was not collected', () => {
  const f = run(950, 1000, undefined, true);
  assert.equal(f[0]?.title, "w1's conntrack table is 95% full (950 of 1000)");
});

test('not full now, but drops since boot: error; early drops only: warning', () => {
  const drops = run(1000, 262144, stats(7, 0));
  assert.equal(drops[0]?.severity, 'error');
  assert.match(drops[0]?.title ?? '', /7 new connections dropped since boot/);
  const early = run(1000, 262144, stats(0, 12));
  assert.equal(early[0]?.severity, 'warning');
  assert.match(early[0]?.title ?? '', /12 entries evicted early since boot/);
});

test('near misses: 89% full with no drops, a clean table, nothing collected', () => {
  assert.deepEqual(run(890, 1000, stats(0, 0)), []);
  assert.deepEqual(run(0, 262144, stats(0, 0)), []);
  assert.deepEqual(run(undefined, undefined), []);
});

test('conntrack -S parser: old and new counters, per CPU and summed; other lines are issues', () => {
  const r = parseConntrackStats(
    'cpu=0 searched=10 found=2 new=5 invalid=0 ignore=1 delete=0 delete_list=0 insert=5 insert_failed=1 drop=0 early_drop=0 error=0 search_restart=0\ncpu=1 found=1 insert_failed=2\nconntrack v1.4.7 (conntrack-tools): ...\n',
    'c.txt',
  );
  assert.deepEqual(
    r.stats.cpus.map((c) => [c.cpu, c.counters.insert_failed]),
    [
      [0, 1],
      [1, 2],
    ],
  );
  assert.equal(r.stats.totals.insert_failed, 3);
  assert.equal(r.stats.totals.found, 3);
  assert.equal(r.issues.length, 1);
  assert.equal(r.issues[0]?.line, 3);
});
