/**
 * One netfilter hook of one node at a time. The simulator walks a whole path (PREROUTING, routing, INPUT...), but a
 * trace must route between the hooks itself (after DNAT, over the overlay, into another node), so it asks the
 * simulator about a view of the ruleset that holds only the base chains of one hook (user chains stay: base chains
 * jump to them). Views are made once per ruleset and hook.
 */
import type { Hook, NodeEnv, Packet, Path, Ruleset } from '../netfilter/model.js';
import { type EvalResult, simulate } from '../netfilter/simulate.js';

const views = new WeakMap<Ruleset, Map<Hook, Ruleset>>();

/** The ruleset with the base chains of one hook only. */
export function hookView(ruleset: Ruleset, hook: Hook): Ruleset {
  let perHook = views.get(ruleset);
  if (!perHook) {
    perHook = new Map();
    views.set(ruleset, perHook);
  }
  const cached = perHook.get(hook);
  if (cached) return cached;
  const view: Ruleset = {
    ...ruleset,
    tables: ruleset.tables.map((t) => ({
      ...t,
      chains: new Map([...t.chains].filter(([, c]) => c.hook === undefined || c.hook === hook)),
    })),
  };
  perHook.set(hook, view);
  return view;
}

/** A path that contains the hook, so the simulator runs its chains (the view holds no other base chain). */
const PATH_OF: Record<Hook, Path> = {
  prerouting: 'input',
  input: 'input',
  forward: 'forward',
  output: 'output',
  postrouting: 'output',
};

/** Every way the node's chains at `hook` can treat the packet (one branch per random choice). */
export function runHook(
  ruleset: Ruleset,
  env: NodeEnv,
  hook: Hook,
  pkt: Packet,
  node: string,
  maxBranches = 64,
): EvalResult {
  return simulate(hookView(ruleset, hook), pkt, PATH_OF[hook], env, { node, maxBranches });
}
