/** Every iptables target netdoctor knows, by name. */
import connmark from './connmark.js';
import { ctTargets } from './ct.js';
import type { TargetModule } from './define.js';
import mark from './mark.js';
import { natTargets } from './nat.js';
import { passiveTargets, unknownTarget } from './passive.js';
import reject from './reject.js';
import { verdictTargets } from './verdicts.js';

const targets = new Map<string, TargetModule>();
for (const t of [...verdictTargets, reject, mark, connmark, ...natTargets, ...ctTargets, ...passiveTargets])
  targets.set(t.name, t);

export function targetModule(name: string): TargetModule {
  return targets.get(name) ?? unknownTarget(name);
}

export function isKnownTarget(name: string): boolean {
  return targets.has(name);
}

export function knownTargetNames(): string[] {
  return [...targets.keys()].sort();
}
