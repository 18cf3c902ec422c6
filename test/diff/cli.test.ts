/**
 * `netdoctor diff` as a user runs it, on the seed-000 example bundle (made by the lab): the broken node is the one
 * the overlay check names (never assumed), the broken/healthy pair gives exactly the one 8472 difference, the healthy
 * pair none, `--all` names the broken node; exit codes 0/1/2 and the usage errors.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import overlayPortBlocked from '../../src/checks/overlay-port-blocked.js';
import { runChecks } from '../../src/checks/run.js';
import { ClusterModel } from '../../src/model/cluster.js';
import { loadBundle } from '../../src/snapshot/bundle.js';
import { netdoctor } from '../support/cli.js';
import { repoRoot } from '../support/paths.js';

const example = join(repoRoot, 'examples', 'seed-000');

interface DiffJson {
  a: string;
  b: string;
  differences: {
    kind: string;
    title: string;
    a: { node: string; evidence: { table?: string; chain?: string; index?: number; text: string }[] };
    b: { node: string; evidence: { table?: string; chain?: string; index?: number; text: string }[] };
    classes: {
      packet: string;
      path: string;
      a: { verdict: string; by?: string };
      b: { verdict: string; by?: string };
    }[];
  }[];
}

function exampleRoles(): { broken: string; healthy: string[] } {
  const cluster = new ClusterModel(loadBundle(example));
  const { findings } = runChecks(cluster, [overlayPortBlocked]);
  const broken = [...new Set(findings.map((f) => f.node))];
  assert.equal(broken.length, 1, 'the example has one node that drops the overlay');
  const b = broken[0] as string;
  return { broken: b, healthy: cluster.nodes.map((n) => n.name).filter((n) => n !== b) };
}

const TITLE =
  /^8472 accept: (\S+) `-p (udp|tcp)` \(filter\/INPUT #(\d+)\), (\S+) `-p (udp|tcp)` \(filter\/INPUT #(\d+)\) — (udp|tcp)\/8472 NEW: \S+ accepts, \S+ rejects \(filter\/INPUT #(\d+) REJECT\); (udp|tcp)\/8472 NEW: the reverse$/;

test('seed-000 example: healthy vs broken gives exactly the one 8472 difference, in text and JSON', () => {
  const { broken, healthy } = exampleRoles();
  const good = healthy[0] as string;
  const text = netdoctor(['diff', example, '--nodes', `${good},${broken}`]);
  assert.equal(text.status, 1, text.stderr);
  const lines = text.stdout.split('\n');
  const title = lines[0]?.replace(/^netfilter-rule\s+/, '') ?? '';
  const m = TITLE.exec(title);
  assert.ok(m, text.stdout);
  assert.equal(m[1], good);
  assert.equal(m[2], 'udp');
  assert.equal(m[4], broken);
  assert.equal(m[5], 'tcp');
  assert.equal(m[7], 'udp');
  assert.equal(m[9], 'tcp');
  assert.match(text.stdout, /^1 difference between /m);

  const json = netdoctor(['diff', example, '--nodes', `${good},${broken}`, '--format', 'json']);
  assert.equal(json.status, 1);
  const r = JSON.parse(json.stdout) as DiffJson;
  assert.equal(r.differences.length, 1);
  const d = r.differences[0];
  assert.ok(d);
  assert.equal(d.kind, 'netfilter-rule');
  assert.match(d.a.evidence[0]?.text ?? '', /^-A INPUT -p udp .*--dport 8472 -j ACCEPT$/);
  assert.match(d.b.evidence[0]?.text ?? '', /^-A INPUT -p tcp .*--dport 8472 -j ACCEPT$/);
  assert.deepEqual(
    d.classes.map((c) => [c.packet, c.a.verdict, c.b.verdict]),
    [
      ['udp/8472 NEW', 'accept', 'reject'],
      ['tcp/8472 NEW', 'reject', 'accept'],
    ],
  );

  // The same two nodes given as files.
  const files = netdoctor([
    'diff',
    join(example, 'nodes', `${good}.json`),
    join(example, 'nodes', `${broken}.json`),
    '--format',
    'json',
  ]);
  assert.equal(files.status, 1, files.stderr);
  assert.deepEqual(
    (JSON.parse(files.stdout) as DiffJson).differences.map((x) => x.title),
    [d.title],
  );
});

test('seed-000 example: the two healthy nodes give none; --all names the broken one', () => {
  const { broken, healthy } = exampleRoles();
  const same = netdoctor(['diff', example, '--nodes', healthy.join(',')]);
  assert.equal(same.status, 0, same.stdout + same.stderr);
  assert.match(same.stdout, /^No difference in behaviour between /m);
  const all = netdoctor(['diff', example, '--all', '--format', 'json']);
  assert.equal(all.status, 1, all.stderr);
  const r = JSON.parse(all.stdout) as { oddOnesOut: { node: string }[]; differences: unknown[] };
  assert.deepEqual(
    r.oddOnesOut.map((o) => o.node),
    [broken],
  );
  assert.equal(r.differences.length, 1);
  const text = netdoctor(['diff', example, '--all']);
  assert.match(text.stdout, new RegExp(`^Odd one out \\(1 of 3 nodes\\): ${broken}$`, 'm'));
  // Only the kinds asked for: the pair differs in netfilter only.
  const sysctl = netdoctor(['diff', example, '--nodes', `${healthy[0]},${broken}`, '--kinds', 'sysctl,route']);
  assert.equal(sysctl.status, 0, sysctl.stdout);
});

test('usage and input errors exit 2 with the reason', () => {
  const cases: [string[], RegExp][] = [
    [['diff', example, '--nodes', 'node1,nosuch'], /no node "nosuch" in .*\(nodes: node1, node2, node3\)/],
    [['diff', example, '--nodes', 'node1,node2', '--all'], /either --nodes A,B or --all/],
    [['diff', example], /name the two nodes to compare with --nodes A,B/],
    [['diff', join(example, 'nodes', 'node1.json')], /give two node snapshot files/],
    [['diff', join(example, 'nosuch')], /no such file or bundle directory/],
    [['diff', example, '--nodes', 'node1,node2', '--kinds', 'bogus'], /unknown kind bogus/],
    [['diff', join(example, 'cluster.json'), join(example, 'nodes', 'node1.json')], /not a node snapshot/],
  ];
  for (const [args, re] of cases) {
    const r = netdoctor(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re);
  }
  const help = netdoctor(['diff', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Examples:\n {2}netdoctor diff examples\/seed-000 --nodes node1,node2/);
});
