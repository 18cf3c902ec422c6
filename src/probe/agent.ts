/**
 * The probe agent: a small CommonJS program that runs inside the source's network namespace (a lab pod or node, or a
 * probe pod on a live cluster) and sends real traffic. It reads a JSON array of `AgentProbe` on stdin, runs them with
 * bounded concurrency, and prints one JSON `AgentResult` per line. Every probe is bounded: at most `tries` attempts of
 * at most `timeoutMs` each. It uses only Node's standard library and `ping` (iputils), so it runs wherever `node` does.
 *
 * Kinds:
 *   tcp  connect to dst:port and read what the server says (the lab's echo servers answer with their pod's name)
 *   udp  send a datagram on a connected socket and wait for the answer; ICMP errors come back as socket errors
 *   icmp one `ping` per attempt
 *   mtu  `ping -M do -s size`: the don't-fragment bit set, so a packet larger than the path MTU never arrives
 *   dns  resolve `name` the way glibc's stub resolver does: each nameserver in order, `attempts` rounds, per-query
 *        timeout; the latency is what an application would wait
 * A probe with `expect` (the pod names behind a Service) repeats, in waves of parallel attempts, until every expected
 * name answered or the tries are spent, so every endpoint a Service's load balancing can pick is reached at least
 * once. DNS lookups run all their tries: each may go to another endpoint of the DNS Service. A probe with `all` runs
 * every try too (a Service whose endpoints do not speak the echo protocol: the share that failed is the finding), and
 * `connect` counts an established TCP connection as the answer (a server that waits for the client to speak first).
 *
 * The input is one line of JSON (the array), so the agent starts without waiting for the end of stdin: an exec
 * stream older than v5 cannot close it.
 */

import { PING_SOURCE } from './ping.js';

export const PROBE_AGENT_FILE = 'probe-agent.cjs';

export type AgentProbeKind = 'tcp' | 'udp' | 'icmp' | 'mtu' | 'dns';

export interface AgentProbe {
  id: string;
  kind: AgentProbeKind;
  dst: string;
  port?: number;
  /** Answers (pod names) to collect before stopping early. */
  expect?: string[];
  tries: number;
  timeoutMs: number;
  /** mtu: the ICMP payload size (the packet is 28 bytes larger). */
  size?: number;
  /** dns: the name to look up, the nameservers in order, and the resolver's attempts. */
  name?: string;
  nameservers?: string[];
  attempts?: number;
  /** Run every try even after answers came (their failures are the result). */
  all?: boolean;
  /** tcp: an established connection is the answer (`connected`); nothing is read. */
  connect?: boolean;
}

/** The answer of a `connect` probe. */
export const CONNECTED = 'connected';

/** How one attempt ended, in the words a client would use. */
export type AttemptOutcome =
  | 'ok'
  | 'timeout'
  | 'refused'
  | 'no route to host'
  | 'network unreachable'
  | 'admin prohibited'
  | 'too big'
  | 'error';

export interface AgentResult {
  id: string;
  /** `ok` when at least one attempt succeeded (see `answers` for which endpoints answered). */
  outcome: AttemptOutcome;
  attempts: number;
  /** Distinct answers (pod names, or DNS addresses) in the order first seen. */
  answers: string[];
  /** Fastest successful attempt, milliseconds. */
  latencyMs?: number;
  /** Slowest successful attempt (for DNS: the lookup an application waited longest for). */
  slowestMs?: number;
  /** Every failed attempt's outcome, counted. */
  failures: Partial<Record<AttemptOutcome, number>>;
  /** dns: which nameserver answered. */
  server?: string;
  detail?: string;
}

export const PROBE_AGENT_SOURCE = `'use strict';
const net = require('node:net');
const dgram = require('node:dgram');
const { execFile } = require('node:child_process');

const ERRNO = {
  ECONNREFUSED: 'refused',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network unreachable',
  EACCES: 'admin prohibited',
  EPERM: 'admin prohibited',
  EMSGSIZE: 'too big',
  ETIMEDOUT: 'timeout',
};
const now = () => Number(process.hrtime.bigint() / 1000n) / 1000;

function tcpAttempt(p) {
  return new Promise((resolve) => {
    const t0 = now();
    let data = '';
    let done = false;
    const s = net.connect({ host: p.dst, port: p.port });
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ outcome: 'timeout' }), p.timeoutMs);
    if (p.connect) s.on('connect', () => finish({ outcome: 'ok', answer: '${CONNECTED}', ms: now() - t0 }));
    s.on('data', (d) => {
      data += d.toString('utf8');
      if (data.includes('\\n')) finish({ outcome: 'ok', answer: data.trim(), ms: now() - t0 });
    });
    s.on('end', () => finish({ outcome: 'ok', answer: data.trim(), ms: now() - t0 }));
    s.on('error', (e) => finish({ outcome: ERRNO[e.code] || 'error', detail: e.code || e.message }));
  });
}

function udpAttempt(p) {
  return new Promise((resolve) => {
    const t0 = now();
    let done = false;
    const s = dgram.createSocket(p.dst.includes(':') ? 'udp6' : 'udp4');
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try { s.close(); } catch {}
      resolve(r);
    };
    const timer = setTimeout(() => finish({ outcome: 'timeout' }), p.timeoutMs);
    s.on('message', (m) => finish({ outcome: 'ok', answer: m.toString('utf8').trim(), ms: now() - t0 }));
    s.on('error', (e) => finish({ outcome: ERRNO[e.code] || 'error', detail: e.code || e.message }));
    s.connect(p.port, p.dst, (err) => {
      if (err) return finish({ outcome: ERRNO[err.code] || 'error', detail: err.code || err.message });
      s.send(Buffer.from('netdoctor probe\\n'), (e) => {
        if (e) finish({ outcome: ERRNO[e.code] || 'error', detail: e.code || e.message });
      });
    });
  });
}

function pingAttempt(p, extra) {
  return new Promise((resolve) => {
    const args = pingArgs(p);
    const t0 = now();
    execFile('ping', args, { timeout: p.timeoutMs + 2000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && err.code === 'ENOENT') return resolve({ outcome: 'error', detail: 'ping is not installed' });
      resolve(classifyPing(p, !err, (stdout || '') + (stderr || ''), now() - t0));
    });
  });
}

${PING_SOURCE}
function dnsQuery(name) {
  const id = Math.floor(Math.random() * 65536);
  const labels = name.replace(/\\.$/, '').split('.').filter(Boolean);
  const parts = [Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l, 'ascii'));
  parts.push(Buffer.from([0, 0, 1, 0, 1]));
  return { id, buf: Buffer.concat(parts) };
}

function dnsAnswer(buf, id) {
  if (buf.length < 12 || buf.readUInt16BE(0) !== id) return undefined;
  const rcode = buf[3] & 15;
  const an = buf.readUInt16BE(6);
  let off = 12;
  const skipName = () => {
    while (off < buf.length) {
      const len = buf[off];
      if (len === 0) { off += 1; return; }
      if ((len & 0xc0) === 0xc0) { off += 2; return; }
      off += len + 1;
    }
  };
  skipName();
  off += 4;
  const addrs = [];
  for (let i = 0; i < an && off < buf.length; i++) {
    skipName();
    const type = buf.readUInt16BE(off);
    const rdlen = buf.readUInt16BE(off + 8);
    off += 10;
    if (type === 1 && rdlen === 4) addrs.push([...buf.subarray(off, off + 4)].join('.'));
    off += rdlen;
  }
  return { rcode, addrs };
}

function dnsOnce(server, name, timeoutMs) {
  return new Promise((resolve) => {
    const { id, buf } = dnsQuery(name);
    const s = dgram.createSocket(server.includes(':') ? 'udp6' : 'udp4');
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try { s.close(); } catch {}
      resolve(r);
    };
    const timer = setTimeout(() => finish({ outcome: 'timeout' }), timeoutMs);
    s.on('message', (m) => {
      const a = dnsAnswer(m, id);
      if (a) finish({ outcome: 'ok', rcode: a.rcode, addrs: a.addrs });
    });
    s.on('error', (e) => finish({ outcome: ERRNO[e.code] || 'error', detail: e.code || e.message }));
    s.connect(53, server, (err) => {
      if (err) return finish({ outcome: 'error', detail: err.message });
      s.send(buf);
    });
  });
}

async function dnsAttempt(p) {
  const t0 = now();
  const servers = p.nameservers || [p.dst];
  const tried = [];
  for (let round = 0; round < (p.attempts || 1); round++) {
    for (const server of servers) {
      const r = await dnsOnce(server, p.name, p.timeoutMs);
      tried.push(server + ': ' + (r.outcome === 'ok' ? 'rcode ' + r.rcode : r.outcome));
      // glibc takes NOERROR and NXDOMAIN as final, and tries the next server on SERVFAIL, REFUSED or no answer.
      if (r.outcome === 'ok' && (r.rcode === 0 || r.rcode === 3)) {
        const answer = r.rcode === 0 ? r.addrs.join(',') || 'NOERROR (no address)' : 'NXDOMAIN';
        return { outcome: 'ok', answer, ms: now() - t0, server, detail: tried.join('; ') };
      }
    }
  }
  return { outcome: 'timeout', detail: tried.join('; '), ms: now() - t0 };
}

function attempt(p) {
  switch (p.kind) {
    case 'tcp': return tcpAttempt(p);
    case 'udp': return udpAttempt(p);
    case 'icmp':
    case 'mtu': return pingAttempt(p);
    case 'dns': return dnsAttempt(p);
    default: return Promise.resolve({ outcome: 'error', detail: 'unknown probe kind ' + p.kind });
  }
}

async function runProbe(p) {
  const answers = [];
  const failures = {};
  let best;
  let worst;
  let server;
  let detail;
  let attempts = 0;
  const expect = p.expect || [];
  // Attempts to a Service with several endpoints go out in waves (each a new connection, so kube-proxy picks
  // again); a single destination is tried one attempt at a time.
  const wave = expect.length > 1 || p.all ? 8 : 1;
  const record = (r) => {
    if (r.outcome === 'ok') {
      if (r.answer !== undefined && !answers.includes(r.answer)) answers.push(r.answer);
      if (best === undefined || r.ms < best) best = r.ms;
      if (worst === undefined || r.ms > worst) worst = r.ms;
      if (r.server) server = r.server;
      if (r.detail) detail = r.detail;
    } else {
      failures[r.outcome] = (failures[r.outcome] || 0) + 1;
      if (r.detail) detail = r.detail;
    }
  };
  while (attempts < p.tries) {
    const n = Math.min(wave, p.tries - attempts);
    attempts += n;
    const batch = await Promise.all(Array.from({ length: n }, () => attempt(p)));
    batch.forEach(record);
    if (p.all || p.kind === 'dns') continue;
    if (answers.length && expect.every((e) => answers.includes(e))) break;
    // Without endpoints to collect, two failures in a row are the answer.
    if (expect.length === 0 && answers.length === 0 && attempts >= Math.min(p.tries, 2)) break;
  }
  const failed = Object.keys(failures).sort((a, b) => failures[b] - failures[a]);
  const outcome = answers.length ? 'ok' : failed[0] || 'error';
  const out = { id: p.id, outcome, attempts, answers, failures };
  if (best !== undefined) out.latencyMs = Math.round(best * 1000) / 1000;
  if (worst !== undefined) out.slowestMs = Math.round(worst * 1000) / 1000;
  if (server) out.server = server;
  if (detail) out.detail = detail;
  return out;
}

async function main() {
  let input = '';
  for await (const chunk of process.stdin) {
    input += chunk;
    if (input.includes('\\n')) break;
  }
  const probes = JSON.parse(input.split('\\n')[0]);
  const limit = 16;
  let next = 0;
  const worker = async () => {
    while (next < probes.length) {
      const p = probes[next++];
      process.stdout.write(JSON.stringify(await runProbe(p)) + '\\n');
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, probes.length) }, worker));
}

main().catch((e) => {
  process.stderr.write('probe agent: ' + (e && e.stack ? e.stack : e) + '\\n');
  process.exit(2);
});
`;
