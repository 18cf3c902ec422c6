/**
 * The lab's state file: everything `lab down` needs to remove a lab, also after a crash (prefix, namespaces, the
 * processes it started, its work directory), and what tests need to check a scenario (the plan, the expected fault).
 * Written before the first namespace is created and after every step, atomically.
 */

import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FirewallLayout } from './firewall.js';
import type { LabPlan } from './plan.js';
import type { ExpectedFault, ScenarioName, ScenarioSetting } from './scenarios.js';
import { LabError } from './shell.js';

export const LAB_STATE_KIND = 'NetdoctorLab';

export interface LabProcess {
  pid: number;
  netns: string;
  /** `echo <pod>`, `dns <pod>` or `etcd`. */
  what: string;
}

export interface LabState {
  kind: typeof LAB_STATE_KIND;
  version: 1;
  prefix: string;
  createdAt: string;
  /** `creating` until every step of `up` finished. */
  status: 'creating' | 'up';
  /** Scratch files of the lab (the echo servers' script, DNS config, logs); removed by `down`. */
  workDir: string;
  /** The scenario the lab was started with and the one in force now (after inject/revert). */
  scenario: ScenarioName;
  seed: number;
  /** Every namespace the lab creates, listed before it is created. */
  namespaces: string[];
  processes: LabProcess[];
  plan: LabPlan;
  /** The firewall layout the healthy lab has. */
  layout: FirewallLayout;
  /** Set while a fault is injected. */
  fault?: ExpectedFault;
  /** True while the scenario's twin (its setting without the fault) is in. */
  twin?: boolean;
  /** The scenario's setting (files, command outputs, etcd, nodes without kube-proxy) while it is in. */
  setting?: ScenarioSetting;
  /** The etcd the scenario runs (flannel's etcd backend), while it runs. */
  etcd?: { pid: number; netns: string; url: string };
}

export function defaultStatePath(): string {
  return join(tmpdir(), 'netdoctor-lab.json');
}

export function readState(path: string): LabState | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LabError(`${path}: ${(e as Error).message}`);
  }
  let state: LabState;
  try {
    state = JSON.parse(text) as LabState;
  } catch {
    throw new LabError(`${path}: not a lab state file (not JSON)`);
  }
  if (state?.kind !== LAB_STATE_KIND || typeof state.prefix !== 'string' || !/^ndlab[a-z0-9]+$/.test(state.prefix))
    throw new LabError(`${path}: not a lab state file`);
  return state;
}

export function writeState(path: string, state: LabState): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

export function removeState(path: string): void {
  rmSync(path, { force: true });
}
