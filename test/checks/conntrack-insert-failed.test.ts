import assert from 'node:assert/strict';
import { test } from 'node:test';
import check from '../../src/checks/conntrack-insert-failed.js';
import { runCheck } from '../../src/checks/define.js';
import { ClusterModel } from '../../src/model/cluster.js';
import { testBundle } from '../support/bundle.js';
import { withFiles } from './kube-fixtures.js';

const POD_RESOLV = '/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/abc/resolv.conf';

function run(conntrack: string | undefined, uname?: string, resolv?: string) {
  const bundle = testBundle([
    {
      name: 'w1',
      ip: '10.0.0.2',
      commands: { ...(conntrack ? { 'conntrack-stats': conntrack } : {}), ...(uname ? { uname } : {}) },
    },
  ]);
  if (resolv) withFiles(bundle, 'w1', { [POD_RESOLV]: resolv });
  return runCheck(check, new ClusterModel(bundle));
}

const LINES = (a: number, b: number) =>
  `cpu=0 found=0 invalid=0 insert=0 insert_failed=${a} drop=${a} early_drop=0 error=0 search_restart=0\ncpu=1 found=0 invalid=0 insert=0 insert_failed=${b} drop=${b} early_drop=0 error=0 search_restart=0\n`;

test('the UDP DNS race on an old kernel: counts per CPU, the kernel, the pods without a workaround', () => {
  const f = run(
    LINES(312, 95),
    'Linux w1 4.19.90-17.ky10.aarch64 #1 SMP Sun Jun 28 14:27:40 CST 2020 aarch64 aarch64 aarch64 GNU/Linux\n',
    'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n',
  );
  assert.equal(f.length, 1);
  assert.equal(f[0]?.severity, 'warning');
  assert.equal(f[0]?.title, 'w1: 407 packets dropped by conntrack insert races (DNS lookups that take 5 s)');
  assert.equal(f[0]?.evidence[0]?.detail, 'cpu=0 insert_failed=312, cpu=1 insert_failed=95');
  assert.equal(f[0]?.evidence[1]?.text, 'kernel 4.19.90-17.ky10.aarch64');
  assert.match(String(f[0]?.evidence[1]?.detail), /before 5\.0/);
  assert.equal(f[0]?.evidence[2]?.text, "0 of 1 pods' resolv.conf use single-request-reopen / single-request / use-vc");
  assert.match(f[0]?.detail ?? '', /move off kernel 4\.19/);
  assert.match(f[0]?.fix[0] ?? '', /single-request-reopen/);
});

test('a newer kernel is no reason to stay quiet, but not blamed either', () => {
  const f = run(LINES(1, 0), 'Linux w1 6.1.0-18-amd64 #1 SMP x86_64 GNU/Linux\n');
  assert.equal(f.length, 1);
  assert.doesNotMatch(f[0]?.detail ?? '', /move off kernel/);
});

test('near misses: zero insert_failed (drops from other causes), no conntrack -S', () => {
  assert.deepEqual(
    run('cpu=0 found=0 invalid=9 insert=0 insert_failed=0 drop=5 early_drop=2 error=0 search_restart=0\n'),
    [],
  );
  assert.deepEqual(run(undefined), []);
});
