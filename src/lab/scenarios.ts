/**
 * The lab's scenarios. A scenario is the healthy lab plus one fault, injected on a running lab and reverted the same
 * way, so tests reuse one lab. The seed picks every detail a diagnosis must not take for granted: which node is
 * broken, the firewall's style (firewalld zone chains or a flat INPUT chain), where the VXLAN accept sits among the
 * other ports, and the scenario's own details (which sysctl, which subnet, which stale routes). What a correct
 * diagnosis must name is recorded as `ExpectedFault`: the check ids, the node, the evidence values and the fix.
 *
 * Each scenario also has a twin (`planFault(..., { twin: true })`): the same setting (NetworkManager running, an
 * etcd-backed flannel, ...) with only the fault undone, as the fix leaves it. Example bundles come in such pairs.
 */

import { Random } from '../synth/random.js';
import { planMtu, planSeed001, planSeed002, planSeed004 } from './faults.js';
import { type FirewallLayout, NODE_TCP_PORTS, REJECT_TYPES, type RejectWith } from './firewall.js';
import type { LabPlan } from './plan.js';
import { nodeRuleset, type PlacedRule } from './rules.js';

export interface ScenarioInfo {
  name: ScenarioName;
  /** Seeds (incidents in the field reports) the scenario reproduces. */
  seeds: string[];
  description: string;
  /** What real traffic shows while the fault is in. */
  symptom: string;
}

export const SCENARIO_NAMES = [
  'healthy',
  'seed-000',
  'seed-001-ip-forward',
  'seed-001-bridge-nf',
  'seed-001-cidr-overlap',
  'seed-002-networkmanager',
  'seed-004-flannel-lease',
  'mtu-overlay',
] as const;

export type ScenarioName = (typeof SCENARIO_NAMES)[number];
export type FaultScenario = Exclude<ScenarioName, 'healthy'>;

export const SCENARIOS: readonly ScenarioInfo[] = [
  {
    name: 'healthy',
    seeds: [],
    description:
      'Every node runs the same firewalld-style firewall with UDP 8472 (flannel VXLAN) open; all traffic flows.',
    symptom: 'none',
  },
  {
    name: 'seed-000',
    seeds: ['000'],
    description:
      "One node's firewall opens 8472 for TCP instead of UDP (the seed's one-word typo), so its final REJECT catches\n" +
      'flannel VXLAN: pods on other nodes cannot reach its pods and its pods cannot reach theirs. Line counts of the\n' +
      'rulesets are identical on every node.',
    symptom: "pings between the broken node's pods and other nodes' pods are lost; same-node traffic flows",
  },
  {
    name: 'seed-001-ip-forward',
    seeds: ['001'],
    description:
      'One node stops routing: net.ipv4.ip_forward=0, or (by seed) the forwarding sysctl of cni0 or flannel.1 only,\n' +
      'as a security scan or a sysctl file without persistence leaves it.',
    symptom:
      'pods on the broken node and pods elsewhere cannot reach each other (silent drop: the kernel counts\nInAddrErrors and sends no ICMP), pods on the same node still can',
  },
  {
    name: 'seed-001-bridge-nf',
    seeds: ['001'],
    description:
      'One node has net.bridge.bridge-nf-call-iptables=0 (br_netfilter is built into this kernel, so the sysctl is\n' +
      'what is set, per network namespace): frames between pods on its cni0 bypass iptables and conntrack.',
    symptom:
      "a pod's ClusterIP connection that kube-proxy sends to another pod on the same node fails: the reply goes\npod to pod over the bridge without the reverse NAT, the client drops it (conntrack shows the flow UNREPLIED);\nendpoints on other nodes, the pod itself (masqueraded hairpin) and pod IPs still answer",
  },
  {
    name: 'seed-001-cidr-overlap',
    seeds: ['001'],
    description:
      "One node's uplink also carries a host network that is another node's pod subnet (10.244.V.0/24 inside the\n" +
      "cluster CIDR). The kernel's connected route for it came first, so flanneld's route to that subnet failed\n" +
      "with 'file exists'.",
    symptom:
      'pods on the broken node and pods on the node whose subnet overlaps cannot talk: the broken node ARPs for\nthe pod addresses on eth0 and nobody answers (No route to host); every other pair flows',
  },
  {
    name: 'seed-002-networkmanager',
    seeds: ['002'],
    description:
      'NetworkManager (which cannot run in the lab: its effects are made with `ip`) manages cni0 and flannel.1 on\n' +
      'one node, whose NetworkManager config lacks the unmanaged-devices file the other nodes have. It took\n' +
      "flannel.1's address (the flannel address now is a local route on lo; the kernel flushed flannel.1's\n" +
      "neighbours with it) and flushed flannel's routes to the other nodes. kubelet runs with clusterDomain\n" +
      'cluster1.local while CoreDNS serves cluster.local.',
    symptom:
      "pods on the broken node and pods on other nodes cannot reach each other (no route: packets leave by the\ndefault route and die on the underlay); names under cluster1.local (the pods' search domain) do not resolve",
  },
  {
    name: 'seed-004-flannel-lease',
    seeds: ['004'],
    description:
      "flannel keeps its leases in a real etcd (Debian etcd-server, on the control-plane node). One node's lease is\n" +
      'gone: the other nodes dropped their route to its subnet, its cni0 is still on that old subnet, it routes to\n' +
      'two subnets nobody owns and to no current one. The control-plane node runs no kube-proxy.',
    symptom:
      "pods on the lease-less node and pods elsewhere cannot talk; a NodePort answers only when the picked\nendpoint is on the node asked; ClusterIPs time out from the control-plane node's own network namespace",
  },
  {
    name: 'mtu-overlay',
    seeds: [],
    description:
      "One node's uplink has MTU 1400 under flannel's 1450-byte VXLAN overlay (1450 + 50 bytes of VXLAN headers do\n" +
      'not fit).',
    symptom:
      "small packets pass; large packets with DF set from other nodes' pods to its pods vanish at its eth0 with no\nICMP (a PMTU black hole); its own pods' large requests arrive (the outer packet is fragmented) but the\nequally large replies vanish",
  },
];

export function isScenario(name: string): name is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(name);
}

/** The firewall layout every node of a lab started with `seed` gets. */
export function layoutForSeed(seed: number): FirewallLayout {
  const rng = new Random((seed ^ 0x5eed0f1e) >>> 0);
  return {
    style: rng.pick(['firewalld', 'flat'] as const),
    vxlanPosition: rng.int(0, NODE_TCP_PORTS.length),
    rejectWith: rng.pick(REJECT_TYPES) as RejectWith,
  };
}

/** The checks a diagnosis names for the lab's scenarios. */
export type ExpectedCheck =
  | 'overlay-port-blocked'
  | 'ip-forward-disabled'
  | 'bridge-netfilter-disabled'
  | 'pod-cidr-overlap'
  | 'overlay-route-missing'
  | 'overlay-route-stale'
  | 'overlay-address-hijacked'
  | 'networkmanager-manages-cni'
  | 'cluster-domain-mismatch'
  | 'flannel-lease-missing'
  | 'bridge-subnet-mismatch'
  | 'kube-proxy-missing-on-node'
  | 'mtu-mismatch'
  | 'cluster-dns-unreachable'
  | 'vxlan-peer-mismatch'
  | 'rp-filter-strict';

/** One finding a correct diagnosis must give. */
export interface ExpectedFinding {
  check: ExpectedCheck;
  /** The node the finding names; undefined for a cluster-wide finding. */
  node?: string;
  /** Values that must appear in the finding's evidence (a sysctl line, an address, a route, a lease key, ...). */
  evidence: string[];
}

interface FaultBase {
  scenario: FaultScenario;
  seed: number;
  /** The node the fault is on. */
  brokenNode: string;
  healthyNodes: string[];
  /** One line for people. */
  summary: string;
  /** What real traffic shows (the scenario's symptom, with this seed's names). */
  symptom: string;
  /** Every finding a diagnosis must give; the first is the root cause. */
  findings: ExpectedFinding[];
  /** Checks that may also fire at error level or above: consequences of the fault that are true as well. */
  also: ExpectedCheck[];
  /** The fix an operator would run, in order (on `brokenNode` unless a line says otherwise). */
  fix: string[];
}

/** Seed 000: the firewall rule details a diagnosis must name. */
export interface Seed000Fault extends FaultBase {
  scenario: 'seed-000';
  check: 'overlay-port-blocked';
  layout: FirewallLayout;
  /** The rule on the broken node that rejects flannel's VXLAN packets. */
  reject: PlacedRule & { node: string; with: RejectWith };
  /** The broken node's VXLAN accept with the wrong protocol. */
  nearMiss: PlacedRule & { node: string };
  /** The same rule on a healthy node, with the right protocol. */
  healthyRule: PlacedRule & { node: string };
}

/** The other scenarios: the details of the fault as values (which sysctl, which subnet, which node ...). */
export interface OtherFault extends FaultBase {
  scenario: Exclude<FaultScenario, 'seed-000'>;
  facts: Record<string, string | number | string[]>;
}

/** What a correct diagnosis of the injected fault names. */
export type ExpectedFault = Seed000Fault | OtherFault;

/** A command's output the collector records on a lab node, replacing what the real command printed. */
export interface CommandOverride {
  stdout: string;
  exitCode: number;
}

/**
 * The setting a scenario runs in, beyond the network itself: what the collector sees on each node and the cluster's
 * objects. Kept in the lab's state while the scenario is in, so `lab collect` in another process sees it too.
 */
export interface ScenarioSetting {
  /** Per node: files the collector reads (path -> content), over the lab node's own. */
  files: Record<string, Record<string, string>>;
  /** Per node: command outputs over the real ones (e.g. `nmcli-dev`). */
  commands: Record<string, Record<string, CommandOverride>>;
  /** Per node: extra daemon lines for the process list (e.g. NetworkManager). */
  daemons: Record<string, string[]>;
  /** Nodes that run no kube-proxy (no pod, no process, no rules). */
  noKubeProxy: string[];
  /** kubelet's clusterDomain on every node (CoreDNS keeps the plan's). */
  kubeletClusterDomain?: string;
  /** flannel with an etcd backend instead of the kube subnet manager: the etcd content to serve. */
  flannelEtcd?: { prefix: string; config: string; leases: Record<string, string> };
}

export function emptySetting(): ScenarioSetting {
  return { files: {}, commands: {}, daemons: {}, noKubeProxy: [] };
}

/** The network changes of a fault, applied to a healthy lab. */
export interface NetworkChanges {
  /** Per node: `ip -batch` lines run in the node's namespace. */
  ip: Record<string, string[]>;
  /** Per node: `bridge -batch` lines. */
  bridge: Record<string, string[]>;
  /** Per node: sysctl name (dotted) -> value, written in the node's namespace. */
  sysctl: Record<string, Record<string, string>>;
}

export function noChanges(): NetworkChanges {
  return { ip: {}, bridge: {}, sysctl: {} };
}

export interface FaultPlan {
  expected: ExpectedFault;
  layout: FirewallLayout;
  /** Per node: the protocol of its VXLAN accept. */
  vxlanProto: Record<string, 'udp' | 'tcp'>;
  setting: ScenarioSetting;
  changes: NetworkChanges;
  /** True for the twin: the setting without the fault. */
  twin: boolean;
}

export interface FaultOptions {
  /** The scenario's setting with the fault undone (as its fix leaves it). */
  twin?: boolean;
}

/** Plans a scenario's fault on a lab: pure, from the plan and the seed. */
export function planFault(
  plan: LabPlan,
  scenario: ScenarioName,
  seed: number,
  opts: FaultOptions = {},
): FaultPlan | undefined {
  if (scenario === 'healthy') return undefined;
  const twin = opts.twin === true;
  switch (scenario) {
    case 'seed-000':
      return planSeed000(plan, seed, twin);
    case 'seed-001-ip-forward':
    case 'seed-001-bridge-nf':
    case 'seed-001-cidr-overlap':
      return planSeed001(plan, scenario, seed, twin);
    case 'seed-002-networkmanager':
      return planSeed002(plan, seed, twin);
    case 'seed-004-flannel-lease':
      return planSeed004(plan, seed, twin);
    case 'mtu-overlay':
      return planMtu(plan, seed, twin);
  }
}

/** The broken node of a scenario: one of the lab's nodes, picked by the seed (and the scenario). */
export function pickBroken(plan: LabPlan, scenario: FaultScenario, seed: number): LabPlan['nodes'][number] {
  if (scenario === 'seed-000') return new Random((seed ^ 0x000b40c3) >>> 0).pick(plan.nodes);
  let h = 0x811c9dc5;
  for (const c of scenario) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return new Random((seed ^ h) >>> 0).pick(plan.nodes);
}

function planSeed000(plan: LabPlan, seed: number, twin: boolean): FaultPlan {
  const layout = layoutForSeed(seed);
  const broken = pickBroken(plan, 'seed-000', seed);
  const healthy = plan.nodes.filter((n) => n !== broken);
  const vxlanProto: Record<string, 'udp' | 'tcp'> = {};
  for (const n of plan.nodes) vxlanProto[n.name] = n === broken && !twin ? 'tcp' : 'udp';
  const brokenRules = nodeRuleset(plan, broken, layout, 'tcp');
  const healthyNode = healthy[0] as (typeof plan.nodes)[number];
  const healthyRules = nodeRuleset(plan, healthyNode, layout, 'udp');
  const reject = { ...brokenRules.reject, node: broken.name, with: layout.rejectWith };
  const nearMiss = { ...brokenRules.vxlanAccept, node: broken.name };
  const expected: Seed000Fault = {
    scenario: 'seed-000',
    seed,
    check: 'overlay-port-blocked',
    brokenNode: broken.name,
    healthyNodes: healthy.map((n) => n.name),
    summary:
      `${broken.name} rejects flannel VXLAN (UDP 8472) from ${healthy.map((n) => n.name).join(', ')}: ` +
      `its accept for 8472 is -p tcp (${brokenRules.vxlanAccept.chain} #${brokenRules.vxlanAccept.index}), ` +
      `so ${brokenRules.reject.chain} #${brokenRules.reject.index} (REJECT --reject-with ${layout.rejectWith}) catches it`,
    symptom: `pings between pods on ${broken.name} and pods on ${healthy.map((n) => n.name).join(', ')} are lost`,
    layout,
    reject,
    nearMiss,
    healthyRule: { ...healthyRules.vxlanAccept, node: healthyNode.name },
    findings: [{ check: 'overlay-port-blocked', node: broken.name, evidence: [reject.text, nearMiss.text] }],
    also: ['cluster-dns-unreachable'],
    fix: [
      'iptables -I INPUT -p udp --dport 8472 -j ACCEPT',
      'firewall-cmd --permanent --add-port=8472/udp && firewall-cmd --reload',
    ],
  };
  return { expected, vxlanProto, layout, setting: emptySetting(), changes: noChanges(), twin };
}
