/**
 * service-external-traffic-local: a NodePort or LoadBalancer Service with `externalTrafficPolicy: Local` answers
 * external traffic only on the nodes that host one of its endpoints; on every other node kube-proxy drops it (the
 * client times out). "The NodePort works only on the node where the pod runs" — one reading of seed 004's symptom.
 */
import type { Evidence } from '../core/vocabulary.js';
import { getPodsCommand, patchServiceCommand, serviceEvidence } from '../kube/kubectl.js';
import { kubeIndex } from '../kube/objects.js';
import { formatSelector, fromMap } from '../kube/selectors.js';
import { listServices, nodesWithLocalEndpoints, resolveServiceInfo, type ServiceEndpoint } from '../kube/services.js';
import type { ClusterModel } from '../model/cluster.js';
import { defineCheck } from './define.js';

export default defineCheck({
  id: 'service-external-traffic-local',
  title: 'A NodePort/LoadBalancer Service with externalTrafficPolicy: Local answers only on some nodes',
  severity: 'warning',
  seeds: ['004'],
  summary: 'externalTrafficPolicy: Local — the NodePort answers only on nodes hosting a ready endpoint; others drop',
  docs: `With \`externalTrafficPolicy: Local\` kube-proxy keeps the client's source address by never forwarding
external traffic (to a NodePort, an external IP or a load-balancer IP) to another node: a node sends it only to the
Service's endpoints on that node (ready ones; terminating-but-serving ones when none is ready) and DROPS it when it has
none — the client sees a timeout. So a NodePort answers on some nodes and not on others, exactly "it only works on the
node where the pod runs" (one reading of seed 004's symptom; there the cause was the overlay, which
\`overlay-route-*\` and \`flannel-lease-missing\` check). Load balancers probe healthCheckNodePort and send traffic
only to the answering nodes, so for a LoadBalancer this is by design (info); clients that call a NodePort on an
arbitrary node are hurt (warning).

netdoctor lists the nodes that answer and the nodes that drop, from the endpoints' nodeName. Confirm by hand:
\`curl -m 2 http://NODE_IP:NODEPORT\` on each node; \`kubectl -n NS get pods -l SELECTOR -o wide\` shows where the
endpoints run. Fix: call the nodes that answer (or let the load balancer's health check do it), run an endpoint on
every node (a DaemonSet), or set \`externalTrafficPolicy: Cluster\` (traffic then reaches every endpoint from any
node, but the pods see the node's address instead of the client's).`,
  run(cluster: ClusterModel, { emit }) {
    const idx = kubeIndex(cluster);
    const allNodes = (idx.nodes.length ? idx.nodes.map((n) => n.name) : cluster.nodes.map((n) => n.name)).sort();
    if (allNodes.length < 2) return;
    for (const svc of listServices(cluster)) {
      if ((svc.type !== 'NodePort' && svc.type !== 'LoadBalancer') || svc.externalTrafficPolicy !== 'Local') continue;
      const r = resolveServiceInfo(cluster, svc);
      const eps: ServiceEndpoint[] = r.ports.flatMap((p) => p.endpoints);
      // Nothing ready anywhere is service-no-ready-endpoints' finding; endpoints without nodes say nothing here.
      const answering = nodesWithLocalEndpoints({ endpoints: eps });
      if (answering.length === 0) continue;
      const dropping = allNodes.filter((n) => !answering.includes(n));
      if (dropping.length === 0) continue;
      const nodePorts = svc.ports.filter((p) => p.nodePort !== undefined);
      const portsText = nodePorts.map((p) => `${p.nodePort}/${p.protocol}`).join(', ') || 'its node ports';
      const severity = svc.type === 'LoadBalancer' ? 'info' : 'warning';
      const evidence: Evidence[] = [
        serviceEvidence(
          svc,
          `type ${svc.type}, externalTrafficPolicy Local, nodePorts ${portsText}${svc.healthCheckNodePort ? `, healthCheckNodePort ${svc.healthCheckNodePort}` : ''}`,
        ),
      ];
      for (const n of answering) {
        const here = eps.filter((e) => e.nodeName === n && (e.ready || (e.serving && e.terminating)));
        const ips = [...new Set(here.map((e) => (e.pod ? `${e.pod.name} ${e.ip}` : e.ip)))];
        evidence.push({
          kind: 'node',
          node: n,
          text: `answers: local endpoint${ips.length === 1 ? '' : 's'} ${ips.join(', ')}`,
        });
      }
      for (const n of dropping) evidence.push({ kind: 'node', node: n, text: 'drops: no local ready endpoint' });
      const sel = svc.selector && Object.keys(svc.selector).length ? formatSelector(fromMap(svc.selector)) : undefined;
      const fix = [
        ...(sel ? [getPodsCommand(svc.namespace, sel)] : []),
        patchServiceCommand(svc, { spec: { externalTrafficPolicy: 'Cluster' } }),
      ];
      emit({
        severity,
        title: `${svc.type} ${svc.namespace}/${svc.name} (externalTrafficPolicy: Local) answers on ${answering.join(', ')} only; ${dropping.join(', ')} drop${dropping.length === 1 ? 's' : ''} it`,
        detail:
          `Service ${svc.namespace}/${svc.name} has externalTrafficPolicy: Local, so external traffic to ${portsText} is served only by endpoints on the node it arrives at. ` +
          `${answering.join(', ')} host${answering.length === 1 ? 's' : ''} a ready endpoint and answer${answering.length === 1 ? 's' : ''}; on ${dropping.join(', ')} kube-proxy drops the connection and the client times out. ` +
          (svc.type === 'LoadBalancer'
            ? 'A load balancer that health-checks healthCheckNodePort sends traffic only to the answering nodes, so this is by design unless clients call the node ports directly. '
            : 'Clients that call the NodePort on any node see it work on some nodes and time out on others. ') +
          'Set externalTrafficPolicy: Cluster if the pods need not see the client address, or run an endpoint on every node that receives traffic.',
        evidence,
        fix,
      });
    }
  },
});
