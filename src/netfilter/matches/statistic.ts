/**
 * `-m statistic --mode random --probability P` and `--mode nth --every N --packet P`. The kernel picks per packet, so
 * both outcomes are followed as branches (a service reaches every endpoint).
 */
import { defineMatch, MatchError, randomChoice, single } from './define.js';

export default defineMatch({
  name: 'statistic',
  options: ['mode', 'probability', 'every', 'packet'],
  compile(opts) {
    const get = (n: string) => opts.find((o) => o.name === n);
    const mode = get('mode');
    if (!mode) throw new MatchError('statistic needs --mode');
    const m = single(mode);
    if (m === 'random') {
      const p = get('probability');
      if (!p) throw new MatchError('statistic --mode random needs --probability');
      const prob = Number(single(p));
      if (!(prob >= 0 && prob <= 1)) throw new MatchError(`--probability "${single(p)}" is not between 0 and 1`);
      // The kernel keeps lround(0x80000000 * p) and matches when (random & 0x7fffffff) < it.
      const threshold = Math.round(0x80000000 * prob);
      const neg = p.negated;
      const why = `statistic --probability ${single(p)}`;
      const choice = randomChoice(why);
      const test = threshold >= 0x80000000 ? () => !neg : threshold === 0 ? () => neg : () => choice;
      return {
        test,
        canonical: `-m statistic --mode random ${neg ? '! ' : ''}--probability ${(threshold / 0x80000000).toFixed(11)}`,
      };
    }
    if (m === 'nth') {
      const every = get('every');
      if (!every) throw new MatchError('statistic --mode nth needs --every');
      const n = Number(single(every));
      const packet = get('packet');
      const neg = every.negated;
      const choice = randomChoice(`statistic --every ${n}`);
      const test = n <= 1 ? () => !neg : () => choice;
      return {
        test,
        canonical: `-m statistic --mode nth ${neg ? '! ' : ''}--every ${n} --packet ${packet ? single(packet) : '0'}`,
      };
    }
    throw new MatchError(`statistic: unknown mode "${m}"`);
  },
});
