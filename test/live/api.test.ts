/**
 * The live path against the test API server, without the lab (no root): pagination and expired continue tokens, an
 * old server without EndpointSlices, only the networking ConfigMaps read by name, kubectl against the fake (a check
 * that the fake is faithful), and the bad inputs — no kubeconfig, unreachable server, expired credentials, a missing
 * context, RBAC denials, an image that cannot be pulled, a node whose pod never starts, Ctrl-C — each one clear line,
 * with partial results where possible.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { clusterList } from '../../src/lab/cluster-json.js';
import { buildPlan } from '../../src/lab/plan.js';
import { KubeApi, loadKubeConfig } from '../../src/live/api.js';
import { listAll, readClusterObjects } from '../../src/live/objects.js';
import { repoRoot } from '../support/paths.js';
import { type FakeApiOptions, FakeApiServer, kubeconfigFor } from './fake-apiserver.js';
import { RBAC_NAMESPACE, rbacAuthorizer } from './rbac.js';
import { CLI, netdoctorAsync } from './run-cli.js';

const TOKEN = 'token-of-netdoctor';
const plan = buildPlan({ nodes: 3, seed: 5, prefix: 'ndfake' });
const objects = (clusterList(plan) as { items: FakeApiOptions['objects'] }).items;
const nodeNames = plan.nodes.map((n) => n.name);
const cli = CLI;

async function withFake<T>(
  extra: Partial<FakeApiOptions>,
  fn: (fake: FakeApiServer, kubeconfig: string, dir: string) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'netdoctor-live-'));
  const fake = new FakeApiServer({
    objects,
    nodeNetns: new Map(plan.nodes.map((n) => [n.name, n.netns])),
    token: TOKEN,
    user: 'system:serviceaccount:netdoctor:netdoctor',
    ...extra,
  });
  try {
    const url = await fake.start();
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigFor(url, extra.token ?? TOKEN, fake.tls.cert));
    return await fn(fake, kubeconfig, dir);
  } finally {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('lists are read page by page; an expired continue token restarts the list; kind and apiVersion are set', async () => {
  await withFake({ maxPage: 2, expireNextContinue: true }, async (fake, kubeconfig) => {
    const api = new KubeApi(loadKubeConfig({ kubeconfig }).kc);
    const pods = await listAll(api, { resource: 'pods', kind: 'Pod', apiVersion: 'v1' }, { pageSize: 2 });
    const expected = objects.filter((o) => o.kind === 'Pod').map((o) => o.metadata.name);
    assert.deepEqual(
      pods.map((p) => p.metadata.name),
      expected,
    );
    assert.ok(pods.every((p) => p.kind === 'Pod' && p.apiVersion === 'v1'));
    const pages = fake.requests.filter((r) => r === 'GET /api/v1/pods').length;
    assert.ok(pages > expected.length / 2, `read in pages of 2 (${pages} requests), restarted once after the 410`);
  });
});

test('cluster objects: every listed kind, only the networking ConfigMaps by name; an old server without EndpointSlices', async () => {
  const users = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'app-settings', namespace: 'kube-system' },
    data: { password: 'hunter2' },
  };
  await withFake({ objects: [...objects, users] }, async (fake, kubeconfig) => {
    const api = new KubeApi(loadKubeConfig({ kubeconfig }).kc);
    const r = await readClusterObjects(api);
    assert.deepEqual(r.problems, []);
    const kinds = new Set(r.list.items.map((o) => o.kind));
    for (const k of ['Node', 'Pod', 'Service', 'Endpoints', 'EndpointSlice', 'DaemonSet', 'ConfigMap'])
      assert.ok(kinds.has(k), k);
    const cms = r.list.items.filter((o) => o.kind === 'ConfigMap').map((o) => o.metadata.name);
    assert.deepEqual(cms.sort(), ['coredns', 'kube-flannel-cfg', 'kube-proxy']);
    assert.ok(!fake.requests.some((q) => /\/configmaps$/.test(q)), 'ConfigMaps are never listed');
    assert.ok(!fake.requests.some((q) => /secrets/.test(q)), 'no Secret is read');
  });
  await withFake({ noEndpointSlices: true }, async (_fake, kubeconfig) => {
    const api = new KubeApi(loadKubeConfig({ kubeconfig }).kc);
    const r = await readClusterObjects(api);
    assert.deepEqual(r.problems, []);
    assert.match(r.notes.join('\n'), /no EndpointSlices .*Endpoints are used/);
    assert.ok(!r.list.items.some((o) => o.kind === 'EndpointSlice'));
    assert.ok(r.list.items.some((o) => o.kind === 'Endpoints'));
  });
});

test('kubectl get nodes,pods -A works against the test API server', async (t) => {
  if (spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status !== 0) {
    if (process.env.CI === 'true') throw new Error('kubectl is not installed');
    t.skip('kubectl is not installed');
    return;
  }
  await withFake({ maxPage: 3 }, async (_fake, kubeconfig) => {
    const r = await new Promise<{ status: number; out: string; err: string }>((resolve) => {
      const c = spawn('kubectl', ['--kubeconfig', kubeconfig, 'get', 'nodes,pods', '-A', '--request-timeout=20s']);
      let out = '';
      let err = '';
      c.stdout.on('data', (b: Buffer) => {
        out += b;
      });
      c.stderr.on('data', (b: Buffer) => {
        err += b;
      });
      c.on('close', (code) => resolve({ status: code ?? -1, out, err }));
    });
    assert.equal(r.status, 0, r.err);
    for (const n of nodeNames) assert.match(r.out, new RegExp(`node/${n}\\b`));
    const pods = objects.filter((o) => o.kind === 'Pod');
    for (const p of pods) assert.match(r.out, new RegExp(`pod/${p.metadata.name}\\b`), `${p.metadata.name} listed`);
  });
});

test('bad input: one clear line each', async (t) => {
  await t.test('no kubeconfig', async () => {
    const home = mkdtempSync(join(tmpdir(), 'netdoctor-home-'));
    try {
      const r = await netdoctorAsync(['diagnose', '--live'], { HOME: home, KUBECONFIG: '' });
      assert.equal(r.status, 2);
      assert.match(r.stderr, /no kubeconfig: .*\.kube\/config does not exist/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
  await t.test('unreachable server: fails fast, naming the address', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const dir = mkdtempSync(join(tmpdir(), 'netdoctor-kc-'));
    try {
      writeFileSync(join(dir, 'kc'), kubeconfigFor(`https://127.0.0.1:${port}`, TOKEN, ''));
      const t0 = Date.now();
      const r = await netdoctorAsync(['diagnose', '--live', '--kubeconfig', join(dir, 'kc')]);
      assert.equal(r.status, 2);
      assert.match(
        r.stderr,
        new RegExp(`cannot reach the API server at https://127\\.0\\.0\\.1:${port}: connection refused`),
      );
      assert.ok(Date.now() - t0 < 20_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  await t.test('expired credentials (401)', async () => {
    await withFake({}, async (_f, _kc, dir) => {
      const kc = join(dir, 'expired');
      writeFileSync(kc, kubeconfigFor(_f.url, 'expired-token', _f.tls.cert));
      const r = await netdoctorAsync(['diagnose', '--live', '--kubeconfig', kc]);
      assert.equal(r.status, 2);
      assert.match(
        r.stderr,
        /refused the credentials of context "fake" \(401 Unauthorized\): they are expired or invalid/,
      );
    });
  });
  await t.test('a context that does not exist', async () => {
    await withFake({}, async (_f, kc) => {
      const r = await netdoctorAsync(['diagnose', '--live', '--kubeconfig', kc, '--context', 'prod']);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /no context "prod" in the kubeconfig \(contexts: fake\)/);
    });
  });
  await t.test('RBAC: listing nodes denied names the verb and resource', async () => {
    await withFake({ deny: [{ verb: 'list', resource: 'nodes' }] }, async (_f, kc) => {
      const r = await netdoctorAsync(['diagnose', '--live', '--kubeconfig', kc]);
      assert.equal(r.status, 2);
      assert.match(
        r.stderr,
        /nodes: RBAC denied: nodes is forbidden: User "system:serviceaccount:netdoctor:netdoctor" cannot list resource "nodes" in API group "" at the cluster scope \(netdoctor needs "list" on nodes; see deploy\/rbac\.yaml\)/,
      );
      assert.match(r.stderr, /cannot list the nodes .*--nodes/);
    });
  });
  await t.test('RBAC: exec denied, image pull failure, a node whose pod never starts: partial results', async () => {
    const [a, b, c] = nodeNames as [string, string, string];
    await withFake(
      {
        deny: [{ verb: 'create', resource: 'pods/exec' }],
        deadNodes: new Set([c]),
        unpullable: (img) => img.includes('nosuch'),
      },
      async (fake, kc, dir) => {
        const out = join(dir, 'bundle');
        const r = await netdoctorAsync([
          'collect',
          '--live',
          '--kubeconfig',
          kc,
          '-o',
          out,
          '--timeout',
          '3s',
          '--nodes',
          `${a},${c}`,
        ]);
        assert.equal(r.status, 1, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(
            `${a}: FAILED: RBAC denied: pods "netdoctor-[^"]+" is forbidden: .*cannot create resource "pods/exec" in API group "" in the namespace "netdoctor"`,
          ),
        );
        assert.match(
          r.stderr,
          new RegExp(`${c}: FAILED: timed out after 3 s waiting for the pod to run \\(pod Pending\\)`),
        );
        assert.ok(existsSync(join(out, 'cluster.json')), 'the cluster objects are still written');
        assert.match(r.stderr, /0 of 2 nodes collected/);
        const img = await netdoctorAsync([
          'collect',
          '--live',
          '--kubeconfig',
          kc,
          '-o',
          out,
          '--nodes',
          b,
          '--image',
          'example.org/nosuch:1',
        ]);
        assert.equal(img.status, 1);
        assert.match(
          img.stderr,
          new RegExp(
            `${b}: FAILED: the image could not be pulled: ErrImagePull: failed to pull and unpack image "example.org/nosuch:1"`,
          ),
        );
        assert.deepEqual(fake.pods('netdoctor'), [], 'every pod was deleted');
        assert.equal(fake.created.length, 3);
      },
    );
  });
  await t.test('Ctrl-C mid-run deletes every pod it created', async () => {
    await withFake({ deadNodes: new Set(nodeNames) }, async (fake, kc, dir) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', cli, 'collect', '--live', '--kubeconfig', kc, '-o', join(dir, 'b'), '--timeout', '60s'],
        {
          cwd: repoRoot,
          env: { ...process.env, NO_COLOR: '1' },
        },
      );
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => {
        stderr += c;
      });
      const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
      const deadline = Date.now() + 30_000;
      while (fake.pods('netdoctor').length < nodeNames.length && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      assert.equal(fake.pods('netdoctor').length, nodeNames.length, `the pods are there: ${stderr}`);
      child.kill('SIGINT');
      const code = await exited;
      assert.equal(code, 2, stderr);
      assert.match(stderr, /SIGINT: deleting the collector pods \(3\)/);
      assert.match(stderr, /interrupted; every collector pod of this run was deleted/);
      assert.deepEqual(fake.pods('netdoctor'), []);
      assert.equal(fake.created.length, nodeNames.length);
    });
  });
  await t.test('cleanup removes leftovers by label, and only them', async () => {
    const leftover = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'netdoctor-old-1',
        namespace: 'netdoctor',
        labels: { 'app.kubernetes.io/managed-by': 'netdoctor' },
      },
      spec: { nodeName: nodeNames[0], containers: [{ name: 'collector', image: 'x' }] },
      status: { phase: 'Running' },
    };
    const other = { ...leftover, metadata: { name: 'users-pod', namespace: 'netdoctor', labels: { app: 'web' } } };
    await withFake({ objects: [...objects, leftover, other] }, async (fake, kc) => {
      const r = await netdoctorAsync(['cleanup', '--kubeconfig', kc]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /deleted pod netdoctor\/netdoctor-old-1/);
      assert.deepEqual(
        fake.pods('netdoctor').map((p) => p.metadata.name),
        ['users-pod'],
      );
    });
  });
});

test('deploy/rbac.yaml grants what a live run uses; without its pods/exec rule the run names what is missing', async () => {
  const api = rbacAuthorizer();
  // The namespace exists, as deploy/rbac.yaml creates it.
  const ns = RBAC_NAMESPACE;
  await withFake({ objects: [...objects, ns], authorize: api }, async (fake, kc, dir) => {
    const r = await netdoctorAsync(['collect', '--live', '--kubeconfig', kc, '-o', join(dir, 'b'), '--timeout', '20s']);
    assert.doesNotMatch(r.stderr, /RBAC denied|forbidden/, r.stderr);
    // The exec itself ran (into node namespaces that do not exist here, so the nodes fail after RBAC let them in).
    assert.equal(fake.requests.filter((q) => q.startsWith('UPGRADE ')).length, nodeNames.length);
    assert.ok(fake.requests.some((q) => q === 'GET /api/v1/namespaces/kube-system/configmaps/kube-proxy'));
    assert.deepEqual(fake.pods('netdoctor'), []);
  });
  const noExec = rbacAuthorizer((rule) => rule.resources.includes('pods/exec'));
  await withFake({ objects: [...objects, ns], authorize: noExec }, async (_fake, kc, dir) => {
    const r = await netdoctorAsync([
      'collect',
      '--live',
      '--kubeconfig',
      kc,
      '-o',
      join(dir, 'b'),
      '--nodes',
      nodeNames[0] as string,
    ]);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /FAILED: RBAC denied: pods "netdoctor-[^"]+" is forbidden: .* cannot create resource "pods\/exec" .*\(netdoctor needs "create" on pods\/exec; see deploy\/rbac\.yaml\)/,
    );
  });
});

test('Pod Security admission: the namespace is labelled when allowed; otherwise the run says exactly why the pods were refused', async () => {
  const baseline = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'netdoctor', labels: { 'pod-security.kubernetes.io/enforce': 'baseline' } },
  };
  const node = nodeNames[0] as string;
  await withFake(
    { objects: [...objects, baseline], podSecurity: true, deny: [{ verb: 'patch', resource: 'namespaces' }] },
    async (fake, kc, dir) => {
      const r = await netdoctorAsync(['collect', '--live', '--kubeconfig', kc, '-o', join(dir, 'b'), '--nodes', node]);
      assert.equal(r.status, 1);
      assert.match(
        r.stderr,
        /warning: namespace netdoctor is not labelled pod-security\.kubernetes\.io\/enforce=privileged/,
      );
      assert.match(
        r.stderr,
        new RegExp(
          `${node}: FAILED: Pod Security admission refused the pod: pods "netdoctor-[^"]+" is forbidden: violates PodSecurity "baseline:latest": host namespaces \\(hostNetwork=true, hostPID=true\\), hostPath volumes \\(volume "host"\\), privileged`,
        ),
      );
      assert.equal(fake.created.length, 0);
    },
  );
  await withFake({ objects: [...objects, baseline], podSecurity: true }, async (fake, kc, dir) => {
    const r = await netdoctorAsync(['collect', '--live', '--kubeconfig', kc, '-o', join(dir, 'b'), '--nodes', node]);
    assert.match(r.stderr, /labelled namespace netdoctor for privileged pods/);
    assert.doesNotMatch(r.stderr, /PodSecurity/);
    assert.equal(fake.created.length, 1, 'the pod was admitted');
    assert.deepEqual(fake.pods('netdoctor'), []);
  });
});

test('a node whose kubelet stopped: the timeout names the NotReady condition', async () => {
  const node = nodeNames[1] as string;
  const patched = objects.map((o) => {
    if (o.kind !== 'Node' || o.metadata.name !== node) return o;
    const copy = structuredClone(o) as typeof o & { status: { conditions: Record<string, string>[] } };
    for (const c of copy.status.conditions)
      if (c.type === 'Ready')
        Object.assign(c, {
          status: 'Unknown',
          reason: 'NodeStatusUnknown',
          message: 'Kubelet stopped posting node status.',
        });
    return copy;
  });
  await withFake({ objects: patched, deadNodes: new Set([node]) }, async (fake, kc, dir) => {
    const r = await netdoctorAsync([
      'collect',
      '--live',
      '--kubeconfig',
      kc,
      '-o',
      join(dir, 'b'),
      '--nodes',
      node,
      '--timeout',
      '2s',
    ]);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      new RegExp(
        `${node}: FAILED: timed out after 2 s waiting for the pod to run \\(pod Pending\\); node is NotReady \\(NodeStatusUnknown: Kubelet stopped posting node status\\.\\)`,
      ),
    );
    assert.deepEqual(fake.pods('netdoctor'), []);
  });
});
