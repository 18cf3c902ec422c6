/**
 * The shape of what `nft -j list ruleset` parses into: tables, base chains, rule order, rule text (compared with
 * what `nft list ruleset` printed for the same ruleset), handles and source lines, iptables-nft tables left out.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadRules } from '../../src/parse/ruleset.js';
import { fixturesDir } from '../support/paths.js';
import { actions, fixtureText, loadFixture, matches, nftRuleLines, rule, table } from './helpers.js';

const FIXTURES = ['firewalld', 'kube-proxy', 'sets', 'features', 'iptables-nft'];

describe('nft JSON: tables and chains', () => {
  it('reads the firewalld table with its base chains, priorities and policies', () => {
    const { parsed } = loadFixture('firewalld.json');
    assert.deepEqual(
      parsed.tables.map((t) => [t.label, t.family, t.name, t.backend]),
      [['inet firewalld', 'inet', 'firewalld', 'nft']],
    );
    const t = table(parsed, 'inet firewalld');
    const base = [...t.chains.values()]
      .filter((c) => c.hook)
      .map((c) => [c.name, c.hook, c.priority, c.type, c.policy]);
    assert.deepEqual(base, [
      ['mangle_PREROUTING', 'prerouting', -140, 'filter', 'ACCEPT'],
      ['nat_PREROUTING', 'prerouting', -90, 'nat', 'ACCEPT'],
      ['nat_POSTROUTING', 'postrouting', 110, 'nat', 'ACCEPT'],
      ['nat_OUTPUT', 'output', -90, 'nat', 'ACCEPT'],
      ['filter_PREROUTING', 'prerouting', 10, 'filter', 'ACCEPT'],
      ['filter_INPUT', 'input', 10, 'filter', 'ACCEPT'],
      ['filter_FORWARD', 'forward', 10, 'filter', 'ACCEPT'],
      ['filter_OUTPUT', 'output', 10, 'filter', 'ACCEPT'],
    ]);
    const user = t.chains.get('filter_IN_public_allow');
    assert.ok(user && user.hook === undefined && user.policy === undefined);
    assert.equal(user.rules.length, 7);
  });

  it('maps nft policies and keeps every family', () => {
    const { parsed } = loadFixture('features.json');
    assert.deepEqual(
      parsed.tables.map((t) => t.label),
      ['inet features', 'ip misc', 'ip6 six', 'netdev nd', 'bridge br', 'arp a'],
    );
    assert.equal(table(parsed, 'inet features').chains.get('in')?.policy, 'DROP');
    assert.equal(table(parsed, 'inet features').chains.get('raw')?.priority, -300);
    // netdev ingress is not a hook of the IP paths: kept, without a hook, and said so.
    const ing = table(parsed, 'netdev nd').chains.get('ing');
    assert.ok(ing && ing.hook === undefined && ing.rules.length === 1);
    assert.ok(parsed.issues.some((i) => /hooks "ingress"/.test(i.message)));
  });

  it('accepts named priorities with offsets in hand-written JSON', async () => {
    const { parseNftJson } = await import('../../src/parse/nft-json.js');
    const doc = {
      nftables: [
        { table: { family: 'inet', name: 'x' } },
        {
          chain: {
            family: 'inet',
            table: 'x',
            name: 'a',
            type: 'filter',
            hook: 'input',
            prio: 'filter + 10',
            policy: 'drop',
          },
        },
        { chain: { family: 'inet', table: 'x', name: 'b', type: 'nat', hook: 'prerouting', prio: 'dstnat - 5' } },
        { chain: { family: 'inet', table: 'x', name: 'c', type: 'filter', hook: 'output', prio: 'mangle' } },
      ],
    };
    const r = parseNftJson(JSON.stringify(doc), 'x.json');
    const chains = r.tables[0]?.chains;
    assert.deepEqual(
      [...(chains?.values() ?? [])].map((c) => [c.name, c.priority, c.policy]),
      [
        ['a', 10, 'DROP'],
        ['b', -105, 'ACCEPT'],
        ['c', -150, 'ACCEPT'],
      ],
    );
  });
});

describe('nft JSON: dormant tables', () => {
  it('keeps a dormant table off the hooks (nft 1.0.6 prints its name as the flag)', async () => {
    const { parseNftJson } = await import('../../src/parse/nft-json.js');
    for (const flags of ['dd', ['dormant']]) {
      const doc = {
        nftables: [
          { table: { family: 'ip', name: 'dd', handle: 1, flags } },
          { chain: { family: 'ip', table: 'dd', name: 'c', type: 'filter', hook: 'input', prio: 0, policy: 'drop' } },
        ],
      };
      const r = parseNftJson(JSON.stringify(doc), 'x.json');
      assert.equal(r.tables[0]?.chains.get('c')?.hook, undefined);
      assert.ok(r.issues.some((i) => /dormant/.test(i.message)));
    }
  });
});

describe('nft JSON: rules', () => {
  for (const name of FIXTURES) {
    it(`renders every rule of ${name} as \`nft list ruleset\` prints it`, () => {
      const { parsed } = loadFixture(`${name}.json`);
      const want = nftRuleLines(fixtureText(`${name}.txt`));
      const skipped = new Set(parsed.skippedIptablesNft);
      // The text listing also holds the iptables-nft tables' rules; the parser leaves those out.
      const got: string[] = [];
      for (const t of parsed.tables) for (const c of t.chains.values()) for (const r of c.rules) got.push(r.text);
      const expected = skipped.size ? want.slice(want.length - got.length) : want;
      assert.deepEqual(got, expected);
    });
  }

  it('numbers rules from 1 in chain order, with handles and the JSON position as line', () => {
    const { parsed } = loadFixture('firewalld.json');
    const doc = JSON.parse(fixtureText('firewalld.json')).nftables as Record<
      string,
      { chain?: string; handle?: number }
    >[];
    const allow = table(parsed, 'inet firewalld').chains.get('filter_IN_public_allow');
    assert.ok(allow);
    allow.rules.forEach((r, i) => {
      assert.equal(r.index, i + 1);
      assert.equal(r.table, 'inet firewalld');
      assert.equal(r.chain, 'filter_IN_public_allow');
      assert.equal(r.source.file, 'firewalld.json');
      // One-line JSON: the line is the object's 1-based position in the nftables array.
      const obj = doc[r.source.line - 1]?.rule;
      assert.ok(obj, `object ${r.source.line} is a rule`);
      assert.equal(obj.chain, 'filter_IN_public_allow');
      assert.equal(obj.handle, r.handle);
    });
    assert.equal(allow.rules[5]?.text, 'udp dport 8472 accept');
  });

  it('uses real line numbers when the JSON is pretty-printed', async () => {
    const { parseNftJson } = await import('../../src/parse/nft-json.js');
    const pretty = JSON.stringify(JSON.parse(fixtureText('sets.json')), null, 2);
    const r = parseNftJson(pretty, 'pretty.json');
    const lines = pretty.split('\n');
    const first = r.tables[0]?.chains.get('input')?.rules[0];
    assert.ok(first);
    // The object starts on its line: `{` followed by the "rule" key on the next.
    assert.match(lines[first.source.line - 1] ?? '', /^\s*\{$/);
    assert.match(lines[first.source.line] ?? '', /"rule"/);
  });

  it('marks the exact destination of rules that require one', () => {
    const { parsed } = loadFixture('kube-proxy.json');
    assert.equal(rule(parsed, 'ip kube-proxy', 'service-ULMVA6XW-ns1/svc1/tcp/p80', 1).exactDst, '172.30.0.41');
    assert.equal(rule(parsed, 'ip kube-proxy', 'services', 1).exactDst, undefined);
    // `ip daddr != ...` or a prefix is no exact destination.
    const { parsed: sets } = loadFixture('sets.json');
    assert.equal(rule(sets, 'inet filter-sets', 'input', 14).exactDst, undefined);
  });

  it('compiles identical statements once', () => {
    const { parsed } = loadFixture('kube-proxy.json');
    const a = rule(parsed, 'ip kube-proxy', 'external-LAUZTJTB-ns4/svc4/tcp/p80', 1);
    const b = rule(parsed, 'ip kube-proxy', 'external-HVFWP5L3-ns5/svc5/tcp/p80', 1);
    assert.equal(a.text, 'jump mark-for-masquerade');
    assert.equal(actions(a)[0], actions(b)[0]);
  });

  it('keeps canonical text free of counters and comments', () => {
    const { parsed } = loadFixture('kube-proxy.json');
    const r = rule(parsed, 'ip kube-proxy', 'cluster-ips-check', 1);
    assert.equal(r.text, 'ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"');
    assert.equal(r.canonical, 'ip daddr @cluster-ips reject');
    const { parsed: sets } = loadFixture('sets.json');
    assert.equal(rule(sets, 'inet filter-sets', 'input', 3).canonical, 'ip saddr @blocklist4 drop');
  });

  it('marks NAT statements as nat-only', () => {
    const { parsed } = loadFixture('kube-proxy.json');
    const dnat = actions(rule(parsed, 'ip kube-proxy', 'endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80', 2));
    assert.equal(dnat[0]?.name, 'dnat');
    assert.equal(dnat[0]?.natOnly, true);
    assert.equal(
      matches(rule(parsed, 'ip kube-proxy', 'endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80', 2))[0]?.name,
      'meta l4proto',
    );
  });
});

describe('nft JSON: iptables-nft tables', () => {
  it('leaves tables made by iptables-nft to the iptables-save parser', () => {
    const { parsed } = loadFixture('iptables-nft.json');
    assert.deepEqual(parsed.skippedIptablesNft, ['ip filter', 'ip nat']);
    assert.deepEqual(
      parsed.tables.map((t) => t.label),
      ['ip native-guard'],
    );
    // The loader, which sees every input of the node, warns only when no iptables-save output came with it.
    assert.ok(!parsed.issues.some((i) => /iptables-nft/.test(i.message)));
    const alone = loadRules([
      {
        name: 'nft.json',
        text: JSON.stringify(JSON.parse(readFileSync(join(fixturesDir, 'nft', 'iptables-nft.json'), 'utf8'))),
      },
    ]);
    assert.ok(alone.ruleset.issues.some((i) => /iptables-nft tables \(ip filter, ip nat\)/.test(i.message)));
    const both = loadRules([
      { name: 'nft.json', text: readFileSync(join(fixturesDir, 'nft', 'iptables-nft.json'), 'utf8') },
      { name: 'iptables-save', text: '*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n' },
    ]);
    assert.ok(!both.ruleset.issues.some((i) => /iptables-nft/.test(i.message)));
  });

  it('treats an xt statement in a native table as unknown', async () => {
    const { parseNftJson } = await import('../../src/parse/nft-json.js');
    const doc = {
      nftables: [
        { table: { family: 'ip', name: 'mine' } },
        {
          chain: { family: 'ip', table: 'mine', name: 'in', type: 'filter', hook: 'input', prio: 0, policy: 'accept' },
        },
        {
          rule: {
            family: 'ip',
            table: 'mine',
            chain: 'in',
            handle: 3,
            expr: [{ xt: { type: 'match', name: 'recent' } }, { drop: null }],
          },
        },
      ],
    };
    const r = parseNftJson(JSON.stringify(doc), 'x.json');
    assert.deepEqual(r.skippedIptablesNft, []);
    const m = matches(rule(r, 'ip mine', 'in', 1))[0];
    const res = m?.test({} as never, {});
    assert.deepEqual(res, {
      choice: 'unknown',
      why: 'xt match recent: a rule iptables-nft could not translate to nft; its effect is not known',
    });
    assert.ok(
      r.issues.some(
        (i) =>
          i.severity === 'warning' &&
          i.message.startsWith('xt statements (rules iptables-nft could not translate): uncertain'),
      ),
    );
  });
});

describe('nft JSON: unsupported expressions', () => {
  it('warns once per kind and names the table', () => {
    const { parsed } = loadFixture('features.json');
    const msgs = parsed.issues
      .filter((i) => i.severity === 'warning' && /: uncertain/.test(i.message))
      .map((i) => i.message);
    for (const kind of ['tcp option', 'socket', 'exthdr', 'ether headers', 'fib ... oif']) {
      assert.equal(msgs.filter((m) => m.startsWith(kind)).length, 1, `${kind}: ${msgs.join(' | ')}`);
    }
  });
});
