/** CONNMARK: sets the connection mark, or copies it to and from the packet mark. */
import { hex, parseUint32 } from '../matches/define.js';
import { CONTINUE, defineTarget, TargetError } from './define.js';
import { xmark } from './mark.js';

export default defineTarget({
  name: 'CONNMARK',
  options: [
    'set-xmark',
    'set-mark',
    'and-mark',
    'or-mark',
    'xor-mark',
    'save-mark',
    'restore-mark',
    'nfmask',
    'ctmask',
    'mask',
  ],
  compile(opts) {
    const mask = (name: string) => {
      const o = opts.find((x) => x.name === name) ?? opts.find((x) => x.name === 'mask');
      return o?.values[0] ? parseUint32(o.values[0]) : 0xffffffff;
    };
    const assign = opts.map(xmark).find((x) => x !== undefined);
    if (assign) {
      const { value, mask: m } = assign;
      return {
        apply(pkt, _env, rewrites) {
          pkt.ctmark = ((pkt.ctmark & ~m) ^ value) >>> 0;
          rewrites.push({ kind: 'connmark', detail: `connmark → ${hex(pkt.ctmark)}` });
          return CONTINUE;
        },
        canonical: `-j CONNMARK --set-xmark ${hex(value)}/${hex(m)}`,
      };
    }
    const nfmask = mask('nfmask');
    const ctmask = mask('ctmask');
    if (opts.some((o) => o.name === 'save-mark')) {
      return {
        apply(pkt, _env, rewrites) {
          pkt.ctmark = ((pkt.ctmark & ~ctmask) ^ (pkt.mark & nfmask)) >>> 0;
          rewrites.push({ kind: 'connmark', detail: `connmark ← mark (${hex(pkt.ctmark)})` });
          return CONTINUE;
        },
        canonical: `-j CONNMARK --save-mark --nfmask ${hex(nfmask)} --ctmask ${hex(ctmask)}`,
      };
    }
    if (opts.some((o) => o.name === 'restore-mark')) {
      return {
        apply(pkt, _env, rewrites) {
          pkt.mark = ((pkt.mark & ~nfmask) ^ (pkt.ctmark & ctmask)) >>> 0;
          rewrites.push({ kind: 'mark', detail: `mark ← connmark (${hex(pkt.mark)})` });
          return CONTINUE;
        },
        canonical: `-j CONNMARK --restore-mark --nfmask ${hex(nfmask)} --ctmask ${hex(ctmask)}`,
      };
    }
    throw new TargetError('CONNMARK needs --set-xmark, --save-mark or --restore-mark');
  },
});
