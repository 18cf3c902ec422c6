/**
 * NetworkPolicy on top of the datapath: egress is decided at the source pod, ingress at the destination pod, with the
 * packet as it is there (after DNAT and SNAT). The evaluation itself is Kubernetes' (src/kube/networkpolicy.ts); this
 * file adapts its answer to a trace hop.
 */
import { formatIp } from '../core/ip.js';
import type { PodInfo } from '../kube/objects.js';
import type { Packet } from '../netfilter/model.js';
import type { TraceDecisive, TraceQuery } from './types.js';

export interface PolicyAnswer {
  allowed: boolean;
  /** The policies that select the pod for this direction (none: not isolated, allowed). */
  policies: string[];
  /** One line: which policy allowed or why nothing did. */
  reason: string;
}

/** Answers "does NetworkPolicy let this packet out of / into this pod?". */
export interface PolicyCheck {
  evaluate(
    direction: 'egress' | 'ingress',
    pkt: { src: string; dst: string; dport?: number; proto: 'TCP' | 'UDP' | 'SCTP' | 'ICMP' },
  ): PolicyAnswer | undefined;
}

export interface PolicyVerdict {
  allowed: boolean;
  detail: string;
  decisive: TraceDecisive | null;
}

function protoOf(p: Packet): 'TCP' | 'UDP' | 'SCTP' | 'ICMP' {
  return p.proto === 6 ? 'TCP' : p.proto === 17 ? 'UDP' : p.proto === 132 ? 'SCTP' : 'ICMP';
}

export function policyVerdict(
  check: PolicyCheck,
  direction: 'egress' | 'ingress',
  pkt: Packet,
  _q?: TraceQuery,
  _pod?: PodInfo,
): PolicyVerdict | undefined {
  const a = check.evaluate(direction, {
    src: formatIp(pkt.src),
    dst: formatIp(pkt.dst),
    ...(pkt.dport !== undefined ? { dport: pkt.dport } : {}),
    proto: protoOf(pkt),
  });
  if (!a || a.policies.length === 0) return undefined;
  return {
    allowed: a.allowed,
    detail: `NetworkPolicy ${direction}: ${a.reason}`,
    decisive: a.allowed
      ? null
      : {
          node: null,
          kind: 'policy-object',
          table: null,
          chain: null,
          index: null,
          text: `${direction} denied: ${a.policies.map((p) => `networkpolicy/${p}`).join(', ')} select the pod and none allows it`,
        },
  };
}
