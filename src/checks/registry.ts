/** Every check netdoctor runs, in the order the catalogue lists them. */
import type { Check } from './define.js';
import overlayPortBlocked from './overlay-port-blocked.js';

export const CHECKS: readonly Check[] = [overlayPortBlocked];

export function checkById(id: string): Check | undefined {
  return CHECKS.find((c) => c.id === id);
}
