/** How a trace names packets, rules and decisive objects. */
import { formatIp } from '../core/ip.js';
import type { Decisive } from '../core/vocabulary.js';
import { type Packet, protocolName } from '../netfilter/model.js';
import type { RuleRef } from '../netfilter/simulate.js';
import type { HopRule, TraceDecisive } from './types.js';

const ICMP_TYPES: Record<number, string> = {
  0: 'echo-reply',
  8: 'echo-request',
  128: 'echo-request',
  129: 'echo-reply',
};

export function formatPacket(p: Packet): string {
  const proto = protocolName(p.proto);
  const src = formatIp(p.src);
  const dst = formatIp(p.dst);
  const addr = (ip: string, port?: number) =>
    port === undefined ? ip : ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
  if (p.proto === 6 || p.proto === 17 || p.proto === 132)
    return `${proto} ${addr(src, p.sport)} > ${addr(dst, p.dport)} ${p.state.toUpperCase()}`;
  if (p.proto === 1 || p.proto === 58)
    return `${proto} ${ICMP_TYPES[p.icmpType ?? -1] ?? `type ${p.icmpType}`} ${src} > ${dst} ${p.state.toUpperCase()}`;
  return `${proto} ${src} > ${dst} ${p.state.toUpperCase()}`;
}

export function hopRules(refs: readonly RuleRef[]): HopRule[] {
  return refs.map((r) => ({ table: r.table, chain: r.chain, index: r.index, text: r.text }));
}

export function traceDecisive(d: Partial<Decisive> & Pick<Decisive, 'kind'>, node?: string): TraceDecisive {
  return {
    node: d.node ?? node ?? null,
    kind: d.kind,
    table: d.table ?? null,
    chain: d.chain ?? null,
    index: d.index ?? null,
    text: d.text ?? (d.policy ? `:${d.chain} ${d.policy} (the chain's policy)` : (d.detail ?? null)),
  };
}

/** A rule or chain policy in the operator's words: `filter/INPUT #9 -A INPUT -j REJECT ...`. */
export function describeDecisive(d: TraceDecisive): string {
  if (d.kind === 'rule') return `${d.table}/${d.chain} #${d.index} \`${d.text}\``;
  if (d.kind === 'policy') return `${d.table}/${d.chain} policy (${d.text})`;
  return d.text ?? d.kind;
}
