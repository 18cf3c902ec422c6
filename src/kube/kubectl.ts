/** Evidence about Kubernetes objects and kubectl commands that run as they are printed (quoted for a POSIX shell). */
import type { Evidence } from '../core/vocabulary.js';
import type { PodInfo } from './objects.js';
import { formatLabels, shellQuote } from './selectors.js';
import type { ServiceInfo } from './services.js';

/** `kubectl -n NS` (namespace always explicit: the user's context may point elsewhere). */
export function kubectl(namespace: string, ...args: string[]): string {
  return ['kubectl', '-n', shellQuote(namespace), ...args].join(' ');
}

/** `kubectl -n NS get pods -l SELECTOR -o wide`. */
export function getPodsCommand(namespace: string, selector: string, ...extra: string[]): string {
  return kubectl(namespace, 'get', 'pods', '-l', shellQuote(selector), '-o', 'wide', ...extra);
}

/** `kubectl -n NS patch svc NAME -p '<json>'` (strategic merge; `--type=json` when `json` is set). */
export function patchServiceCommand(
  svc: Pick<ServiceInfo, 'namespace' | 'name'>,
  patch: unknown,
  json = false,
): string {
  return kubectl(
    svc.namespace,
    'patch',
    'svc',
    shellQuote(svc.name),
    ...(json ? ['--type=json'] : []),
    '-p',
    shellQuote(JSON.stringify(patch)),
  );
}

export function serviceEvidence(svc: ServiceInfo, text: string, detail?: string): Evidence {
  return {
    kind: 'service',
    object: `service/${svc.namespace}/${svc.name}`,
    text: `${svc.namespace}/${svc.name}  ${text}`,
    ...(detail ? { detail } : {}),
  };
}

export function podEvidence(pod: PodInfo, text?: string, detail?: string): Evidence {
  return {
    kind: 'pod',
    object: `pod/${pod.namespace}/${pod.name}`,
    ...(pod.nodeName ? { node: pod.nodeName } : {}),
    text: `${pod.namespace}/${pod.name}  ${text ?? formatLabels(pod.labels)}`,
    ...(detail ? { detail } : {}),
  };
}

/** Labels that differ between replicas of one workload and say nothing about which workload it is. */
const PER_POD_LABELS = new Set([
  'pod-template-hash',
  'controller-revision-hash',
  'statefulset.kubernetes.io/pod-name',
  'apps.kubernetes.io/pod-index',
  'pod-template-generation',
]);

/** Group pods that carry the same labels (replicas of one workload), first pod as the representative. */
export function groupByLabels(pods: PodInfo[]): { pod: PodInfo; count: number }[] {
  const groups = new Map<string, { pod: PodInfo; count: number }>();
  for (const p of pods) {
    const key = formatLabels(Object.fromEntries(Object.entries(p.labels).filter(([k]) => !PER_POD_LABELS.has(k))));
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { pod: p, count: 1 });
  }
  return [...groups.values()];
}
