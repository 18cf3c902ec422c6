/**
 * The shape of a check: metadata (id, title, severity, the seeds it covers, docs) and a `run` that reads the cluster
 * model and emits findings. One check per file; `registry.ts` lists them; `netdoctor checks` and the docs are made
 * from this metadata, so they cannot drift apart.
 */
import type { Evidence, Finding, Severity } from '../core/vocabulary.js';
import type { ClusterModel } from '../model/cluster.js';

export interface FindingInput {
  node?: string;
  title: string;
  detail: string;
  evidence: Evidence[];
  fix: string[];
  /** Defaults to the check's severity. */
  severity?: Severity;
}

export interface CheckContext {
  emit(finding: FindingInput): void;
}

export interface Check {
  /** kebab-case id, stable: users filter and search on it. */
  id: string;
  title: string;
  severity: Severity;
  /** The field reports (shared/seeds) whose incident this check names. */
  seeds: string[];
  /** One line for `netdoctor checks`. */
  summary: string;
  /** Why it breaks traffic, how to confirm it by hand, how to fix it. */
  docs: string;
  run(cluster: ClusterModel, ctx: CheckContext): void;
}

export function defineCheck(check: Check): Check {
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(check.id)) throw new Error(`check id "${check.id}" is not kebab-case`);
  return check;
}

/** Run one check and collect its findings, each stamped with the check id. */
export function runCheck(check: Check, cluster: ClusterModel): Finding[] {
  const out: Finding[] = [];
  check.run(cluster, {
    emit(f) {
      out.push({
        check: check.id,
        severity: f.severity ?? check.severity,
        ...(f.node !== undefined ? { node: f.node } : {}),
        title: f.title,
        detail: f.detail,
        evidence: f.evidence,
        fix: f.fix,
      });
    },
  });
  return out;
}
