/**
 * `netdoctor diff`: two nodes compared by behaviour (DESIGN §4), and `--all`: every node against a few peers, the odd
 * ones out being the nodes that differ from most of the peers they were compared with.
 */
import type { NodeModel } from '../model/cluster.js';
import { Normaliser, nodeIdentity } from './identity.js';
import { diffNetfilter } from './netfilter.js';
import {
  diffFdb,
  diffInterfaces,
  diffIpvs,
  diffKubeProxy,
  diffNeigh,
  diffRoutes,
  diffSysctl,
  type Pair,
} from './state.js';
import type { DiffAllResult, Difference, DifferenceKind, DiffResult, OddOneOut } from './types.js';

export interface DiffOptions {
  /** Compare only these kinds (default: all). */
  kinds?: readonly DifferenceKind[];
}

export function diffNodes(a: NodeModel, b: NodeModel, opts: DiffOptions = {}): DiffResult {
  const ia = nodeIdentity(a);
  const ib = nodeIdentity(b);
  const p: Pair = { a, b, na: new Normaliser(ia, ib), nb: new Normaliser(ib, ia) };
  const notCompared: DiffResult['notCompared'] = [];
  const want = (k: DifferenceKind) => !opts.kinds || opts.kinds.includes(k);
  const differences: Difference[] = [];
  if (want('netfilter-rule') || want('netfilter-policy')) {
    if (a.hasNetfilter && b.hasNetfilter)
      differences.push(...diffNetfilter(a, p.na, b, p.nb).filter((d) => want(d.kind)));
    else if (a.hasNetfilter || b.hasNetfilter)
      notCompared.push({
        kind: 'netfilter-rule',
        reason: `no iptables or nft dump from ${a.hasNetfilter ? b.name : a.name}`,
      });
  }
  if (want('sysctl')) differences.push(...diffSysctl(p, notCompared));
  if (want('interface')) differences.push(...diffInterfaces(p, notCompared));
  if (want('route')) differences.push(...diffRoutes(p, notCompared));
  if (want('overlay-fdb')) differences.push(...diffFdb(p, notCompared));
  if (want('overlay-neigh')) differences.push(...diffNeigh(p, notCompared));
  if (want('ipvs')) differences.push(...diffIpvs(p, notCompared));
  if (want('kube-proxy')) differences.push(...diffKubeProxy(p));
  return { a: a.name, b: b.name, differences, notCompared };
}

/** How many peers each node is compared with in `--all` (the vote). */
const PEERS = 4;

/**
 * Every node against up to four peers (its neighbours in name order, wrapping): a node that differs from most of
 * them is an odd one out. With one odd node among N >= 3, each healthy node differs from at most one of its peers,
 * the odd node from all of them. Cost: about 4·N comparisons, not N².
 */
export function diffAll(nodes: NodeModel[], opts: DiffOptions = {}): DiffAllResult {
  const sorted = [...nodes].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  const n = sorted.length;
  const cache = new Map<string, DiffResult>();
  const compare = (x: NodeModel, y: NodeModel): DiffResult => {
    const key = x.name < y.name ? `${x.name}\0${y.name}` : `${y.name}\0${x.name}`;
    let r = cache.get(key);
    if (!r) {
      r = diffNodes(x, y, opts);
      cache.set(key, r);
    }
    // Always from x's point of view.
    return r.a === x.name ? r : flip(r);
  };
  if (n < 2) return { nodes: sorted.map((x) => x.name), oddOnesOut: [], pairs: [] };
  if (n === 2) {
    const [x, y] = sorted as [NodeModel, NodeModel];
    const r = compare(x, y);
    return {
      nodes: [x.name, y.name],
      oddOnesOut: [],
      ...(r.differences.length ? { undecided: [x.name, y.name] } : {}),
      pairs: [{ a: x.name, b: y.name, differences: r.differences.length }],
    };
  }
  const k = Math.min(PEERS, n - 1);
  const peersOf = (i: number) => Array.from({ length: k }, (_, d) => sorted[(i + d + 1) % n] as NodeModel);
  const differing = new Map<string, string[]>();
  const compared = new Map<string, string[]>();
  sorted.forEach((x, i) => {
    for (const y of peersOf(i)) {
      for (const [u, v] of [
        [x, y],
        [y, x],
      ] as const) {
        const list = compared.get(u.name) ?? [];
        if (!list.includes(v.name)) {
          list.push(v.name);
          compared.set(u.name, list);
          if (compare(u, v).differences.length) differing.set(u.name, [...(differing.get(u.name) ?? []), v.name]);
        }
      }
    }
  });
  const odd = sorted.filter((x) => (differing.get(x.name)?.length ?? 0) * 2 > (compared.get(x.name)?.length ?? 0));
  const oddNames = new Set(odd.map((x) => x.name));
  const oddOnesOut: OddOneOut[] = odd.map((x) => {
    const cmp = compared.get(x.name) ?? [];
    const reference = cmp.find((y) => !oddNames.has(y)) ?? sorted.find((y) => !oddNames.has(y.name))?.name;
    const refNode = sorted.find((y) => y.name === reference);
    return {
      node: x.name,
      differsFrom: differing.get(x.name) ?? [],
      comparedWith: cmp,
      ...(reference ? { reference } : {}),
      // The typical peer first: its side reads as what is expected, the odd node's as what is not.
      differences: refNode ? diffNodes(refNode, x, opts).differences : [],
    };
  });
  const pairs = [...cache.values()].map((r) => ({ a: r.a, b: r.b, differences: r.differences.length }));
  return { nodes: sorted.map((x) => x.name), oddOnesOut, pairs };
}

/** The same comparison seen from the other node. */
function flip(r: DiffResult): DiffResult {
  return {
    a: r.b,
    b: r.a,
    notCompared: r.notCompared,
    differences: r.differences.map((d) => ({
      ...d,
      a: d.b,
      b: d.a,
      classes: d.classes.map((c) => ({ ...c, a: c.b, b: c.a })),
    })),
  };
}
