/** Bad bundles: a clear message for each broken part, and the analysis of everything else still runs. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadBundle } from '../../src/snapshot/bundle.js';
import { testBundle } from '../support/bundle.js';

function writeBundle(parts: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nd-bundle-'));
  for (const [rel, text] of Object.entries(parts)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

const good = testBundle([{ name: 'n1', ip: '10.0.0.1' }]);
const snap = JSON.stringify(good.nodes.get('n1'));

test('bundle: corrupt and unknown parts are reported, the rest is read', () => {
  const dir = writeBundle({
    'cluster.json': JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [...good.objects, { kind: 'Node', metadata: { name: 'ghost' } }, { nope: 1 }],
    }),
    'nodes/n1.json': snap,
    'nodes/broken.json': '{"schemaVersion": 1, "kind": "NodeSnap',
    'nodes/future.json': snap.replace('"schemaVersion":1', '"schemaVersion":99').replace('"node":"n1"', '"node":"n9"'),
    'nodes/other.json': '{"hello": "world"}',
  });
  try {
    const b = loadBundle(dir);
    assert.deepEqual([...b.nodes.keys()], ['n1']);
    const msgs = b.issues.map((i) => `${i.file.slice(dir.length + 1)}: ${i.message}`);
    assert.ok(
      msgs.some((m) => /^nodes\/broken\.json: not valid JSON/.test(m)),
      msgs.join('\n'),
    );
    assert.ok(
      msgs.some((m) => /^nodes\/future\.json: schema version 99 is not one this netdoctor reads/.test(m)),
      msgs.join('\n'),
    );
    assert.ok(
      msgs.some((m) => /^nodes\/other\.json: not a node snapshot/.test(m)),
      msgs.join('\n'),
    );
    assert.ok(
      msgs.some((m) => /^cluster\.json: items\[2\] is not a Kubernetes object/.test(m)),
      msgs.join('\n'),
    );
    assert.ok(
      msgs.some((m) => /^cluster\.json: node ghost is in cluster.json but has no snapshot/.test(m)),
      msgs.join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bundle: cluster.json that is not a List', () => {
  const dir = writeBundle({
    'cluster.json': JSON.stringify({ kind: 'Pod', metadata: { name: 'x' } }),
    'nodes/n1.json': snap,
  });
  try {
    const b = loadBundle(dir);
    assert.equal(b.hasCluster, false);
    assert.equal(b.nodes.size, 1);
    assert.match(b.issues[0]?.message ?? '', /not a Kubernetes List \(kind: Pod/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bundle: a path that is no bundle is an input error', () => {
  assert.throws(() => loadBundle('/nonexistent/bundle'), /no such bundle directory/);
});
