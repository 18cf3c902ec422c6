/** `-m length --length A[:B]`: needs the packet's length, which a question may leave out. */
import { defineMatch, MatchError, single, unknownChoice } from './define.js';
import { parsePortRange, rangeText } from './ports.js';

export default defineMatch({
  name: 'length',
  options: ['length'],
  compile(opts) {
    const o = opts[0];
    if (!o || opts.length !== 1) throw new MatchError('length takes one --length');
    const range = parsePortRange(single(o));
    const neg = o.negated;
    const choice = unknownChoice('the packet length is not known');
    return {
      test: (pkt) => (pkt.length === undefined ? choice : (pkt.length >= range[0] && pkt.length <= range[1]) !== neg),
      canonical: `-m length ${neg ? '! ' : ''}--length ${rangeText(range)}`,
    };
  },
});
