/**
 * flannel's leases when flannel keeps them in etcd (seed 004): `<prefix>/subnets/<net>-<len>` and `<prefix>/config`,
 * read through etcd's HTTP APIs — v3 through its JSON gateway (`POST /v3/kv/range`, keys and values base64, a prefix
 * read as the range [prefix, prefix+1)), v2 through `/v2/keys/...?recursive=true` (flannel before 0.13, and etcd run
 * with --enable-v2). The two APIs are separate key spaces in etcd: `auto` reads v3 and falls back to v2 when v3 holds
 * no lease. Written to the bundle as `etcd/subnets.json` (EtcdSubnets).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { InputError } from '../core/errors.js';
import type { EtcdSubnets } from '../snapshot/schema.js';
import { LiveError } from './api.js';

export const DEFAULT_ETCD_PREFIX = '/coreos.com/network';

export interface EtcdOptions {
  /** Client URLs, e.g. https://10.0.0.33:2379. */
  endpoints: readonly string[];
  prefix?: string;
  api?: 'auto' | 'v2' | 'v3';
  cafile?: string;
  certfile?: string;
  keyfile?: string;
  timeoutMs?: number;
}

export interface EtcdRead {
  subnets: EtcdSubnets;
  /** The API the leases were read with, and the endpoint that answered. */
  api: 'v2' | 'v3';
  endpoint: string;
}

interface Answer {
  code: number;
  json: unknown;
  text: string;
}

function readPem(flag: string, file: string | undefined): Buffer | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file);
  } catch (e) {
    throw new InputError(`cannot read ${flag}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file);
  }
}

class EtcdClient {
  private readonly tls: https.RequestOptions;
  constructor(
    readonly endpoint: string,
    private readonly o: EtcdOptions,
  ) {
    this.tls = {
      ca: readPem('--etcd-cafile', o.cafile),
      cert: readPem('--etcd-certfile', o.certfile),
      key: readPem('--etcd-keyfile', o.keyfile),
    };
  }

  request(method: string, path: string, body?: unknown): Promise<Answer> {
    const url = new URL(this.endpoint.replace(/\/+$/, '') + path);
    const data = body === undefined ? undefined : JSON.stringify(body);
    const mod = url.protocol === 'https:' ? https : http;
    const timeoutMs = this.o.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method,
          ...(url.protocol === 'https:' ? this.tls : {}),
          headers: data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({ code: res.statusCode ?? 0, json, text });
          });
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
      req.on('error', (e) => {
        const code = (e as NodeJS.ErrnoException).code;
        reject(
          new LiveError(
            `cannot reach etcd at ${this.endpoint}: ${code === 'ECONNREFUSED' ? 'connection refused' : e.message}`,
          ),
        );
      });
      req.end(data);
    });
  }
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

/** The end of the range holding every key that starts with `prefix`: the prefix with its last byte plus one. */
export function prefixRangeEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if ((bytes[i] as number) < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = (end[i] as number) + 1;
      return end.toString('base64');
    }
  }
  return b64('\0'); // every key
}

function leaseKey(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

async function readV3(c: EtcdClient, prefix: string): Promise<EtcdSubnets | undefined> {
  const subnetsPrefix = `${prefix}/subnets/`;
  let base: string | undefined;
  let range: Answer | undefined;
  // The gateway's path: /v3 since etcd 3.4, /v3beta in 3.3, /v3alpha in 3.2.
  for (const p of ['/v3', '/v3beta', '/v3alpha']) {
    range = await c.request('POST', `${p}/kv/range`, {
      key: b64(subnetsPrefix),
      range_end: prefixRangeEnd(subnetsPrefix),
    });
    if (range.code !== 404) {
      base = p;
      break;
    }
  }
  if (!base || !range) return undefined;
  if (range.code !== 200) throw etcdError(c, 'v3', range);
  const kvs = ((range.json as { kvs?: { key?: string; value?: string }[] })?.kvs ?? []).map((kv) => ({
    key: unb64(kv.key),
    value: unb64(kv.value),
  }));
  const config = await c.request('POST', `${base}/kv/range`, { key: b64(`${prefix}/config`) });
  if (config.code !== 200) throw etcdError(c, 'v3', config);
  const cfg = (config.json as { kvs?: { value?: string }[] })?.kvs?.[0];
  const out: EtcdSubnets = { schemaVersion: 1, kind: 'FlannelSubnets', prefix, subnets: {} };
  if (cfg) out.config = unb64(cfg.value);
  for (const kv of kvs) out.subnets[leaseKey(kv.key)] = kv.value;
  return out;
}

interface V2Node {
  key?: string;
  value?: string;
  dir?: boolean;
  nodes?: V2Node[];
}

async function readV2(c: EtcdClient, prefix: string): Promise<EtcdSubnets | undefined> {
  const path = (k: string) => `/v2/keys${k.split('/').map(encodeURIComponent).join('/')}`;
  const subnets = await c.request('GET', `${path(`${prefix}/subnets`)}?recursive=true`);
  // 404 with an etcd error body (errorCode 100): no such key. 404 without one: the v2 API is not enabled.
  const errorCode = (subnets.json as { errorCode?: number })?.errorCode;
  if (subnets.code === 404 && errorCode === undefined) return undefined;
  if (subnets.code !== 200 && errorCode !== 100) throw etcdError(c, 'v2', subnets);
  const out: EtcdSubnets = { schemaVersion: 1, kind: 'FlannelSubnets', prefix, subnets: {} };
  const walk = (n: V2Node | undefined) => {
    if (!n) return;
    if (!n.dir && n.key !== undefined && n.value !== undefined) out.subnets[leaseKey(n.key)] = n.value;
    for (const child of n.nodes ?? []) walk(child);
  };
  if (subnets.code === 200) walk((subnets.json as { node?: V2Node }).node);
  const config = await c.request('GET', path(`${prefix}/config`));
  if (config.code === 200) {
    const v = (config.json as { node?: V2Node }).node?.value;
    if (v !== undefined) out.config = v;
  }
  return out;
}

function etcdError(c: EtcdClient, api: string, a: Answer): LiveError {
  const said =
    (a.json as { message?: string; error?: string })?.message ??
    (a.json as { error?: string })?.error ??
    a.text.trim().split('\n')[0];
  return new LiveError(`etcd at ${c.endpoint} (${api} API) answered HTTP ${a.code}${said ? `: ${said}` : ''}`);
}

/** Reads flannel's leases from the first endpoint that answers. */
export async function readFlannelSubnets(o: EtcdOptions): Promise<EtcdRead> {
  if (o.endpoints.length === 0) throw new InputError('--etcd-endpoints: no endpoint given');
  const prefix = (o.prefix ?? DEFAULT_ETCD_PREFIX).replace(/\/+$/, '');
  const api = o.api ?? 'auto';
  const errors: string[] = [];
  for (const endpoint of o.endpoints) {
    if (!/^https?:\/\//.test(endpoint))
      throw new InputError(`--etcd-endpoints: "${endpoint}" is not a URL (http://HOST:2379 or https://HOST:2379)`);
    const c = new EtcdClient(endpoint, o);
    try {
      if (api === 'v3' || api === 'auto') {
        const v3 = await readV3(c, prefix);
        if (v3 && (api === 'v3' || Object.keys(v3.subnets).length > 0 || v3.config !== undefined))
          return { subnets: v3, api: 'v3', endpoint };
        if (!v3 && api === 'v3') throw new LiveError(`etcd at ${endpoint} serves no v3 JSON gateway`);
      }
      const v2 = await readV2(c, prefix);
      if (v2) return { subnets: v2, api: 'v2', endpoint };
      if (api === 'v2') throw new LiveError(`etcd at ${endpoint} serves no v2 API (etcd runs without --enable-v2)`);
      // auto: neither API holds anything; an empty v3 answer is the truth.
      return { subnets: { schemaVersion: 1, kind: 'FlannelSubnets', prefix, subnets: {} }, api: 'v3', endpoint };
    } catch (e) {
      if (e instanceof InputError) throw e;
      errors.push((e as Error).message);
    }
  }
  throw new LiveError(errors.join('; '));
}
