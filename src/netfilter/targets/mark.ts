/** MARK: sets bits of the packet mark (kube-proxy's 0x4000 masquerade mark, Calico's policy bits). */

import type { ParsedOption } from '../matches/define.js';
import { hex, parseUint32, parseValueMask } from '../matches/define.js';
import { CONTINUE, defineTarget, TargetError } from './define.js';

/**
 * Every MARK/CONNMARK spelling as the xmark pair the kernel stores: new = (old & ~mask) ^ value.
 * Returns undefined for options that are not a mark assignment.
 */
export function xmark(o: ParsedOption): { value: number; mask: number } | undefined {
  const v = o.values[0] ?? '';
  switch (o.name) {
    case 'set-xmark':
      return parseValueMask(v);
    case 'set-mark': {
      const { value, mask } = parseValueMask(v);
      return { value, mask: (mask | value) >>> 0 };
    }
    case 'and-mark':
      return { value: 0, mask: ~parseUint32(v) >>> 0 };
    case 'or-mark': {
      const bits = parseUint32(v);
      return { value: bits, mask: bits };
    }
    case 'xor-mark':
      return { value: parseUint32(v), mask: 0 };
    default:
      return undefined;
  }
}

export default defineTarget({
  name: 'MARK',
  options: ['set-xmark', 'set-mark', 'and-mark', 'or-mark', 'xor-mark'],
  compile(opts) {
    const o = opts[0];
    const x = o ? xmark(o) : undefined;
    if (!x || opts.length !== 1)
      throw new TargetError('MARK takes one of --set-xmark, --set-mark, --and-mark, --or-mark, --xor-mark');
    const { value, mask } = x;
    return {
      apply(pkt, _env, rewrites) {
        const before = pkt.mark;
        pkt.mark = ((pkt.mark & ~mask) ^ value) >>> 0;
        rewrites.push({ kind: 'mark', detail: `mark ${hex(before)} → ${hex(pkt.mark)}` });
        return CONTINUE;
      },
      canonical: `-j MARK --set-xmark ${hex(value)}/${hex(mask)}`,
    };
  },
});
