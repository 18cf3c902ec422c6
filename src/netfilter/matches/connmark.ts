/** `-m connmark --mark value[/mask]`: the connection's mark. */
import { defineMatch, hex, MatchError, parseValueMask, single } from './define.js';

export default defineMatch({
  name: 'connmark',
  options: ['mark'],
  compile(opts) {
    if (opts.length !== 1) throw new MatchError('connmark takes one --mark');
    const o = opts[0] as (typeof opts)[number];
    const { value, mask } = parseValueMask(single(o));
    const neg = o.negated;
    return {
      test: (pkt) => ((pkt.ctmark & mask) >>> 0 === value) !== neg,
      canonical: `-m connmark ${neg ? '! ' : ''}--mark ${hex(value)}/${hex(mask)}`,
    };
  },
});
