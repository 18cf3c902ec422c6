/**
 * Where each iptables table's chains sit in the kernel: hook, priority and nft chain type. iptables-nft and
 * iptables-legacy register at these same priorities; native nft base chains bring their own.
 */
import type { Hook, Path } from './model.js';

export interface BaseChainSpec {
  hook: Hook;
  priority: number;
  type: 'filter' | 'nat' | 'route';
}

const H = (hook: Hook, priority: number, type: BaseChainSpec['type'] = 'filter'): BaseChainSpec => ({
  hook,
  priority,
  type,
});

export const IPTABLES_BASE_CHAINS: Record<string, Record<string, BaseChainSpec>> = {
  raw: { PREROUTING: H('prerouting', -300), OUTPUT: H('output', -300) },
  mangle: {
    PREROUTING: H('prerouting', -150),
    INPUT: H('input', -150),
    FORWARD: H('forward', -150),
    OUTPUT: H('output', -150, 'route'),
    POSTROUTING: H('postrouting', -150),
  },
  nat: {
    PREROUTING: H('prerouting', -100, 'nat'),
    INPUT: H('input', 100, 'nat'),
    OUTPUT: H('output', -100, 'nat'),
    POSTROUTING: H('postrouting', 100, 'nat'),
  },
  filter: { INPUT: H('input', 0), FORWARD: H('forward', 0), OUTPUT: H('output', 0) },
  security: { INPUT: H('input', 50), FORWARD: H('forward', 50), OUTPUT: H('output', 50) },
};

export const IPTABLES_TABLES = Object.keys(IPTABLES_BASE_CHAINS);

/** The hooks a packet passes, in order, on each path through one node. */
export const PATH_HOOKS: Record<Path, Hook[]> = {
  input: ['prerouting', 'input'],
  forward: ['prerouting', 'forward', 'postrouting'],
  output: ['output', 'postrouting'],
};

/** The hook whose filter chains decide the path (INPUT for input, ...). */
export const DECIDING_HOOK: Record<Path, Hook> = { input: 'input', forward: 'forward', output: 'output' };

/** nft's named priorities (`priority filter`, `dstnat`...). */
export const NFT_PRIORITY_NAMES: Record<string, number> = {
  raw: -300,
  mangle: -150,
  dstnat: -100,
  filter: 0,
  security: 50,
  srcnat: 100,
};
