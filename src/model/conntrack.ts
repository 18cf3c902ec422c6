/**
 * A node's connection-tracking state: the table's size and limit (`/proc/sys/net/netfilter/nf_conntrack_count` and
 * `_max`, else `sysctl -a`), and the per-CPU counters of `conntrack -S` (drop, early_drop, insert_failed, ...).
 */
import { type ConntrackStats, parseConntrackStats } from '../parse/conntrack-stats.js';
import type { NodeModel } from './cluster.js';

export interface ConntrackState {
  count?: number;
  max?: number;
  /** Where count and max were read. */
  countSource?: string;
  maxSource?: string;
  stats?: ConntrackStats;
  /** `<node file>#conntrack-stats`, for evidence. */
  statsFile?: string;
}

const cache = new WeakMap<NodeModel, ConntrackState>();

function fromFile(node: NodeModel, path: string): number | undefined {
  const text = node.fileContent(path)?.trim();
  return text && /^\d+$/.test(text) ? Number(text) : undefined;
}

export function conntrackState(node: NodeModel): ConntrackState {
  const cached = cache.get(node);
  if (cached) return cached;
  const state: ConntrackState = {};
  const sysctl = node.sysctl;
  const countFile = '/proc/sys/net/netfilter/nf_conntrack_count';
  const maxFile = '/proc/sys/net/netfilter/nf_conntrack_max';
  const count = fromFile(node, countFile);
  if (count !== undefined) [state.count, state.countSource] = [count, countFile];
  else if (/^\d+$/.test(sysctl.get('net.netfilter.nf_conntrack_count') ?? ''))
    [state.count, state.countSource] = [
      Number(sysctl.get('net.netfilter.nf_conntrack_count')),
      'sysctl net.netfilter.nf_conntrack_count',
    ];
  const max = fromFile(node, maxFile);
  if (max !== undefined) [state.max, state.maxSource] = [max, maxFile];
  else if (/^\d+$/.test(sysctl.get('net.netfilter.nf_conntrack_max') ?? ''))
    [state.max, state.maxSource] = [
      Number(sysctl.get('net.netfilter.nf_conntrack_max')),
      'sysctl net.netfilter.nf_conntrack_max',
    ];
  const text = node.output('conntrack-stats');
  if (text !== undefined) {
    const file = `${node.file}#conntrack-stats`;
    const r = parseConntrackStats(text, file);
    node.issues.push(...r.issues);
    if (r.stats.cpus.length) {
      state.stats = r.stats;
      state.statsFile = file;
      if (state.count === undefined && r.stats.entries !== undefined)
        [state.count, state.countSource] = [r.stats.entries, 'conntrack -S entries'];
    }
  }
  cache.set(node, state);
  return state;
}

/** `Linux node1 5.4.0-150-generic ...` → [5, 4]; undefined when uname was not collected. */
export function kernelVersion(node: NodeModel): { major: number; minor: number; text: string } | undefined {
  const m = /^Linux \S+ ((\d+)\.(\d+)\S*)/.exec(node.output('uname') ?? '');
  return m ? { major: Number(m[2]), minor: Number(m[3]), text: m[1] as string } : undefined;
}
