/**
 * `netdoctor probe`'s command line: where to probe must be said once, options that belong to the other place are
 * refused with the reason, and bad values name their flag. Exit code 2 for all of them; nothing is contacted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { netdoctor } from '../support/cli.js';

const cases: { args: string[]; error: RegExp }[] = [
  { args: ['probe'], error: /say where to probe: --lab \(the running lab\) or --live/ },
  { args: ['probe', '--lab', '--live'], error: /--lab and --live: probe one place at a time/ },
  { args: ['probe', '--live', '--watch'], error: /--watch works with --lab/ },
  { args: ['probe', '--live', '--bundle', 'x'], error: /--bundle goes with --lab.*--save-bundle/ },
  { args: ['probe', '--lab', '--save-bundle', 'x'], error: /--save-bundle goes with --live/ },
  { args: ['probe', '--lab', '--nodes', 'a'], error: /--nodes goes with --live/ },
  { args: ['probe', '--live', '--pod-timeout', 'soon'], error: /--pod-timeout: "soon" is not a duration/ },
  { args: ['probe', '--live', '--kinds', 'dns,bogus'], error: /--kinds: unknown bogus \(kinds: pod-pod,/ },
  { args: ['probe', '--live', '--nodes', 'a', '-l', 'x=y'], error: /--nodes and -l\/--selector pick nodes two ways/ },
];

for (const c of cases) {
  test(`probe ${c.args.slice(1).join(' ')}: usage error`, () => {
    const r = netdoctor(c.args);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, c.error);
    assert.equal(r.stdout, '');
  });
}

test('probe --help teaches both places and the live pods', () => {
  const r = netdoctor(['probe', '--help']);
  assert.equal(r.status, 0);
  for (const s of [
    '--live',
    '--agent-image',
    '--pod-timeout',
    '--save-bundle',
    'echo pods on the pod network',
    'netdoctor cleanup',
  ])
    assert.ok(r.stdout.includes(s), s);
});

test('durations take kubectl forms', async () => {
  const { parseDuration } = await import('../../src/cli/duration.js');
  assert.equal(parseDuration('1m30s', '--x'), 90_000);
  assert.equal(parseDuration('500ms', '--x'), 500);
  assert.equal(parseDuration('2', '--x'), 2000);
  assert.equal(parseDuration('1h', '--x'), 3_600_000);
  assert.throws(() => parseDuration('0s', '--x'), /--x: "0s" is not a duration/);
  assert.throws(() => parseDuration('m', '--x'), /is not a duration/);
});
