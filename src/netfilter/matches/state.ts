/** `-m state --state`: the older spelling of `conntrack --ctstate`. */

import type { MatchResult, NodeEnv, Packet } from '../model.js';
import { ctStateCanonical, ctStateTest } from './conntrack.js';
import { allOf, defineMatch, MatchError, single } from './define.js';

export default defineMatch({
  name: 'state',
  options: ['state'],
  compile(opts) {
    const tests: ((pkt: Packet, env: NodeEnv) => MatchResult)[] = [];
    const canon: string[] = [];
    for (const o of opts) {
      if (o.name !== 'state') throw new MatchError(`state: unknown option --${o.name}`);
      const states = single(o).split(',');
      for (const s of states)
        if (/^[SD]NAT$/i.test(s)) throw new MatchError(`state does not know "${s}" (conntrack does)`);
      const t = ctStateTest(states);
      const neg = o.negated;
      tests.push((pkt) => t(pkt) !== neg);
      canon.push(`${neg ? '! ' : ''}--state ${ctStateCanonical(states)}`);
    }
    return { test: allOf(tests), canonical: `-m state ${canon.join(' ')}` };
  },
});
