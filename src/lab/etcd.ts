/**
 * A real etcd (Debian's etcd-server) for flannel's etcd backend: started inside the control-plane node's namespace,
 * listening on its loopback and node address, data in the lab's work directory (so `lab down` finds and stops it by
 * PID). Read and written through etcd's v3 JSON gateway (`/v3/kv/range`, `/v3/kv/put`, base64 keys and values), from
 * inside the namespace.
 */

import { join } from 'node:path';
import type { EtcdSubnets } from '../snapshot/schema.js';
import { LabError, nsRun, sleep } from './shell.js';

export interface EtcdHandle {
  netns: string;
  /** The client URL inside the namespace. */
  url: string;
  dataDir: string;
}

/** The command line that runs etcd for the lab (single member, plain HTTP, inside the node's namespace). */
export function etcdArgv(dataDir: string, nodeIP: string): string[] {
  return [
    'etcd',
    '--name',
    'lab',
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    `http://127.0.0.1:2379,http://${nodeIP}:2379`,
    '--advertise-client-urls',
    `http://${nodeIP}:2379`,
    '--listen-peer-urls',
    'http://127.0.0.1:2380',
    '--initial-advertise-peer-urls',
    'http://127.0.0.1:2380',
    '--initial-cluster',
    'lab=http://127.0.0.1:2380',
    '--log-level',
    'warn',
  ];
}

export function etcdDataDir(workDir: string): string {
  return join(workDir, 'etcd');
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

/** POSTs a JSON body to etcd's gateway from inside the namespace; returns the parsed answer. */
async function call(h: EtcdHandle, path: string, body: unknown): Promise<Record<string, unknown>> {
  const script =
    'fetch(process.argv[1], { method: "POST", body: process.argv[2], signal: AbortSignal.timeout(2000) })' +
    '.then(async (r) => { const t = await r.text(); if (!r.ok) { console.error(r.status, t); process.exit(1); } console.log(t); })' +
    '.catch((e) => { console.error(String(e)); process.exit(1); });';
  const r = await nsRun(h.netns, [process.execPath, '-e', script, `${h.url}${path}`, JSON.stringify(body)], {
    timeoutMs: 5_000,
  });
  if (r.status !== 0) throw new LabError(`etcd ${path}: ${r.stderr.trim() || `exit ${r.status}`}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** Waits (bounded) until etcd answers. */
export async function waitEtcd(h: EtcdHandle, alive: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!alive()) throw new LabError('etcd exited while starting');
    try {
      await call(h, '/v3/kv/range', { key: b64('/health-probe') });
      return;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(150);
  }
  throw new LabError(`etcd did not answer in ${timeoutMs} ms: ${last}`);
}

export async function etcdPut(h: EtcdHandle, key: string, value: string): Promise<void> {
  await call(h, '/v3/kv/put', { key: b64(key), value: b64(value) });
}

export async function etcdDelete(h: EtcdHandle, key: string): Promise<void> {
  await call(h, '/v3/kv/deleterange', { key: b64(key) });
}

/** Every key under `prefix` with its value. */
export async function etcdRange(h: EtcdHandle, prefix: string): Promise<Record<string, string>> {
  // The range end of a prefix: the prefix with its last byte plus one.
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const r = await call(h, '/v3/kv/range', { key: b64(prefix), range_end: b64(end) });
  const out: Record<string, string> = {};
  for (const kv of (r.kvs ?? []) as { key: string; value?: string }[]) out[unb64(kv.key)] = unb64(kv.value ?? '');
  return out;
}

/** flannel's network config and leases under `prefix`, as a bundle's `etcd/subnets.json`. */
export async function readFlannelSubnets(h: EtcdHandle, prefix: string): Promise<EtcdSubnets> {
  const all = await etcdRange(h, `${prefix}/`);
  const subnets: Record<string, string> = {};
  for (const [k, v] of Object.entries(all)) {
    if (k.startsWith(`${prefix}/subnets/`)) subnets[k.slice(`${prefix}/subnets/`.length)] = v;
  }
  const out: EtcdSubnets = { schemaVersion: 1, kind: 'FlannelSubnets', prefix, subnets };
  const config = all[`${prefix}/config`];
  if (config !== undefined) out.config = config;
  return out;
}
