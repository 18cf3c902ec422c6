/** `-m set --match-set NAME src|dst[,...]`: membership in an ipset from the node's `ipset save`. */
import type { MatchResult, NodeEnv, Packet } from '../model.js';
import { allOf, defineMatch, MatchError, unknownChoice } from './define.js';

export default defineMatch({
  name: 'set',
  options: [
    'match-set',
    'set',
    'return-nomatch',
    'update-counters',
    'update-subcounters',
    'packets-eq',
    'packets-lt',
    'packets-gt',
    'bytes-eq',
    'bytes-lt',
    'bytes-gt',
  ],
  compile(opts) {
    const tests: ((pkt: Packet, env: NodeEnv) => MatchResult)[] = [];
    const canon: string[] = [];
    for (const o of opts) {
      if (o.name === 'match-set' || o.name === 'set') {
        if (o.values.length !== 2) throw new MatchError('--match-set takes a set name and src/dst flags');
        const [name, flagText] = o.values as [string, string];
        const dims = flagText.split(',') as ('src' | 'dst')[];
        for (const d of dims)
          if (d !== 'src' && d !== 'dst') throw new MatchError(`--match-set flag "${d}" is not src or dst`);
        const neg = o.negated;
        tests.push((pkt, env) => {
          const set = env.ipsets?.get(name);
          if (!set) return unknownChoice(`ipset ${name} is not in the snapshot`);
          const r = set.test(pkt, dims);
          if (r === undefined) return unknownChoice(`ipset ${name} (${set.type}) cannot be evaluated`);
          return r !== neg;
        });
        canon.push(`${neg ? '! ' : ''}--match-set ${name} ${flagText}`);
      } else if (o.name === 'return-nomatch' || o.name.startsWith('update-')) {
        canon.push(`${o.negated ? '! ' : ''}--${o.name}`);
      } else {
        tests.push(() => unknownChoice(`set --${o.name} depends on ipset counters`));
        canon.push(`--${o.name} ${o.values.join(' ')}`);
      }
    }
    return { test: allOf(tests), canonical: `-m set ${canon.join(' ')}` };
  },
});
