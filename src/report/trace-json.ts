/** The JSON report of `trace`: exactly `{"verdict", "decisive", "branches", "hops"}`. */
import type { TraceResult } from '../trace/types.js';

export function formatTraceJson(r: TraceResult): string {
  const { verdict, decisive, branches, hops } = r;
  return `${JSON.stringify({ verdict, decisive, branches, hops }, null, 2)}\n`;
}
