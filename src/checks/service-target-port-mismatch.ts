/**
 * service-target-port-mismatch: a Service port's targetPort is not a port the selected pods declare.
 *
 * Two cases that Kubernetes treats very differently:
 * - a NAMED targetPort is looked up in each pod's container ports (same name and protocol); a pod without it gets no
 *   endpoint for that port. No pod having it is an error: the port has no endpoint at all.
 * - a NUMERIC targetPort needs no declaration: traffic goes to that port whether the pod lists it or not (declaring
 *   ports is informational). An undeclared number while the pods declare other ports is the classic "Service points at
 *   8080, the app listens on 80" mistake, but it can also be correct, so it is a warning at most — and nothing is said
 *   when the pods declare no port of that protocol at all.
 */
import type { Evidence, Severity } from '../core/vocabulary.js';
import { groupByLabels, kubectl, patchServiceCommand, podEvidence, serviceEvidence } from '../kube/kubectl.js';
import { closeMatches } from '../kube/names.js';
import type { ContainerPort, PodInfo } from '../kube/objects.js';
import { formatSelector, fromMap, shellQuote } from '../kube/selectors.js';
import { listServices, type ResolvedServicePort, resolveServiceInfo, type ServiceInfo } from '../kube/services.js';
import type { ClusterModel } from '../model/cluster.js';
import { defineCheck, type FindingInput } from './define.js';

function portText(c: ContainerPort): string {
  return `${c.name ? `${c.name}=` : ''}${c.containerPort}/${c.protocol}`;
}

function declaredText(pod: PodInfo): string {
  return pod.containerPorts.length ? pod.containerPorts.map(portText).join(', ') : 'no ports';
}

/** The value a targetPort should probably have: a close name, else the one port of that protocol all pods share. */
function suggestion(port: ResolvedServicePort, pods: PodInfo[]): number | string | undefined {
  const sameProto = pods.map((p) => p.containerPorts.filter((c) => c.protocol === port.protocol));
  if (typeof port.targetPort === 'string') {
    const names = sameProto.flat().flatMap((c) => (c.name ? [c.name] : []));
    const close = closeMatches(port.targetPort, names, 1)[0];
    if (close && pods.every((p) => p.containerPorts.some((c) => c.name === close && c.protocol === port.protocol)))
      return close;
  }
  const numbers = new Set(sameProto.flat().map((c) => c.containerPort));
  if (numbers.size === 1 && sameProto.every((l) => l.length > 0)) return [...numbers][0];
  return undefined;
}

function portLabel(port: ResolvedServicePort): string {
  return `${port.name ? `${port.name} ` : ''}${port.port}/${port.protocol}`;
}

function finding(
  svc: ServiceInfo,
  port: ResolvedServicePort,
  pods: PodInfo[],
  missing: PodInfo[],
  severity: Severity,
): FindingInput {
  const sel = formatSelector(fromMap(svc.selector));
  const named = typeof port.targetPort === 'string';
  const all = missing.length === pods.length;
  const groups = groupByLabels(missing);
  const evidence: Evidence[] = [
    serviceEvidence(
      svc,
      `port ${portLabel(port)} → targetPort ${port.targetPort}`,
      `spec.ports[${port.index}]; selector ${sel}`,
    ),
    ...groups
      .slice(0, 3)
      .map((g) =>
        podEvidence(
          g.pod,
          `declares ${declaredText(g.pod)}`,
          g.count > 1 ? `and ${g.count - 1} more pod${g.count > 2 ? 's' : ''} with the same labels` : undefined,
        ),
      ),
  ];
  // The same name or number with another protocol is a frequent near miss (DNS: 53/TCP declared, 53/UDP served).
  const otherProto = missing.flatMap((p) =>
    p.containerPorts.filter(
      (c) => c.protocol !== port.protocol && (named ? c.name === port.targetPort : c.containerPort === port.targetPort),
    ),
  );
  const want = suggestion(port, pods);
  const fix = [
    kubectl(
      svc.namespace,
      'get',
      'pods',
      '-l',
      shellQuote(sel),
      '-o',
      shellQuote(
        'custom-columns=NAME:.metadata.name,PORT-NAMES:.spec.containers[*].ports[*].name,PORTS:.spec.containers[*].ports[*].containerPort,PROTOCOLS:.spec.containers[*].ports[*].protocol',
      ),
    ),
  ];
  if (want !== undefined)
    fix.push(
      patchServiceCommand(svc, [{ op: 'replace', path: `/spec/ports/${port.index}/targetPort`, value: want }], true),
    );
  const verb = all
    ? pods.length === 1
      ? 'the pod it selects does not declare'
      : `none of the ${pods.length} pods it selects declares`
    : `${missing.length} of the ${pods.length} pods it selects do not declare`;
  const declared = [...new Set(pods.flatMap((p) => p.containerPorts.map(portText)))].join(', ') || 'no ports';
  let detail: string;
  if (named)
    detail =
      `Service ${svc.namespace}/${svc.name} port ${portLabel(port)} targets the container port named "${port.targetPort}" (${port.protocol}), but ${verb} a ${port.protocol} port with that name (declared: ${declared}). ` +
      (all
        ? 'A named targetPort only resolves on pods that declare it, so this Service port has no endpoint: connections to it are refused. '
        : `Those pods get no endpoint for this port; only ${pods.length - missing.length} pod${pods.length - missing.length === 1 ? '' : 's'} serve it. `) +
      (otherProto.length ? `The name exists with protocol ${otherProto[0]?.protocol}, not ${port.protocol}. ` : '') +
      (want !== undefined
        ? `Point targetPort at ${want}, or add the port name to the pod template.`
        : 'Use a port name the pods declare, or a number.');
  else
    detail =
      `Service ${svc.namespace}/${svc.name} port ${portLabel(port)} sends traffic to port ${port.targetPort}/${port.protocol} of its pods, but ${verb} it (declared: ${declared}). ` +
      'Kubernetes does not require declaring ports, so this works if the application listens on that port anyway; if it listens only on a declared port, connections are refused by the pod. ' +
      (otherProto.length
        ? `Port ${port.targetPort} is declared with protocol ${otherProto[0]?.protocol}, not ${port.protocol}. `
        : '') +
      (want !== undefined ? `If the application listens on ${want}, point targetPort there.` : '');
  return {
    severity,
    title: named
      ? `Service ${svc.namespace}/${svc.name} targetPort "${port.targetPort}" is not a port ${all ? 'of any selected pod' : `of ${missing.length} of its pods`}`
      : `Service ${svc.namespace}/${svc.name} targets port ${port.targetPort}/${port.protocol}, which its pods do not declare`,
    detail: detail.trim(),
    evidence,
    fix,
  };
}

export default defineCheck({
  id: 'service-target-port-mismatch',
  title: "A Service's targetPort is not a port its pods declare",
  severity: 'error',
  seeds: [],
  summary: "a Service's targetPort names a port its pods lack (error), or is a number they do not declare (warning)",
  docs: `Each Service port forwards to spec.ports[].targetPort on the selected pods. A targetPort NAME is resolved per
pod against its containers' ports (same name and protocol): a pod without that name is not an endpoint for the port,
and when no pod has it, the Service port has no endpoints and connections are refused. A targetPort NUMBER is used as
it is: Kubernetes does not require the pod to declare it, and the connection works if the process listens there.
netdoctor therefore reports a named targetPort no pod declares as an error (some pods only: warning), and a number no
pod declares — while the pods do declare other ports of that protocol — as a warning that explains both readings.
Pods that declare no port of the protocol are not second-guessed.

Confirm by hand: \`kubectl -n NS get endpointslices -l kubernetes.io/service-name=NAME\` (ports and endpoints),
\`kubectl -n NS get pods -l SELECTOR -o jsonpath='{..ports}'\`, and from a pod \`nc -vz POD_IP PORT\`. Fix: patch the
targetPort to the port the application listens on (the finding's command), or declare the port in the pod template.`,
  run(cluster: ClusterModel, { emit }) {
    for (const svc of listServices(cluster)) {
      if (svc.type === 'ExternalName' || !svc.selector || Object.keys(svc.selector).length === 0) continue;
      const r = resolveServiceInfo(cluster, svc);
      const live = new Set(r.pods.filter((p) => p.phase !== 'Succeeded' && p.phase !== 'Failed'));
      if (live.size === 0) continue;
      for (const port of r.ports) {
        const targets = port.targets.filter((t) => live.has(t.pod));
        const pods = targets.map((t) => t.pod);
        const missing = targets.filter((t) => !t.declared).map((t) => t.pod);
        if (missing.length === 0) continue;
        if (typeof port.targetPort === 'string') {
          emit(finding(svc, port, pods, missing, missing.length === pods.length ? 'error' : 'warning'));
          continue;
        }
        // A number: only worth saying when no pod declares it and the pods do declare ports of that protocol.
        if (missing.length !== pods.length) continue;
        if (!pods.some((p) => p.containerPorts.some((c) => c.protocol === port.protocol))) continue;
        emit(finding(svc, port, pods, missing, 'warning'));
      }
    }
  },
});
