/** CT and NOTRACK (raw table): `--notrack` leaves the packet untracked for every later hook. */
import { CONTINUE, defineTarget, optionsText, type TargetModule } from './define.js';

const ct = defineTarget({
  name: 'CT',
  options: ['notrack', 'helper', 'ctevents', 'expevents', 'zone', 'zone-orig', 'zone-reply', 'timeout'],
  compile(opts) {
    const notrack = opts.some((o) => o.name === 'notrack');
    return {
      apply(pkt, _env, rewrites) {
        if (notrack) {
          pkt.state = 'untracked';
          rewrites.push({ kind: 'notrack', detail: 'connection tracking off for this packet' });
        }
        return CONTINUE;
      },
      canonical: `-j CT ${optionsText(opts)}`.trim(),
    };
  },
});

const notrack = defineTarget({
  name: 'NOTRACK',
  options: [],
  compile() {
    return {
      apply(pkt, _env, rewrites) {
        pkt.state = 'untracked';
        rewrites.push({ kind: 'notrack', detail: 'connection tracking off for this packet' });
        return CONTINUE;
      },
      // iptables-nft lists NOTRACK as `-j CT --notrack`.
      canonical: '-j CT --notrack',
    };
  },
});

export const ctTargets: TargetModule[] = [ct, notrack];
