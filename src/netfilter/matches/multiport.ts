/** `-m multiport --dports/--sports/--ports a,b,c:d` (up to 15 ports; a range counts two). */
import type { Packet } from '../model.js';
import { defineMatch, MatchError, single } from './define.js';
import { inRange, parsePortRange, rangeText } from './ports.js';

const PORT_PROTOS = new Set([6, 17, 132, 33, 136]);

export default defineMatch({
  name: 'multiport',
  options: ['sports', 'source-ports', 'dports', 'destination-ports', 'ports'],
  compile(opts) {
    if (opts.length !== 1) throw new MatchError('multiport takes exactly one of --sports, --dports, --ports');
    const o = opts[0] as (typeof opts)[number];
    const ranges = single(o)
      .split(',')
      .map((p) => parsePortRange(p));
    const which = o.name.startsWith('s') ? 'sport' : o.name.startsWith('d') ? 'dport' : 'either';
    const name = which === 'sport' ? 'sports' : which === 'dport' ? 'dports' : 'ports';
    const any = (port: number | undefined) => ranges.some((r) => inRange(port, r));
    const neg = o.negated;
    const test = (pkt: Packet) => {
      if (!PORT_PROTOS.has(pkt.proto)) return false;
      const hit = which === 'either' ? any(pkt.sport) || any(pkt.dport) : any(pkt[which]);
      return hit !== neg;
    };
    return { test, canonical: `-m multiport ${neg ? '! ' : ''}--${name} ${ranges.map(rangeText).join(',')}` };
  },
});
