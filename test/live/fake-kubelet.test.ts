/**
 * The test API server's kubelet for pods of the pod network (what `probe --live` creates): on the lab, a pod that is
 * not hostNetwork gets a namespace of its own on its node's cni0 and an address of the node's pod subnet; its
 * containers' commands really run there with their env (an echo server answering with the pod's name), Ready once the
 * readinessProbe's port listens; exec runs in the pod's namespace with the named container's env; traffic between
 * two such pods on two nodes crosses the lab's real overlay. Deleting the pods removes their namespaces and processes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { labDown, labUp } from '../../src/lab/lab.js';
import { KubeApi, loadKubeConfig } from '../../src/live/api.js';
import { execInPod } from '../../src/live/exec.js';
import { needsRoot } from '../support/netns.js';
import { type FakeApiOptions, FakeApiServer, kubeconfigFor } from './fake-apiserver.js';

const TOKEN = 'kubelet-token';
const NS = 'netdoctor';

/** A TCP and UDP echo server on NETDOCTOR_ECHO_PORT answering with NETDOCTOR_ECHO_NAME (as the probe's agent does). */
const ECHO_SERVER = `
const net = require('node:net');
const dgram = require('node:dgram');
const name = process.env.NETDOCTOR_ECHO_NAME;
const port = Number(process.env.NETDOCTOR_ECHO_PORT);
net.createServer((s) => { s.on('error', () => {}); s.end(name + '\\n'); }).listen(port, '0.0.0.0');
const u = dgram.createSocket('udp4');
u.on('message', (m, r) => u.send(name + '\\n', r.port, r.address));
u.bind(port, '0.0.0.0');
`;

/** Prints what TCP port 8080 of argv[1] answers (exit 1 on an error or after 5 s). */
const TCP_CLIENT = `
const s = require('node:net').connect(8080, process.argv[1]);
let got = '';
s.setTimeout(5000, () => { console.error('timeout'); process.exit(1); });
s.on('data', (d) => { got += d; });
s.on('end', () => { process.stdout.write(got); process.exit(0); });
s.on('error', (e) => { console.error(e.message); process.exit(1); });
`;

function echoPod(name: string, node: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { 'app.kubernetes.io/managed-by': 'netdoctor' } },
    spec: {
      nodeName: node,
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 0,
      containers: [
        {
          name: 'agent',
          image: 'docker.io/library/node:22-alpine',
          command: ['node', '-e', ECHO_SERVER],
          env: [
            { name: 'NETDOCTOR_ECHO_NAME', value: name },
            { name: 'NETDOCTOR_ECHO_PORT', value: '8080' },
            { name: 'NETDOCTOR_AGENT', value: '/* the probe agent */' },
          ],
          readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
        },
        { name: 'tools', image: 'docker.io/nicolaka/netshoot:v0.13', command: ['sleep', '600'] },
      ],
    },
  };
}

interface PodStatus {
  phase?: string;
  podIP?: string;
  podIPs?: { ip: string }[];
  hostIP?: string;
  conditions?: { type: string; status: string }[];
  containerStatuses?: { name: string; ready: boolean; state: Record<string, unknown> }[];
}

const ready = (s: PodStatus) =>
  s.phase === 'Running' && s.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

function netnsList(): string[] {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function run(api: KubeApi, pod: string, container: string, command: string[]) {
  let stdout = '';
  let stderr = '';
  const r = await execInPod(api, {
    namespace: NS,
    pod,
    container,
    command,
    onStdout: (c) => {
      stdout += c;
    },
    onStderr: (c) => {
      stderr += c;
    },
  });
  return { stdout, stderr, exitCode: r.exitCode };
}

test('pods of the pod network get a namespace on their node, run their containers, and talk across the overlay', async (t) => {
  if (!needsRoot(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'netdoctor-fake-kubelet-test-'));
  const statePath = join(dir, 'lab.json');
  let fake: FakeApiServer | undefined;
  try {
    const lab = await labUp({ nodes: 2, seed: 31, statePath });
    fake = new FakeApiServer({
      objects: [
        ...(lab.clusterList() as { items: FakeApiOptions['objects'] }).items,
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
      ],
      nodeNetns: new Map(lab.plan.nodes.map((n) => [n.name, n.netns])),
      labPlan: lab.plan,
      token: TOKEN,
    });
    const url = await fake.start();
    const kc = join(dir, 'kubeconfig');
    writeFileSync(kc, kubeconfigFor(url, TOKEN, fake.tls.cert));
    const api = new KubeApi(loadKubeConfig({ kubeconfig: kc }).kc);

    const [n1, n2] = lab.plan.nodes;
    assert.ok(n1 && n2);
    const pods = [
      { name: 'netdoctor-echo-a', node: n1 },
      { name: 'netdoctor-echo-b', node: n2 },
    ];
    for (const p of pods)
      await api.request('POST', `/api/v1/namespaces/${NS}/pods`, { body: echoPod(p.name, p.node.name) });
    // A host pod: hostNetwork, two sleeping containers, in its node's namespace.
    const host = echoPod('netdoctor-host-a', n1.name) as { spec: Record<string, unknown> };
    host.spec.hostNetwork = true;
    (host.spec.containers as { command: string[] }[])[0] = {
      ...(host.spec.containers as object[])[0],
      command: ['sleep', '600'],
    } as { command: string[] };
    delete (host.spec.containers as { readinessProbe?: unknown }[])[0]?.readinessProbe;
    await api.request('POST', `/api/v1/namespaces/${NS}/pods`, { body: host });

    const status: Record<string, PodStatus> = {};
    const deadline = Date.now() + 30_000;
    for (const name of [...pods.map((p) => p.name), 'netdoctor-host-a']) {
      for (let i = 0; i < 600 && Date.now() < deadline; i++) {
        const o = await api.request<{ status: PodStatus }>('GET', `/api/v1/namespaces/${NS}/pods/${name}`);
        status[name] = o.status;
        if (ready(o.status)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(
        ready(status[name] ?? {}),
        `${name} Running and Ready: ${JSON.stringify(status[name])} ${fake.kubeletErrors.join('; ')} ${fake.containerLog(NS, name, 'agent')}`,
      );
    }

    const podNetns: string[] = [];
    const pids: number[] = [];
    for (const p of pods) {
      const s = status[p.name] as PodStatus;
      const prefix = p.node.podCIDR.replace(/\.0\/24$/, '.');
      assert.ok(s.podIP?.startsWith(prefix), `${p.name}'s podIP ${s.podIP} is in ${p.node.podCIDR}`);
      assert.ok(!lab.plan.pods.some((x) => x.ip === s.podIP), "not an address of the lab's own pods");
      assert.deepEqual(s.podIPs, [{ ip: s.podIP }]);
      assert.equal(s.hostIP, p.node.ip);
      assert.deepEqual(
        s.containerStatuses?.map((c) => [c.name, c.ready, Object.keys(c.state)[0]]),
        [
          ['agent', true, 'running'],
          ['tools', true, 'running'],
        ],
      );

      const addr = await run(api, p.name, 'tools', ['ip', '-4', '-o', 'addr', 'show', 'eth0']);
      assert.equal(addr.exitCode, 0, addr.stderr);
      assert.match(addr.stdout, new RegExp(` inet ${(s.podIP as string).replaceAll('.', '\\.')}/24 `));
      // Each container's own env; the pod's own hostname.
      const env = await run(api, p.name, 'agent', ['sh', '-c', 'echo "$NETDOCTOR_ECHO_NAME $(hostname)"']);
      assert.equal(env.stdout.trim(), `${p.name} ${p.name}`);
      const toolsEnv = await run(api, p.name, 'tools', ['sh', '-c', 'echo "[$NETDOCTOR_ECHO_NAME]"']);
      assert.equal(toolsEnv.stdout.trim(), '[]');

      const ns = fake.podNetns(NS, p.name);
      assert.ok(ns?.startsWith(`${lab.prefix}-`), `the pod's namespace ${ns} carries the lab's prefix`);
      assert.ok(netnsList().includes(ns as string));
      podNetns.push(ns as string);
      const own = fake.podPids(NS, p.name);
      assert.equal(own.length, 1, 'one process: the agent (tools only sleeps)');
      pids.push(...own);
    }
    assert.match(fake.containerLog(NS, 'netdoctor-echo-a', 'agent'), /^$/, 'the echo server wrote nothing');

    // Pod A -> pod B (another node) over the lab's VXLAN overlay, TCP.
    const [a, b] = pods.map((p) => status[p.name] as PodStatus);
    const tcp = await run(api, 'netdoctor-echo-a', 'agent', ['node', '-e', TCP_CLIENT, b?.podIP as string]);
    assert.equal(tcp.exitCode, 0, tcp.stderr);
    assert.equal(tcp.stdout.trim(), 'netdoctor-echo-b');
    // And back, by ping from the tools container.
    const ping = await run(api, 'netdoctor-echo-b', 'tools', ['ping', '-c', '1', '-W', '2', a?.podIP as string]);
    assert.equal(ping.exitCode, 0, ping.stdout + ping.stderr);

    // The host pod: the node's namespace and address, its hostname, the named container's env.
    const hostStatus = status['netdoctor-host-a'] as PodStatus;
    assert.equal(hostStatus.podIP, n1.ip);
    const hostAddr = await run(api, 'netdoctor-host-a', 'tools', ['ip', '-4', '-o', 'addr', 'show', 'eth0']);
    assert.match(hostAddr.stdout, new RegExp(` inet ${n1.ip.replaceAll('.', '\\.')}/`));
    const hostEnv = await run(api, 'netdoctor-host-a', 'agent', [
      'sh',
      '-c',
      'echo "$NETDOCTOR_ECHO_NAME $(hostname)"',
    ]);
    assert.equal(hostEnv.stdout.trim(), `netdoctor-host-a ${n1.name}`);
    assert.equal(fake.podNetns(NS, 'netdoctor-host-a'), n1.netns);

    // The list shows spec and status as a cluster does.
    const list = await api.request<{
      items: { metadata: { name: string }; spec: Record<string, unknown>; status: PodStatus }[];
    }>('GET', '/api/v1/pods');
    const listed = list.items.find((x) => x.metadata.name === 'netdoctor-echo-b');
    assert.ok(listed);
    assert.equal(listed.spec.nodeName, n2.name);
    assert.deepEqual(
      (listed.spec.containers as { name: string }[]).map((c) => c.name),
      ['agent', 'tools'],
    );
    assert.equal(listed.status.podIP, b?.podIP);
    assert.equal(listed.status.phase, 'Running');

    // Exec needs a container name on a two-container pod, and a known one.
    await assert.rejects(run(api, 'netdoctor-echo-a', '', ['true']), /a container name must be specified/);
    await assert.rejects(run(api, 'netdoctor-echo-a', 'nope', ['true']), /container nope is not valid/);

    for (const name of [...pods.map((p) => p.name), 'netdoctor-host-a'])
      await api.request('DELETE', `/api/v1/namespaces/${NS}/pods/${name}`);
    const left = netnsList();
    for (const ns of podNetns) assert.ok(!left.includes(ns), `${ns} is gone`);
    assert.ok(left.includes(n1.netns), "the node's namespace stays");
    for (const pid of pids) assert.equal(pidAlive(pid), false, `process ${pid} is dead`);
    assert.deepEqual(fake.pods(NS), []);
    assert.deepEqual(fake.kubeletErrors, []);
  } finally {
    await fake?.close();
    await labDown(statePath);
    rmSync(dir, { recursive: true, force: true });
  }
});
