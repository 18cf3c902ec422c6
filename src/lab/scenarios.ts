/**
 * The lab's scenarios. A scenario is the healthy lab plus one fault, injected on a running lab and reverted the same
 * way, so tests reuse one lab. The seed picks every detail a diagnosis must not take for granted: which node is
 * broken, the firewall's style (firewalld zone chains or a flat INPUT chain), where the VXLAN accept sits among the
 * other ports, and the type of the final REJECT. What a correct diagnosis must name is recorded as `ExpectedFault`.
 */

import { Random } from '../synth/random.js';
import { type FirewallLayout, NODE_TCP_PORTS, REJECT_TYPES, type RejectWith } from './firewall.js';
import type { LabPlan } from './plan.js';
import { nodeRuleset, type PlacedRule } from './rules.js';

export interface ScenarioInfo {
  name: string;
  /** Seeds (incidents in the field reports) the scenario reproduces. */
  seeds: string[];
  description: string;
}

export const SCENARIOS: readonly ScenarioInfo[] = [
  {
    name: 'healthy',
    seeds: [],
    description:
      'Every node runs the same firewalld-style firewall with UDP 8472 (flannel VXLAN) open; all traffic flows.',
  },
  {
    name: 'seed-000',
    seeds: ['000'],
    description:
      "One node's firewall opens 8472 for TCP instead of UDP (the seed's one-word typo), so its final REJECT catches\n" +
      'flannel VXLAN: pods on other nodes cannot reach its pods and its pods cannot reach theirs. Line counts of the\n' +
      'rulesets are identical on every node.',
  },
];

export type ScenarioName = 'healthy' | 'seed-000';

export function isScenario(name: string): name is ScenarioName {
  return SCENARIOS.some((s) => s.name === name);
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

/** What a correct diagnosis of the injected fault names. */
export interface ExpectedFault {
  scenario: ScenarioName;
  seed: number;
  /** The check that must fire. */
  check: 'overlay-port-blocked';
  brokenNode: string;
  healthyNodes: string[];
  /** One line for people. */
  summary: string;
  layout: FirewallLayout;
  /** The rule on the broken node that rejects flannel's VXLAN packets. */
  reject: PlacedRule & { node: string; with: RejectWith };
  /** The broken node's VXLAN accept with the wrong protocol. */
  nearMiss: PlacedRule & { node: string };
  /** The same rule on a healthy node, with the right protocol. */
  healthyRule: PlacedRule & { node: string };
  /** The fix an operator would run on the broken node. */
  fix: string[];
}

export interface FaultPlan {
  expected: ExpectedFault;
  /** Per node: the protocol of its VXLAN accept. */
  vxlanProto: Record<string, 'udp' | 'tcp'>;
  layout: FirewallLayout;
}

/** Plans a scenario's fault on a lab: pure, from the plan and the seed. */
export function planFault(plan: LabPlan, scenario: ScenarioName, seed: number): FaultPlan | undefined {
  if (scenario === 'healthy') return undefined;
  const layout = layoutForSeed(seed);
  const rng = new Random((seed ^ 0x000b40c3) >>> 0);
  const broken = rng.pick(plan.nodes);
  const healthy = plan.nodes.filter((n) => n !== broken);
  const vxlanProto: Record<string, 'udp' | 'tcp'> = {};
  for (const n of plan.nodes) vxlanProto[n.name] = n === broken ? 'tcp' : 'udp';
  const brokenRules = nodeRuleset(plan, broken, layout, 'tcp');
  const healthyNode = healthy[0] as (typeof plan.nodes)[number];
  const healthyRules = nodeRuleset(plan, healthyNode, layout, 'udp');
  const expected: ExpectedFault = {
    scenario,
    seed,
    check: 'overlay-port-blocked',
    brokenNode: broken.name,
    healthyNodes: healthy.map((n) => n.name),
    summary:
      `${broken.name} rejects flannel VXLAN (UDP 8472) from ${healthy.map((n) => n.name).join(', ')}: ` +
      `its accept for 8472 is -p tcp (${brokenRules.vxlanAccept.chain} #${brokenRules.vxlanAccept.index}), ` +
      `so ${brokenRules.reject.chain} #${brokenRules.reject.index} (REJECT --reject-with ${layout.rejectWith}) catches it`,
    layout,
    reject: { ...brokenRules.reject, node: broken.name, with: layout.rejectWith },
    nearMiss: { ...brokenRules.vxlanAccept, node: broken.name },
    healthyRule: { ...healthyRules.vxlanAccept, node: healthyNode.name },
    fix: [
      'iptables -I INPUT -p udp --dport 8472 -j ACCEPT',
      'firewall-cmd --permanent --add-port=8472/udp && firewall-cmd --reload',
    ],
  };
  return { expected, vxlanProto, layout };
}
