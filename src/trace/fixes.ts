/**
 * The fix for a branch's decisive object, when one of `diagnose`'s checks names it: first a finding whose evidence is
 * the very object (the rule, the sysctl), else a finding on the same node from a check about that kind of cause.
 */
import type { Finding } from '../core/vocabulary.js';
import type { TraceDecisive, TraceResult } from './types.js';

/** Checks whose findings are about each kind of decisive object. */
const CHECKS_FOR_KIND: Record<string, RegExp> = {
  sysctl: /^(ip-forward-disabled|bridge-netfilter-disabled)$/,
  mtu: /^mtu-/,
  route:
    /^(overlay-route-missing|overlay-route-stale|overlay-address-hijacked|pod-cidr-overlap|vxlan-peer-mismatch|flannel-lease-missing|bridge-subnet-mismatch)$/,
  service: /^(kube-proxy-missing-on-node|service-no-ready-endpoints|service-selector-matches-nothing)$/,
  ipvs: /ipvs/,
  'policy-object': /policy/,
};

const norm = (s: string | null | undefined) => (s ?? '').replace(/\s*=\s*/g, '=').trim();

function sameObject(f: Finding, d: TraceDecisive): boolean {
  return f.evidence.some(
    (e) =>
      (e.node ?? f.node) === d.node &&
      (d.kind === 'rule'
        ? e.kind === 'rule' && e.chain === d.chain && e.index === d.index && (e.table ?? d.table) === d.table
        : norm(e.text) === norm(d.text)),
  );
}

export function fixFor(d: TraceDecisive, findings: readonly Finding[]): string[] | undefined {
  const exact = findings.find((f) => f.fix.length && sameObject(f, d));
  if (exact) return exact.fix;
  const kind = CHECKS_FOR_KIND[d.kind];
  if (!kind) return undefined;
  const serious = (f: Finding) => f.severity === 'critical' || f.severity === 'error';
  const related = findings.find(
    (f) => f.fix.length && serious(f) && kind.test(f.check) && (f.node === undefined || f.node === d.node),
  );
  return related?.fix;
}

export function attachFixes(r: TraceResult, findings: readonly Finding[]): void {
  for (const b of r.branches) {
    if (!b.decisive) continue;
    const fix = fixFor(b.decisive, findings);
    if (fix) b.fix = fix;
  }
}
