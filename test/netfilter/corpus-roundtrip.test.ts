/**
 * Every real-world dump of the corpus that the kernel accepts must parse to the same rules the kernel holds: load it
 * into a throw-away namespace with iptables-restore, read it back with iptables-save, and compare the *parsed models*
 * of both per table and chain (iptables-save rewrites text: `-m tcp`, `/32`, default `--reject-with`).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Table } from '../../src/netfilter/model.js';
import { parseIptablesSave } from '../../src/parse/iptables-save.js';
import { needsRoot, nsRun, withNetns } from '../support/netns.js';
import { corpusDir } from '../support/paths.js';

function model(tables: Table[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const t of tables)
    for (const c of t.chains.values())
      out.set(`${t.name}/${c.name}`, [`policy ${c.policy ?? '-'}`, ...c.rules.map((r) => r.canonical)]);
  return out;
}

/** Sets the dump refers to, created empty so that iptables-restore can resolve `-m set`. */
function ipsetScript(text: string, family: 4 | 6): string {
  const sets = new Map<string, number>();
  for (const m of text.matchAll(/--match-set (\S+) (\S+)/g))
    sets.set(m[1] as string, (m[2] as string).split(',').length);
  const types = ['hash:ip', 'hash:ip', 'hash:net,net', 'hash:ip,port,ip'];
  return [...sets]
    .map(([name, dims]) => `create ${name} ${types[dims]} family ${family === 4 ? 'inet' : 'inet6'}`)
    .join('\n');
}

const files = readdirSync(corpusDir).filter((f) => !f.endsWith('.md') && !f.startsWith('LICENSE'));

for (const backend of ['nft', 'legacy'] as const) {
  test(`corpus round trip through the kernel (${backend} backend)`, async (t) => {
    if (!needsRoot(t)) return;
    const excluded: string[] = [];
    let compared = 0;
    let rulesCompared = 0;
    for (const f of files) {
      const text = readFileSync(join(corpusDir, f), 'utf8');
      const ours = parseIptablesSave(text, { file: f, eager: true });
      const v6 = ours.family === 6;
      await withNetns('corpus', (ns) => {
        const sets = ipsetScript(text, ours.family);
        if (sets) assert.equal(nsRun(ns, 'ipset', ['restore'], `${sets}\n`).status, 0);
        const restore = nsRun(ns, `ip${v6 ? '6' : ''}tables-${backend}-restore`, [], text);
        if (restore.status !== 0) {
          excluded.push(`${f}: the kernel refuses it: ${restore.stderr.trim().split('\n')[0]}`);
          // A refused file must still parse, with the problem reported on the line the kernel names and the rest kept.
          const line = Number(/Error occurred at line: (\d+)/.exec(restore.stderr)?.[1]);
          assert.ok(
            ours.issues.some((i) => i.line === line),
            `${f}: the kernel refuses line ${line}, netdoctor reports ${JSON.stringify(ours.issues)}`,
          );
          assert.ok(
            ours.tables.some((tb) => [...tb.chains.values()].some((c) => c.rules.length > 1)),
            `${f}: rest not parsed`,
          );
          return;
        }
        const saved = nsRun(ns, `ip${v6 ? '6' : ''}tables-${backend}-save`, []);
        assert.equal(saved.status, 0, saved.stderr);
        const theirs = parseIptablesSave(saved.stdout, { file: `${f} (read back)`, eager: true });
        assert.deepEqual(theirs.issues, [], `${f}: the kernel's own dump must parse cleanly`);
        const a = model(ours.tables);
        const b = model(theirs.tables);
        for (const [key, rules] of b) {
          // iptables-save lists the built-in tables it touched; a table the file did not name shows up empty.
          const mine = a.get(key) ?? [
            `policy ${key.endsWith('PREROUTING') || key.endsWith('INPUT') || key.endsWith('FORWARD') || key.endsWith('OUTPUT') || key.endsWith('POSTROUTING') ? 'ACCEPT' : '-'}`,
          ];
          assert.deepEqual(mine, rules, `${f}: ${key} differs from what the kernel holds`);
          rulesCompared += rules.length - 1;
        }
        for (const key of a.keys()) assert.ok(b.has(key), `${f}: chain ${key} is not in the kernel`);
        compared++;
      });
    }
    t.diagnostic(`compared ${compared} files (${rulesCompared} rules) with the kernel; excluded ${excluded.length}:`);
    for (const e of excluded) t.diagnostic(`  excluded ${e}`);
    assert.ok(compared >= 10, `only ${compared} corpus files were compared`);
  });
}
