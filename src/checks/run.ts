/** Run the catalogue on a cluster model: findings worst first; a check that crashes is reported, the others still run. */
import { type Finding, severityRank } from '../core/vocabulary.js';
import type { ClusterModel } from '../model/cluster.js';
import { type Check, runCheck } from './define.js';

export interface CheckRun {
  findings: Finding[];
  /** Checks that threw, with the error: an internal error, not a finding about the cluster. */
  failed: { check: string; error: Error }[];
}

export function runChecks(cluster: ClusterModel, checks: readonly Check[]): CheckRun {
  const findings: Finding[] = [];
  const failed: CheckRun['failed'] = [];
  for (const check of checks) {
    try {
      findings.push(...runCheck(check, cluster));
    } catch (e) {
      failed.push({ check: check.id, error: e as Error });
    }
  }
  findings.sort(
    (a, b) => severityRank(b.severity) - severityRank(a.severity) || (a.node ?? '').localeCompare(b.node ?? ''),
  );
  return { findings, failed };
}
