/** `-m conntrack`: state (incl. the DNAT/SNAT virtual states), status, original tuple, direction. */
import { cidrMatcher, parseCidr } from '../../core/ip.js';
import type { CtState, MatchResult, NodeEnv, Packet } from '../model.js';
import { parseProtocol } from '../model.js';
import { allOf, defineMatch, MatchError, optText, single, unknownChoice } from './define.js';
import { inRange, parsePortRange, rangeText } from './ports.js';

const STATES = ['INVALID', 'NEW', 'ESTABLISHED', 'RELATED', 'UNTRACKED', 'SNAT', 'DNAT'] as const;

/** Does the packet's conntrack state satisfy one of the listed states? */
export function ctStateTest(states: string[]): (pkt: Packet) => boolean {
  const want = new Set(states.map((s) => s.toUpperCase()));
  for (const s of want)
    if (!(STATES as readonly string[]).includes(s)) throw new MatchError(`unknown conntrack state "${s}"`);
  // The packet's states are lower case: compare without making an upper-case copy per test.
  const wantLower = new Set([...want].map((s) => s.toLowerCase()));
  const dnat = want.has('DNAT');
  const snat = want.has('SNAT');
  return (pkt) => {
    const s: CtState = pkt.state;
    if (wantLower.has(s)) return true;
    if (dnat && pkt.ctDnat && s !== 'untracked' && s !== 'invalid') return true;
    if (snat && pkt.ctSnat && s !== 'untracked' && s !== 'invalid') return true;
    return false;
  };
}

export function ctStateCanonical(states: string[]): string {
  const set = new Set(states.map((s) => s.toUpperCase()));
  return STATES.filter((s) => set.has(s)).join(',');
}

export default defineMatch({
  name: 'conntrack',
  options: [
    'ctstate',
    'ctproto',
    'ctorigsrc',
    'ctorigdst',
    'ctreplsrc',
    'ctrepldst',
    'ctorigsrcport',
    'ctorigdstport',
    'ctreplsrcport',
    'ctrepldstport',
    'ctstatus',
    'ctexpire',
    'ctdir',
  ],
  compile(opts) {
    const tests: ((pkt: Packet, env: NodeEnv) => MatchResult)[] = [];
    const canon: string[] = [];
    for (const o of opts) {
      const neg = o.negated;
      const v = single(o);
      switch (o.name) {
        case 'ctstate': {
          const states = v.split(',');
          const t = ctStateTest(states);
          tests.push((pkt) => t(pkt) !== neg);
          canon.push(optText(o, [ctStateCanonical(states)]));
          break;
        }
        case 'ctproto': {
          const p = parseProtocol(v);
          if (p === undefined) throw new MatchError(`unknown protocol "${v}"`);
          tests.push((pkt) => (pkt.state !== 'untracked' && pkt.state !== 'invalid' && pkt.proto === p) !== neg);
          canon.push(optText(o, [String(p)]));
          break;
        }
        case 'ctorigdst':
        case 'ctorigsrc': {
          const c = parseCidr(v);
          if (!c) throw new MatchError(`bad address "${v}"`);
          const m = cidrMatcher(c);
          const dst = o.name === 'ctorigdst';
          tests.push((pkt) => m(dst ? (pkt.origDst ?? pkt.dst) : pkt.src) !== neg);
          canon.push(optText(o, [`${v.includes('/') ? v : `${v}/${c.family === 4 ? 32 : 128}`}`]));
          break;
        }
        case 'ctorigdstport':
        case 'ctorigsrcport': {
          const r = parsePortRange(v);
          const dst = o.name === 'ctorigdstport';
          tests.push((pkt) => inRange(dst ? (pkt.origDport ?? pkt.dport) : pkt.sport, r) !== neg);
          canon.push(optText(o, [rangeText(r)]));
          break;
        }
        case 'ctdir': {
          const d = v.toUpperCase();
          if (d !== 'ORIGINAL' && d !== 'REPLY') throw new MatchError(`--ctdir takes ORIGINAL or REPLY, not "${v}"`);
          // A NEW packet travels in the original direction; for later packets we are not told which way they go.
          tests.push((pkt) =>
            pkt.state === 'new'
              ? (d === 'ORIGINAL') !== neg
              : unknownChoice("the packet's conntrack direction is not known"),
          );
          canon.push(optText(o, [d]));
          break;
        }
        default:
          tests.push(() => unknownChoice(`conntrack --${o.name} depends on conntrack data netdoctor does not have`));
          canon.push(optText(o));
      }
    }
    return { test: allOf(tests), canonical: `-m conntrack ${canon.join(' ')}` };
  },
});
