/**
 * NetworkPolicy on top of the datapath (src/kube/networkpolicy.ts decides with Kubernetes semantics): once the
 * datapath has delivered a request, egress is checked for the source pod against the endpoint actually reached
 * (after Service DNAT), and ingress for the destination pod against the source it actually sees (after SNAT). A
 * denial is a drop (most CNIs drop; the bundle does not say which reject) naming the policies.
 */
import { formatIp } from '../core/ip.js';
import {
  type DirectionDecision,
  evaluatePolicies,
  ipPeer,
  type Peer,
  podPeer,
  policyDecisive,
} from '../kube/networkpolicy.js';
import { findPod } from '../kube/objects.js';
import type { ClusterModel } from '../model/cluster.js';
import type { Packet } from '../netfilter/model.js';
import type { Where } from './engine.js';
import { formatPacket, traceDecisive } from './format.js';
import type { TraceDecisive, TraceHop, TraceQuery } from './types.js';

function sourcePeer(cluster: ClusterModel, q: TraceQuery): Peer {
  if (q.from.kind === 'pod') return podPeer(cluster, findPod(cluster, q.from.namespace, q.from.name));
  const ip = q.from.kind === 'node' ? (q.from.ip ?? cluster.node(q.from.node)?.nodeIp ?? '') : q.from.ip;
  return ipPeer(cluster, ip);
}

function protocolOf(p: Packet): 'TCP' | 'UDP' | 'SCTP' | 'ICMP' {
  return p.proto === 6 ? 'TCP' : p.proto === 17 ? 'UDP' : p.proto === 132 ? 'SCTP' : 'ICMP';
}

function hopOf(d: DirectionDecision, pkt: Packet): TraceHop {
  return {
    direction: 'request',
    kind: 'network-policy',
    node: d.node ?? null,
    packet: formatPacket(pkt),
    result: d.allowed ? 'pass' : 'drop',
    detail: `NetworkPolicy ${d.direction}: ${d.reason}${d.uncertain.length ? ` (uncertain: ${d.uncertain.join('; ')})` : ''}`,
  };
}

/**
 * Check a delivered request. Adds a hop for each direction where policies isolate the pod; returns the denial (with
 * its decisive object) or undefined when the connection is allowed.
 */
export function policyGate(
  cluster: ClusterModel,
  q: TraceQuery,
  hops: TraceHop[],
  delivered: Packet,
  at: Where,
): { decisive: TraceDecisive; reason: string } | undefined {
  if (at.kind === 'external') return undefined;
  const dst = at.kind === 'pod' ? ipPeer(cluster, at.ip) : ipPeer(cluster, formatIp(delivered.dst));
  const proto = protocolOf(delivered);
  const port = proto === 'ICMP' ? undefined : delivered.dport;
  const egress = evaluatePolicies(cluster, sourcePeer(cluster, q), dst, port, proto).egress;
  const ingress = evaluatePolicies(cluster, ipPeer(cluster, formatIp(delivered.src)), dst, port, proto).ingress;
  // The egress hop goes right after the source pod sends; the ingress hop right before delivery.
  if (egress.applies && egress.isolated) hops.splice(Math.min(1, hops.length), 0, hopOf(egress, delivered));
  if (!egress.allowed) {
    const hop = hops.find((h) => h.kind === 'network-policy' && h.result === 'drop');
    if (hop) hop.decisive = true;
    hops.splice(hops.indexOf(hop as TraceHop) + 1);
    const d = policyDecisive({ allowed: false, egress, ingress });
    return {
      decisive: traceDecisive(d ?? { kind: 'policy-object', text: egress.reason }),
      reason: egress.reason,
    };
  }
  if (ingress.applies && ingress.isolated) {
    const hop = hopOf(ingress, delivered);
    hops.splice(Math.max(0, hops.length - 1), 0, hop);
    if (!ingress.allowed) {
      hop.decisive = true;
      hops.splice(hops.indexOf(hop) + 1);
      const d = policyDecisive({ allowed: false, egress, ingress });
      return {
        decisive: traceDecisive(d ?? { kind: 'policy-object', text: ingress.reason }),
        reason: ingress.reason,
      };
    }
  }
  return undefined;
}
