/**
 * The probe agent against the real kernel: two namespaces on a veth pair, an echo server and a DNS server on one
 * side, netfilter rules that refuse, reject with ICMP or drop, a small MTU. Each outcome must read as a client would
 * see it: refused, no route to host, timeout, too big; a lookup whose first nameserver is dead is slow.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type AgentProbe, type AgentResult, PROBE_AGENT_SOURCE } from '../../src/probe/agent.js';
import { judge, type Probe } from '../../src/probe/model.js';
import { deleteNetns, makeNetns, needsRoot, nsRun } from '../support/netns.js';

const SERVER = `
const net = require('net'), dgram = require('dgram');
net.createServer((s) => s.end('server-pod\\n')).listen(8080);
const u = dgram.createSocket('udp4');
u.on('message', (m, r) => u.send('server-pod\\n', r.port, r.address));
u.bind(8080);
// A DNS server for one name: answers A 10.96.0.1 to every query (enough for the resolver's checks).
const d = dgram.createSocket('udp4');
d.on('message', (m, r) => {
  const q = m.subarray(12);
  const ans = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 96, 0, 1]);
  const h = Buffer.from(m.subarray(0, 12));
  h[2] = 0x85; h[3] = 0x80; h[6] = 0; h[7] = 1;
  d.send(Buffer.concat([h, q, ans]), r.port, r.address);
});
d.bind(53);
setTimeout(() => process.exit(0), 60000);
`;

test('probe agent: outcomes as a client sees them, against the kernel', async (t) => {
  if (!needsRoot(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'netdoctor-agent-'));
  const client = makeNetns('pc');
  const server = makeNetns('ps');
  let proc: ChildProcess | undefined;
  try {
    const agentFile = join(dir, 'agent.cjs');
    writeFileSync(agentFile, PROBE_AGENT_SOURCE);
    const serverFile = join(dir, 'server.cjs');
    writeFileSync(serverFile, SERVER);
    execFileSync('ip', ['link', 'add', 'pa0', 'netns', client, 'type', 'veth', 'peer', 'name', 'pb0', 'netns', server]);
    for (const [ns, dev, addr] of [
      [client, 'pa0', '10.123.0.1/24'],
      [server, 'pb0', '10.123.0.2/24'],
    ] as const) {
      execFileSync('ip', ['-n', ns, 'addr', 'add', addr, 'dev', dev]);
      execFileSync('ip', ['-n', ns, 'link', 'set', dev, 'up', 'mtu', '1400']);
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    const rules = [
      '*filter',
      ':INPUT ACCEPT [0:0]',
      '-A INPUT -p tcp --dport 8081 -j REJECT --reject-with icmp-host-prohibited',
      '-A INPUT -p udp --dport 8082 -j REJECT --reject-with icmp-admin-prohibited',
      '-A INPUT -p tcp --dport 8083 -j DROP',
      '-A INPUT -p tcp --dport 8084 -j REJECT --reject-with tcp-reset',
      'COMMIT',
      '',
    ].join('\n');
    assert.equal(nsRun(server, 'iptables-restore', [], rules).status, 0);
    proc = spawn('ip', ['netns', 'exec', server, process.execPath, serverFile], { stdio: 'ignore' });
    // Wait (bounded) until the server listens.
    for (let i = 0; i < 50; i++) {
      if (nsRun(server, 'ss', ['-lntu']).stdout.includes(':8080')) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    const base = { tries: 2, timeoutMs: 600 };
    const probes: AgentProbe[] = [
      { id: 'tcp-ok', kind: 'tcp', dst: '10.123.0.2', port: 8080, expect: ['server-pod'], ...base },
      { id: 'udp-ok', kind: 'udp', dst: '10.123.0.2', port: 8080, expect: ['server-pod'], ...base },
      { id: 'tcp-refused', kind: 'tcp', dst: '10.123.0.2', port: 9, ...base },
      { id: 'udp-refused', kind: 'udp', dst: '10.123.0.2', port: 9, ...base },
      { id: 'tcp-host-prohibited', kind: 'tcp', dst: '10.123.0.2', port: 8081, ...base },
      { id: 'udp-admin-prohibited', kind: 'udp', dst: '10.123.0.2', port: 8082, ...base },
      { id: 'tcp-drop', kind: 'tcp', dst: '10.123.0.2', port: 8083, ...base },
      { id: 'tcp-reset', kind: 'tcp', dst: '10.123.0.2', port: 8084, ...base },
      { id: 'icmp-ok', kind: 'icmp', dst: '10.123.0.2', tries: 1, timeoutMs: 1000 },
      { id: 'icmp-no-host', kind: 'icmp', dst: '10.123.0.9', tries: 1, timeoutMs: 1000 },
      { id: 'mtu-fits', kind: 'mtu', dst: '10.123.0.2', size: 1400 - 28, tries: 1, timeoutMs: 1000 },
      { id: 'mtu-too-big', kind: 'mtu', dst: '10.123.0.2', size: 1450 - 28, tries: 1, timeoutMs: 1000 },
      {
        id: 'dns-fast',
        kind: 'dns',
        dst: '10.123.0.2',
        name: 'kubernetes.default.svc.cluster.local',
        nameservers: ['10.123.0.2'],
        attempts: 1,
        tries: 1,
        timeoutMs: 1200,
      },
      {
        id: 'dns-first-dead',
        kind: 'dns',
        dst: '10.123.0.7',
        name: 'kubernetes.default.svc.cluster.local',
        nameservers: ['10.123.0.7', '10.123.0.2'],
        attempts: 1,
        tries: 1,
        timeoutMs: 1200,
      },
    ];
    const r = nsRun(client, process.execPath, [agentFile], JSON.stringify(probes), 30_000);
    assert.equal(r.status, 0, r.stderr);
    const results = new Map(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as AgentResult)
        .map((x) => [x.id, x]),
    );
    assert.equal(results.size, probes.length, 'one result per probe');
    const get = (id: string) => results.get(id) as AgentResult;
    assert.equal(get('tcp-ok').outcome, 'ok');
    assert.deepEqual(get('tcp-ok').answers, ['server-pod']);
    assert.equal(get('tcp-ok').attempts, 1, 'stops once every expected answer came');
    assert.deepEqual(get('udp-ok').answers, ['server-pod']);
    assert.equal(get('tcp-refused').outcome, 'refused');
    assert.equal(get('udp-refused').outcome, 'refused', 'ICMP port unreachable reaches the connected socket');
    assert.equal(get('tcp-host-prohibited').outcome, 'no route to host');
    assert.equal(
      get('udp-admin-prohibited').outcome,
      'no route to host',
      'Linux reports admin-prohibited as EHOSTUNREACH',
    );
    assert.equal(get('tcp-drop').outcome, 'timeout');
    assert.equal(get('tcp-drop').attempts, 2, 'bounded: tries');
    assert.equal(get('tcp-reset').outcome, 'refused');
    assert.equal(get('icmp-ok').outcome, 'ok');
    assert.notEqual(get('icmp-no-host').outcome, 'ok');
    assert.equal(get('mtu-fits').outcome, 'ok');
    assert.equal(get('mtu-too-big').outcome, 'too big');
    assert.match(get('mtu-too-big').detail ?? '', /1400/);
    assert.equal(get('dns-fast').outcome, 'ok');
    assert.equal(get('dns-fast').answers[0], '10.96.0.1');
    assert.ok((get('dns-fast').latencyMs ?? 9999) < 500);
    const slow = get('dns-first-dead');
    assert.equal(slow.outcome, 'ok');
    assert.equal(slow.server, '10.123.0.2');
    assert.ok((slow.latencyMs ?? 0) >= 1200, `waited for the dead nameserver: ${slow.latencyMs} ms`);

    // The judgement on top: the slow lookup is flagged, the dropped connection fails.
    const asProbe = (id: string, kind: Probe['kind'], expect: string[] = []): Probe => {
      const agent = probes.find((p) => p.id === id) as AgentProbe;
      return {
        id,
        kind,
        from: { kind: 'pod', name: 'x/client' },
        to: { kind: 'pod', name: 'x/server', ip: agent.dst },
        proto: 'tcp',
        expect,
        agent,
      };
    };
    assert.equal(judge(asProbe('dns-first-dead', 'dns'), slow).status, 'slow');
    assert.equal(judge(asProbe('dns-fast', 'dns'), get('dns-fast')).status, 'pass');
    assert.equal(judge(asProbe('tcp-drop', 'pod-pod', ['server-pod']), get('tcp-drop')).status, 'fail');
    assert.equal(judge(asProbe('tcp-ok', 'pod-pod', ['server-pod', 'other-pod']), get('tcp-ok')).status, 'partial');
  } finally {
    if (proc?.pid) {
      try {
        process.kill(proc.pid);
      } catch {}
    }
    deleteNetns(client);
    deleteNetns(server);
    rmSync(dir, { recursive: true, force: true });
  }
});
