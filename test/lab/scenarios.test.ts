/**
 * Every fault scenario of seeds 001, 002, 004 and the MTU overlay, for real on one lab: the fault is injected, real
 * traffic shows its symptom (and flows where it should), `lab collect` + `netdoctor diagnose --format json` names the
 * cause (check, node, evidence values from the scenario's ExpectedFault), the finding's fix lines are run verbatim in
 * the node's namespace and traffic flows again, and the revert leaves a healthy lab. Where the fix is a service
 * restart the lab cannot do (NetworkManager, flanneld, kube-proxy, kubelet), the test applies what the restart would
 * change and says so. Seeds are chosen from the plan so the broken node differs from the example bundles'.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { mapLimit } from '../../src/core/async.js';
import { etcdPut, etcdRange } from '../../src/lab/etcd.js';
import { LAB_EXAMPLES } from '../../src/lab/examples.js';
import { leaseKey, leaseValue, NM_UNMANAGED_CONF, nmcliDevices, overlayRoute } from '../../src/lab/faults.js';
import { type Lab, labDown, labNodeFiles, labUp } from '../../src/lab/lab.js';
import { buildPlan, type PodPlan } from '../../src/lab/plan.js';
import { type OtherFault, planFault, type ScenarioName } from '../../src/lab/scenarios.js';
import { needsRoot } from '../support/netns.js';
import { assertDiagnosis, diagnose, type Finding } from './diagnosis.js';

const LAB_SEED = 21;
/** FULL=1: every broken node and variant, not one seed per scenario. */
const FULL = process.env.FULL === '1';

/** Runs a finding's runnable fix lines (sysctl -w, ip ...) verbatim in a node's namespace; returns them. */
async function runFix(lab: Lab, node: string, f: Finding | undefined, what: RegExp): Promise<string[]> {
  assert.ok(f, 'the finding exists (its fix is what the test runs)');
  const lines = f.fix.filter((l) => what.test(l));
  assert.ok(lines.length > 0, `${f.check} has a fix line matching ${what}: ${JSON.stringify(f.fix)}`);
  for (const line of lines) {
    const r = await lab.exec(node, ['sh', '-c', line]);
    assert.equal(r.status, 0, `\`${line}\` on ${node}: ${r.stderr}`);
  }
  return lines;
}

const find = (d: { findings: Finding[] }, check: string, node?: string) =>
  d.findings.find((f) => f.check === check && (node === undefined || f.node === node));

function echoOn(lab: Lab, node: string, k = 0): PodPlan {
  return lab.plan.pods.filter((p) => p.role === 'echo' && p.node === node)[k] as PodPlan;
}

/** One ping per try (1 s to answer); `ok` once one answers. */
async function ping(lab: Lab, from: PodPlan, to: PodPlan, tries: number, extra: string[] = []) {
  let out = '';
  for (let i = 0; i < tries; i++) {
    const r = await lab.exec(from.name, ['ping', '-c', '1', '-W', '1', ...extra, to.ip], { timeoutMs: 3_000 });
    out = r.stdout + r.stderr;
    if (r.status === 0) return { ok: true, out };
  }
  return { ok: false, out };
}

interface Pair {
  from: PodPlan;
  to: PodPlan;
  want: boolean;
  extra?: string[];
}

async function checkPairs(lab: Lab, pairs: Pair[]): Promise<string[]> {
  const got = await mapLimit(pairs, 4, (p) => ping(lab, p.from, p.to, p.want ? 3 : 2, p.extra));
  const wrong = pairs.filter((p, i) => got[i]?.ok !== p.want);
  assert.deepEqual(
    wrong.map(
      (p) =>
        `${p.from.node}/${p.from.name} -> ${p.to.node}/${p.to.name} ${p.extra?.join(' ') ?? ''}: ${p.want ? 'lost' : 'answered'}`,
    ),
    [],
  );
  return got.map((g) => g.out);
}

/** Pods on the broken node and pods elsewhere: lost both ways; same-node and other pairs flow. */
function crossingPairs(lab: Lab, broken: string, others: string[], flows: boolean): Pair[] {
  const [a, b] = others as [string, string];
  return [
    { from: echoOn(lab, a), to: echoOn(lab, broken), want: flows },
    { from: echoOn(lab, broken), to: echoOn(lab, b), want: flows },
    { from: echoOn(lab, broken), to: echoOn(lab, broken, 1), want: true },
    { from: echoOn(lab, a, 1), to: echoOn(lab, b, 1), want: true },
  ];
}

/** Asks the echo ClusterIP from a pod (bounded); returns the pod names that answered and the number of failures. */
async function askService(lab: Lab, from: string, tries: number): Promise<{ names: Set<string>; failed: number }> {
  const echo = lab.plan.services.find((s) => s.name === 'echo');
  assert.ok(echo);
  const answers = await mapLimit(Array.from({ length: tries }), 4, () =>
    lab.exec(from, ['nc', '-w', '1', echo.clusterIP, '80'], { timeoutMs: 3_000 }),
  );
  const names = new Set<string>();
  let failed = 0;
  for (const a of answers) {
    if (a.status === 0 && a.stdout.trim()) names.add(a.stdout.trim());
    else failed++;
  }
  return { names, failed };
}

async function resolveFrom(lab: Lab, from: PodPlan, server: string, name: string): Promise<string> {
  const script = `const { Resolver } = require('node:dns').promises;
const r = new Resolver({ timeout: 700, tries: 2 });
r.setServers([process.argv[2]]);
r.resolve4(process.argv[1]).then((a) => console.log(a.join(',')), (e) => { console.error(e.code); process.exit(1); });`;
  const r = await lab.exec(from.name, [process.execPath, '-e', script, name, server], { timeoutMs: 8_000 });
  return r.status === 0 ? r.stdout.trim() : `failed: ${r.stderr.trim()}`;
}

/**
 * What a revert must restore exactly, per node: addresses, routes of every table, link MTUs, the forwarding and
 * bridge-netfilter sysctls, flannel.1's permanent neighbours and fdb entries, the iptables rules.
 */
async function fingerprint(lab: Lab): Promise<Record<string, string>> {
  const script = [
    "ip -4 -o addr show | sed 's/ valid_lft.*//'",
    'ip -4 route show table all',
    "ip -o link show | sed -E 's/^[0-9]+: ([^:]+):.* mtu ([0-9]+).*/\\1 mtu \\2/'",
    "sysctl -a 2>/dev/null | grep -E '(forwarding|ip_forward|bridge-nf-call-ip)' ",
    'ip neigh show dev flannel.1 nud permanent | sort',
    'bridge fdb show dev flannel.1 | sort',
    "iptables-save | grep -v '^#' | sed -E 's/ \\[[0-9]+:[0-9]+\\]$//'",
  ].join('; echo ---; ');
  const out: Record<string, string> = {};
  for (const n of lab.plan.nodes) out[n.name] = (await lab.exec(n.name, ['sh', '-c', script])).stdout;
  return out;
}

/**
 * Seeds for a scenario: the first whose broken node differs from the example bundle's (so tests and examples cover
 * different nodes); with FULL=1 also one for every other broken node and variant the seeds reach.
 */
function seedsFor(scenario: ScenarioName, accept: (f: OtherFault) => boolean = () => true): number[] {
  const ex = LAB_EXAMPLES.find((e) => e.scenario === scenario);
  const exBroken = ex
    ? (planFault(buildPlan({ nodes: ex.nodes, seed: ex.seed, prefix: 'x' }), scenario, ex.seed)?.expected.brokenNode ??
      '')
    : '';
  const plan = buildPlan({ nodes: 3, seed: LAB_SEED, prefix: 'x' });
  const key = (f: OtherFault) => `${f.brokenNode} ${f.facts.where ?? ''} ${f.facts.victim ?? ''}`;
  const seeds: number[] = [];
  const seen = new Set<string>();
  for (let seed = 1; seed < 200; seed++) {
    const f = planFault(plan, scenario, seed)?.expected as OtherFault;
    if (seeds.length === 0 ? f.brokenNode !== exBroken && accept(f) : FULL && !seen.has(key(f))) {
      seeds.push(seed);
      seen.add(key(f));
    }
  }
  if (seeds.length === 0) throw new Error(`no seed for ${scenario}`);
  return seeds;
}

test('lab scenarios of seeds 001, 002, 004 and the MTU overlay: symptom, diagnosis, fix, revert', async (t) => {
  if (!needsRoot(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'netdoctor-scenarios-'));
  const statePath = join(dir, 'lab.json');
  const started = Date.now();
  try {
    const lab = await labUp({ nodes: 3, seed: LAB_SEED, statePath });
    const nodeOf = (name: string) => lab.node(name);
    const healthy = await fingerprint(lab);

    /** Injects, shows the symptom, diagnoses, fixes and reverts one scenario, each step a subtest. */
    const scenario = async (
      name: ScenarioName,
      seeds: number[],
      steps: {
        symptom: (ex: OtherFault) => Promise<void>;
        fix: (ex: OtherFault, d: { findings: Finding[] }) => Promise<void>;
        healed: (ex: OtherFault) => Promise<void>;
      },
    ) => {
      for (const seed of seeds) await one(name, seed, steps);
    };
    const one = async (
      name: ScenarioName,
      seed: number,
      steps: {
        symptom: (ex: OtherFault) => Promise<void>;
        fix: (ex: OtherFault, d: { findings: Finding[] }) => Promise<void>;
        healed: (ex: OtherFault) => Promise<void>;
      },
    ) => {
      await t.test(`${name} --seed ${seed}`, async (st) => {
        const t0 = Date.now();
        const ex = (await lab.inject(name, seed)) as OtherFault;
        assert.equal(ex.scenario, name);
        st.diagnostic(ex.summary);
        try {
          await st.test('real traffic shows the symptom', () => steps.symptom(ex));
          const bundle = join(dir, `${name}-${seed}`);
          await lab.collect(bundle);
          let d: { status: number; findings: Finding[] } | undefined;
          await st.test('diagnose names the cause, its node and evidence', async () => {
            d = await diagnose(bundle);
            assert.equal(d.status, 1);
            assertDiagnosis(d.findings, ex);
          });
          await st.test("the finding's fix restores traffic", async () => {
            assert.ok(d, 'diagnose ran');
            await steps.fix(ex, d);
            await steps.healed(ex);
          });
        } finally {
          await lab.revert();
        }
        await st.test('revert leaves a healthy lab', async () => {
          const now = await fingerprint(lab);
          for (const n of lab.plan.nodes) assert.equal(now[n.name], healthy[n.name], `${n.name} as the lab came up`);
          await steps.healed(ex);
        });
        st.diagnostic(`${name}: ${Date.now() - t0} ms`);
      });
    };

    const crossing = (ex: OtherFault, flows: boolean) =>
      checkPairs(lab, crossingPairs(lab, ex.brokenNode, ex.healthyNodes, flows));

    // seed 001: ip_forward (a per-interface variant here; the example bundle has the global one).
    await scenario(
      'seed-001-ip-forward',
      seedsFor('seed-001-ip-forward', (f) => f.facts.where !== 'all'),
      {
        symptom: async (ex) => {
          const key = ex.facts.sysctl as string;
          const r = await lab.exec(ex.brokenNode, ['sysctl', '-n', key]);
          assert.equal(r.stdout.trim(), '0', `${key} on ${ex.brokenNode}`);
          await crossing(ex, false);
        },
        fix: async (ex, d) => {
          await runFix(lab, ex.brokenNode, find(d, 'ip-forward-disabled', ex.brokenNode), /^sysctl -w /);
        },
        healed: async (ex) => {
          await crossing(ex, true);
        },
      },
    );

    await scenario('seed-001-bridge-nf', seedsFor('seed-001-bridge-nf'), {
      symptom: async (ex) => {
        const [client, sibling] = ex.facts.pods as [string, string];
        const siblingIP = lab.pod(sibling).ip;
        // The sysctl is per network namespace on this kernel: 0 on the broken node, 1 on the others.
        const key = 'net.bridge.bridge-nf-call-iptables';
        for (const n of lab.plan.nodes) {
          const r = await lab.exec(n.name, ['sysctl', '-n', key]);
          assert.equal(r.stdout.trim(), n.name === ex.brokenNode ? '0' : '1', `${key} on ${n.name}`);
        }
        // Pod IPs still answer; only the service path to the same-node sibling breaks.
        await checkPairs(lab, [{ from: lab.pod(client), to: lab.pod(sibling), want: true }]);
        const { names, failed } = await askService(lab, client, 24);
        assert.ok(!names.has(sibling), `${sibling} (same node) never answers through the ClusterIP`);
        assert.ok(names.size >= 3, `endpoints on other nodes answer: ${[...names].join(', ')}`);
        assert.ok(failed > 0, 'the attempts kube-proxy sent to the sibling failed');
        // conntrack saw the SYN DNATed to the sibling but never its reply: the reply crossed cni0 unseen.
        const ct = await lab.exec(ex.brokenNode, ['conntrack', '-L', '-p', 'tcp', '--reply-src', siblingIP]);
        assert.match(ct.stdout, /UNREPLIED/, `conntrack on ${ex.brokenNode}: ${ct.stdout}${ct.stderr}`);
      },
      fix: async (ex, d) => {
        await runFix(lab, ex.brokenNode, find(d, 'bridge-netfilter-disabled', ex.brokenNode), /^sysctl -w /);
      },
      healed: async (ex) => {
        const [client, sibling] = ex.facts.pods as [string, string];
        const seen = new Set<string>();
        for (let round = 0; round < 8 && !seen.has(sibling); round++) {
          for (const n of (await askService(lab, client, 8)).names) seen.add(n);
        }
        assert.ok(seen.has(sibling), `${sibling} answers through the ClusterIP again`);
      },
    });

    await scenario('seed-001-cidr-overlap', seedsFor('seed-001-cidr-overlap'), {
      symptom: async (ex) => {
        const victim = ex.facts.victim as string;
        const third = ex.healthyNodes.find((n) => n !== victim) as string;
        const out = await checkPairs(lab, [
          { from: echoOn(lab, ex.brokenNode), to: echoOn(lab, victim), want: false },
          { from: echoOn(lab, victim), to: echoOn(lab, ex.brokenNode), want: false },
          { from: echoOn(lab, ex.brokenNode), to: echoOn(lab, third), want: true },
          { from: echoOn(lab, victim), to: echoOn(lab, third), want: true },
        ]);
        assert.equal(out.length, 4);
        // The node sends them out of eth0 (the connected route of its host network) and ARPs for them in vain.
        const victimPod = echoOn(lab, victim).ip;
        const route = await lab.exec(ex.brokenNode, ['ip', 'route', 'get', victimPod]);
        assert.match(route.stdout, / dev eth0 /, route.stdout);
        const neigh = await lab.exec(ex.brokenNode, ['ip', 'neigh', 'show', victimPod, 'dev', 'eth0']);
        assert.match(neigh.stdout, /INCOMPLETE|FAILED/, `ARP for ${victimPod} on eth0: ${neigh.stdout}`);
      },
      fix: async (ex, d) => {
        const f = find(d, 'pod-cidr-overlap', ex.brokenNode);
        assert.ok(f, 'the overlap finding');
        const victim = nodeOf(ex.facts.victim as string);
        if (f.fix.some((l) => /^ip /.test(l))) await runFix(lab, ex.brokenNode, f, /^ip /);
        else {
          // The finding renumbers the pod network (a new cluster CIDR for flannel, then every node and pod again),
          // which the lab cannot do; it removes the other side of the same overlap instead: the host network.
          assert.ok(
            f.fix.some((l) => /\d+\.\d+\.\d+\.\d+\/\d+/.test(l) && !l.includes(lab.plan.clusterCIDR)),
            `the fix names a new pod network: ${JSON.stringify(f.fix)}`,
          );
          const r = await lab.exec(ex.brokenNode, ['ip', 'addr', 'del', ex.facts.address as string, 'dev', 'eth0']);
          assert.equal(r.status, 0, r.stderr);
        }
        // What flanneld does once the conflicting route is gone (a restart, or its next sync): its route comes back.
        const r = await lab.exec(ex.brokenNode, ['sh', '-c', `ip route replace ${overlayRoute(victim)}`]);
        assert.equal(r.status, 0, r.stderr);
      },
      healed: async (ex) => {
        await checkPairs(lab, [
          { from: echoOn(lab, ex.brokenNode, 1), to: echoOn(lab, ex.facts.victim as string, 1), want: true },
          { from: echoOn(lab, ex.facts.victim as string, 1), to: echoOn(lab, ex.brokenNode, 1), want: true },
        ]);
      },
    });

    // The name a pod's first search domain makes of the echo service, as kubelet's cluster domain has it.
    const searchName = (pod: PodPlan) => {
      const node = nodeOf(pod.node);
      const files = labNodeFiles(lab.plan, node, lab.setting);
      const conf = Object.entries(files).find(
        ([p, f]) => p.endsWith('resolv.conf') && p.includes('sandboxes') && f.content.includes(pod.namespace),
      );
      const search = (conf?.[1].content.match(/^search (\S+)/m) ?? [])[1] as string;
      return `echo.${search}`;
    };
    const dnsCheck = async (ex: OtherFault, want: boolean) => {
      // A DNS pod on a healthy node, asked by a pod on the same node: only the domain matters.
      const dns = lab.plan.pods.find((p) => p.role === 'dns' && p.node !== ex.brokenNode) as PodPlan;
      const client = echoOn(lab, dns.node);
      const name = searchName(client);
      const answer = await resolveFrom(lab, client, dns.ip, name);
      const echo = lab.plan.services.find((s) => s.name === 'echo')?.clusterIP;
      assert.equal(answer === echo, want, `${name} from ${client.name}: ${answer}`);
    };

    await scenario('seed-002-networkmanager', seedsFor('seed-002-networkmanager'), {
      symptom: async (ex) => {
        await crossing(ex, false);
        const r = await lab.exec(ex.brokenNode, ['ip', 'route', 'get', ex.facts.flannelIP as string]);
        assert.match(r.stdout, /^local \S+ dev lo /, 'the flannel address is a local route on lo');
        const a = await lab.exec(ex.brokenNode, ['ip', '-4', 'addr', 'show', 'dev', 'flannel.1']);
        assert.doesNotMatch(a.stdout, /inet /, 'flannel.1 has no address');
        await dnsCheck(ex, false);
      },
      fix: async (ex, d) => {
        const b = ex.brokenNode;
        const nm = find(d, 'networkmanager-manages-cni', b);
        assert.ok(nm?.fix.some((l) => l.includes('unmanaged-devices') && l.includes('flannel') && l.includes('cni0')));
        // The lab cannot run NetworkManager: what writing its conf.d file and restarting it changes is that it lets go
        // of the CNI devices (the file is there, nmcli lists them unmanaged).
        lab.updateSetting((s) => {
          s.files[b] = { ...s.files[b], '/etc/NetworkManager/conf.d/k8s.conf': NM_UNMANAGED_CONF };
          s.commands[b] = { 'nmcli-dev': { stdout: nmcliDevices(lab.plan, nodeOf(b), false), exitCode: 0 } };
        });
        // flannel.1's address back, its routes and (when the diagnosis saw them gone) its neighbours: the findings'
        // own commands, as restarting flanneld would also do.
        await runFix(lab, b, find(d, 'overlay-address-hijacked', b), /^ip /);
        await runFix(lab, b, find(d, 'overlay-route-missing', b), /^ip /);
        const neigh = find(d, 'vxlan-peer-mismatch', b);
        if (neigh) await runFix(lab, b, neigh, /^ip /);
        // What restarting kubelet with clusterDomain set back does: pods get the domain CoreDNS serves.
        assert.ok(find(d, 'cluster-domain-mismatch'), 'the cluster domain finding');
        lab.updateSetting((s) => {
          delete s.kubeletClusterDomain;
        });
      },
      healed: async (ex) => {
        await crossing(ex, true);
        await dnsCheck(ex, true);
      },
    });

    await scenario('seed-004-flannel-lease', seedsFor('seed-004-flannel-lease'), {
      symptom: async (ex) => {
        const etcd = lab.etcd;
        assert.ok(etcd, 'etcd runs');
        const keys = Object.keys(await etcdRange(etcd, '/coreos.com/network/subnets/'));
        assert.ok(!keys.includes(ex.facts.leaseKey as string), `no lease ${ex.facts.leaseKey}: ${keys.join(', ')}`);
        assert.equal(keys.length, lab.plan.nodes.length - 1);
        await crossing(ex, false);
        const master = ex.facts.master as string;
        const rules = await lab.exec(master, ['iptables-save']);
        assert.ok(rules.stdout.includes('-A INPUT') && !rules.stdout.includes('KUBE-SERVICES'), 'no kube-proxy rules');
        const { names } = await askService(lab, master, 3);
        assert.equal(names.size, 0, `the echo ClusterIP times out from ${master}'s network namespace`);
      },
      fix: async (ex, d) => {
        const b = nodeOf(ex.brokenNode);
        const lease = find(d, 'flannel-lease-missing', b.name);
        assert.ok(lease, 'the lease finding');
        // What restarting flanneld on the node does: it writes its lease back; the other nodes' flanneld see it and
        // program the route, neighbour and fdb entry to it; the node's own flanneld syncs its routes.
        await etcdPut(
          lab.etcd as NonNullable<Lab['etcd']>,
          `/coreos.com/network/subnets/${leaseKey(b.podCIDR)}`,
          leaseValue(b),
        );
        for (const p of ex.healthyNodes.map(nodeOf)) {
          const r = await lab.exec(p.name, [
            'sh',
            '-c',
            `ip route replace ${overlayRoute(b)} && ip neigh replace ${b.flannelIP} lladdr ${b.vtepMAC} dev flannel.1 nud permanent && bridge fdb replace ${b.vtepMAC} dev flannel.1 dst ${b.ip} self permanent`,
          ]);
          assert.equal(r.status, 0, r.stderr);
        }
        await runFix(lab, b.name, find(d, 'overlay-route-stale', b.name), /^ip route del /);
        await runFix(lab, b.name, find(d, 'overlay-route-missing', b.name), /^ip /);
        // What running kube-proxy on the control-plane node does: its service rules.
        const master = ex.facts.master as string;
        assert.ok(find(d, 'kube-proxy-missing-on-node', master), 'the kube-proxy finding');
        await lab.loadNodeRules(master, true);
        lab.updateSetting((s) => {
          s.noKubeProxy = [];
        });
      },
      healed: async (ex) => {
        await crossing(ex, true);
        const { names } = await askService(lab, ex.facts.master as string, 4);
        assert.ok(names.size > 0, 'the echo ClusterIP answers from the control-plane node');
      },
    });

    await scenario('mtu-overlay', seedsFor('mtu-overlay'), {
      symptom: async (ex) => {
        const [a, b] = ex.healthyNodes as [string, string];
        const big = ['-M', 'do', '-s', '1400'];
        const out = await checkPairs(lab, [
          { from: echoOn(lab, a), to: echoOn(lab, ex.brokenNode), want: true },
          { from: echoOn(lab, a), to: echoOn(lab, ex.brokenNode), want: false, extra: big },
          { from: echoOn(lab, ex.brokenNode), to: echoOn(lab, b), want: false, extra: big },
          { from: echoOn(lab, a, 1), to: echoOn(lab, b, 1), want: true, extra: big },
        ]);
        assert.doesNotMatch(out[1] as string, /[Ff]rag/, 'inbound: the large packet vanishes, no ICMP comes back');
        // Outbound, the node fragments the outer packet (VXLAN sets no DF), so the request arrives; the reply of the
        // same size is the one dropped at its eth0. No ICMP either way: a black hole.
        assert.doesNotMatch(out[2] as string, /[Ff]rag/, 'outbound: no frag needed comes back either');
      },
      fix: async (ex, d) => {
        await runFix(lab, ex.brokenNode, find(d, 'mtu-mismatch', ex.brokenNode), /^ip link set /);
      },
      healed: async (ex) => {
        const [a, b] = ex.healthyNodes as [string, string];
        const big = ['-M', 'do', '-s', '1400'];
        await checkPairs(lab, [
          { from: echoOn(lab, a), to: echoOn(lab, ex.brokenNode), want: true, extra: big },
          { from: echoOn(lab, b, 1), to: echoOn(lab, ex.brokenNode, 1), want: true, extra: big },
        ]);
      },
    });
  } finally {
    await labDown(statePath);
    rmSync(dir, { recursive: true, force: true });
    t.diagnostic(`whole test ${Date.now() - started} ms`);
  }
});
