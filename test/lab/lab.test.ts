/**
 * The lab for real: a 3-node cluster in network namespaces carries pod traffic across flannel VXLAN, services through
 * kube-proxy's rules (every endpoint answers), NodePorts and cluster DNS; seed 000 injected with two seeds breaks
 * exactly the traffic to and from the broken node, and reverting heals it. One lab serves every step; it is always
 * removed, and removal is checked (also of a namespace the state file never listed, as after a crash).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { mapLimit } from '../../src/core/async.js';
import { type Lab, labDown, labUp } from '../../src/lab/lab.js';
import type { PodPlan } from '../../src/lab/plan.js';
import { planFault, type Seed000Fault } from '../../src/lab/scenarios.js';
import { run } from '../../src/lab/shell.js';
import { needsRoot } from '../support/netns.js';

/** Probes in flight at once: the machine is small and shared. */
const PARALLEL = 4;

/** One ping, 1 s to answer; a pass may take up to `tries` pings, a failure is every one of them lost. */
async function pings(lab: Lab, from: PodPlan, to: PodPlan, tries: number): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    const r = await lab.exec(from.name, ['ping', '-c', '1', '-W', '1', to.ip], { timeoutMs: 3_000 });
    if (r.status === 0) return true;
  }
  return false;
}

interface PingCase {
  from: PodPlan;
  to: PodPlan;
  want: boolean;
}

async function checkPings(lab: Lab, cases: PingCase[]): Promise<void> {
  const got = await mapLimit(cases, PARALLEL, (c) => pings(lab, c.from, c.to, c.want ? 3 : 2));
  const wrong = cases.filter((c, i) => got[i] !== c.want);
  assert.deepEqual(
    wrong.map((c) => `${c.from.node}/${c.from.name} -> ${c.to.node}/${c.to.name}: ${c.want ? 'lost' : 'answered'}`),
    [],
  );
}

/** Asks a service again and again (bounded in count and time) until every endpoint has answered with its name. */
async function everyEndpointAnswers(lab: Lab, from: PodPlan, argv: string[], input: string, want: string[]) {
  const seen = new Set<string>();
  const deadline = Date.now() + 20_000;
  for (let round = 0; round < 15 && seen.size < want.length && Date.now() < deadline; round++) {
    const answers = await mapLimit([0, 1, 2, 3, 4, 5], PARALLEL, () =>
      lab.exec(from.name, argv, { input, timeoutMs: 3_000 }),
    );
    for (const a of answers) if (a.status === 0 && a.stdout.trim()) seen.add(a.stdout.trim());
  }
  assert.deepEqual([...seen].sort(), [...want].sort(), `${argv.join(' ')} from ${from.name}`);
}

async function resolve(lab: Lab, from: PodPlan, name: string): Promise<string> {
  const script = `const { Resolver } = require('node:dns').promises;
const r = new Resolver({ timeout: 700, tries: 2 });
r.setServers(['10.96.0.10']);
r.resolve4(process.argv[1]).then((a) => console.log(a.join(',')), (e) => { console.error(e.code); process.exit(1); });`;
  const r = await lab.exec(from.name, [process.execPath, '-e', script, name], { timeoutMs: 8_000 });
  return r.status === 0 ? r.stdout.trim() : `failed: ${r.stderr.trim()}`;
}

function echoPods(lab: Lab, node?: string): PodPlan[] {
  return lab.plan.pods.filter((p) => p.role === 'echo' && (node === undefined || p.node === node));
}

/** Pings that must pass or fail under a fault: crossings of the broken node fail, everything else flows. */
function faultCases(lab: Lab, ex: Seed000Fault): PingCase[] {
  const [h1, h2] = ex.healthyNodes;
  const b = ex.brokenNode;
  const first = (node: string, k = 0) => echoPods(lab, node)[k] as PodPlan;
  return [
    { from: first(h1 as string), to: first(b), want: false },
    { from: first(h2 as string), to: first(b, 1), want: false },
    { from: first(b), to: first(h1 as string), want: false },
    { from: first(h1 as string), to: first(h2 as string), want: true },
    { from: first(h2 as string, 1), to: first(h1 as string, 1), want: true },
    { from: first(b), to: first(b, 1), want: true },
  ];
}

/** The broken node's rules, as the kernel lists them, hold what the lab recorded. */
async function checkRecordedRules(lab: Lab, ex: Seed000Fault): Promise<void> {
  const chain = async (node: string, name: string) =>
    (await lab.exec(node, ['iptables-save', '-t', 'filter'])).stdout
      .split('\n')
      .filter((l) => l.startsWith(`-A ${name} `));
  assert.equal((await chain(ex.brokenNode, ex.reject.chain))[ex.reject.index - 1], ex.reject.text);
  assert.equal((await chain(ex.brokenNode, ex.nearMiss.chain))[ex.nearMiss.index - 1], ex.nearMiss.text);
  assert.equal((await chain(ex.healthyRule.node, ex.healthyRule.chain))[ex.healthyRule.index - 1], ex.healthyRule.text);
  const count = async (node: string) => (await lab.exec(node, ['iptables-save'])).stdout.split('\n').length;
  assert.equal(await count(ex.brokenNode), await count(ex.healthyRule.node), 'same line counts, as in the seed');
}

test('lab: a real cluster in namespaces, healthy and with seed 000 injected and reverted', async (t) => {
  if (!needsRoot(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'netdoctor-labtest-'));
  const statePath = join(dir, 'lab.json');
  const started = Date.now();
  let lab: Lab | undefined;
  try {
    lab = await labUp({ nodes: 3, seed: 3, statePath });
    const up = lab;
    t.diagnostic(`lab ${up.prefix} up in ${Date.now() - started} ms`);
    const nodes = up.plan.nodes.map((n) => n.name);
    const echo = up.plan.services.find((s) => s.name === 'echo');
    assert.ok(echo);
    const names = echoPods(up).map((p) => p.name);

    await t.test('healthy: pod to pod on one node and across nodes', async () => {
      const cases: PingCase[] = [];
      for (const a of nodes) {
        const [p0, p1] = echoPods(up, a) as [PodPlan, PodPlan];
        cases.push({ from: p0, to: p1, want: true });
        for (const b of nodes) if (b !== a) cases.push({ from: p1, to: echoPods(up, b)[0] as PodPlan, want: true });
      }
      await checkPings(up, cases);
    });

    await t.test('healthy: a ClusterIP reaches every endpoint over TCP and UDP, a NodePort answers', async () => {
      const client = echoPods(up, 'node3')[0] as PodPlan;
      await everyEndpointAnswers(up, client, ['nc', '-w', '1', echo.clusterIP, '80'], '', names);
      await everyEndpointAnswers(up, client, ['nc', '-u', '-W', '1', '-w', '1', echo.clusterIP, '8080'], 'hi\n', names);
      for (const n of up.plan.nodes) {
        const r = await up.exec('underlay', ['nc', '-w', '1', n.ip, '30080'], { timeoutMs: 3_000 });
        assert.ok(names.includes(r.stdout.trim()), `NodePort on ${n.name}: ${r.stdout}${r.stderr}`);
      }
    });

    await t.test('healthy: cluster DNS through the kube-dns ClusterIP', async () => {
      const answers = await mapLimit(nodes, PARALLEL, (n) =>
        resolve(up, echoPods(up, n)[0] as PodPlan, 'echo.default.svc.cluster.local'),
      );
      assert.deepEqual(
        answers,
        nodes.map(() => echo.clusterIP),
      );
      assert.equal(
        await resolve(up, echoPods(up, 'node1')[1] as PodPlan, 'kube-dns.kube-system.svc.cluster.local'),
        '10.96.0.10',
      );
    });

    // Two seeds that break different nodes, one with firewalld's zone chains and one flat: chosen from the plan.
    const faultOf = (seed: number) => planFault(up.plan, 'seed-000', seed)?.expected as Seed000Fault;
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
    const seedA = seeds.find((s) => faultOf(s).layout.style === 'firewalld') as number;
    const seedB = seeds.find(
      (s) => faultOf(s).layout.style === 'flat' && faultOf(s).brokenNode !== faultOf(seedA).brokenNode,
    ) as number;
    assert.ok(seedA && seedB);
    for (const seed of [seedA, seedB]) {
      await t.test(`seed-000 --seed ${seed}: traffic to and from the broken node fails, the rest flows`, async () => {
        const ex = (await up.inject('seed-000', seed)) as Seed000Fault;
        assert.ok(ex);
        assert.equal(up.expected?.brokenNode, ex.brokenNode);
        t.diagnostic(`seed ${seed}: ${ex.summary}`);
        await checkRecordedRules(up, ex);
        await checkPings(up, faultCases(up, ex));
      });
      await t.test(`seed-000 --seed ${seed}: revert heals it`, async () => {
        const ex = up.expected as Seed000Fault;
        await up.revert();
        assert.equal(up.expected, undefined);
        await checkPings(
          up,
          faultCases(up, ex).map((c) => ({ ...c, want: true })),
        );
      });
    }
  } finally {
    if (lab) {
      const { prefix, processes } = lab.state;
      const workDir = lab.state.workDir;
      // As after a crash: a namespace the state file never listed, which carries the lab's prefix.
      await run('ip', ['netns', 'add', `${prefix}-orphan`]);
      const report = await labDown(statePath);
      assert.ok(report.namespaces.includes(`${prefix}-orphan`));
      const left = (await run('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(`${prefix}-`));
      assert.deepEqual(left, []);
      for (const p of processes) assert.ok(!isOurs(p.pid, workDir), `${p.what} still runs`);
      assert.ok(!existsSync(statePath) && !existsSync(workDir));
    } else {
      await labDown(statePath);
    }
    rmSync(dir, { recursive: true, force: true });
    t.diagnostic(`whole test ${Date.now() - started} ms`);
  }
});

/** The process with this PID is still one of the lab's (its command line names the lab's work directory). */
function isOurs(pid: number, workDir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(workDir);
  } catch {
    return false;
  }
}
