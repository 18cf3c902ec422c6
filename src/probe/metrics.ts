/**
 * Prometheus metrics of the last probe round (text exposition format 0.0.4), served by `probe --watch --metrics`:
 * success and latency per probe, DNS lookup time per pod, and the round's own health. Loopback by default: the
 * labels name pods and nodes, which is not for everyone to read.
 */
import { createServer, type Server } from 'node:http';
import { UsageError } from '../core/errors.js';
import type { ProbeOutcome, ProbeReport } from './model.js';

function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(o: ProbeOutcome): string {
  const p = o.probe;
  const pairs: [string, string][] = [
    ['kind', p.kind],
    ['from', p.from.name],
    ['from_node', p.from.node ?? ''],
    ['to', p.to.name],
    ['to_node', p.to.node ?? ''],
    ['proto', p.proto],
    ['port', p.port !== undefined ? String(p.port) : ''],
  ];
  return pairs.map(([k, v]) => `${k}="${label(v)}"`).join(',');
}

export interface RoundStats {
  rounds: number;
  failedRounds: number;
}

export function formatMetrics(report: ProbeReport | undefined, stats: RoundStats): string {
  const out: string[] = [];
  const family = (name: string, type: 'gauge' | 'counter', help: string) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  family('netdoctor_probe_rounds_total', 'counter', 'Probe rounds finished since start.');
  out.push(`netdoctor_probe_rounds_total ${stats.rounds}`);
  family('netdoctor_probe_round_errors_total', 'counter', 'Probe rounds that could not run.');
  out.push(`netdoctor_probe_round_errors_total ${stats.failedRounds}`);
  if (!report) return `${out.join('\n')}\n`;
  family('netdoctor_probe_round_duration_seconds', 'gauge', 'How long the last round took.');
  out.push(`netdoctor_probe_round_duration_seconds ${(report.durationMs / 1000).toFixed(3)}`);
  family('netdoctor_probe_last_round_timestamp_seconds', 'gauge', 'When the last round started (Unix time).');
  out.push(`netdoctor_probe_last_round_timestamp_seconds ${Math.floor(Date.parse(report.startedAt) / 1000)}`);
  family(
    'netdoctor_probe_success',
    'gauge',
    '1 when the probe passed in the last round (every expected endpoint answered), else 0.',
  );
  for (const o of report.outcomes) out.push(`netdoctor_probe_success{${labels(o)}} ${o.status === 'pass' ? 1 : 0}`);
  family('netdoctor_probe_latency_seconds', 'gauge', 'Fastest successful attempt of the probe in the last round.');
  for (const o of report.outcomes)
    if (o.result.latencyMs !== undefined && o.probe.kind !== 'dns')
      out.push(`netdoctor_probe_latency_seconds{${labels(o)}} ${(o.result.latencyMs / 1000).toFixed(6)}`);
  family(
    'netdoctor_dns_lookup_seconds',
    'gauge',
    "How long a pod's lookup through its resolv.conf took (1 s or more: a nameserver failed).",
  );
  for (const o of report.outcomes)
    if (o.probe.kind === 'dns' && o.result.latencyMs !== undefined)
      out.push(
        `netdoctor_dns_lookup_seconds{pod="${label(o.probe.from.name)}",node="${label(o.probe.from.node ?? '')}",server="${label(o.result.server ?? '')}"} ${(o.result.latencyMs / 1000).toFixed(6)}`,
      );
  return `${out.join('\n')}\n`;
}

/** `:9099`, `9099`, `127.0.0.1:9099`, `[::1]:9099`, `0.0.0.0:9099`; an empty host means loopback. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:(?:\[([0-9a-fA-F:]+)\]|([^:[\]]*)):)?(\d+)$/.exec(text.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`--metrics: "${text}" is not [HOST]:PORT (examples: :9099, 127.0.0.1:9099)`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export function serveMetrics(listen: { host: string; port: number }, current: () => string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics' || req.url?.startsWith('/metrics?')) {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(current());
    } else if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('netdoctor serves /metrics and /healthz\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new UsageError(`--metrics: cannot listen on ${listen.host}:${listen.port}: ${e.code ?? e.message}`)),
    );
    server.listen(listen.port, listen.host, () => resolve(server));
  });
}
