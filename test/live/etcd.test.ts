/**
 * flannel's leases read from a real etcd (Debian's etcd-server) on loopback, through the v3 JSON gateway and the v2
 * API, as seed 004's `etcdctl ls /coreos.com/network/subnets` showed them. The test starts etcd on free ports with a
 * temporary data directory and kills it by PID in finally.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readFlannelSubnets } from '../../src/live/etcd.js';
import { FakeApiServer, kubeconfigFor } from './fake-apiserver.js';
import { netdoctorAsync } from './run-cli.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function startEtcd(dir: string): Promise<{ proc: ChildProcess; url: string }> {
  const client = await freePort();
  const peer = await freePort();
  const url = `http://127.0.0.1:${client}`;
  const proc = spawn(
    'etcd',
    [
      '--name',
      'nd-test',
      '--data-dir',
      join(dir, 'data'),
      '--listen-client-urls',
      url,
      '--advertise-client-urls',
      url,
      '--listen-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-cluster',
      `nd-test=http://127.0.0.1:${peer}`,
      '--enable-v2=true',
      '--log-level',
      'error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  proc.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) return { proc, url };
    } catch {
      // not up yet
    }
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  throw new Error(`etcd did not start: ${err.slice(0, 500)}`);
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const LEASE_36 = '{"PublicIP":"10.0.0.36","BackendType":"vxlan","BackendData":{"VtepMAC":"2a:2c:21:3a:58:21"}}';
const LEASE_33 = '{"PublicIP":"10.0.0.33","BackendType":"vxlan","BackendData":{"VtepMAC":"b2:83:33:7b:fd:37"}}';
const CONFIG = '{"Network":"172.17.0.0/16","Backend":{"Type":"vxlan"}}';

async function v3put(url: string, key: string, value: string): Promise<void> {
  const r = await fetch(`${url}/v3/kv/put`, {
    method: 'POST',
    body: JSON.stringify({ key: b64(key), value: b64(value) }),
  });
  assert.equal(r.status, 200, await r.text());
}

async function v2put(url: string, key: string, value: string): Promise<void> {
  const r = await fetch(`${url}/v2/keys${key}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ value }).toString(),
  });
  assert.ok(r.status === 200 || r.status === 201, await r.text());
}

test('flannel leases from a real etcd: v3 gateway, v2 keys, auto, and errors', async (t) => {
  if (spawnSync('etcd', ['--version']).status !== 0) {
    if (process.env.CI === 'true') throw new Error('etcd (Debian etcd-server) is not installed');
    t.skip('etcd is not installed (Debian etcd-server)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'netdoctor-etcd-'));
  let proc: ChildProcess | undefined;
  try {
    const etcd = await startEtcd(dir);
    proc = etcd.proc;
    const url = etcd.url;

    await t.test('v2 store (flannel before 0.13): every lease and the config', async () => {
      await v2put(url, '/coreos.com/network/config', CONFIG);
      await v2put(url, '/coreos.com/network/subnets/172.17.9.0-24', LEASE_36);
      await v2put(url, '/coreos.com/network/subnets/172.17.83.0-24', LEASE_33);
      const r = await readFlannelSubnets({ endpoints: [url], api: 'v2' });
      assert.equal(r.api, 'v2');
      assert.equal(r.subnets.kind, 'FlannelSubnets');
      assert.equal(r.subnets.config, CONFIG);
      assert.deepEqual(r.subnets.subnets, { '172.17.9.0-24': LEASE_36, '172.17.83.0-24': LEASE_33 });
      // v3 is a separate key space: nothing there yet, so auto falls back to v2.
      const auto = await readFlannelSubnets({ endpoints: [url] });
      assert.equal(auto.api, 'v2');
      assert.deepEqual(Object.keys(auto.subnets.subnets).sort(), ['172.17.83.0-24', '172.17.9.0-24']);
    });

    await t.test('v3 gateway: a prefix range, base64 keys; neighbours of the prefix are not read', async () => {
      await v3put(url, '/coreos.com/network/config', CONFIG);
      await v3put(url, '/coreos.com/network/subnets/172.17.9.0-24', LEASE_36);
      // A key right after the prefix range and one that merely shares the text: neither is a lease.
      await v3put(url, '/coreos.com/network/subnets0', 'not a lease');
      await v3put(url, '/coreos.com/network/subnetsX/1', 'not a lease');
      const r = await readFlannelSubnets({ endpoints: [url], api: 'v3' });
      assert.equal(r.api, 'v3');
      assert.equal(r.subnets.config, CONFIG);
      assert.deepEqual(r.subnets.subnets, { '172.17.9.0-24': LEASE_36 });
      const auto = await readFlannelSubnets({ endpoints: [url] });
      assert.equal(auto.api, 'v3', 'auto prefers v3 when it holds leases');
    });

    await t.test('collect --live writes etcd/subnets.json; bad endpoints fail with the address', async () => {
      const down = `http://127.0.0.1:${await freePort()}`;
      await assert.rejects(readFlannelSubnets({ endpoints: [down] }), new RegExp(`cannot reach etcd at ${down}`));
      // The first endpoint is down, the second answers.
      const r = await readFlannelSubnets({ endpoints: [down, url], api: 'v3' });
      assert.equal(r.endpoint, url);
      await assert.rejects(readFlannelSubnets({ endpoints: ['10.0.0.1:2379'] }), /is not a URL/);
      await assert.rejects(
        readFlannelSubnets({ endpoints: [url], cafile: join(dir, 'missing-ca.pem') }),
        /missing-ca\.pem: cannot read --etcd-cafile: ENOENT/,
      );
      // A cluster with no node: the bundle holds the objects and the leases.
      const fake = new FakeApiServer({ objects: [], nodeNetns: new Map(), token: 't' });
      try {
        const api = await fake.start();
        writeFileSync(join(dir, 'kc'), kubeconfigFor(api, 't', fake.tls.cert));
        const cli = await netdoctorAsync([
          'collect',
          '--live',
          '--kubeconfig',
          join(dir, 'kc'),
          '--etcd-endpoints',
          `${down},${url}`,
          '-o',
          join(dir, 'bundle'),
        ]);
        assert.equal(cli.status, 0, cli.stderr);
        assert.match(cli.stderr, new RegExp(`etcd ${url} \\(v3 API\\): 1 flannel leases`));
      } finally {
        await fake.close();
      }
      const saved = JSON.parse(readFileSync(join(dir, 'bundle', 'etcd', 'subnets.json'), 'utf8')) as {
        subnets: Record<string, string>;
      };
      assert.deepEqual(saved.subnets, { '172.17.9.0-24': LEASE_36 });
    });
  } finally {
    if (proc?.pid) {
      try {
        process.kill(proc.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
