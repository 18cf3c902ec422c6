/** `-m udp` (also implied by `-p udp`): source and destination ports. */
import type { MatchResult, NodeEnv, Packet } from '../model.js';
import { allOf, defineMatch, MatchError } from './define.js';
import { portTests } from './tcp.js';

export default defineMatch({
  name: 'udp',
  options: ['sport', 'source-port', 'dport', 'destination-port'],
  compile(opts, ctx) {
    const ports = portTests(opts, 17, ctx.backend);
    const bad = ports.rest[0];
    if (bad) throw new MatchError(`udp: unknown option --${bad.name}`);
    const tests: ((pkt: Packet, env: NodeEnv) => MatchResult)[] = [(pkt) => pkt.proto === 17, ...ports.tests];
    const canon = ports.canonical;
    return { test: allOf(tests), canonical: `-m udp ${canon.sort().join(' ')}`.trim() };
  },
});
