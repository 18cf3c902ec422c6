/**
 * service-selector-matches-nothing: a Service whose selector matches no pod of its namespace has no endpoints, so its
 * ClusterIP rejects every connection (kube-proxy installs a REJECT: "connection refused") — usually a typo in a label,
 * a label changed in the Deployment but not in the Service, or the Service created in another namespace.
 */
import type { Evidence } from '../core/vocabulary.js';
import {
  getPodsCommand,
  groupByLabels,
  kubectl,
  patchServiceCommand,
  podEvidence,
  serviceEvidence,
} from '../kube/kubectl.js';
import { kubeIndex, type PodInfo } from '../kube/objects.js';
import { formatLabels, formatSelector, fromMap, mapSelectorMatches } from '../kube/selectors.js';
import { listServices, resolveServiceInfo, type ServiceInfo } from '../kube/services.js';
import type { ClusterModel } from '../model/cluster.js';
import { defineCheck, type FindingInput } from './define.js';

/** How far a pod's labels are from a selector: 0 per equal pair, 1 per key with another value, 2 per missing key. */
function distance(selector: Record<string, string>, labels: Record<string, string>): number {
  let d = 0;
  for (const [k, v] of Object.entries(selector)) d += !Object.hasOwn(labels, k) ? 2 : labels[k] === v ? 0 : 1;
  return d;
}

/** The selector pairs a pod fails, in words: `tier=front (wants frontend)`, `role missing`. */
function differences(selector: Record<string, string>, labels: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(selector)) {
    if (!Object.hasOwn(labels, k)) out.push(`no label ${k}`);
    else if (labels[k] !== v) out.push(`${k}=${labels[k]}, the selector wants ${k}=${v}`);
  }
  return out;
}

/** The pods of the namespace closest to the selector (sharing at least one pair or key), replicas grouped. */
function closest(selector: Record<string, string>, pods: PodInfo[]): { pod: PodInfo; count: number; d: number }[] {
  const max = 2 * Object.keys(selector).length;
  const scored = groupByLabels(pods)
    .map((g) => ({ ...g, d: distance(selector, g.pod.labels as Record<string, string>) }))
    .filter((g) => g.d < max);
  const best = Math.min(...scored.map((g) => g.d));
  return scored.filter((g) => g.d === best).slice(0, 3);
}

/** The strategic-merge patch that makes the selector equal to a pod's labels on the selector's keys. */
function selectorPatch(
  selector: Record<string, string>,
  labels: Record<string, string>,
): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const k of Object.keys(selector)) out[k] = Object.hasOwn(labels, k) ? (labels[k] as string) : null;
  return out;
}

function finding(cluster: ClusterModel, svc: ServiceInfo): FindingInput {
  const selector = svc.selector as Record<string, string>;
  const idx = kubeIndex(cluster);
  const nsPods = idx.podsIn(svc.namespace);
  const sel = formatSelector(fromMap(selector));
  const evidence: Evidence[] = [
    serviceEvidence(
      svc,
      `selector ${sel}`,
      `type ${svc.type}, ports ${svc.ports.map((p) => `${p.port}/${p.protocol}`).join(', ') || 'none'}; no pod of namespace ${svc.namespace} matches`,
    ),
  ];
  const fix: string[] = [getPodsCommand(svc.namespace, sel), kubectl(svc.namespace, 'get', 'pods', '--show-labels')];
  const near = closest(selector, nsPods);
  const parts: string[] = [];
  for (const g of near) {
    const diffs = differences(selector, g.pod.labels as Record<string, string>);
    evidence.push(
      podEvidence(
        g.pod,
        formatLabels(g.pod.labels),
        `closest labels${g.count > 1 ? ` (and ${g.count - 1} more pod${g.count > 2 ? 's' : ''} with the same labels)` : ''}: ${diffs.join('; ')}`,
      ),
    );
    parts.push(`${g.pod.name} (${diffs.join('; ')})`);
  }
  // Pods with exactly these labels in other namespaces: a Service selects only its own namespace's pods.
  const elsewhere = groupByLabels(
    idx.pods.filter((p) => p.namespace !== svc.namespace && mapSelectorMatches(selector, p.labels)),
  );
  for (const g of elsewhere.slice(0, 3))
    evidence.push(
      podEvidence(g.pod, formatLabels(g.pod.labels), `matches the selector, but in namespace ${g.pod.namespace}`),
    );
  const first = near[0];
  if (first)
    fix.push(
      patchServiceCommand(svc, {
        spec: { selector: selectorPatch(selector, first.pod.labels as Record<string, string>) },
      }),
    );
  const otherNs = elsewhere[0]?.pod.namespace;
  if (otherNs) fix.push(getPodsCommand(otherNs, sel));
  const detail =
    `Service ${svc.namespace}/${svc.name} selects pods labelled ${sel}, and no pod of namespace ${svc.namespace} has all of these labels, ` +
    (svc.headless
      ? 'so the headless Service has no endpoints and its DNS name resolves to no address. '
      : 'so the Service has no endpoints: connections to it are refused (kube-proxy rejects them) and its DNS name resolves to an address nobody answers. ') +
    (nsPods.length === 0
      ? `Namespace ${svc.namespace} has no pods in the bundle. `
      : near.length
        ? `Closest: ${parts.join(', ')}. `
        : `None of the ${nsPods.length} pods of the namespace shares a label with the selector. `) +
    (elsewhere.length
      ? `Pods with these labels run in namespace ${[...new Set(elsewhere.map((g) => g.pod.namespace))].join(', ')}, but a Service selects only pods of its own namespace. `
      : '') +
    'Fix the selector (or the pod template labels) so they agree.';
  return {
    title: `Service ${svc.namespace}/${svc.name} selects no pod (selector ${sel})`,
    detail,
    evidence,
    fix,
  };
}

export default defineCheck({
  id: 'service-selector-matches-nothing',
  title: 'A Service whose selector matches no pod',
  severity: 'error',
  seeds: [],
  summary: "a Service's selector matches no pod of its namespace, so it has no endpoints and refuses connections",
  docs: `A Service sends traffic to the pods of its own namespace whose labels include every key=value pair of
spec.selector. When none does, the endpoints controller writes no endpoints, and kube-proxy answers connections to the
ClusterIP and NodePorts with an ICMP port-unreachable (clients see "connection refused"; some see a timeout when a
firewall eats the ICMP). Common causes: a typo or a changed label in the Deployment's pod template, an extra selector
key the pods don't have, or the Service created in a different namespace than the pods.

netdoctor compares the selector with the labels of every pod of the namespace and names the closest pods and the
pairs that differ, and pods in other namespaces that would match.

Confirm by hand: \`kubectl -n NS get endpoints NAME\` shows \`<none>\`; \`kubectl -n NS get pods -l KEY=VALUE\` finds
nothing; \`kubectl -n NS get pods --show-labels\`. Fix: correct the selector (\`kubectl patch svc\`) or the pod
template's labels. Services without a selector (endpoints managed by hand) and ExternalName services are not checked;
nor is a Service whose endpoints name pods the bundle lacks (the bundle is then incomplete, not the Service wrong).`,
  run(cluster: ClusterModel, { emit }) {
    const idx = kubeIndex(cluster);
    // Without any pod in the bundle (pods not collected), "matches nothing" would be a guess.
    if (idx.pods.length === 0) return;
    for (const svc of listServices(cluster)) {
      if (svc.type === 'ExternalName' || !svc.selector || Object.keys(svc.selector).length === 0) continue;
      if (idx.podsIn(svc.namespace).some((p) => mapSelectorMatches(svc.selector, p.labels))) continue;
      // Endpoints exist although no collected pod matches: the bundle's pods are incomplete or stale.
      if (resolveServiceInfo(cluster, svc).ports.some((p) => p.endpoints.length > 0)) continue;
      emit(finding(cluster, svc));
    }
  },
});
