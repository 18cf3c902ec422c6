/** The node's IPVS table and the lookup the trace engine asks: which virtual service, which real servers. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ClusterModel, type NodeModel } from '../../src/model/cluster.js';
import { ipvsLookup, ipvsTable, kubeIpvsAddresses } from '../../src/model/ipvs.js';
import { testBundle } from '../support/bundle.js';
import { fixturesDir } from '../support/paths.js';

const fixture = (name: string) => readFileSync(join(fixturesDir, 'node', name), 'utf8');

function nodeWith(commands: Record<string, string>): NodeModel {
  const node = new ClusterModel(testBundle([{ name: 'n1', ip: '10.0.0.1', commands }])).nodes[0];
  assert.ok(node);
  return node;
}

test('save and list together: the structure from -Sn, the counters from -Ln', () => {
  const list = [
    'IP Virtual Server version 1.2.1 (size=4096)',
    'Prot LocalAddress:Port Scheduler Flags',
    '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
    'TCP  10.96.0.1:443 rr',
    '  -> 192.168.50.10:6443            Masq    1      7          3',
  ].join('\n');
  const node = nodeWith({ 'ipvsadm-save': fixture('ipvsadm-save.txt'), 'ipvsadm-list': list });
  const t = ipvsTable(node);
  assert.equal(t?.source, 'ipvsadm-save');
  assert.equal(t?.services.length, 7);
  const api = ipvsLookup(node, { proto: 6, dst: '10.96.0.1', dport: 443 });
  assert.equal(api?.outcome, 'forward');
  assert.deepEqual(api?.lines, ['TCP 10.96.0.1:443 rr', '  -> 192.168.50.10:6443 Masq 1 7 3']);
});

test('lookup: exact tuple, protocol matters, weight 0 is terminating, no real server is refused', () => {
  const node = nodeWith({ 'ipvsadm-save': fixture('ipvsadm-save.txt') });
  const dnsTcp = ipvsLookup(node, { proto: 'tcp', dst: '10.96.0.10', dport: 53 });
  assert.deepEqual(
    dnsTcp?.schedulable.map((r) => `${r.address}:${r.port}`),
    ['10.244.0.5:53'],
  );
  assert.deepEqual(
    dnsTcp?.terminating.map((r) => r.address),
    ['10.244.1.7'],
  );
  assert.equal(ipvsLookup(node, { proto: 17, dst: '10.96.0.10', dport: 53 })?.service.protocol, 'udp');
  // Near misses: another port, another protocol, another address.
  assert.equal(ipvsLookup(node, { proto: 6, dst: '10.96.0.10', dport: 54 }), undefined);
  assert.equal(ipvsLookup(node, { proto: 17, dst: '10.96.0.1', dport: 443 }), undefined);
  assert.equal(ipvsLookup(node, { proto: 6, dst: '10.96.0.11', dport: 53 }), undefined);
  const empty = ipvsLookup(node, { proto: 6, dst: '10.96.0.30', dport: 5473 });
  assert.equal(empty?.outcome, 'no-real-server');
  assert.deepEqual(empty?.reply, { icmp: 'port-unreachable', clientSees: 'refused' });
  assert.equal(ipvsLookup(node, { proto: 6, dst: 'fd00:10:96:0::1', dport: 443 })?.schedulable[0]?.address, 'fd00::10');
  // A fwmark service wins when the packet carries its mark.
  assert.equal(ipvsLookup(node, { proto: 6, dst: '10.96.0.1', dport: 443, mark: 100 })?.service.fwmark, 100);
  assert.equal(ipvsLookup(node, { proto: 6, dst: '10.96.0.1', dport: 443, mark: 7 })?.service.fwmark, undefined);
});

test('only weight-0 real servers: new connections have nowhere to go', () => {
  const node = nodeWith({
    'ipvsadm-save': '-A -t 10.96.0.50:80 -s rr\n-a -t 10.96.0.50:80 -r 10.244.1.2:8080 -m -w 0\n',
  });
  const hit = ipvsLookup(node, { proto: 6, dst: '10.96.0.50', dport: 80 });
  assert.equal(hit?.outcome, 'no-real-server');
  assert.equal(hit?.terminating.length, 1);
});

test('not collected, tool missing, ip_vs not loaded, empty', () => {
  assert.equal(ipvsTable(nodeWith({})), undefined);
  const n = nodeWith({});
  n.snapshot.commands['ipvsadm-save'] = {
    command: 'ipvsadm -Sn',
    stdout: '',
    stderr: "Can't initialize ipvs: Protocol not available\n",
    exitCode: 2,
  };
  const t = ipvsTable(n);
  assert.deepEqual(
    [t?.available, t?.services.length, t?.error],
    [false, 0, "Can't initialize ipvs: Protocol not available"],
  );
  const missing = nodeWith({});
  missing.snapshot.commands['ipvsadm-list'] = {
    command: 'ipvsadm -Ln',
    stdout: '',
    stderr: '',
    exitCode: 127,
    missing: true,
  };
  assert.equal(ipvsTable(missing), undefined);
  const empty = nodeWith({ 'ipvsadm-save': '' });
  assert.deepEqual([ipvsTable(empty)?.available, ipvsTable(empty)?.services.length], [true, 0]);
  assert.equal(ipvsLookup(empty, { proto: 6, dst: '10.96.0.1', dport: 443 }), undefined);
});

test('kube-ipvs0 addresses', () => {
  const addr = JSON.stringify([
    {
      ifindex: 2,
      ifname: 'eth0',
      flags: ['UP'],
      mtu: 1500,
      addr_info: [{ family: 'inet', local: '10.0.0.1', prefixlen: 24 }],
    },
    {
      ifindex: 9,
      ifname: 'kube-ipvs0',
      flags: ['BROADCAST', 'NOARP'],
      mtu: 1500,
      addr_info: [
        { family: 'inet', local: '10.96.0.1', prefixlen: 32 },
        { family: 'inet', local: '10.96.0.10', prefixlen: 32 },
      ],
    },
  ]);
  assert.deepEqual(kubeIpvsAddresses(nodeWith({ 'ip-addr': addr })), ['10.96.0.1', '10.96.0.10']);
  assert.deepEqual(kubeIpvsAddresses(nodeWith({})), []);
});
