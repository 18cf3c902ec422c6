/** `-m policy --dir in|out --pol none|ipsec`: netdoctor models no IPsec, so packets carry no policy. */
import { defineMatch, MatchError } from './define.js';

export default defineMatch({
  name: 'policy',
  options: ['dir', 'pol', 'strict', 'reqid', 'spi', 'proto', 'mode', 'tunnel-src', 'tunnel-dst', 'next'],
  compile(opts) {
    const pol = opts.find((o) => o.name === 'pol');
    const dir = opts.find((o) => o.name === 'dir');
    if (!pol || !dir) throw new MatchError('policy needs --dir and --pol');
    const wantNone = pol.values[0] === 'none';
    const extra = opts.filter((o) => o.name !== 'pol' && o.name !== 'dir');
    return {
      // Without IPsec a packet has no policy: `--pol none` matches, `--pol ipsec` (with any selectors) does not.
      test: () => wantNone,
      canonical: `-m policy --dir ${dir.values[0]} --pol ${pol.values[0]}${extra.map((o) => ` --${o.name} ${o.values.join(' ')}`).join('')}`,
    };
  },
});
