/**
 * A Kubernetes-like cluster built for real from network namespaces (DESIGN §6): an underlay bridge in a namespace of
 * its own, one namespace per node (eth0 on the underlay, cni0, flannel.1 VXLAN with flannel's fdb/neigh/route entries,
 * kube-proxy's iptables rules, a host firewall), one namespace per pod on a veth into its node's cni0, echo servers
 * and a DNS server in the pods. Scenarios inject a fault into the running lab and revert it.
 *
 *   const lab = await labUp({ nodes: 3, seed: 7 });
 *   try { await lab.inject('seed-000', 7); ... await lab.revert(); } finally { await lab.down(); }
 *
 * Everything the lab creates is named with a per-run prefix and listed in its state file before it is created, so
 * `labDown(statePath)` removes it all, also after a crash.
 */

import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { collectNode } from '../collect/run.js';
import { mapLimit } from '../core/async.js';
import { ECHO_AGENT_FILE, ECHO_AGENT_SOURCE } from '../probe/echo.js';
import type { NodeSnapshot } from '../snapshot/schema.js';
import { netnsEtc, podAddressing } from './attach-pod.js';
import { clusterList } from './cluster-json.js';
import { type EtcdHandle, etcdArgv, etcdDataDir, etcdPut, readFlannelSubnets, waitEtcd } from './etcd.js';
import type { FirewallLayout } from './firewall.js';
import {
  buildPlan,
  DNS_SERVICE_IP,
  dnsRecords,
  ECHO_PORT,
  FLANNEL_CNI_CONF,
  type LabPlan,
  type NodePlan,
  type PodPlan,
  podResolvConf,
  subnetEnv,
  VXLAN_MTU,
  VXLAN_PORT,
  VXLAN_VNI,
} from './plan.js';
import { nodeRuleset } from './rules.js';
import {
  type ExpectedFault,
  emptySetting,
  type FaultOptions,
  isScenario,
  layoutForSeed,
  type NetworkChanges,
  planFault,
  type ScenarioName,
  type ScenarioSetting,
} from './scenarios.js';
import { applySettingToCluster, labProcesses } from './setting.js';
import {
  bridgeBatch,
  ipBatch,
  LabError,
  listNetns,
  nsMustRun,
  nsRun,
  type RunOptions,
  type RunResult,
  run,
  sleep,
} from './shell.js';
import { defaultStatePath, type LabProcess, type LabState, readState, removeState, writeState } from './state.js';

export interface LabUpOptions {
  /** `healthy` (default) or a fault scenario, injected once the healthy lab is up. */
  scenario?: string;
  /** Number of nodes, 2-8 (default 3). */
  nodes?: number;
  /** Picks the firewall layout and the fault's details (default: random). */
  seed?: number;
  /** Where the state file goes (default: netdoctor-lab.json in the OS temp dir). */
  statePath?: string;
  /** Progress messages (the CLI sends them to stderr). */
  log?: (message: string) => void;
}

/** Processes started per batch while the lab comes up (the machine may be small and busy). */
const START_CONCURRENCY = 4;
const READY_TIMEOUT_MS = 15_000;

function randomPrefix(): string {
  return `ndlab${Math.floor(Math.random() * 36 ** 5)
    .toString(36)
    .padStart(5, '0')}`;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function cmdlineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return undefined;
  }
}

/** Starts a long-running process in a namespace, detached from us, output to `logFile`; returns its PID. */
function startDetached(netns: string, argv: readonly string[], logFile: string): number {
  const fd = openSync(logFile, 'a');
  try {
    // `ip netns exec` execs the command in the same process, so the PID is the server's own.
    const child = spawn('ip', ['netns', 'exec', netns, ...argv], { detached: true, stdio: ['ignore', fd, fd] });
    child.on('error', () => {});
    child.unref();
    if (child.pid === undefined) throw new LabError(`cannot start ${argv[0]} in ${netns}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Files of a lab node that the collector reads from the host's file system; the lab supplies the node's own. */
export function labNodeFiles(
  plan: LabPlan,
  node: NodePlan,
  setting?: ScenarioSetting,
): Record<string, { content: string }> {
  const domain = setting?.kubeletClusterDomain ?? plan.clusterDomain;
  const files: Record<string, { content: string }> = {
    '/run/flannel/subnet.env': { content: subnetEnv(plan, node) },
    '/etc/cni/net.d/10-flannel.conflist': { content: FLANNEL_CNI_CONF },
    '/etc/resolv.conf': { content: `nameserver ${plan.underlay.gateway}\n` },
    '/var/lib/kubelet/config.yaml': {
      content: [
        'apiVersion: kubelet.config.k8s.io/v1beta1',
        'authentication:',
        '  anonymous:',
        '    enabled: false',
        'cgroupDriver: systemd',
        'clusterDNS:',
        `- ${DNS_SERVICE_IP}`,
        `clusterDomain: ${domain}`,
        'kind: KubeletConfiguration',
        'resolvConf: /etc/resolv.conf',
        '',
      ].join('\n'),
    },
  };
  for (const pod of plan.pods.filter((p) => p.node === node.name)) {
    const sandbox = (pod.uid.replaceAll('-', '') + pod.uid.replaceAll('-', '')).slice(0, 64);
    files[`/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/${sandbox}/resolv.conf`] = {
      content: podResolvConf({ ...plan, clusterDomain: domain }, pod),
    };
  }
  for (const [path, content] of Object.entries(setting?.files[node.name] ?? {})) files[path] = { content };
  return files;
}

/** Makes a snapshot taken in a lab node namespace describe the lab node instead of the machine the lab runs on. */
export function adaptSnapshot(
  plan: LabPlan,
  node: NodePlan,
  snapshot: NodeSnapshot,
  setting?: ScenarioSetting,
): NodeSnapshot {
  const files: NodeSnapshot['files'] = {};
  // Only /proc/sys/net is per network namespace; every other file the collector read belongs to the machine.
  for (const [path, rec] of Object.entries(snapshot.files)) if (path.startsWith('/proc/sys/net/')) files[path] = rec;
  Object.assign(files, labNodeFiles(plan, node, setting));
  const commands = { ...snapshot.commands };
  const ps = commands.processes;
  if (ps && !ps.missing)
    commands.processes = { ...ps, stdout: labProcesses(plan, node, setting), stderr: '', exitCode: 0 };
  const uname = commands.uname;
  if (uname?.stdout) {
    const f = uname.stdout.split(' ');
    if (f.length > 2) f[1] = node.name;
    commands.uname = { ...uname, stdout: f.join(' ') };
  }
  const sysctl = commands.sysctl;
  if (sysctl?.stdout) {
    commands.sysctl = {
      ...sysctl,
      stdout: sysctl.stdout.replace(/^kernel\.hostname = .*$/m, `kernel.hostname = ${node.name}`),
    };
  }
  for (const [id, o] of Object.entries(setting?.commands[node.name] ?? {})) {
    const command = commands[id]?.command ?? id;
    commands[id] = { command, stdout: o.stdout, stderr: '', exitCode: o.exitCode };
  }
  return { ...snapshot, node: node.name, commands, files };
}

export class Lab {
  private constructor(
    readonly statePath: string,
    private stateData: LabState,
  ) {}

  /** Opens the lab a state file describes (e.g. one brought up by another process). */
  static open(statePath = defaultStatePath()): Lab {
    const state = readState(statePath);
    if (!state) throw new LabError(`no lab is up (no state file at ${statePath}); start one with \`netdoctor lab up\``);
    if (state.status !== 'up')
      throw new LabError(`the lab in ${statePath} did not finish coming up; remove it with \`netdoctor lab down\``);
    return new Lab(statePath, state);
  }

  get state(): Readonly<LabState> {
    return this.stateData;
  }

  get plan(): LabPlan {
    return this.stateData.plan;
  }

  get prefix(): string {
    return this.stateData.prefix;
  }

  /** What a diagnosis of the injected fault must name; undefined while the lab is healthy. */
  get expected(): ExpectedFault | undefined {
    return this.stateData.fault;
  }

  node(name: string): NodePlan {
    const n = this.plan.nodes.find((x) => x.name === name);
    if (!n)
      throw new LabError(`no node "${name}" in the lab (nodes: ${this.plan.nodes.map((x) => x.name).join(', ')})`);
    return n;
  }

  pod(name: string): PodPlan {
    const p = this.plan.pods.find((x) => x.name === name);
    if (!p) throw new LabError(`no pod "${name}" in the lab`);
    return p;
  }

  podsOn(node: string, role?: PodPlan['role']): PodPlan[] {
    return this.plan.pods.filter((p) => p.node === node && (role === undefined || p.role === role));
  }

  /** The namespace of a node, a pod, or `underlay` (the network between the nodes: an "outside" host). */
  netnsOf(target: string): string {
    if (target === 'underlay') return this.plan.underlay.netns;
    const node = this.plan.nodes.find((n) => n.name === target);
    if (node) return node.netns;
    const pod = this.plan.pods.find((p) => p.name === target);
    if (pod) return pod.netns;
    if (this.stateData.namespaces.includes(target)) return target;
    throw new LabError(`no node, pod or namespace "${target}" in the lab`);
  }

  /** Runs a command inside a node's or pod's namespace (default time limit 10 s); never throws on failure. */
  exec(target: string, argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return nsRun(this.netnsOf(target), argv, { timeoutMs: 10_000, ...opts });
  }

  /** The lab's cluster as `kubectl get ... -o json` prints it (with the scenario's setting). */
  clusterList(): Record<string, unknown> {
    return applySettingToCluster(
      clusterList(this.plan, this.stateData.createdAt.replace(/\.\d+Z$/, 'Z')),
      this.plan,
      this.stateData.setting,
    );
  }

  /** The scenario's setting while one is in (files, command outputs, etcd, nodes without kube-proxy). */
  get setting(): ScenarioSetting | undefined {
    return this.stateData.setting;
  }

  /**
   * Injects a scenario's fault (replacing one already injected) and returns what a diagnosis must name. With
   * `twin`, the scenario's setting comes in without the fault (what its fix leaves), and nothing is expected.
   */
  async inject(
    scenario: string,
    seed = this.stateData.seed,
    opts: FaultOptions = {},
  ): Promise<ExpectedFault | undefined> {
    if (!isScenario(scenario)) throw new LabError(`unknown scenario "${scenario}" (see \`netdoctor lab list\`)`);
    const fault = planFault(this.plan, scenario, seed, opts);
    if (!fault) {
      await this.revert();
      return undefined;
    }
    await this.resetToHealthy();
    const noProxy = new Set(fault.setting.noKubeProxy);
    await loadRules(
      this.plan,
      fault.layout,
      (n) => fault.vxlanProto[n.name] ?? 'udp',
      (n) => !noProxy.has(n.name),
    );
    await applyChanges(this.plan, fault.changes);
    const { fault: _old, twin: _t, setting: _s, ...rest } = this.stateData;
    this.stateData = { ...rest, scenario, setting: fault.setting };
    if (fault.twin) this.stateData.twin = true;
    else this.stateData.fault = fault.expected;
    writeState(this.statePath, this.stateData);
    if (fault.setting.flannelEtcd) await this.startEtcd(fault.setting.flannelEtcd);
    return fault.twin ? undefined : fault.expected;
  }

  /** Undoes the injected fault and its setting: the lab is healthy again. */
  async revert(): Promise<void> {
    await this.resetToHealthy();
    await loadRules(this.plan, this.stateData.layout, () => 'udp');
    const { fault: _gone, twin: _t, setting: _s, ...rest } = this.stateData;
    this.stateData = { ...rest, scenario: 'healthy' };
    writeState(this.statePath, this.stateData);
  }

  /** Replaces the setting the collector sees (tests use it for what a service restart would change). */
  updateSetting(change: (s: ScenarioSetting) => void): void {
    const setting = structuredClone(this.stateData.setting ?? emptySetting());
    change(setting);
    this.stateData = { ...this.stateData, setting };
    writeState(this.statePath, this.stateData);
  }

  /** Loads a node's whole ruleset again, with or without kube-proxy's rules. */
  async loadNodeRules(node: string, kubeProxy: boolean): Promise<void> {
    const n = this.node(node);
    const rules = nodeRuleset(this.plan, n, this.stateData.layout, 'udp', { kubeProxy });
    await nsMustRun(n.netns, ['iptables-restore', '-w', '5'], { input: rules.text, timeoutMs: 30_000 });
  }

  /** The etcd the scenario runs, if any. */
  get etcd(): EtcdHandle | undefined {
    const e = this.stateData.etcd;
    return e ? { netns: e.netns, url: e.url, dataDir: etcdDataDir(this.stateData.workDir) } : undefined;
  }

  private async startEtcd(content: NonNullable<ScenarioSetting['flannelEtcd']>): Promise<void> {
    const master = this.plan.nodes.find((n) => n.controlPlane) ?? (this.plan.nodes[0] as NodePlan);
    const dataDir = etcdDataDir(this.stateData.workDir);
    rmSync(dataDir, { recursive: true, force: true });
    const log = join(this.stateData.workDir, 'etcd.log');
    const pid = startDetached(master.netns, etcdArgv(dataDir, master.ip), log);
    const p: LabProcess = { pid, netns: master.netns, what: 'etcd' };
    this.stateData = {
      ...this.stateData,
      processes: [...this.stateData.processes, p],
      etcd: { pid, netns: master.netns, url: 'http://127.0.0.1:2379' },
    };
    writeState(this.statePath, this.stateData);
    const h = this.etcd as EtcdHandle;
    await waitEtcd(h, () => pidAlive(pid));
    await etcdPut(h, `${content.prefix}/config`, content.config);
    for (const [k, v] of Object.entries(content.leases)) await etcdPut(h, `${content.prefix}/subnets/${k}`, v);
  }

  private async stopEtcd(): Promise<void> {
    const e = this.stateData.etcd;
    if (!e) return;
    const cmd = cmdlineOf(e.pid);
    if (cmd?.includes(this.stateData.workDir)) {
      try {
        process.kill(e.pid, 'SIGTERM');
      } catch {
        // gone
      }
      const deadline = Date.now() + 3_000;
      while (pidAlive(e.pid) && Date.now() < deadline) await sleep(50);
      if (pidAlive(e.pid)) process.kill(e.pid, 'SIGKILL');
    }
    const { etcd: _e, ...rest } = this.stateData;
    this.stateData = { ...rest, processes: rest.processes.filter((p) => p.pid !== e.pid) };
    writeState(this.statePath, this.stateData);
  }

  /** Puts every node's network back as the healthy lab built it, and stops the scenario's etcd. */
  private async resetToHealthy(): Promise<void> {
    await this.stopEtcd();
    await resetNetwork(this.plan);
  }

  /**
   * Writes a bundle: `cluster.json` and `nodes/<node>.json`, the real collector run in every node's namespace. Files
   * the collector reads from the machine's file system are replaced by the lab node's own (flannel's subnet.env, the
   * CNI config, resolv.conf files, kubelet's config, the scenario's NetworkManager files), and the process list by the
   * node's Kubernetes daemons. With flannel's etcd backend, `etcd/subnets.json` is read from the running etcd.
   */
  async collect(dir: string, onNode?: (node: string) => void): Promise<void> {
    mkdirSync(join(dir, 'nodes'), { recursive: true });
    writeFileSync(join(dir, 'cluster.json'), `${JSON.stringify(this.clusterList(), null, 2)}\n`);
    const setting = this.stateData.setting;
    await mapLimit(this.plan.nodes, 2, async (node) => {
      const raw = await collectNode({ netns: node.netns, nodeName: node.name, timeoutMs: 120_000 });
      const snapshot = adaptSnapshot(this.plan, node, raw, setting);
      writeFileSync(join(dir, 'nodes', `${node.name}.json`), `${JSON.stringify(snapshot, null, 2)}\n`);
      onNode?.(node.name);
    });
    const etcd = this.etcd;
    if (etcd && setting?.flannelEtcd) {
      const subnets = await readFlannelSubnets(etcd, setting.flannelEtcd.prefix);
      mkdirSync(join(dir, 'etcd'), { recursive: true });
      writeFileSync(join(dir, 'etcd', 'subnets.json'), `${JSON.stringify(subnets, null, 2)}\n`);
    }
  }

  /** Removes everything the lab created (namespaces, processes, work directory, state file). */
  async down(): Promise<DownReport> {
    return labDown(this.statePath);
  }
}

export interface DownReport {
  found: boolean;
  prefix?: string;
  namespaces: string[];
  killed: number[];
}

/**
 * Removes the lab a state file describes: stops its processes (by PID, each checked to still be the lab's own), then
 * every namespace the state lists or that carries the lab's prefix, then its work directory and the state file.
 * Works on a lab that crashed half-way up.
 */
export async function labDown(statePath = defaultStatePath(), log?: (m: string) => void): Promise<DownReport> {
  const state = readState(statePath);
  if (!state) return { found: false, namespaces: [], killed: [] };
  const killed: number[] = [];
  const kill = (pid: number, signal: NodeJS.Signals) => {
    try {
      process.kill(pid, signal);
      if (!killed.includes(pid)) killed.push(pid);
    } catch {
      // already gone
    }
  };

  // The work directory is one the lab made in the temp dir: check its name before trusting it.
  const workDir =
    typeof state.workDir === 'string' && basename(state.workDir).startsWith(`netdoctor-${state.prefix}-`)
      ? state.workDir
      : undefined;
  // Processes the state lists, if they are still ours: their command line names the lab's work directory.
  for (const p of workDir ? state.processes : []) {
    const cmd = cmdlineOf(p.pid);
    if (Number.isInteger(p.pid) && p.pid > 1 && cmd?.includes(workDir as string)) kill(p.pid, 'SIGTERM');
  }

  const existing = await listNetns();
  const mine = (ns: string) => ns.startsWith(`${state.prefix}-`);
  const namespaces = [...new Set([...state.namespaces.filter(mine), ...existing.filter(mine)])].filter((ns) =>
    existing.includes(ns),
  );
  // Anything still running inside the lab's namespaces was started by the lab (or by someone exec'ing into it).
  for (const ns of namespaces) {
    const r = await run('ip', ['netns', 'pids', ns], { timeoutMs: 5_000 });
    for (const t of r.stdout.split('\n')) {
      const pid = Number(t.trim());
      if (Number.isInteger(pid) && pid > 1 && pid !== process.pid) kill(pid, 'SIGTERM');
    }
  }
  const deadline = Date.now() + 2_000;
  while (killed.some(pidAlive) && Date.now() < deadline) await sleep(50);
  for (const pid of killed.filter(pidAlive)) kill(pid, 'SIGKILL');

  if (namespaces.length) {
    await run('ip', ['-force', '-batch', '-'], {
      input: `${namespaces.map((ns) => `netns del ${ns}`).join('\n')}\n`,
      timeoutMs: 30_000,
    });
  }
  const left = (await listNetns()).filter(mine);
  if (left.length) throw new LabError(`could not delete namespaces: ${left.join(', ')}`);
  // /etc/netns/<ns>/ files of pods attached on demand (src/lab/attach-pod.ts).
  for (const ns of existsSync('/etc/netns') ? readdirSync('/etc/netns').filter(mine) : [])
    rmSync(netnsEtc(ns), { recursive: true, force: true });

  if (workDir) rmSync(workDir, { recursive: true, force: true });
  removeState(statePath);
  log?.(`removed lab ${state.prefix}: ${namespaces.length} namespaces, ${killed.length} processes`);
  return { found: true, prefix: state.prefix, namespaces, killed };
}

/** Builds a lab (healthy, then the scenario's fault) and returns it. On failure, removes what was made. */
export async function labUp(opts: LabUpOptions = {}): Promise<Lab> {
  const log = opts.log ?? (() => {});
  const scenario = opts.scenario ?? 'healthy';
  if (!isScenario(scenario)) throw new LabError(`unknown scenario "${scenario}" (see \`netdoctor lab list\`)`);
  const nodes = opts.nodes ?? 3;
  const seed = opts.seed ?? Math.floor(Math.random() * 1_000_000);
  if (!Number.isInteger(seed) || seed < 0) throw new LabError(`--seed must be a non-negative integer`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    throw new LabError('the lab needs root (network namespaces, veths, bridges, iptables)');
  const statePath = opts.statePath ?? defaultStatePath();
  const old = readState(statePath);
  if (old) {
    throw new LabError(
      `a lab (${old.prefix}) is already recorded in ${statePath}; remove it with \`netdoctor lab down${
        statePath === defaultStatePath() ? '' : ` --state ${statePath}`
      }\``,
    );
  }

  const existing = await listNetns();
  let prefix = randomPrefix();
  for (let i = 0; i < 10 && existing.some((ns) => ns.startsWith(`${prefix}-`)); i++) prefix = randomPrefix();
  let plan: LabPlan;
  try {
    plan = buildPlan({ nodes, seed, prefix });
  } catch (e) {
    throw new LabError((e as Error).message);
  }
  mkdirSync(dirname(statePath), { recursive: true });
  const workDir = mkdtempSync(join(tmpdir(), `netdoctor-${prefix}-`));
  const state: LabState = {
    kind: 'NetdoctorLab',
    version: 1,
    prefix,
    createdAt: new Date().toISOString(),
    status: 'creating',
    workDir,
    scenario: 'healthy',
    seed,
    namespaces: [plan.underlay.netns, ...plan.nodes.map((n) => n.netns), ...plan.pods.map((p) => p.netns)],
    processes: [],
    plan,
    layout: layoutForSeed(seed),
  };
  writeState(statePath, state);
  try {
    const t0 = Date.now();
    await buildNetwork(plan, log);
    log(`network up (${Date.now() - t0} ms)`);
    await loadRules(plan, state.layout, () => 'udp');
    log(`iptables rules loaded on ${plan.nodes.length} nodes`);
    const processes = await startServers(plan, workDir, (p) => {
      state.processes.push(p);
      writeState(statePath, state);
    });
    log(`${processes.length} servers ready (${Date.now() - t0} ms)`);
    state.status = 'up';
    writeState(statePath, state);
    const up = Lab.open(statePath);
    if (scenario !== 'healthy') await up.inject(scenario as ScenarioName, seed);
    return up;
  } catch (e) {
    try {
      await labDown(statePath);
    } catch (cleanup) {
      log(`cleanup after the failure also failed: ${(cleanup as Error).message}`);
    }
    throw e;
  }
}

/** Loads every node's whole ruleset (kube-proxy, flannel, firewall) and forgets the flows the old one decided. */
async function loadRules(
  plan: LabPlan,
  layout: FirewallLayout,
  proto: (n: NodePlan) => 'udp' | 'tcp',
  kubeProxy: (n: NodePlan) => boolean = () => true,
): Promise<void> {
  await mapLimit(plan.nodes, START_CONCURRENCY, async (node) => {
    const rules = nodeRuleset(plan, node, layout, proto(node), { kubeProxy: kubeProxy(node) });
    await nsMustRun(node.netns, ['iptables-restore', '-w', '5'], { input: rules.text, timeoutMs: 30_000 });
    await nsRun(node.netns, ['conntrack', '-F'], { timeoutMs: 5_000 });
  });
}

/** Node sysctls: routing on, bridged traffic through iptables, strict reverse-path filter (RHEL/CentOS default). */
const NODE_SYSCTLS: readonly [string, string][] = [
  ['net.ipv4.ip_forward', '1'],
  ['net.bridge.bridge-nf-call-iptables', '1'],
  ['net.bridge.bridge-nf-call-ip6tables', '1'],
  ['net.ipv4.conf.all.rp_filter', '1'],
  ['net.ipv4.conf.default.rp_filter', '1'],
];

/** A shell script writing sysctls through /proc/sys from inside a namespace (its net/ tree is the namespace's own). */
function sysctlScript(values: readonly [string, string][]): string {
  // sysctl's notation writes a dot inside an interface name as a slash (net.ipv4.conf.flannel/1.forwarding).
  const path = (k: string) =>
    k
      .split('.')
      .map((c) => c.replaceAll('/', '.'))
      .join('/');
  return values.map(([k, v]) => `echo ${v} > /proc/sys/${path(k)}`).join(' && ');
}

/** The ip commands that put a node's links, addresses, routes and neighbours back as the healthy lab has them. */
function healthyNodeIp(plan: LabPlan, n: NodePlan): string[] {
  const peers = plan.nodes.filter((p) => p !== n);
  const veths = plan.pods.filter((p) => p.node === n.name).map((p) => p.hostVeth);
  return [
    'link set dev eth0 mtu 1500',
    `link set dev flannel.1 mtu ${VXLAN_MTU}`,
    ...veths.map((v) => `link set dev ${v} mtu ${VXLAN_MTU}`),
    `link set dev cni0 mtu ${VXLAN_MTU}`,
    `route replace default via ${plan.underlay.gateway} dev eth0`,
    `addr replace ${n.flannelIP}/32 dev flannel.1`,
    `addr replace ${n.gateway}/24 dev cni0`,
    ...peers.flatMap((p) => [
      `neigh replace ${p.flannelIP} lladdr ${p.vtepMAC} dev flannel.1 nud permanent`,
      `route replace ${p.podCIDR} via ${p.flannelIP} dev flannel.1 onlink`,
    ]),
  ];
}

/**
 * Puts every node back as the healthy lab built it: sysctls, MTUs, eth0 (only the node address), flannel.1's address
 * and routes (nothing else on flannel.1), the flannel address off lo, neighbours and fdb entries of the peers; and the
 * pods' route caches flushed (learned path MTUs). Idempotent.
 */
async function resetNetwork(plan: LabPlan): Promise<void> {
  const [, ulen] = plan.underlay.cidr.split('/');
  await mapLimit(plan.nodes, START_CONCURRENCY, async (n) => {
    // Writing ip_forward changes every interface's forwarding only when its value changes: set each one too.
    await nsMustRun(n.netns, [
      'sh',
      '-c',
      `${sysctlScript(NODE_SYSCTLS)} && for f in /proc/sys/net/ipv4/conf/*/forwarding; do echo 1 > "$f"; done`,
    ]);
    // Removals first, forgiving what is already gone.
    await run('ip', ['-n', n.netns, '-force', '-batch', '-'], {
      input: `${[
        `addr del ${n.flannelIP}/32 dev lo`,
        'route flush dev flannel.1',
        'addr flush dev eth0 scope global',
      ].join('\n')}\n`,
      timeoutMs: 10_000,
    });
    await ipBatch([`addr add ${n.ip}/${ulen} dev eth0`, ...healthyNodeIp(plan, n)], n.netns);
    await bridgeBatch(
      plan.nodes.filter((p) => p !== n).map((p) => `fdb replace ${p.vtepMAC} dev flannel.1 dst ${p.ip} self permanent`),
      n.netns,
    );
  });
  await mapLimit(plan.pods, START_CONCURRENCY, (p) => run('ip', ['-n', p.netns, 'route', 'flush', 'cache']));
}

/** Applies a fault's network changes (sysctls, then ip, then bridge commands) to a healthy lab. */
async function applyChanges(plan: LabPlan, changes: NetworkChanges): Promise<void> {
  await mapLimit(plan.nodes, START_CONCURRENCY, async (n) => {
    const sysctls = Object.entries(changes.sysctl[n.name] ?? {});
    if (sysctls.length) await nsMustRun(n.netns, ['sh', '-c', sysctlScript(sysctls)]);
    await ipBatch(changes.ip[n.name] ?? [], n.netns);
    await bridgeBatch(changes.bridge[n.name] ?? [], n.netns);
    await nsRun(n.netns, ['conntrack', '-F'], { timeoutMs: 5_000 });
  });
}

async function buildNetwork(plan: LabPlan, log: (m: string) => void): Promise<void> {
  const u = plan.underlay;
  const all = [u.netns, ...plan.nodes.map((n) => n.netns), ...plan.pods.map((p) => p.netns)];
  await ipBatch(all.map((ns) => `netns add ${ns}`));
  log(`${all.length} namespaces created (prefix ${plan.prefix})`);

  await mapLimit(plan.nodes, START_CONCURRENCY, (n) => nsMustRun(n.netns, ['sh', '-c', sysctlScript(NODE_SYSCTLS)]));

  const [, ulen] = u.cidr.split('/');
  await ipBatch(
    [
      'link set lo up',
      `link add ${u.bridge} type bridge`,
      `addr add ${u.gateway}/${ulen} dev ${u.bridge}`,
      `link set ${u.bridge} up`,
      ...plan.nodes.flatMap((n) => [
        `link add ${n.underlayPort} type veth peer name eth0 netns ${n.netns}`,
        `link set ${n.underlayPort} master ${u.bridge} up`,
      ]),
    ],
    u.netns,
  );

  await mapLimit(plan.nodes, START_CONCURRENCY, async (n) => {
    const peers = plan.nodes.filter((p) => p !== n);
    const pods = plan.pods.filter((p) => p.node === n.name);
    await ipBatch(
      [
        'link set lo up',
        `addr add ${n.ip}/${ulen} dev eth0`,
        'link set eth0 up',
        `route add default via ${u.gateway} dev eth0`,
        // The bridge CNI plugin's cni0, with the gateway of the node's pod subnet.
        'link add cni0 type bridge',
        `addr add ${n.gateway}/24 dev cni0`,
        'link set cni0 up',
        // flanneld's VXLAN device and, for each other node, what it programs from the node's annotations.
        `link add flannel.1 address ${n.vtepMAC} mtu ${VXLAN_MTU} type vxlan id ${VXLAN_VNI} local ${n.ip} dev eth0 dstport ${VXLAN_PORT} nolearning`,
        `addr add ${n.flannelIP}/32 dev flannel.1`,
        'link set flannel.1 up',
        ...peers.flatMap((p) => [
          `neigh replace ${p.flannelIP} lladdr ${p.vtepMAC} dev flannel.1 nud permanent`,
          `route add ${p.podCIDR} via ${p.flannelIP} dev flannel.1 onlink`,
        ]),
        ...pods.flatMap((p) => [
          `link add ${p.hostVeth} mtu ${VXLAN_MTU} type veth peer name eth0 mtu ${VXLAN_MTU} netns ${p.netns}`,
          `link set ${p.hostVeth} master cni0 up`,
        ]),
      ],
      n.netns,
    );
    await bridgeBatch(
      [
        ...peers.map((p) => `fdb append ${p.vtepMAC} dev flannel.1 dst ${p.ip}`),
        ...pods.map((p) => `link set dev ${p.hostVeth} hairpin on`),
      ],
      n.netns,
    );
  });

  await mapLimit(plan.pods, START_CONCURRENCY, async (p) => {
    const node = plan.nodes.find((n) => n.name === p.node) as NodePlan;
    await ipBatch(podAddressing(p.ip, node.gateway), p.netns);
  });
}

async function startServers(plan: LabPlan, workDir: string, started: (p: LabProcess) => void): Promise<LabProcess[]> {
  const agent = join(workDir, ECHO_AGENT_FILE);
  writeFileSync(agent, ECHO_AGENT_SOURCE);
  const records = dnsRecords(plan);
  const waits: { p: LabProcess; ready: string; log: string }[] = [];
  for (const pod of plan.pods) {
    const log = join(workDir, `${pod.name}.log`);
    let pid: number;
    let ready: string;
    if (pod.role === 'echo') {
      ready = join(workDir, `${pod.name}.ready`);
      pid = startDetached(pod.netns, [process.execPath, agent, pod.name, String(ECHO_PORT), ready], log);
    } else {
      // dnsmasq stands in for CoreDNS: authoritative for the cluster domain, no upstream.
      ready = join(workDir, `${pod.name}.pid`);
      pid = startDetached(
        pod.netns,
        [
          'dnsmasq',
          '--keep-in-foreground',
          '--conf-file=/dev/null',
          '--no-resolv',
          '--no-hosts',
          '--no-poll',
          '--bind-interfaces',
          `--listen-address=${pod.ip}`,
          '--port=53',
          `--local=/${plan.clusterDomain}/`,
          ...records.map((r) => `--host-record=${r.name},${r.ip}`),
          `--pid-file=${ready}`,
          `--log-facility=${log}`,
          '--log-queries',
          '--user=root',
          '--group=root',
        ],
        log,
      );
    }
    const p: LabProcess = { pid, netns: pod.netns, what: `${pod.role} ${pod.name}` };
    started(p);
    waits.push({ p, ready, log });
  }
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (const w of waits) {
    while (!existsSync(w.ready)) {
      if (!pidAlive(w.p.pid) || Date.now() > deadline) {
        let tail = '';
        try {
          tail = readFileSync(w.log, 'utf8').trim().split('\n').slice(-3).join(' / ');
        } catch {
          // no log
        }
        throw new LabError(
          `${w.p.what} ${pidAlive(w.p.pid) ? 'did not get ready in time' : 'exited'}${tail ? `: ${tail}` : ''}`,
        );
      }
      await sleep(50);
    }
  }
  return waits.map((w) => w.p);
}
