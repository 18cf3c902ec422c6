/** `-m pkttype --pkt-type unicast|broadcast|multicast`, from the destination address. */
import { addressType } from './addrtype.js';
import { defineMatch, MatchError, single } from './define.js';

export default defineMatch({
  name: 'pkttype',
  options: ['pkt-type'],
  compile(opts) {
    const o = opts[0];
    if (!o || opts.length !== 1) throw new MatchError('pkttype takes one --pkt-type');
    const want = single(o).toLowerCase();
    if (!['unicast', 'broadcast', 'multicast', 'host', 'otherhost'].includes(want))
      throw new MatchError(`unknown packet type "${want}"`);
    const neg = o.negated;
    return {
      test: (pkt, env) => {
        const t = addressType(pkt.dst, env);
        const kind = t === 'MULTICAST' ? 'multicast' : t === 'BROADCAST' ? 'broadcast' : 'unicast';
        const hit = want === 'host' || want === 'otherhost' ? false : kind === want;
        return hit !== neg;
      },
      canonical: `-m pkttype ${neg ? '! ' : ''}--pkt-type ${want}`,
    };
  },
});
