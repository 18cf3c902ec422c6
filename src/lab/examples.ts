/**
 * The example bundles the lab makes (`scripts/make-examples.sh`): one per scenario, `examples/<scenario>/`, made by
 * `netdoctor lab up <scenario> --seed <seed>` and `lab collect`, and its healthy twin `examples/<scenario>-healthy/`,
 * collected from the same lab after `lab heal` (the fault undone, the scenario's setting kept). The seeds are chosen
 * so the broken node is not always the same one. Tests read this table to know what each bundle must diagnose to.
 */

import type { FaultScenario } from './scenarios.js';

export interface LabExample {
  scenario: Exclude<FaultScenario, 'seed-000'>;
  /** `lab up --seed`: the lab's and the fault's seed. */
  seed: number;
  /** Number of nodes. */
  nodes: number;
}

export const LAB_EXAMPLES: readonly LabExample[] = [
  { scenario: 'seed-001-ip-forward', seed: 1, nodes: 3 },
  { scenario: 'seed-001-bridge-nf', seed: 2, nodes: 3 },
  { scenario: 'seed-001-cidr-overlap', seed: 5, nodes: 3 },
  { scenario: 'seed-002-networkmanager', seed: 6, nodes: 3 },
  { scenario: 'seed-004-flannel-lease', seed: 3, nodes: 3 },
  { scenario: 'mtu-overlay', seed: 2, nodes: 3 },
];

/** The directory of an example bundle, and of its healthy twin. */
export function exampleDir(e: LabExample, twin = false): string {
  return `examples/${e.scenario}${twin ? '-healthy' : ''}`;
}
