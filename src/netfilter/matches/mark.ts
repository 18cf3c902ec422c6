/** `-m mark --mark value[/mask]`: the packet mark (not the connection mark: that is `-m connmark`). */
import { defineMatch, hex, MatchError, parseValueMask, single } from './define.js';

export default defineMatch({
  name: 'mark',
  options: ['mark'],
  compile(opts) {
    if (opts.length !== 1) throw new MatchError('mark takes one --mark');
    const o = opts[0] as (typeof opts)[number];
    const { value, mask } = parseValueMask(single(o));
    const neg = o.negated;
    return {
      test: (pkt) => ((pkt.mark & mask) >>> 0 === value) !== neg,
      canonical: `-m mark ${neg ? '! ' : ''}--mark ${hex(value)}/${hex(mask)}`,
    };
  },
});
