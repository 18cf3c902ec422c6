/** What `netdoctor diff` reports: differences in behaviour between two nodes, each with both sides' evidence. */
import type { Evidence } from '../core/vocabulary.js';
import type { Path } from '../netfilter/model.js';

export type DifferenceKind =
  | 'netfilter-rule'
  | 'netfilter-policy'
  | 'sysctl'
  | 'interface'
  | 'route'
  | 'overlay-fdb'
  | 'overlay-neigh'
  | 'ipvs'
  | 'kube-proxy';

export const DIFFERENCE_KINDS: readonly DifferenceKind[] = [
  'netfilter-rule',
  'netfilter-policy',
  'sysctl',
  'interface',
  'route',
  'overlay-fdb',
  'overlay-neigh',
  'ipvs',
  'kube-proxy',
];

/** How one node treats one packet class at one path. */
export interface ClassOutcome {
  verdict: string;
  /** The rule or policy that decided (`filter/INPUT #16 REJECT`), when there is one. */
  by?: string;
  /** Destination NAT the packet gets (every branch), normalised to the node. */
  dnat?: string[];
}

/** A packet class that the two nodes treat differently, and how each does. */
export interface ClassDifference {
  /** The class in the operator's words: `udp/8472 NEW`, `tcp/80 NEW to 10.96.0.10`. */
  packet: string;
  path: Path;
  a: ClassOutcome;
  b: ClassOutcome;
}

export interface DiffSide {
  node: string;
  /** What this node has (or lacks): the rule, the sysctl, the route... empty when it has nothing there. */
  evidence: Evidence[];
}

export interface Difference {
  kind: DifferenceKind;
  /** One line: what differs, where, on both sides. */
  title: string;
  /** The effect on traffic, in words (also for non-netfilter kinds). */
  detail?: string;
  a: DiffSide;
  b: DiffSide;
  /** For netfilter differences: the packet classes that the difference changes. */
  classes: ClassDifference[];
  /** How many more classes differ than are listed. */
  moreClasses?: number;
}

export interface DiffResult {
  a: string;
  b: string;
  differences: Difference[];
  /** Kinds that could not be compared (not collected on one side), with the reason. */
  notCompared: { kind: DifferenceKind; reason: string }[];
}

/** `diff --all`: the nodes that differ from most of their peers, each with its differences from a typical peer. */
export interface OddOneOut {
  node: string;
  /** The peers it was compared with and how many of them it differs from. */
  differsFrom: string[];
  comparedWith: string[];
  /** The differences from a typical peer (one that is not odd). */
  reference?: string;
  differences: Difference[];
}

export interface DiffAllResult {
  nodes: string[];
  oddOnesOut: OddOneOut[];
  /** Set when the vote cannot tell (two nodes): the nodes that differ from each other. */
  undecided?: string[];
  /** The pairs compared and how many differences each gave. */
  pairs: { a: string; b: string; differences: number }[];
}
