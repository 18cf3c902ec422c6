/** The command line as users meet it: answers, exit codes, and clear errors naming file and reason. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { filterInput, flannelConfig, testBundle } from '../support/bundle.js';
import { netdoctor } from '../support/cli.js';

const SLAVE2 = 'examples/rules/seed-000-slave-2.iptables-save';
const VXLAN = ['--proto', 'udp', '--src', '10.0.0.10', '--dst', '10.0.0.12', '--dport', '8472', '--in', 'eth0'];

test('rules eval names the rejecting rule of seed 000, text and JSON', () => {
  const text = netdoctor(['rules', 'eval', SLAVE2, ...VXLAN]);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^REJECT \(icmp-host-prohibited: the client sees no route to host\)/);
  assert.match(text.stdout, /decided by {2}filter\/INPUT #9 {2}-A INPUT -j REJECT --reject-with icmp-host-prohibited/);
  const json = JSON.parse(netdoctor(['rules', 'eval', SLAVE2, ...VXLAN, '--format', 'json']).stdout);
  assert.equal(json.verdict, 'reject');
  assert.deepEqual(json.reject, { with: 'icmp-host-prohibited', clientSees: 'no route to host' });
  assert.equal(json.decisive.kind, 'rule');
  assert.equal(json.decisive.index, 9);
  assert.ok(Array.isArray(json.matched) && Array.isArray(json.rewrites));
});

test('rules eval --packets answers one JSON line per packet, errors per line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nd-cli-'));
  try {
    const file = join(dir, 'p.jsonl');
    writeFileSync(
      file,
      [
        JSON.stringify({ path: 'input', proto: 'udp', src: '10.0.0.10', dst: '10.0.0.12', dport: 8472, in: 'eth0' }),
        JSON.stringify({ path: 'input', proto: 'tcp', src: '10.0.0.10', dst: '10.0.0.12', dport: 8472, in: 'eth0' }),
        JSON.stringify({ path: 'input', proto: 'udp', src: 'nope', dst: '10.0.0.12', dport: 1 }),
      ].join('\n'),
    );
    const r = netdoctor(['rules', 'eval', SLAVE2, '--packets', file]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.verdict ?? l.error),
      ['reject', 'accept', 'source "nope" is not an IP address'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad input and bad usage exit 2 with a clear line', () => {
  const missing = netdoctor(['rules', 'eval', 'no-such-file.txt', ...VXLAN]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /no-such-file\.txt: no such file/);
  const badProto = netdoctor(['rules', 'eval', SLAVE2, ...VXLAN.slice(2), '--proto', 'tcpx']);
  assert.equal(badProto.status, 2);
  assert.match(badProto.stderr, /unknown protocol "tcpx"/);
  const badPath = netdoctor(['rules', 'eval', SLAVE2, ...VXLAN, '--path', 'sideways']);
  assert.equal(badPath.status, 2);
  assert.match(badPath.stderr, /sideways/);
  const noBundle = netdoctor(['diagnose', '/nonexistent']);
  assert.equal(noBundle.status, 2);
  assert.match(noBundle.stderr, /\/nonexistent: no such bundle directory/);
});

test('diagnose exits 1 on a critical finding, 0 on the healthy twin, and lists checks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nd-cli-'));
  try {
    for (const [name, proto] of [
      ['broken', 'tcp'],
      ['healthy', 'udp'],
    ] as const) {
      const rules = filterInput([
        `-A INPUT -p ${proto} -m ${proto} --dport 8472 -j ACCEPT`,
        '-A INPUT -j REJECT --reject-with icmp-host-prohibited',
      ]);
      const ok = filterInput([
        '-A INPUT -p udp -m udp --dport 8472 -j ACCEPT',
        '-A INPUT -j REJECT --reject-with icmp-host-prohibited',
      ]);
      const b = testBundle(
        [
          { name: 'n1', ip: '10.9.0.1', commands: { 'iptables-nft-save': ok } },
          { name: 'n2', ip: '10.9.0.2', commands: { 'iptables-nft-save': rules } },
        ],
        [flannelConfig()],
      );
      const root = join(dir, name);
      mkdirSync(join(root, 'nodes'), { recursive: true });
      writeFileSync(join(root, 'cluster.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: b.objects }));
      for (const [n, s] of b.nodes) writeFileSync(join(root, 'nodes', `${n}.json`), JSON.stringify(s));
    }
    const broken = netdoctor(['diagnose', join(dir, 'broken')]);
    assert.equal(broken.status, 1, broken.stderr);
    assert.match(broken.stdout, /^CRITICAL {2}n2 rejects flannel vxlan traffic \(udp\/8472\) from every other node/);
    assert.match(broken.stdout, /\$ iptables-nft -I INPUT -s 10\.9\.0\.1 -p udp -m udp --dport 8472 -j ACCEPT/);
    const json = JSON.parse(netdoctor(['diagnose', join(dir, 'broken'), '--format', 'json']).stdout);
    assert.equal(json.schemaVersion, 1);
    assert.equal(json.findings[0].check, 'overlay-port-blocked');
    const healthy = netdoctor(['diagnose', join(dir, 'healthy')]);
    assert.equal(healthy.status, 0, healthy.stdout);
    assert.match(healthy.stdout, /No problems found: 2 nodes/);
    const onlyInfo = netdoctor(['diagnose', join(dir, 'broken'), '--fail-on', 'critical']);
    assert.equal(onlyInfo.status, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const list = netdoctor(['checks']);
  assert.equal(list.status, 0);
  assert.match(list.stdout, /overlay-port-blocked +critical +000,001 /);
});

test('--help teaches: examples and exit codes', () => {
  const r = netdoctor(['rules', 'eval', '--help']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /Examples:/);
  assert.match(r.stdout, /Exit code/);
});

test("the README's first command: diagnose examples/seed-000 names the broken node's REJECT", () => {
  const r = netdoctor(['diagnose', 'examples/seed-000']);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /^CRITICAL {2}node2 rejects flannel vxlan traffic \(udp\/8472\) from every other node/);
  assert.match(r.stdout, /node2 {2}filter\/INPUT #\d+ {2}-A INPUT -j REJECT/);
  assert.match(r.stdout, /near miss: accepts tcp\/8472, but the overlay sends udp\/8472/);
  assert.match(
    r.stdout,
    /\$ iptables-nft -I INPUT -s 192\.168\.56\.11,192\.168\.56\.13 -p udp -m udp --dport 8472 -j ACCEPT/,
  );
  assert.equal(r.stderr, '', 'a bundle made by the lab reads without warnings');
});
