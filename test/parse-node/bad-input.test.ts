/**
 * Every node-state parser on input that is wrong in every way a bug report can be: empty, not JSON, truncated,
 * the wrong shape, binary junk. Each must return issues (file, line, reason) and never throw.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ParseIssue } from '../../src/core/errors.js';
import { parseBridgeFdb } from '../../src/parse/bridge-fdb.js';
import { parseFlannelSubnetEnv } from '../../src/parse/flannel-subnet-env.js';
import { parseIpAddr } from '../../src/parse/ip-addr.js';
import { parseIpLink } from '../../src/parse/ip-link.js';
import { parseIpNeigh } from '../../src/parse/ip-neigh.js';
import { parseIpRoute } from '../../src/parse/ip-route.js';
import { parseIpRule } from '../../src/parse/ip-rule.js';
import { parseIpvsadmList, parseIpvsadmSave } from '../../src/parse/ipvsadm.js';
import { parseResolvConf } from '../../src/parse/resolv-conf.js';
import { parseSysctl } from '../../src/parse/sysctl.js';

type Parser = (text: string, file: string) => { issues: ParseIssue[] };

const PARSERS: Record<string, Parser> = {
  'ip-link': parseIpLink,
  'ip-addr': parseIpAddr,
  'ip-route': (t, f) => parseIpRoute(t, f),
  'ip-rule': (t, f) => parseIpRule(t, f),
  'ip-neigh': parseIpNeigh,
  'bridge-fdb': parseBridgeFdb,
  sysctl: parseSysctl,
  'flannel-subnet-env': parseFlannelSubnetEnv,
  'resolv-conf': parseResolvConf,
  'ipvsadm-save': parseIpvsadmSave,
  'ipvsadm-list': parseIpvsadmList,
};

const JSON_PARSERS = new Set(['ip-link', 'ip-addr', 'ip-route', 'ip-rule', 'ip-neigh', 'bridge-fdb']);

const BAD: Record<string, string> = {
  'not JSON': 'RTNETLINK answers: Operation not permitted\n',
  truncated: '[{"ifindex":1,"ifname":"lo","flags":["UP"]},{"ifindex":2,"ifn',
  'an object, not a list': '{"ifindex":1,"ifname":"lo"}',
  'a list of numbers': '[1, 2, 3]',
  'objects of the wrong shape': '[{"x":1},{"dst":42,"dev":["a"]}]',
  'binary junk': '\u0000\u0001\u00ff\ufffd\u0007garbage = = =\n->\n-A\n',
  'wrong types inside': '[{"ifindex":"one","ifname":7,"flags":"UP","mtu":"big","priority":"x","mac":3}]',
};

for (const [name, parse] of Object.entries(PARSERS)) {
  test(`${name}: empty input is an issue, not a crash`, () => {
    const r = parse('', 'f');
    assert.ok(Array.isArray(r.issues));
    if (name !== 'ipvsadm-save' && name !== 'ipvsadm-list') assert.ok(r.issues.length > 0, 'empty input is flagged');
  });
  for (const [what, text] of Object.entries(BAD)) {
    test(`${name}: ${what}`, () => {
      const r = parse(text, 'input.txt');
      for (const i of r.issues) {
        assert.equal(i.file, 'input.txt');
        assert.equal(typeof i.line, 'number');
        assert.ok(i.message.length > 0);
      }
      const expectIssue = JSON_PARSERS.has(name) || what !== 'objects of the wrong shape';
      if (expectIssue && what !== 'wrong types inside') assert.ok(r.issues.length > 0, `${what} is flagged`);
    });
  }
}

test('JSON parsers keep the complete entries of a truncated dump', () => {
  const r = parseIpNeigh(
    '[{"dst":"10.0.0.1","dev":"eth0","lladdr":"02:00:00:00:00:01","state":["REACHABLE"]},{"dst":"10.0.0.2","dev":"et',
    'neigh.json',
  );
  assert.equal(r.neighbours.length, 1);
  assert.match(r.issues[0]?.message ?? '', /truncated/);
});

test('JSON parsers read two arrays in a row (both families in one file)', () => {
  const r = parseIpRoute(
    '[{"dst":"10.0.0.0/8","dev":"eth0","flags":[]}]\n[{"dst":"fd00::/8","dev":"eth0","metric":1024,"flags":[],"pref":"medium"}]\n',
    'routes.json',
  );
  assert.deepEqual(
    r.routes.map((x) => x.text),
    ['10.0.0.0/8 dev eth0', 'fd00::/8 dev eth0 metric 1024 pref medium'],
  );
  assert.deepEqual(r.issues, []);
});

test('pretty-printed JSON (ip -j -p) reports the line of the bad entry', () => {
  const text = '[ {\n    "dst": "10.0.0.1",\n    "dev": "eth0"\n  },{\n    "dst": "nope",\n    "dev": "eth0"\n  } ]\n';
  const r = parseIpNeigh(text, 'neigh.json');
  assert.equal(r.neighbours.length, 1);
  assert.equal(r.issues[0]?.line, 4);
});

test('the issue list is capped', () => {
  const many = `[${Array.from({ length: 3000 }, () => '{"x":1}').join(',')}]`;
  const r = parseIpNeigh(many, 'neigh.json');
  assert.ok(r.issues.length <= 1001);
  assert.match(r.issues.at(-1)?.message ?? '', /more issues not listed/);
});
