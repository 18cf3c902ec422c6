import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Random } from '../../src/synth/random.js';
import { randomRuleset } from '../../src/synth/random-ruleset.js';

const BUILTIN = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

/** table → chain → user chains it jumps or goes to. */
function jumpGraph(text: string): Map<string, Map<string, Set<string>>> {
  const graph = new Map<string, Map<string, Set<string>>>();
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      table = line.slice(1);
      graph.set(table, new Map());
      continue;
    }
    if (line.startsWith(':')) {
      const chain = line.slice(1).split(' ')[0] as string;
      graph.get(table)?.set(chain, new Set());
    }
    const m = /^-A (\S+) .*-[jg] (\S+)/.exec(line);
    if (m && graph.get(table)?.has(m[2] as string) && !BUILTIN.has(m[2] as string)) {
      graph
        .get(table)
        ?.get(m[1] as string)
        ?.add(m[2] as string);
    }
  }
  return graph;
}

function depth(g: Map<string, Set<string>>, chain: string, stack: string[] = []): number {
  assert.ok(!stack.includes(chain), `loop through ${[...stack, chain].join(' -> ')}`);
  let d = 0;
  for (const next of g.get(chain) ?? []) d = Math.max(d, 1 + depth(g, next, [...stack, chain]));
  return d;
}

describe('Random', () => {
  test('same seed, same sequence; different seeds differ', () => {
    const a = new Random(7);
    const b = new Random(7);
    const c = new Random(8);
    const sa = Array.from({ length: 20 }, () => a.uint32());
    assert.deepEqual(
      Array.from({ length: 20 }, () => b.uint32()),
      sa,
    );
    assert.notDeepEqual(
      Array.from({ length: 20 }, () => c.uint32()),
      sa,
    );
  });

  test('int stays in range and hits both ends', () => {
    const r = new Random(1);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const v = r.int(3, 9);
      assert.ok(v >= 3 && v <= 9);
      seen.add(v);
    }
    assert.equal(seen.size, 7);
  });
});

describe('randomRuleset', () => {
  test('is deterministic for a seed', () => {
    for (const seed of [1, 2, 99]) {
      assert.equal(randomRuleset(seed).text, randomRuleset(seed).text);
      assert.equal(randomRuleset(seed, { canonical: false }).text, randomRuleset(seed, { canonical: false }).text);
    }
    assert.notEqual(randomRuleset(1).text, randomRuleset(2).text);
  });

  test('chains form a DAG no deeper than maxDepth, and every jump target is declared', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const { text } = randomRuleset(seed, { userChains: 8 });
      for (const [table, g] of jumpGraph(text)) {
        for (const b of BUILTIN) if (g.has(b)) assert.ok(depth(g, b) <= 3, `seed ${seed} ${table}/${b} too deep`);
      }
      const declared = new Set([...text.matchAll(/^:(\S+)/gm)].map((m) => m[1]));
      for (const m of text.matchAll(/ -[jg] ([A-Z]+-[A-Z]+-\d+)/g))
        assert.ok(declared.has(m[1]), `seed ${seed}: ${m[1]}`);
    }
  });

  test('over a few seeds it uses every feature the simulator must handle', () => {
    const all = Array.from(
      { length: 80 },
      (_, i) => randomRuleset(i + 1, { tables: ['nat', 'mangle', 'raw'] }).text,
    ).join('\n');
    const typed = Array.from({ length: 80 }, (_, i) => randomRuleset(i + 1, { canonical: false }).text).join('\n');
    const wanted: [string, RegExp][] = [
      ['negated source', / ! -s \d/],
      ['negated destination', / ! -d \d/],
      ['host prefix', / -s \d+\.\d+\.\d+\.\d+\/32 /],
      ['short prefix', / -d 10\.96\.0\.0\/12 /],
      ['interface wildcard', / -[io] [a-z]+\+ /],
      ['negated interface', / ! -[io] /],
      ['protocol by name', / -p (gre|esp|sctp|ipencap) /],
      ['negated protocol', / ! -p /],
      ['port range', / --dport \d+:\d+ /],
      ['negated port', / ! --[sd]port /],
      ['multiport list', / -m multiport (! )?--(d|s)?ports \d+(:\d+)?,\d+/],
      ['conntrack', / -m conntrack --ctstate [A-Z,]+ /],
      ['negated conntrack', / -m conntrack ! --ctstate /],
      ['state', / -m state (! )?--state /],
      ['icmp type/code', / -m icmp (! )?--icmp-type \d+\/\d+ /],
      ['tcp flags', / --tcp-flags [A-Z,]+ [A-Z,]+ /],
      ['mark match', / -m mark (! )?--mark 0x[0-9a-f]+/],
      ['MARK target', / -j MARK --set-xmark 0x[0-9a-f]+\/0x[0-9a-f]+/],
      ['comment', / -m comment --comment /],
      ['addrtype', / -m addrtype (! )?--(src|dst)-type [A-Z]+/],
      ['iprange', / -m iprange (! )?--(src|dst)-range \d+\.\d+\.\d+\.\d+-\d+/],
      ['REJECT variants', / -j REJECT --reject-with icmp-(net|host|admin)-prohibited/],
      ['tcp-reset', / -p tcp .*-j REJECT --reject-with tcp-reset/],
      ['LOG', / -j LOG/],
      ['RETURN', / -j RETURN/],
      ['goto', / -g [A-Z]+-[A-Z]+-\d+/],
      ['jump', / -j U-[A-Z]+-\d+/],
      ['DROP policy', /^:(INPUT|FORWARD|OUTPUT) DROP /m],
      ['DNAT', / -j DNAT --to-destination /],
      ['SNAT/MASQUERADE', / -j (SNAT|MASQUERADE)/],
      ['notrack', / -j CT --notrack/],
    ];
    for (const [what, re] of wanted) assert.match(all, re, what);
    const typedForms: [string, RegExp][] = [
      ['protocol number', / -p (6|17|1) /],
      ['icmp name', / --icmp-type [a-z-]+ /],
      ['--syn', / --syn /],
      ['implicit tcp match', / -p (tcp|6) (! )?--[ds]port /],
      ['MARK shorthand', / -j MARK --(or|xor|and|set)-mark /],
      ['bare address', / -s \d+\.\d+\.\d+\.\d+ /],
    ];
    for (const [what, re] of typedForms) assert.match(typed, re, what);
  });

  test('interface matches respect the hooks that reach a chain', () => {
    for (let seed = 1; seed <= 80; seed++) {
      const { text } = randomRuleset(seed, { tables: ['nat', 'mangle', 'raw'] });
      for (const line of text.split('\n')) {
        if (/^-A (OUTPUT|POSTROUTING) /.test(line)) assert.ok(!/ -i /.test(line), line);
        if (/^-A (INPUT|PREROUTING) /.test(line)) assert.ok(!/ -o /.test(line), line);
      }
    }
  });
});
