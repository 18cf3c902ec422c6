/**
 * Input that is not what `nft -j list ruleset` prints, or is damaged, gives issues with a line and a reason and keeps
 * what can be read; it never throws. Expressions netdoctor does not know make a rule uncertain, never true or false.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNftJson } from '../../src/parse/nft-json.js';
import { expectDecision, fixtureText, rulesetOf, run } from './helpers.js';

/** A table `ip t` with base chain `in` (input, policy accept) holding the given rules (each a list of statements). */
function doc(rules: unknown[][], extra: unknown[] = []): string {
  return JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6', json_schema_version: 1 } },
      { table: { family: 'ip', name: 't', handle: 1 } },
      {
        chain: {
          family: 'ip',
          table: 't',
          name: 'in',
          handle: 1,
          type: 'filter',
          hook: 'input',
          prio: 0,
          policy: 'accept',
        },
      },
      ...extra,
      ...rules.map((expr, i) => ({ rule: { family: 'ip', table: 't', chain: 'in', handle: 10 + i, expr } })),
    ],
  });
}

const udp53 = { path: 'input' as const, proto: 'udp', src: '10.0.0.1', dst: '10.0.0.2', dport: 53, in: 'eth0' };
const dportIs = (n: number) => ({
  match: { op: '==', left: { payload: { protocol: 'udp', field: 'dport' } }, right: n },
});

describe('nft JSON: bad input', () => {
  it('not JSON at all', () => {
    const r = parseNftJson('*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n', 'x');
    assert.deepEqual(r.tables, []);
    assert.equal(r.issues.length, 1);
    assert.equal(r.issues[0]?.severity, 'error');
    assert.match(r.issues[0]?.message ?? '', /not JSON/);
  });

  it('empty input', () => {
    const r = parseNftJson('  \n', 'x');
    assert.deepEqual(r.tables, []);
    assert.match(r.issues[0]?.message ?? '', /empty input/);
  });

  it('JSON of another shape', () => {
    for (const text of ['{"foo": 1}', '[]', 'null', '"nftables"', '{"nftables": {"table": {}}}']) {
      const r = parseNftJson(text, 'x');
      assert.deepEqual(r.tables, [], text);
      assert.equal(r.issues[0]?.severity, 'error', text);
    }
  });

  it('truncated JSON keeps the complete objects before the cut', () => {
    const full = fixtureText('firewalld.json');
    const cut = full.slice(0, Math.floor(full.length * 0.6));
    const r = parseNftJson(cut, 'cut.json');
    const err = r.issues.find((i) => i.severity === 'error');
    assert.ok(err);
    assert.match(err.message, /damaged or cut short/);
    const t = r.tables[0];
    assert.ok(t);
    assert.ok(t.chains.size > 10);
    const rules = [...t.chains.values()].reduce((n, c) => n + c.rules.length, 0);
    assert.ok(rules > 0 && rules < 81, `${rules} rules`);
  });

  it('never throws on any prefix of a dump, or on damaged bytes', () => {
    const full = fixtureText('kube-proxy.json');
    for (let n = 0; n <= full.length; n += 97) parseNftJson(full.slice(0, n), 'cut.json');
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let k = 0; k < 200; k++) {
      const chars = [...full];
      for (let j = 0; j < 5; j++) chars[rnd() % chars.length] = '{}[]",:0a@-'[rnd() % 11] as string;
      const r = parseNftJson(chars.join(''), 'bad.json');
      assert.ok(Array.isArray(r.tables));
    }
  });

  it('shapes that are JSON but wrong: a rule without expr, an unknown family, a chain of a missing table', () => {
    const text = JSON.stringify({
      nftables: [
        { table: { family: 'ipx', name: 'q' } },
        { table: { family: 'ip', name: 't' } },
        { chain: { family: 'ip', table: 'nope', name: 'c' } },
        { rule: { family: 'ip', table: 't', chain: 'missing', expr: [{ accept: null }] } },
        { rule: { family: 'ip', table: 't', chain: 'missing' } },
        42,
      ],
    });
    const r = parseNftJson(text, 'x.json');
    const msgs = r.issues.map((i) => `${i.line} ${i.message}`);
    assert.ok(
      msgs.some((m) => m.startsWith('1 ') && /unknown family/.test(m)),
      msgs.join('\n'),
    );
    assert.ok(
      msgs.some((m) => m.startsWith('3 ') && /not listed/.test(m)),
      msgs.join('\n'),
    );
    assert.ok(
      msgs.some((m) => m.startsWith('4 ') && /does not list; the chain is created/.test(m)),
      msgs.join('\n'),
    );
    assert.ok(
      msgs.some((m) => m.startsWith('5 ') && /without statements/.test(m)),
      msgs.join('\n'),
    );
    assert.ok(
      msgs.some((m) => m.startsWith('6 ') && /expected an object/.test(m)),
      msgs.join('\n'),
    );
    assert.deepEqual(
      r.tables.map((t) => t.label),
      ['ip t', 'ip nope'],
    );
  });

  it('skips comment lines nft printed before the JSON', () => {
    const r = parseNftJson(
      `# Warning: table ip filter is managed by iptables-nft, do not touch!\n${doc([[{ accept: null }]])}`,
      'x',
    );
    assert.equal(r.tables.length, 1);
    assert.ok(r.issues.some((i) => i.severity === 'warning' && /comment line/.test(i.message)));
  });
});

describe('nft JSON: unknown expressions are uncertain', () => {
  it('an unknown match expression', () => {
    const r = parseNftJson(
      doc([
        [{ match: { op: '==', left: { osf: { key: 'name' } }, right: 'Linux' } }, { drop: null }],
        [{ accept: null }],
      ]),
      'x.json',
    );
    assert.equal(r.issues.filter((i) => /osf expressions \(not modelled\): uncertain/.test(i.message)).length, 1);
    const res = run(rulesetOf(r), udp53);
    assert.equal(res.verdict, 'uncertain');
    assert.equal(res.decisive?.table, 'ip t');
    assert.equal(res.decisive?.chain, 'in');
    assert.equal(res.decisive?.index, 1);
    assert.match(res.decisive?.detail ?? '', /osf/);
  });

  it('an unknown match whose outcome does not matter stays decided', () => {
    const osf = { match: { op: '==', left: { osf: { key: 'name' } }, right: 'Linux' } };
    const r = parseNftJson(doc([[osf, { counter: { packets: 0, bytes: 0 } }], [{ accept: null }]]), 'x.json');
    expectDecision(run(rulesetOf(r), udp53), 'accept', { table: 'ip t', chain: 'in', index: 2 });
  });

  it('an unknown statement', () => {
    const r = parseNftJson(doc([[dportIs(53), { frobnicate: { level: 3 } }, { accept: null }]]), 'x.json');
    assert.ok(r.issues.some((i) => /frobnicate statements \(not modelled\): uncertain/.test(i.message)));
    const res = run(rulesetOf(r), udp53);
    assert.equal(res.verdict, 'uncertain');
    assert.equal(res.decisive?.index, 1);
    // Other packets do not reach the statement.
    expectDecision(run(rulesetOf(r), { ...udp53, dport: 54 }), 'accept', {
      table: 'ip t',
      chain: 'in',
      policy: 'ACCEPT',
    });
  });

  it('an unknown meta key and an unmodelled header field', () => {
    const r = parseNftJson(
      doc([
        [{ match: { op: '==', left: { meta: { key: 'cpu' } }, right: 1 } }, { drop: null }],
        [{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'checksum' } }, right: 1 } }, { drop: null }],
      ]),
      'x.json',
    );
    assert.ok(r.issues.some((i) => /meta cpu \(not modelled\)/.test(i.message)));
    assert.ok(r.issues.some((i) => /ip checksum \(not modelled\)/.test(i.message)));
    assert.equal(run(rulesetOf(r), udp53).verdict, 'uncertain');
  });

  it('a set reference to a missing set, a jump to a missing chain, a bad address', () => {
    const r = parseNftJson(
      doc([
        [
          { match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '@nosuch' } },
          { drop: null },
        ],
        [dportIs(53), { jump: { target: 'gone' } }],
        [
          { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: '10.0.0.300' } },
          { drop: null },
        ],
      ]),
      'x.json',
    );
    const msgs = r.issues.map((i) => `${i.line}:${i.severity}:${i.message}`);
    assert.ok(
      msgs.some((m) => /^4:error:.*no set or map named nosuch/.test(m)),
      msgs.join('\n'),
    );
    assert.ok(
      msgs.some((m) => /^5:error:.*jump to chain gone/.test(m)),
      msgs.join('\n'),
    );
    assert.ok(
      msgs.some((m) => /^6:error:.*10\.0\.0\.300/.test(m)),
      msgs.join('\n'),
    );
    const res = run(rulesetOf(r), udp53);
    assert.equal(res.verdict, 'uncertain');
    assert.equal(res.decisive?.index, 1);
  });

  it('a set with a bad element keeps the others', () => {
    const set = {
      set: {
        family: 'ip',
        table: 't',
        name: 's',
        type: 'ipv4_addr',
        flags: ['interval'],
        elem: ['10.0.0.1', 'not-an-ip', { prefix: { addr: '10.9.0.0', len: 16 } }],
      },
    };
    const r = parseNftJson(
      doc(
        [[{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '@s' } }, { drop: null }]],
        [set],
      ),
      'x.json',
    );
    assert.ok(
      r.issues.some((i) => i.line === 4 && /1 element skipped \("not-an-ip" is not a ipv4_addr\)/.test(i.message)),
    );
    expectDecision(run(rulesetOf(r), udp53), 'drop', { table: 'ip t', chain: 'in', index: 1 });
    expectDecision(run(rulesetOf(r), { ...udp53, src: '10.9.3.3' }), 'drop', { table: 'ip t', chain: 'in', index: 1 });
    expectDecision(run(rulesetOf(r), { ...udp53, src: '10.8.3.3' }), 'accept', {
      table: 'ip t',
      chain: 'in',
      policy: 'ACCEPT',
    });
  });

  it('a random choice (limit) follows both ways', () => {
    const r = parseNftJson(
      doc([[dportIs(53), { limit: { rate: 10, per: 'second', burst: 5 } }, { drop: null }]]),
      'x.json',
    );
    const res = run(rulesetOf(r), udp53);
    assert.equal(res.verdict, 'drop');
    assert.deepEqual(res.branches.map((b) => b.verdict).sort(), ['accept', 'drop']);
    assert.equal(res.branches[0]?.choices[0]?.kind, 'random');
    assert.match(res.branches[0]?.choices[0]?.why ?? '', /limit rate 10\/second/);
  });
});
