/** Which chains a packet can reach from the base chains of its path: the base chains and every chain they jump to. */
import type { Chain, Path, Ruleset, Table } from './model.js';
import { planFor } from './simulate.js';

export interface ReachableChain {
  table: Table;
  chain: Chain;
}

export function reachableChains(ruleset: Ruleset, family: 4 | 6, path: Path): ReachableChain[] {
  const out: ReachableChain[] = [];
  const seen = new Set<Chain>();
  const visit = (table: Table, chain: Chain) => {
    if (seen.has(chain)) return;
    seen.add(chain);
    out.push({ table, chain });
    for (const rule of chain.rules)
      for (const e of rule.exprs) {
        if (e.kind !== 'action' || !e.jumps) continue;
        for (const target of e.jumps) {
          const next = table.chains.get(target);
          if (next) visit(table, next);
        }
      }
  };
  for (const step of planFor(ruleset, family, path)) visit(step.table, step.chain);
  return out;
}
