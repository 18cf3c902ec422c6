/**
 * Which probes to send, decided from the cluster's objects and node snapshots (the bundle), so the lab and a live
 * cluster plan alike and every probe says what the objects promise: the destination pod answers, a Service's ready
 * endpoints each answer at least once, a NodePort with `externalTrafficPolicy: Local` stays silent on a node without a
 * local endpoint, DNS answers within a second, a packet of the pod MTU with the don't-fragment bit crosses the overlay.
 *
 * Destinations that can be judged are pods that speak netdoctor's echo protocol (TCP and UDP on one port, answering
 * with the pod's name: the lab's echo servers, or netdoctor's own probe pods on a live cluster). Other pods are
 * pinged; their ports are not guessed at. On a live cluster the Services in front of other workloads are probed too
 * (`opaqueServices`): a TCP connection is the answer, every try runs, and some tries failing while others pass is
 * the partial result an endpoint that does not answer gives.
 */

import { kubeIndex, type PodInfo } from '../kube/objects.js';
import { listServices, proxyEndpoints, resolveServiceInfo, type ServiceInfo } from '../kube/services.js';
import type { ClusterModel } from '../model/cluster.js';
import { parseResolvConf } from '../parse/resolv-conf.js';
import type { AgentProbe } from './agent.js';
import { PROBE_KINDS, type Probe, type ProbeKind, type ProbeSource, type ProbeTarget, type Proto } from './model.js';

export interface ProbePlanInput {
  cluster: ClusterModel;
  /** Where the executor can run the agent. */
  sources: ProbeSource[];
  /** Pods (`NS/NAME`) that speak the echo protocol, and its port. */
  echo: { pods: ReadonlySet<string>; port: number };
  /** A pod's /etc/resolv.conf, for DNS probes as its resolver would do them. */
  resolvConf?: (source: ProbeSource) => string | undefined;
  /** Probe kinds to plan (all by default). */
  kinds?: readonly ProbeKind[];
  /** Per-attempt time limit (ms); default 1000. */
  timeoutMs?: number;
  /** Probe TCP Services (and NodePorts) whose endpoints do not speak the echo protocol, by connecting. */
  opaqueServices?: boolean;
  /**
   * Who probes NodePorts: a host outside the cluster (`outside` sources, the lab's underlay) or, where no such host
   * exists (a live cluster), each node probes the NodePorts of the next node in name order.
   */
  nodePortsFrom?: 'outside' | 'next-node';
}

const podKey = (p: PodInfo) => `${p.namespace}/${p.name}`;

function agent(id: string, a: Omit<AgentProbe, 'id'>): AgentProbe {
  return { id, ...a };
}

/** How many tries it takes to hear from each of n endpoints picked at random, with a miss chance below 1e-4. */
export function triesForEndpoints(n: number): number {
  if (n <= 1) return 3;
  // P(one given endpoint never picked in k tries) = (1 - 1/n)^k; n of them: union bound.
  const k = Math.ceil(Math.log(1e-4 / n) / Math.log(1 - 1 / n));
  return Math.min(60, Math.max(3, k));
}

/** Tries for a Service whose endpoints cannot be told apart: enough that each endpoint is picked a few times. */
export function triesForOpaque(n: number): number {
  return Math.min(24, Math.max(6, 3 * n));
}

/**
 * How to probe one Service port reached at dst:port: expect every endpoint's name when all speak the echo protocol,
 * else (opaque) connect over TCP and run every try; undefined when the port cannot be judged.
 */
function serviceAgent(
  endpoints: readonly { pod?: PodInfo; targetRef?: { name?: string } }[],
  echo: ReadonlySet<string>,
  opaque: boolean,
  a: { kind: Proto; dst: string; port: number; timeoutMs: number },
): { expect: string[]; agent: Omit<AgentProbe, 'id'> } | undefined {
  const names = endpoints.map((e) => e.targetRef?.name ?? e.pod?.name).filter((n): n is string => !!n);
  const allEcho = endpoints.every((e) => e.pod && echo.has(podKey(e.pod)));
  if (allEcho || endpoints.length === 0)
    return { expect: names, agent: { ...a, expect: names, tries: triesForEndpoints(names.length) } };
  if (!opaque || a.kind !== 'tcp') return undefined;
  return { expect: [], agent: { ...a, connect: true, all: true, tries: triesForOpaque(endpoints.length) } };
}

export function planProbes(input: ProbePlanInput): Probe[] {
  const { cluster, sources, echo } = input;
  const kinds = new Set(input.kinds ?? PROBE_KINDS);
  const timeoutMs = input.timeoutMs ?? 1000;
  const opaque = input.opaqueServices ?? false;
  // Every Service with its resolved TCP and UDP ports, once for the whole plan.
  const services = listServices(cluster).map((svc) => ({
    svc,
    ports: resolveServiceInfo(cluster, svc).ports.flatMap((port) => {
      const proto: Proto | undefined = port.protocol === 'UDP' ? 'udp' : port.protocol === 'TCP' ? 'tcp' : undefined;
      return proto ? [{ port, proto }] : [];
    }),
  }));
  const idx = kubeIndex(cluster);
  const running = idx.pods.filter((p) => !p.hostNetwork && p.ip && p.phase !== 'Succeeded' && p.phase !== 'Failed');
  const echoPods = running.filter((p) => echo.pods.has(podKey(p)));
  const probes: Probe[] = [];
  const add = (p: Omit<Probe, 'id' | 'agent'> & { agent: Omit<AgentProbe, 'id'> }) => {
    const id = `${p.kind}:${p.from.name}->${p.to.name}/${p.proto}${p.port !== undefined ? `:${p.port}` : ''}`;
    probes.push({ ...p, id, agent: agent(id, p.agent) });
  };
  const podTarget = (p: PodInfo): ProbeTarget => ({
    kind: 'pod',
    name: podKey(p),
    ip: p.ip as string,
    ...(p.nodeName ? { node: p.nodeName } : {}),
  });
  const traceFrom = (s: ProbeSource) =>
    s.kind === 'pod' ? `pod/${s.name}` : s.kind === 'node' ? `node/${s.name}` : (s.ip ?? s.name);

  for (const from of sources) {
    // Pod to pod, and node to pod: every echo pod on TCP, UDP and ICMP (nodes: TCP and ICMP).
    const podKind: ProbeKind | undefined =
      from.kind === 'pod' ? 'pod-pod' : from.kind === 'node' ? 'node-pod' : undefined;
    if (podKind && kinds.has(podKind)) {
      for (const dst of echoPods) {
        if (from.kind === 'pod' && from.name === podKey(dst)) continue;
        const protos: Proto[] = from.kind === 'pod' ? ['tcp', 'udp', 'icmp'] : ['tcp', 'icmp'];
        for (const proto of protos) {
          const name = dst.name;
          add({
            kind: podKind,
            from,
            to: podTarget(dst),
            proto,
            ...(proto !== 'icmp' ? { port: echo.port } : {}),
            expect: proto === 'icmp' ? [] : [name],
            trace: { from: traceFrom(from), to: `pod/${podKey(dst)}${proto !== 'icmp' ? `:${echo.port}` : ''}`, proto },
            agent:
              proto === 'icmp'
                ? { kind: 'icmp', dst: dst.ip as string, tries: 2, timeoutMs }
                : { kind: proto, dst: dst.ip as string, port: echo.port, expect: [name], tries: 3, timeoutMs },
          });
        }
      }
    }

    // Pod (or node) to Service: each port of each Service whose endpoints speak the echo protocol; every endpoint
    // kube-proxy may pick must answer. From a node's own network namespace too: a node without kube-proxy rules
    // cannot reach ClusterIPs (seed 004's master).
    const svcKind: ProbeKind | undefined =
      from.kind === 'pod' ? 'pod-service' : from.kind === 'node' ? 'node-service' : undefined;
    if (svcKind && kinds.has(svcKind)) {
      for (const { svc, ports } of services) {
        if (!svc.clusterIP || svc.headless) continue;
        for (const { port, proto } of ports) {
          const choice = proxyEndpoints(svc, port, { ...(from.node ? { node: from.node } : {}), external: false });
          const how = serviceAgent(choice.endpoints, echo.pods, opaque, {
            kind: proto,
            dst: svc.clusterIP,
            port: port.port,
            timeoutMs,
          });
          if (!how) continue;
          add({
            kind: svcKind,
            from,
            to: { kind: 'service', name: `${svc.namespace}/${svc.name}`, ip: svc.clusterIP },
            proto,
            port: port.port,
            ...how,
            ...(choice.endpoints.length === 0 ? { blocked: noEndpointReason(svc, choice.whenNone) } : {}),
            trace: { from: traceFrom(from), to: `svc/${svc.namespace}/${svc.name}:${port.port}`, proto },
          });
        }
      }
    }

    // NodePorts on every node, as a client outside the cluster would use them (or, on a live cluster, the next node).
    const nodePortTargets =
      input.nodePortsFrom === 'next-node'
        ? from.kind === 'node'
          ? nextNode(idx.nodes, from.name)
          : []
        : from.kind === 'outside'
          ? idx.nodes
          : [];
    if (nodePortTargets.length && kinds.has('nodeport')) {
      for (const { svc, ports } of services) {
        if (svc.type !== 'NodePort' && svc.type !== 'LoadBalancer') continue;
        for (const { port, proto } of ports) {
          if (port.nodePort === undefined) continue;
          for (const node of nodePortTargets) {
            if (!node.internalIP) continue;
            const choice = proxyEndpoints(svc, port, { node: node.name, external: true });
            const how = serviceAgent(choice.endpoints, echo.pods, opaque, {
              kind: proto,
              dst: node.internalIP,
              port: port.nodePort,
              timeoutMs,
            });
            if (!how) continue;
            add({
              kind: 'nodeport',
              from,
              to: { kind: 'node', name: node.name, node: node.name, ip: node.internalIP },
              proto,
              port: port.nodePort,
              ...how,
              ...(choice.endpoints.length === 0 ? { blocked: noEndpointReason(svc, choice.whenNone, node.name) } : {}),
              trace: { from: traceFrom(from), to: `node/${node.name}:${port.nodePort}`, proto },
              note: `${svc.namespace}/${svc.name} port ${port.port} (nodePort ${port.nodePort})`,
            });
          }
        }
      }
    }

    // DNS the way the pod's resolver does it: its nameservers in order, its timeout, one round.
    if (from.kind === 'pod' && kinds.has('dns')) {
      const text = input.resolvConf?.(from);
      const conf = text ? parseResolvConf(text, `${from.name}:/etc/resolv.conf`).conf : undefined;
      const nameservers = conf?.nameservers.slice(0, 3) ?? [];
      const domain = conf?.search.find((s) => s.startsWith('svc.'))?.slice(4);
      if (nameservers.length && domain) {
        const name = `kubernetes.default.svc.${domain}`;
        // The resolver's own timeout (5 s by default) is capped: a lookup slower than 1 s already shows the fault.
        const perQuery = Math.min((conf?.timeout ?? 5) * 1000, 1500);
        add({
          kind: 'dns',
          from,
          to: { kind: 'dns', name, ip: nameservers[0] as string },
          proto: 'udp',
          port: 53,
          expect: [],
          trace: { from: traceFrom(from), to: `${nameservers[0]}:53`, proto: 'udp' },
          note: `resolv.conf nameservers ${nameservers.join(', ')}`,
          // Several lookups, each with the resolver's attempts: each may reach another DNS endpoint.
          agent: {
            kind: 'dns',
            dst: nameservers[0] as string,
            name,
            nameservers,
            attempts: conf?.attempts ?? 2,
            tries: 4,
            timeoutMs: perQuery,
          },
        });
      }
    }

    // The overlay between nodes: a ping to each peer's tunnel address goes through the tunnel (VXLAN/IPIP).
    if (from.kind === 'node' && kinds.has('overlay')) {
      for (const peer of cluster.nodes) {
        if (peer.name === from.name) continue;
        const tunnel = peer.addresses.find(
          (a) => a.family === 4 && /^(flannel\.\d+|tunl0|vxlan\.calico|cilium_vxlan)$/.test(a.ifname),
        );
        if (!tunnel) continue;
        add({
          kind: 'overlay',
          from,
          to: { kind: 'node', name: peer.name, node: peer.name, ip: tunnel.address },
          proto: 'icmp',
          expect: [],
          trace: { from: traceFrom(from), to: tunnel.address, proto: 'icmp' },
          note: `${peer.name}'s ${tunnel.ifname} address: the ping crosses the overlay`,
          agent: { kind: 'icmp', dst: tunnel.address, tries: 2, timeoutMs },
        });
      }
    }

    // Path MTU: a don't-fragment ping filling the pod MTU to one echo pod on every other node.
    if (from.kind === 'pod' && kinds.has('mtu')) {
      const mtu = podMtu(cluster, from.node);
      if (mtu) {
        const seen = new Set<string>();
        for (const dst of echoPods) {
          if (!dst.nodeName || dst.nodeName === from.node || seen.has(dst.nodeName)) continue;
          seen.add(dst.nodeName);
          add({
            kind: 'mtu',
            from,
            to: podTarget(dst),
            proto: 'icmp',
            expect: [],
            trace: { from: traceFrom(from), to: `pod/${podKey(dst)}`, proto: 'icmp' },
            note: `${mtu}-byte packets with don't-fragment (the pod MTU)`,
            agent: { kind: 'mtu', dst: dst.ip as string, size: mtu - 28, tries: 2, timeoutMs },
          });
        }
      }
    }
  }
  return probes;
}

/** The node after `name` in name order (wrapping), the NodePort target of a node's probes; itself when alone. */
function nextNode<T extends { name: string }>(nodes: readonly T[], name: string): T[] {
  const sorted = [...nodes].sort((a, b) => a.name.localeCompare(b.name));
  const i = sorted.findIndex((n) => n.name === name);
  if (i < 0) return [];
  return [sorted[(i + 1) % sorted.length] as T];
}

function noEndpointReason(svc: ServiceInfo, whenNone: 'reject' | 'drop' | undefined, node?: string): string {
  if (whenNone === 'drop')
    return `externalTrafficPolicy: Local and no ready endpoint on ${node ?? 'this node'}: kube-proxy drops it`;
  return `${svc.namespace}/${svc.name} has no ready endpoint: kube-proxy rejects it`;
}

/** The MTU pods use on a node: cni0's (the bridge takes its ports' MTU), else the overlay device's. */
function podMtu(cluster: ClusterModel, node: string | undefined): number | undefined {
  const n = node ? cluster.node(node) : undefined;
  if (!n) return undefined;
  const links = n.links;
  const bridge = links.find((l) => l.name === 'cni0' || l.name === 'docker0' || l.name === 'cbr0');
  const tunnel = links.find((l) => /^(flannel\.\d+|tunl0|vxlan\.calico)$/.test(l.name));
  return bridge?.mtu ?? tunnel?.mtu;
}
