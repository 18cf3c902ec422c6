/**
 * The vocabulary of a trace: what is asked (a source, a target, a protocol) and what is answered (branches, each a
 * list of hops with a verdict and the decisive object). Pure data; the engine fills it, the reporters print it.
 */
import type { ClientSees, DecisiveKind, Outcome } from '../core/vocabulary.js';

export type TraceProto = 'tcp' | 'udp' | 'icmp';

/** Where the first packet starts. */
export type TraceSource =
  | { kind: 'pod'; ip: string; namespace: string; name: string; node: string }
  | { kind: 'node'; ip?: string; node: string }
  /** An address that is neither a pod nor a node of the bundle (a client outside the cluster). */
  | { kind: 'external'; ip: string };

/** Where it is sent. */
export type TraceTarget =
  | { kind: 'pod'; ip: string; namespace: string; name: string; node?: string; port?: number }
  | {
      kind: 'service';
      ip: string;
      namespace: string;
      name: string;
      port?: number;
      /** What the bundle's objects say about the service port (endpoints, policies), for the report. */
      notes: string[];
    }
  | { kind: 'node'; ip: string; node: string; port?: number }
  | { kind: 'ip'; ip: string; port?: number };

export interface TraceQuery {
  from: TraceSource;
  to: TraceTarget;
  proto: TraceProto;
  /** The IP packet's size in bytes (for MTU questions); unset: a small packet, no MTU checks. */
  size?: number;
}

export type HopKind =
  | 'send'
  | 'network-policy'
  | 'bridge'
  | 'prerouting'
  | 'route'
  | 'ipvs'
  | 'input'
  | 'forward'
  | 'output'
  | 'postrouting'
  | 'encap'
  | 'wire'
  | 'decap'
  | 'deliver'
  | 'leave';

export type HopResult = 'pass' | 'drop' | 'reject' | 'uncertain' | 'delivered';

export interface HopRule {
  table: string;
  chain: string;
  index: number;
  text: string;
}

export interface TraceHop {
  direction: 'request' | 'reply';
  kind: HopKind;
  /** The node the hop happens on; for a pod's own hops, the pod's node. */
  node: string | null;
  in?: string;
  out?: string;
  /** The packet as it leaves the hop (after its rewrites): `tcp 10.244.1.2:40000 > 10.96.0.5:80 NEW`. */
  packet: string;
  result: HopResult;
  /** One line for people. */
  detail: string;
  /** Rules whose matches held at this hop, in order. */
  rules?: HopRule[];
  /** Address rewrites made here. */
  rewrites?: string[];
  /** The route used, as `ip route get` prints it. */
  route?: string;
  /** This hop decided the branch. */
  decisive?: boolean;
}

/** The decisive object as JSON prints it: always these keys. */
export interface TraceDecisive {
  node: string | null;
  kind: DecisiveKind;
  table: string | null;
  chain: string | null;
  index: number | null;
  text: string | null;
}

export interface TraceEndpointReached {
  ip: string;
  port?: number;
  /** `namespace/name` when the address is a pod's. */
  pod?: string;
  node?: string;
}

export interface TraceBranch {
  verdict: Outcome;
  /** For anything but delivered: what the client program sees. */
  clientSees?: ClientSees;
  decisive: TraceDecisive | null;
  /** Why, in one sentence. */
  reason: string;
  /** Where the request went (after DNAT / IPVS): the endpoint this branch is about. */
  endpoint?: TraceEndpointReached;
  /** The random choices (kube-proxy's statistic/numgen rules, IPVS scheduling) that led to this branch. */
  choices: string[];
  /** The fix, when a check of `diagnose` knows it for the decisive object. */
  fix?: string[];
  hops: TraceHop[];
}

export interface TraceResult {
  verdict: Outcome;
  decisive: TraceDecisive | null;
  branches: TraceBranch[];
  /** The hops of the worst branch. */
  hops: TraceHop[];
}
