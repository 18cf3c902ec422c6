/** `-m udp` (also implied by `-p udp`): source and destination ports. */
import type { MatchResult, NodeEnv, Packet } from '../model.js';
import { allOf, defineMatch, MatchError } from './define.js';
import { portTest } from './tcp.js';

export default defineMatch({
  name: 'udp',
  options: ['sport', 'source-port', 'dport', 'destination-port'],
  compile(opts) {
    const tests: ((pkt: Packet, env: NodeEnv) => MatchResult)[] = [(pkt) => pkt.proto === 17];
    const canon: string[] = [];
    for (const o of opts) {
      const port = portTest(o, 17);
      if (!port) throw new MatchError(`udp: unknown option --${o.name}`);
      tests.push(port.test);
      canon.push(port.canonical);
    }
    return { test: allOf(tests), canonical: `-m udp ${canon.sort().join(' ')}`.trim() };
  },
});
