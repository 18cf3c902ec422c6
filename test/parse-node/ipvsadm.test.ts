/** ipvsadm -Ln (as seed 003 printed it, and with ipvsadm's own spacing) and ipvsadm -Sn. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseIpvsadm, parseIpvsadmList, parseIpvsadmSave, type VirtualService } from '../../src/parse/ipvsadm.js';
import { fixturesDir } from '../support/paths.js';

const fixture = (name: string) => readFileSync(join(fixturesDir, 'node', name), 'utf8');

const summary = (s: VirtualService[]) =>
  s.map((v) => `${v.text}: ${v.realServers.map((r) => `${r.address}:${r.port}/${r.forward}/${r.weight}`).join(' ')}`);

test('seed 003: virtual services, real servers, and the service with none', () => {
  const { services, issues, format } = parseIpvsadmList(fixture('ipvsadm-list-seed003.txt'), 'ipvsadm-list.txt');
  assert.equal(format, 'list');
  assert.deepEqual(issues, []);
  assert.equal(services.length, 7);
  const api = services[0];
  assert.equal(api?.text, 'TCP 10.96.0.1:443 rr');
  assert.deepEqual(
    api?.realServers.map((r) => [r.address, r.port, r.forward, r.weight, r.activeConns, r.inactiveConns]),
    [
      ['10.130.29.80', 6443, 'masq', 1, 6, 0],
      ['10.130.29.81', 6443, 'masq', 1, 1, 0],
      ['10.130.29.82', 6443, 'masq', 1, 0, 0],
    ],
  );
  const typha = services.find((s) => s.address === '10.108.62.55');
  assert.deepEqual([typha?.port, typha?.realServers.length], [5473, 0]);
  assert.deepEqual(
    services.filter((s) => s.protocol === 'udp').map((s) => s.text),
    ['UDP 10.96.0.10:53 rr'],
  );
});

test("-Ln with ipvsadm's spacing and -Sn of the same state give the same model", () => {
  const list = parseIpvsadmList(fixture('ipvsadm-list.txt'), 'l.txt');
  const save = parseIpvsadmSave(fixture('ipvsadm-save.txt'), 's.txt');
  assert.deepEqual([...list.issues, ...save.issues], []);
  assert.deepEqual(summary(list.services), summary(save.services));
  assert.deepEqual(summary(save.services), [
    'TCP 10.96.0.1:443 rr: 192.168.50.10:6443/masq/1',
    'TCP 10.96.0.10:53 rr: 10.244.0.5:53/masq/1 10.244.1.7:53/masq/0',
    'TCP 10.96.0.20:80 rr persistent 10800: 10.244.1.9:8080/masq/1',
    'UDP 10.96.0.10:53 rr: 10.244.0.5:53/masq/1',
    'TCP [fd00:10:96::1]:443 rr: fd00::10:6443/masq/1',
    'FWM 100 wrr ops: 10.0.0.5:0/route/2',
    'TCP 10.96.0.30:5473 rr: ',
  ]);
  const v6 = save.services.find((s) => s.family === 6);
  assert.equal(v6?.address, 'fd00:10:96::1');
  assert.equal(list.services.find((s) => s.fwmark === 100)?.protocol, 'fwmark');
  assert.equal(parseIpvsadm(fixture('ipvsadm-save.txt'), 's').format, 'save');
  assert.equal(parseIpvsadm(fixture('ipvsadm-list.txt'), 'l').format, 'list');
});

test('an empty IPVS table (seed 004: the master has no kube-proxy) is no services and no issue', () => {
  const r = parseIpvsadmList(
    'IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n',
    'l.txt',
  );
  assert.deepEqual([r.services, r.issues], [[], []]);
});

test('-Sn: options in long form, persistence without timeout, thresholds, tunnel', () => {
  const r = parseIpvsadmSave(
    [
      '--add-service --tcp-service 10.0.0.1:80 --scheduler wlc --persistent -M 255.255.255.0',
      '--add-server --tcp-service 10.0.0.1:80 --real-server 10.1.0.1:80 --ipip --weight 3 -x 100 -y 10',
    ].join('\n'),
    's.txt',
  );
  assert.deepEqual(r.issues, []);
  const s = r.services[0];
  assert.deepEqual([s?.persistent, s?.netmask, s?.scheduler], [300, '255.255.255.0', 'wlc']);
  assert.deepEqual(
    [s?.realServers[0]?.forward, s?.realServers[0]?.weight, s?.realServers[0]?.upperThreshold],
    ['tunnel', 3, 100],
  );
});

test('names instead of numbers (-L without -n), orphans and junk are reported', () => {
  const list = parseIpvsadmList(
    'Prot LocalAddress:Port Scheduler Flags\n  -> 10.0.0.1:80 Masq 1 0 0\nTCP  kubernetes.default:https rr\n  -> node1:6443 Masq 1 0 0\nTCP 10.0.0.2:80\n??\n',
    'l.txt',
  );
  assert.deepEqual(
    list.issues.map((i) => `${i.line} ${i.severity}`),
    ['2 error', '3 error', '4 error', '5 error', '6 warning'],
  );
  assert.match(list.issues[1]?.message ?? '', /not numeric/);
  const save = parseIpvsadmSave(
    '-a -t 10.0.0.9:80 -r 10.1.1.1:80 -m\n-A -t 10.0.0.1:80 -s rr --frob\n-a -t 10.0.0.1:80 -r x -m\n-A -s rr\nhello\n',
    's.txt',
  );
  assert.deepEqual(
    save.issues.map((i) => `${i.line} ${i.severity}`),
    ['1 error', '2 warning', '3 error', '4 error', '5 warning'],
  );
  assert.equal(save.services.length, 1);
});
