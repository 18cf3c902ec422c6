/** `-m physdev`: bridge ports of a bridged packet. A packet that was not bridged matches only negated tests. */

import { ifaceMatcher } from '../iface.js';
import type { Packet } from '../model.js';
import { defineMatch, MatchError } from './define.js';

export default defineMatch({
  name: 'physdev',
  options: ['physdev-in', 'physdev-out', 'physdev-is-in', 'physdev-is-out', 'physdev-is-bridged'],
  compile(opts) {
    const checks: { name: string; negated: boolean; test: (pkt: Packet) => boolean }[] = [];
    for (const o of opts) {
      let test: (pkt: Packet) => boolean;
      switch (o.name) {
        case 'physdev-in': {
          const m = ifaceMatcher(o.values[0] ?? '');
          test = (pkt) => pkt.physIn !== undefined && m(pkt.physIn);
          break;
        }
        case 'physdev-out': {
          const m = ifaceMatcher(o.values[0] ?? '');
          test = (pkt) => pkt.physOut !== undefined && m(pkt.physOut);
          break;
        }
        case 'physdev-is-in':
          test = (pkt) => pkt.physIn !== undefined;
          break;
        case 'physdev-is-out':
        case 'physdev-is-bridged':
          test = (pkt) => pkt.physOut !== undefined;
          break;
        default:
          throw new MatchError(`physdev: unknown option --${o.name}`);
      }
      checks.push({ name: o.name, negated: o.negated, test });
    }
    const canonical = `-m physdev ${opts
      .map((o) => `${o.negated ? '! ' : ''}--${o.name}${o.values.length ? ` ${o.values.join(' ')}` : ''}`)
      .sort()
      .join(' ')}`;
    return {
      test: (pkt) => {
        if (!pkt.bridged) return checks.every((c) => c.negated);
        return checks.every((c) => c.test(pkt) !== c.negated);
      },
      canonical,
    };
  },
});
