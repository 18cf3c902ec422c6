/**
 * ipvs-real-servers-mismatch: in IPVS mode, a node's virtual servers disagree with the Services' endpoints — a virtual
 * server with no real server while the Service has ready endpoints, real servers that are no endpoint (stale), ready
 * endpoints that are no real server, or no virtual server at all for a Service with endpoints. What kube-proxy leaves
 * when it stopped syncing (seed 003: `TCP 10.108.62.55:5473 rr` for calico-typha with nothing under it).
 */
import type { Evidence, Severity } from '../core/vocabulary.js';
import {
  listServices,
  proxyEndpoints,
  type ResolvedServicePort,
  resolveServiceInfo,
  type ServiceEndpoint,
  type ServiceInfo,
} from '../kube/services.js';
import type { ClusterModel, NodeModel } from '../model/cluster.js';
import { type IpvsTable, ipvsLine, ipvsTable, type RealServer, type VirtualService } from '../model/ipvs.js';
import { kubeProxyPods } from '../model/kube-proxy.js';
import { defineCheck } from './define.js';

const PROTO: Record<string, VirtualService['protocol']> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };

const ep = (address: string, port: number | undefined) =>
  address.includes(':') ? `[${address}]:${port ?? '?'}` : `${address}:${port ?? '?'}`;

interface NodeProblem {
  node: NodeModel;
  table: IpvsTable;
  /** The virtual server for this address, or undefined when there is none. */
  vs?: VirtualService;
  vip: string;
  /** Ready endpoints that are not real servers with weight > 0. */
  missing: ServiceEndpoint[];
  /** Real servers with weight > 0 that are no endpoint kube-proxy would use. */
  stale: RealServer[];
}

function endpointEvidence(svc: ServiceInfo, port: ResolvedServicePort): Evidence {
  const src = port.endpoints[0]?.source;
  const list = port.endpoints.length
    ? port.endpoints
        .map(
          (e) =>
            `${ep(e.ip, e.port)}${e.ready ? '' : e.terminating ? ' (terminating)' : ' (not ready)'}${e.pod ? ` ${e.pod.name}` : ''}`,
        )
        .join(', ')
    : 'none';
  return {
    kind: 'endpoints',
    object: `${src?.kind ?? 'Endpoints'} ${svc.namespace}/${src?.name ?? svc.name}`,
    text: `${src?.kind ?? 'Endpoints'} ${svc.namespace}/${src?.name ?? svc.name} (port ${port.name || port.port}/${port.protocol}): ${list}`,
    detail: `${port.endpoints.filter((e) => e.ready).length} ready endpoint${port.endpoints.filter((e) => e.ready).length === 1 ? '' : 's'}`,
  };
}

export default defineCheck({
  id: 'ipvs-real-servers-mismatch',
  title: "IPVS real servers disagree with the Service's endpoints",
  severity: 'critical',
  seeds: ['003'],
  summary:
    'in IPVS mode, a virtual server has no real servers while the Service has ready endpoints, or real servers that are no endpoints',
  docs: `In IPVS mode kube-proxy binds every ClusterIP to the dummy device kube-ipvs0 and programs one IPVS virtual
server per Service address and port, with one real server per ready endpoint (terminating endpoints stay with weight 0
until their connections end). When kube-proxy stops syncing (seed 003: kubernetes#71071 deadlocked it in 1.11.5,
1.12.2 and 1.13.0) the table drifts from the Endpoints: a virtual server with no real server answers a new connection
with ICMP port unreachable (curl: "connection refused", nmap: "filtered"), stale real servers send connections to pods
that are gone (timeouts), and new Services get no virtual server at all. Pod IPs still answer, which is the tell.

netdoctor compares, on every node with an IPVS table, each Service port's virtual servers (ClusterIPs, external IPs,
load-balancer IPs) with the endpoints kube-proxy would use (ready ones; serving-terminating ones when none is ready;
node-local ones under a Local traffic policy), from EndpointSlices or Endpoints. A virtual server without real servers
for a Service without ready endpoints is correct and not reported. The objects and the node snapshot are taken moments
apart, so one endpoint that just changed can show up here: check again before acting on a single difference.

Confirm by hand on the node: \`ipvsadm -Ln -t <ClusterIP>:<port>\` and \`kubectl -n <ns> get endpointslices -l
kubernetes.io/service-name=<svc>\`, and the kube-proxy log on that node. Fix: restart kube-proxy on the node (it
rebuilds the table), and fix why it stopped (see kube-proxy-known-bug).`,
  run(cluster: ClusterModel, { emit }) {
    const tables = cluster.nodes
      .map((node) => ({ node, table: ipvsTable(node) }))
      .filter((x): x is { node: NodeModel; table: IpvsTable } => (x.table?.services.length ?? 0) > 0);
    if (tables.length === 0) return;
    for (const svc of listServices(cluster)) {
      if (svc.type === 'ExternalName' || svc.headless) continue;
      const vips = [...svc.clusterIPs, ...svc.externalIPs, ...svc.loadBalancerIPs];
      if (vips.length === 0) continue;
      const resolved = resolveServiceInfo(cluster, svc);
      for (const port of resolved.ports) {
        const proto = PROTO[port.protocol];
        const problems: NodeProblem[] = [];
        const fine: { node: NodeModel; table: IpvsTable; vs: VirtualService }[] = [];
        for (const { node, table } of tables) {
          for (const vip of vips) {
            const external = !svc.clusterIPs.includes(vip);
            const choice = proxyEndpoints(svc, port, { node: node.name, external });
            const expected = choice.endpoints.filter((e) => e.port !== undefined && !Number.isNaN(e.port));
            const vs = table.services.find((s) => s.protocol === proto && s.address === vip && s.port === port.port);
            if (!vs) {
              // No virtual server: only wrong when there is somewhere to send the traffic (and the family is served).
              if (expected.length > 0 && table.services.some((s) => s.family === (vip.includes(':') ? 6 : 4)))
                problems.push({ node, table, vip, missing: expected, stale: [] });
              continue;
            }
            const active = vs.realServers.filter((r) => r.weight > 0);
            const key = (a: string, p: number | undefined) => `${a}|${p}`;
            const rsKeys = new Set(active.map((r) => key(r.address, r.port)));
            const expKeys = new Set(expected.map((e) => key(e.ip, e.port)));
            const missing = expected.filter((e) => !rsKeys.has(key(e.ip, e.port)));
            const stale = active.filter((r) => !expKeys.has(key(r.address, r.port)));
            if (missing.length || stale.length) problems.push({ node, table, vs, vip, missing, stale });
            else fine.push({ node, table, vs });
          }
        }
        if (problems.length === 0) continue;
        const ready = port.endpoints.filter((e) => e.ready);
        const empty = problems.filter((p) => p.vs && p.vs.realServers.filter((r) => r.weight > 0).length === 0);
        const noVs = problems.filter((p) => !p.vs);
        const first = problems[0] as NodeProblem;
        const nodes = [...new Set(problems.map((p) => p.node.name))];
        const what = `${svc.namespace}/${svc.name} ${ep(first.vip, port.port)}/${port.protocol}`;
        let title: string;
        let severity: Severity = 'critical';
        if (empty.length && empty.length + noVs.length === problems.length)
          title = `IPVS has no real server for ${what} on ${nodes.join(', ')}, although ${ready.length} endpoint${ready.length === 1 ? ' is' : 's are'} ready`;
        else if (noVs.length === problems.length)
          title = `IPVS has no virtual server for ${what} on ${nodes.join(', ')}, although ${ready.length} endpoint${ready.length === 1 ? ' is' : 's are'} ready`;
        else {
          severity = 'error';
          title = `IPVS real servers of ${what} on ${nodes.join(', ')} are not the Service's endpoints`;
        }
        const evidence: Evidence[] = [];
        for (const p of problems) {
          if (p.vs) {
            evidence.push({
              kind: 'ipvs',
              node: p.node.name,
              text: ipvsLine(p.vs),
              detail:
                p.vs.realServers.length === 0
                  ? 'virtual server with no real servers: new connections get ICMP port unreachable (refused)'
                  : `${p.stale.length ? `stale real servers: ${p.stale.map((r) => ep(r.address, r.port)).join(', ')}` : ''}${p.stale.length && p.missing.length ? '; ' : ''}${p.missing.length ? `endpoints missing: ${p.missing.map((e) => ep(e.ip, e.port)).join(', ')}` : ''}`,
              source: { file: p.table.file, line: p.vs.line },
            });
            for (const r of p.vs.realServers)
              evidence.push({
                kind: 'ipvs',
                node: p.node.name,
                text: ipvsLine(p.vs, r),
                ...(p.stale.includes(r) ? { detail: 'not an endpoint of the Service' } : {}),
                source: { file: p.table.file, line: r.line },
              });
          } else
            evidence.push({
              kind: 'ipvs',
              node: p.node.name,
              text: `no virtual server ${port.protocol} ${ep(p.vip, port.port)} among ${p.table.services.length}`,
              detail: 'kube-proxy never programmed this Service',
              source: { file: p.table.file, line: 0 },
            });
        }
        evidence.push(endpointEvidence(svc, port));
        const ok = fine.find((f) => !nodes.includes(f.node.name));
        if (ok)
          evidence.push({
            kind: 'ipvs',
            node: ok.node.name,
            text: `${ipvsLine(ok.vs)} → ${ok.vs.realServers.map((r) => ep(r.address, r.port)).join(', ')}`,
            detail: `on ${ok.node.name} the table matches the endpoints`,
          });
        const proxies = kubeProxyPods(cluster);
        const fix: string[] = [];
        for (const n of nodes) {
          const pod = proxies.find((p) => (p.spec as { nodeName?: string } | undefined)?.nodeName === n);
          fix.push(
            pod
              ? `kubectl -n ${pod.metadata.namespace} delete pod ${pod.metadata.name}  # kube-proxy on ${n} restarts and rebuilds its IPVS table`
              : `systemctl restart kube-proxy  # on ${n}: it rebuilds its IPVS table`,
          );
        }
        fix.push(
          `ipvsadm -Ln -t ${ep(first.vip, port.port)}  # on ${first.node.name}, after the restart: one real server per ready endpoint`,
        );
        emit({
          node: first.node.name,
          severity,
          title,
          detail:
            `The Service ${svc.namespace}/${svc.name} port ${port.port}/${port.protocol} has ${ready.length} ready endpoint${ready.length === 1 ? '' : 's'}` +
            ` (${ready.map((e) => ep(e.ip, e.port)).join(', ') || 'none'}), but the IPVS table of ${nodes.join(', ')} does not send to ${ready.length === 1 ? 'it' : 'them'}: ` +
            problems
              .map((p) =>
                !p.vs
                  ? `${p.node.name} has no virtual server for ${ep(p.vip, port.port)}`
                  : p.vs.realServers.filter((r) => r.weight > 0).length === 0
                    ? `${p.node.name}'s virtual server ${ep(p.vip, port.port)} has no real server, so new connections are refused (ICMP port unreachable; nmap says "filtered")`
                    : `${p.node.name}'s virtual server ${ep(p.vip, port.port)} ${p.stale.length ? `sends to ${p.stale.map((r) => ep(r.address, r.port)).join(', ')}, which ${p.stale.length === 1 ? 'is' : 'are'} no endpoint (connections there time out or are refused)` : ''}${p.stale.length && p.missing.length ? ' and ' : ''}${p.missing.length ? `lacks ${p.missing.map((e) => ep(e.ip, e.port)).join(', ')}` : ''}`,
              )
              .join('; ') +
            '. Pod IPs still answer; only the Service address fails, from pods and processes on those nodes. kube-proxy programs this table: it is not syncing on those nodes (see kube-proxy-known-bug for versions that deadlock).',
          evidence,
          fix,
        });
      }
    }
  },
});
