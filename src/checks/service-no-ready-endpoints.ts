/**
 * service-no-ready-endpoints: a Service has endpoints (its selector matches pods), but none of them is ready, so
 * kube-proxy has nothing to send new connections to — the pods are crashing, failing their readiness probe, pending
 * or terminating. Names each pod with the reason its status gives.
 */
import type { Evidence } from '../core/vocabulary.js';
import { getPodsCommand, kubectl, podEvidence, serviceEvidence } from '../kube/kubectl.js';
import { notReadyReasons, type PodInfo } from '../kube/objects.js';
import { formatSelector, fromMap, shellQuote } from '../kube/selectors.js';
import { listServices, resolveServiceInfo, type ServiceEndpoint, type ServiceInfo } from '../kube/services.js';
import type { ClusterModel } from '../model/cluster.js';
import { defineCheck, type FindingInput } from './define.js';

const MAX_PODS = 5;

function endpointText(e: ServiceEndpoint): string {
  const addr = e.family === 6 ? `[${e.ip}]` : e.ip;
  return `${e.source.kind.toLowerCase()}/${e.source.name}  ${addr}${e.port !== undefined ? `:${e.port}` : ''}/${e.protocol} ready=${e.ready} serving=${e.serving} terminating=${e.terminating}${e.nodeName ? ` node ${e.nodeName}` : ''}${e.targetRef ? ` ${e.targetRef.kind.toLowerCase()} ${e.targetRef.name}` : ''}`;
}

function podLine(p: PodInfo): string {
  const reasons = notReadyReasons(p);
  return `${p.name}${p.nodeName ? ` on ${p.nodeName}` : ''}: ${reasons.length ? reasons.join('; ') : 'not ready (no reason recorded)'}`;
}

/** The command that shows why a pod is not ready: its previous logs when a container crash-loops, else describe. */
function podFix(p: PodInfo): string {
  const status = (p.object.status ?? {}) as Record<string, unknown>;
  const statuses = (Array.isArray(status.containerStatuses) ? status.containerStatuses : []) as Record<
    string,
    unknown
  >[];
  const crashing = statuses.find(
    (s) =>
      ((s.state as Record<string, Record<string, unknown>> | undefined)?.waiting?.reason ?? '') === 'CrashLoopBackOff',
  );
  if (crashing)
    return kubectl(p.namespace, 'logs', shellQuote(p.name), '-c', shellQuote(String(crashing.name)), '--previous');
  return kubectl(p.namespace, 'describe', 'pod', shellQuote(p.name));
}

function finding(svc: ServiceInfo, endpoints: ServiceEndpoint[], pods: PodInfo[], fromPods: boolean): FindingInput {
  const terminatingServing = endpoints.filter((e) => e.serving && e.terminating);
  const severity = terminatingServing.length ? 'warning' : 'error';
  const sel = svc.selector && Object.keys(svc.selector).length ? formatSelector(fromMap(svc.selector)) : undefined;
  const evidence: Evidence[] = [
    serviceEvidence(
      svc,
      sel ? `selector ${sel}` : 'no selector (endpoints managed by hand)',
      fromPods
        ? `no endpoint; the ${pods.length} pod${pods.length === 1 ? '' : 's'} it selects ${pods.length === 1 ? 'is' : 'are'} not ready`
        : `${endpoints.length} endpoint${endpoints.length === 1 ? '' : 's'}, none ready`,
    ),
  ];
  for (const e of endpoints.slice(0, MAX_PODS))
    evidence.push({ kind: 'endpoint', ...(e.nodeName ? { node: e.nodeName } : {}), text: endpointText(e) });
  const shown = pods.slice(0, MAX_PODS);
  for (const p of shown) {
    const reasons = notReadyReasons(p);
    evidence.push(
      podEvidence(p, `phase ${p.phase ?? 'unknown'}, ready ${p.ready ?? 'unknown'}`, reasons.join('; ') || undefined),
    );
  }
  const more = pods.length - shown.length;
  const what = fromPods ? 'the pods it selects are' : 'every endpoint is';
  const effect = svc.headless
    ? 'The Service is headless: its DNS name returns only ready addresses, so it resolves to none. '
    : terminatingServing.length
      ? 'kube-proxy still sends traffic to the terminating endpoints that serve, so it works until they are gone — then connections are refused. '
      : 'kube-proxy has no endpoint to send new connections to: they are refused (ICMP port unreachable), and DNS still answers with the ClusterIP. ';
  const detail =
    `Service ${svc.namespace}/${svc.name} has no ready endpoint: ${what} not ready. ${effect}` +
    (pods.length
      ? `Pods: ${shown.map(podLine).join('; ')}${more > 0 ? `; and ${more} more` : ''}.`
      : 'The endpoints name no pod the bundle holds.');
  const fix: string[] = [];
  if (sel) fix.push(getPodsCommand(svc.namespace, sel));
  if (shown[0]) fix.push(podFix(shown[0]));
  fix.push(
    kubectl(
      svc.namespace,
      'get',
      'endpointslices',
      '-l',
      shellQuote(`kubernetes.io/service-name=${svc.name}`),
      '-o',
      'wide',
    ),
  );
  return {
    severity,
    title: `Service ${svc.namespace}/${svc.name} has no ready endpoint (${pods.length || endpoints.length} not ready${terminatingServing.length ? ', only terminating ones serve' : ''})`,
    detail,
    evidence,
    fix,
  };
}

export default defineCheck({
  id: 'service-no-ready-endpoints',
  title: 'A Service whose endpoints are all not ready',
  severity: 'error',
  seeds: [],
  summary: 'a Service has endpoints but none is ready (pods crashing, failing readiness, pending, terminating)',
  docs: `A pod becomes a ready endpoint of the Services that select it only when its Ready condition is True: every
container started and passing its readiness probe. kube-proxy sends new connections only to ready endpoints (and,
when there are none, to endpoints that are terminating but still serving). When a Service's selector matches pods
and none is ready, connections are refused — although \`kubectl get svc\` looks fine and \`kubectl get endpoints\`
lists the addresses under notReadyAddresses.

netdoctor reads the endpoints from EndpointSlices (or Endpoints on old clusters) and, for each not-ready pod, the
reason its status records: the Ready/ContainersReady condition's reason and message, a container waiting in
CrashLoopBackOff or ImagePullBackOff, a container running but not ready (a failing readiness probe), a pending phase,
a deletion in progress. With only terminating-but-serving endpoints the finding is a warning: traffic still flows
until they are gone.

Confirm by hand: \`kubectl -n NS get endpointslices -l kubernetes.io/service-name=NAME -o yaml\` (conditions.ready),
\`kubectl -n NS describe pod POD\` (Events: Readiness probe failed), \`kubectl -n NS logs POD --previous\`. Services
with publishNotReadyAddresses are not checked (their endpoints are ready by definition).`,
  run(cluster: ClusterModel, { emit }) {
    for (const svc of listServices(cluster)) {
      if (svc.type === 'ExternalName' || svc.publishNotReadyAddresses) continue;
      const r = resolveServiceInfo(cluster, svc);
      const byKey = new Map<string, ServiceEndpoint>();
      for (const p of r.ports) for (const e of p.endpoints) byKey.set(`${e.ip}|${e.port ?? ''}|${e.protocol}`, e);
      const eps = [...byKey.values()];
      if (eps.length > 0) {
        if (eps.some((e) => e.ready)) continue;
        const pods = [
          ...new Map(eps.filter((e) => e.pod).map((e) => [(e.pod as PodInfo).name, e.pod as PodInfo])).values(),
        ];
        emit(finding(svc, eps, pods, false));
        continue;
      }
      // No endpoint at all while the selector matches pods: pods that never became endpoints (no IP yet, pending)
      // or a bundle without endpoint objects. Only when every selected live pod is known not to be ready.
      const live = r.pods.filter((p) => p.phase !== 'Succeeded' && p.phase !== 'Failed');
      if (live.length > 0 && live.every((p) => p.ready === false || p.phase === 'Pending'))
        emit(finding(svc, [], live, true));
    }
  },
});
