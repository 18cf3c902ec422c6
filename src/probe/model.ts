/**
 * What `netdoctor probe` sends and what it learns: a probe is one real flow from a real source (a pod, a node, a host
 * outside the cluster) to a destination, with what the cluster's objects say must answer; its result is what the
 * network did, joined to the trace of the same flow from the bundle when it failed.
 */
import type { Finding } from '../core/vocabulary.js';
import type { AgentProbe, AgentResult } from './agent.js';

export type ProbeKind =
  | 'pod-pod'
  | 'pod-service'
  | 'node-pod'
  | 'node-service'
  | 'nodeport'
  | 'dns'
  | 'overlay'
  | 'mtu';

export const PROBE_KINDS: readonly ProbeKind[] = [
  'pod-pod',
  'pod-service',
  'node-pod',
  'node-service',
  'nodeport',
  'dns',
  'overlay',
  'mtu',
];

/** Where a probe starts. `outside` is a host on the nodes' network that is not a node (NodePort clients). */
export interface ProbeSource {
  kind: 'pod' | 'node' | 'outside';
  /** `NS/NAME` for a pod, the node name, or `outside`. */
  name: string;
  /** The node a pod runs on. */
  node?: string;
  ip?: string;
}

export interface ProbeTarget {
  kind: 'pod' | 'service' | 'node' | 'dns';
  /** `NS/NAME` for pods and services, the node name, or the looked-up name for DNS. */
  name: string;
  node?: string;
  ip: string;
}

export type Proto = 'tcp' | 'udp' | 'icmp';

export interface Probe {
  /** Stable and unique in a run: `kind:source->target/proto[:port]`. */
  id: string;
  kind: ProbeKind;
  from: ProbeSource;
  to: ProbeTarget;
  proto: Proto;
  port?: number;
  /** The names that must answer (echo servers answer with their pod's name): the destination pod, or every
   * endpoint kube-proxy may pick for a Service. Empty for ICMP and DNS: any answer counts. */
  expect: string[];
  /** Set when the objects say nothing may answer (a Service without endpoints, a NodePort with
   * externalTrafficPolicy Local on a node without one): why. Silence then passes. */
  blocked?: string;
  /** The same flow as `netdoctor trace` takes it, to explain a failure. */
  trace?: { from: string; to: string; proto: Proto };
  /** What the agent in the source's namespace runs. */
  agent: AgentProbe;
  /** For people: why this probe exists and what passing means. */
  note?: string;
}

/**
 * pass: everything expected answered (in time, for DNS); partial: some endpoints behind a Service never answered (or,
 * where endpoints cannot be told apart, some attempts failed and others did not);
 * slow: DNS answered only after a nameserver failed; fail: nothing answered; error: the probe itself could not run.
 */
export type ProbeStatus = 'pass' | 'partial' | 'slow' | 'fail' | 'error';

/** Why a flow failed, from the trace of the same flow through the bundle. */
export interface ProbeReason {
  /** The trace's verdict (delivered / dropped / rejected / uncertain). */
  verdict: string;
  /** One line: node, table/chain #index and rule text, or route, sysctl, policy. */
  summary: string;
  decisive?: Record<string, unknown> | null;
  /** The trace's hops, as its JSON gives them, for the path diagram. */
  hops?: unknown[];
  /** A finding of diagnose on a node of the flow that explains it when the trace cannot (e.g. an MTU). */
  finding?: { check: string; node?: string; title: string };
  /** The trace delivers the flow and the endpoint answered with a reset: nothing listens on the port there. */
  refused?: boolean;
  /** When the trace predicted delivery but the flow failed (or the reverse): said plainly, never hidden. */
  disagreement?: string;
}

export interface ProbeOutcome {
  probe: Probe;
  status: ProbeStatus;
  result: AgentResult;
  /** Expected endpoints that never answered. */
  missing: string[];
  /** Answers from endpoints that were not expected. */
  unexpected: string[];
  reason?: ProbeReason;
}

export interface ProbeReport {
  schemaVersion: 1;
  kind: 'ProbeReport';
  /** lab or live. */
  target: string;
  startedAt: string;
  durationMs: number;
  outcomes: ProbeOutcome[];
  /** diagnose's findings on the same bundle, when it was analysed. */
  findings: Finding[];
  /** Problems met while probing (a source that could not run the agent, ...). */
  problems: string[];
}

export function statusRank(s: ProbeStatus): number {
  return ['pass', 'slow', 'partial', 'error', 'fail'].indexOf(s);
}

/** The pass/fail decision for one agent result against what was expected. */
export function judge(probe: Probe, result: AgentResult): Omit<ProbeOutcome, 'probe' | 'result' | 'reason'> {
  const missing = probe.expect.filter((e) => !result.answers.includes(e));
  const unexpected =
    probe.kind === 'dns' || probe.agent.kind === 'icmp' || probe.agent.kind === 'mtu' || probe.agent.connect
      ? []
      : result.answers.filter((a) => !probe.expect.includes(a));
  let status: ProbeStatus;
  if (probe.blocked !== undefined)
    status = result.answers.length ? 'fail' : result.outcome === 'error' ? 'error' : 'pass';
  else if (result.outcome === 'error' && result.answers.length === 0) status = 'error';
  else if (result.answers.length === 0) status = 'fail';
  else if (probe.kind === 'dns') status = (result.slowestMs ?? result.latencyMs ?? 0) >= SLOW_DNS_MS ? 'slow' : 'pass';
  else if (missing.length > 0) status = 'partial';
  // Every try ran (endpoints that do not say who they are): some answered, some did not.
  else if (probe.agent.all && Object.values(result.failures).some((n) => (n ?? 0) > 0)) status = 'partial';
  else status = 'pass';
  return { status, missing, unexpected };
}

/** A lookup this slow means the resolver waited for a nameserver that did not answer (seed 000's 2-3 s). */
export const SLOW_DNS_MS = 1000;
