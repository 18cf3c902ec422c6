/** `-m iprange --src-range A-B --dst-range A-B`. */
import { compareIp, formatIp, parseIp } from '../../core/ip.js';
import type { MatchResult, NodeEnv, Packet } from '../model.js';
import { allOf, defineMatch, MatchError, single } from './define.js';

export default defineMatch({
  name: 'iprange',
  options: ['src-range', 'dst-range'],
  compile(opts) {
    const tests: ((pkt: Packet, env: NodeEnv) => MatchResult)[] = [];
    const canon: string[] = [];
    for (const o of opts) {
      const [a, b] = single(o).split('-');
      const lo = parseIp(a ?? '');
      const hi = b === undefined ? lo : parseIp(b);
      if (!lo || !hi || lo.family !== hi.family) throw new MatchError(`bad address range "${single(o)}"`);
      const field = o.name === 'src-range' ? 'src' : 'dst';
      const neg = o.negated;
      tests.push((pkt) => {
        const ip = pkt[field];
        return (ip.family === lo.family && compareIp(ip, lo) >= 0 && compareIp(ip, hi) <= 0) !== neg;
      });
      canon.push(`${neg ? '! ' : ''}--${o.name} ${formatIp(lo)}-${formatIp(hi)}`);
    }
    return { test: allOf(tests), canonical: `-m iprange ${canon.sort().join(' ')}` };
  },
});
