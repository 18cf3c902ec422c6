/**
 * flannel's leases read from a real etcd (Debian's etcd-server) on loopback, through the v3 JSON gateway and the v2
 * API, as seed 004's `etcdctl ls /coreos.com/network/subnets` showed them. The test starts etcd on free ports with a
 * temporary data directory and kills it by PID in finally.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
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

interface Tls {
  ca: string;
  cert: string;
  key: string;
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, with openssl (files in `dir`). */
function makeCerts(dir: string): { server: Tls; client: Tls } {
  const ossl = (args: string[]) => {
    const r = spawnSync('openssl', args, { encoding: 'utf8', cwd: dir });
    if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ossl(['req', '-x509', ...ec, '-days', '1', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=nd-test-ca']);
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n'],
    ['client', 'extendedKeyUsage=clientAuth\n'],
  ] as const) {
    writeFileSync(join(dir, `${name}.ext`), ext);
    ossl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=nd-${name}`]);
    ossl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '1',
      ].concat(['-out', `${name}.pem`, '-extfile', `${name}.ext`]),
    );
  }
  const tls = (name: string) => ({
    ca: join(dir, 'ca.pem'),
    cert: join(dir, `${name}.pem`),
    key: join(dir, `${name}.key`),
  });
  return { server: tls('server'), client: tls('client') };
}

function healthy(url: string, tls?: Tls): Promise<boolean> {
  return new Promise((resolve) => {
    const opts = tls ? { ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key) } : {};
    const req = (url.startsWith('https') ? httpsGet : httpGet)(`${url}/health`, opts, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(1000, () => req.destroy());
  });
}

async function startEtcd(dir: string, tls?: { server: Tls }): Promise<{ proc: ChildProcess; url: string }> {
  const client = await freePort();
  const peer = await freePort();
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${client}`;
  const tlsArgs = tls
    ? [
        '--cert-file',
        tls.server.cert,
        '--key-file',
        tls.server.key,
        '--trusted-ca-file',
        tls.server.ca,
        '--client-cert-auth',
      ]
    : [];
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
      ...tlsArgs,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  proc.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  for (let i = 0; i < 100; i++) {
    // The server's certificate is also a client one (clientAuth), good enough for the health check.
    if (await healthy(url, tls?.server)) return { proc, url };
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
    await t.test('TLS with a client certificate: --etcd-cafile, --etcd-certfile, --etcd-keyfile', async () => {
      const tlsDir = join(dir, 'tls');
      mkdirSync(tlsDir);
      const certs = makeCerts(tlsDir);
      const secure = await startEtcd(join(dir, 'tls'), certs);
      try {
        const c = certs.client;
        const r = await readFlannelSubnets({ endpoints: [secure.url], cafile: c.ca, certfile: c.cert, keyfile: c.key });
        assert.equal(r.endpoint, secure.url);
        assert.deepEqual(r.subnets.subnets, {});
        // Without the client certificate etcd refuses the handshake; without the CA the server is not trusted.
        await assert.rejects(
          readFlannelSubnets({ endpoints: [secure.url], cafile: c.ca }),
          /cannot reach etcd at https:\/\/127\.0\.0\.1:\d+/,
        );
        await assert.rejects(
          readFlannelSubnets({ endpoints: [secure.url], certfile: c.cert, keyfile: c.key }),
          /cannot reach etcd at https:\/\/127\.0\.0\.1:\d+: .*certificate/,
        );
      } finally {
        if (secure.proc.pid) process.kill(secure.proc.pid, 'SIGKILL');
      }
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
