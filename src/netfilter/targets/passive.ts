/**
 * Targets that leave the verdict alone and let the chain go on: logging, tracing, QoS and checksum tweaks, ipset
 * updates. And the few whose verdict is made outside the kernel's rules (NFQUEUE: userspace) or needs sockets (TPROXY).
 */
import { CONTINUE, defineTarget, optionsText, type TargetModule } from './define.js';

const CONTINUING = [
  'LOG',
  'NFLOG',
  'ULOG',
  'TRACE',
  'AUDIT',
  'CLASSIFY',
  'TCPMSS',
  'DSCP',
  'TOS',
  'ECN',
  'CHECKSUM',
  'SET',
  'TTL',
  'HL',
  'TEE',
  'IDLETIMER',
  'LED',
  'SECMARK',
  'CONNSECMARK',
  'RATEEST',
  'TCPOPTSTRIP',
  'HMARK',
];
const UNDECIDED: Record<string, string> = {
  NFQUEUE: 'a userspace program decides (NFQUEUE)',
  QUEUE: 'a userspace program decides (QUEUE)',
  TPROXY: 'depends on a listening transparent socket',
  SYNPROXY: 'SYN proxy handshakes are not modelled',
};

export const passiveTargets: TargetModule[] = [
  ...CONTINUING.map((name) =>
    defineTarget({
      name,
      options: ['*'],
      compile(opts) {
        // HMARK changes the mark by a hash: the chain goes on, but later mark matches cannot be known.
        return { apply: () => CONTINUE, canonical: `-j ${name} ${optionsText(opts)}`.trim() };
      },
    }),
  ),
  ...Object.entries(UNDECIDED).map(([name, why]) =>
    defineTarget({
      name,
      options: ['*'],
      compile(opts) {
        const flow = { kind: 'unknown' as const, why };
        return { apply: () => flow, canonical: `-j ${name} ${optionsText(opts)}`.trim() };
      },
    }),
  ),
];

/** A target netdoctor has never heard of: the outcome of the rule is unknown. */
export function unknownTarget(name: string): TargetModule {
  return defineTarget({
    name,
    options: ['*'],
    compile(opts) {
      const flow = { kind: 'unknown' as const, why: `netdoctor does not know the target ${name}` };
      return { apply: () => flow, canonical: `-j ${name} ${optionsText(opts)}`.trim() };
    },
  });
}
