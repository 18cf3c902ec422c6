/**
 * The shared vocabulary of netdoctor (DESIGN §2), defined once and used by every command:
 * netfilter verdicts, end-to-end outcomes, the decisive object, findings and exit codes.
 */

/** What netfilter does with a packet on one node along one hook path. */
export type Verdict = 'accept' | 'drop' | 'reject' | 'uncertain';

/** End-to-end outcome of a traced flow. */
export type Outcome = 'delivered' | 'dropped' | 'rejected' | 'uncertain';

export type Severity = 'critical' | 'error' | 'warning' | 'info';
export const SEVERITIES: readonly Severity[] = ['critical', 'error', 'warning', 'info'];

/** Rank for comparisons: higher is worse. */
export function severityRank(s: Severity): number {
  return SEVERITIES.length - SEVERITIES.indexOf(s);
}

/** How the client sees a REJECT. */
export type ClientSees =
  | 'timeout'
  | 'refused'
  | 'no route to host'
  | 'network unreachable'
  | 'admin prohibited'
  | 'protocol unreachable'
  /** ICMP "fragmentation needed" (IPv6: packet too big): the packet is larger than a link's MTU and may not be split. */
  | 'frag needed';

export interface RejectInfo {
  /** The `--reject-with` type (or nft `reject with ...`), e.g. `icmp-host-prohibited`, `tcp-reset`. */
  with: string;
  clientSees: ClientSees;
}

/** `mtu`: a device's MTU is smaller than the packet. `service`: what kube-proxy should have programmed for a Service (a DNAT for a ClusterIP or NodePort) is absent. */
export type DecisiveKind =
  | 'rule'
  | 'policy'
  | 'route'
  | 'ipvs'
  | 'policy-object'
  | 'missing-data'
  | 'sysctl'
  | 'service'
  | 'mtu';

/**
 * The object that decided. For drop/reject: the rule or policy that dropped. For accept: the rule or policy that ended
 * the last base chain traversed. Rule indexes are 1-based positions in the chain as `iptables-save` lists it
 * (for native nft: position in `nft -j list ruleset`).
 */
export interface Decisive {
  kind: DecisiveKind;
  node?: string;
  /** `filter`, `nat`, ... for iptables; `inet firewalld` (family and name) for native nft. */
  table?: string;
  chain?: string;
  index?: number;
  text?: string;
  /** For kind `policy`: the chain policy (ACCEPT/DROP). */
  policy?: string;
  detail?: string;
  /** Where the rule came from: file and line. */
  source?: { file: string; line: number };
}

export interface Evidence {
  /** What the evidence is: a rule, a route line, a sysctl, a Kubernetes object, ... */
  kind: string;
  node?: string;
  text: string;
  detail?: string;
  [key: string]: unknown;
}

export interface Finding {
  check: string;
  severity: Severity;
  node?: string;
  title: string;
  detail: string;
  evidence: Evidence[];
  /** Commands that can be run as they are. */
  fix: string[];
}

/** Process exit codes shared by every command. */
export const ExitCode = {
  /** Success: nothing wrong (diagnose), delivered (trace), no difference (diff). */
  ok: 0,
  /** The answer is "no": a finding at or above --fail-on, not delivered, differences found. */
  negative: 1,
  /** Usage or internal error. */
  error: 2,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
