/**
 * The text report of `trace`: the answer first (verdict, what the client sees, the decisive rule), then one line per
 * hop, kubectl-style columns, the decisive hop marked. Branches that end the same way are shown once.
 */
import { describeDecisive } from '../trace/format.js';
import type { TraceBranch, TraceHop, TraceQuery, TraceResult } from '../trace/types.js';
import { type Style, style } from './style.js';

export function describeSource(q: TraceQuery): string {
  const f = q.from;
  if (f.kind === 'pod') return `pod/${f.namespace}/${f.name} (${f.ip} on ${f.node})`;
  if (f.kind === 'node') return `node/${f.node}${f.ip ? ` (${f.ip})` : ''}`;
  return `${f.ip} (outside the cluster)`;
}

export function describeTarget(q: TraceQuery): string {
  const t = q.to;
  const port = t.port !== undefined ? `:${t.port}` : '';
  if (t.kind === 'pod') return `pod/${t.namespace}/${t.name}${port} (${t.ip}${t.node ? ` on ${t.node}` : ''})`;
  if (t.kind === 'service') return `svc/${t.namespace}/${t.name}${port} (ClusterIP ${t.ip})`;
  if (t.kind === 'node') return `node/${t.node}${port} (${t.ip})`;
  return `${t.ip}${port}`;
}

function verdictText(s: Style, b: { verdict: string; clientSees?: string }): string {
  const c = b.verdict === 'delivered' ? s.green : b.verdict === 'uncertain' ? s.yellow : s.red;
  return c(`${b.verdict.toUpperCase()}${b.clientSees ? ` (the client sees: ${b.clientSees})` : ''}`);
}

function branchKey(b: TraceBranch): string {
  const d = b.decisive;
  return `${b.verdict}|${b.clientSees}|${d?.node}|${d?.kind}|${d?.table}|${d?.chain}|${d?.index}|${d?.text}`;
}

function endpointText(b: TraceBranch): string {
  const e = b.endpoint;
  if (!e) return '';
  const port = e.port !== undefined ? `:${e.port}` : '';
  return e.pod ? `pod/${e.pod} ${e.ip}${port}` : e.node ? `node/${e.node} ${e.ip}${port}` : `${e.ip}${port}`;
}

function hopTable(s: Style, hops: TraceHop[], allRules: boolean): string[] {
  const rows = hops.map((h) => [
    h.decisive ? '>' : ' ',
    h.direction,
    h.node ?? '-',
    h.kind,
    `${h.in ?? ''}${h.in || h.out ? '>' : ''}${h.out ?? ''}` || '-',
    h.packet,
    h.result.toUpperCase(),
    h.rewrites?.length ? `${h.detail}; ${h.rewrites.join('; ')}` : h.detail,
  ]);
  const head = [' ', 'DIR', 'NODE', 'HOP', 'IN>OUT', 'PACKET', 'RESULT', 'DETAIL'];
  const widths = head.map((_, i) => Math.max(head[i]?.length ?? 0, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [`  ${s.dim(line(head))}`];
  hops.forEach((h, i) => {
    const text = line(rows[i] as string[]);
    const coloured = h.decisive ? s.bold(h.result === 'delivered' || h.result === 'pass' ? text : s.red(text)) : text;
    out.push(`  ${coloured}`);
    const pad = `  ${' '.repeat(widths[0] ?? 1)}  `;
    if (allRules) {
      for (const r of h.rules ?? []) out.push(`${pad}${s.dim(`${r.table}/${r.chain} #${r.index}  ${r.text}`)}`);
      if (h.route) out.push(`${pad}${s.dim(`route: ${h.route}`)}`);
    } else if (h.decisive && h.rules?.length) {
      const last = h.rules[h.rules.length - 1];
      if (last) out.push(`${pad}${s.dim(`rule: ${last.table}/${last.chain} #${last.index}  ${last.text}`)}`);
    }
  });
  return out;
}

export interface TraceTextOptions {
  /** Under each hop, every rule whose matches held there, and the route. */
  rules?: boolean;
  notes?: string[];
}

export function formatTraceText(q: TraceQuery, r: TraceResult, tty: boolean, opts: TraceTextOptions = {}): string {
  const notes = opts.notes ?? [];
  const s = style(tty);
  const out: string[] = [];
  out.push(`${s.bold('TRACE')}     ${q.proto} ${describeSource(q)} -> ${describeTarget(q)}`);
  out.push(`${s.bold('VERDICT')}   ${verdictText(s, r.branches.find((b) => b.verdict === r.verdict) ?? r)}`);
  if (r.decisive)
    out.push(`${s.bold('DECISIVE')}  ${r.decisive.node ? `${r.decisive.node}  ` : ''}${describeDecisive(r.decisive)}`);
  for (const n of notes) out.push(`${s.bold('NOTE')}      ${n}`);
  const counts = new Map<string, number>();
  for (const b of r.branches) counts.set(b.verdict, (counts.get(b.verdict) ?? 0) + 1);
  if (r.branches.length > 1) {
    out.push(
      `${s.bold('BRANCHES')}  ${r.branches.length}: ${[...counts].map(([v, n]) => `${n} ${v}`).join(', ')} (each endpoint kube-proxy or IPVS can pick)`,
    );
    r.branches.forEach((b, i) => {
      out.push(
        `  ${String(i + 1).padStart(2)}. ${verdictText(s, b)}  ${endpointText(b)}${b.verdict === 'delivered' ? '' : `  ${s.dim(b.reason)}`}`,
      );
    });
  }
  const shown = new Set<string>();
  r.branches.forEach((b, i) => {
    const key = branchKey(b);
    if (shown.has(key)) return;
    shown.add(key);
    const same = r.branches.filter((x) => branchKey(x) === key).length;
    out.push('');
    out.push(
      `${s.bold(r.branches.length > 1 ? `BRANCH ${i + 1}` : 'PATH')}  ${verdictText(s, b)}  ${endpointText(b)}${same > 1 ? s.dim(`  (and ${same - 1} more branch${same > 2 ? 'es' : ''} ending the same way)`) : ''}`,
    );
    out.push(...hopTable(s, b.hops, opts.rules === true));
    out.push(`  ${s.bold('Why:')} ${b.reason}`);
    if (b.choices.length) out.push(`  ${s.dim(`choices: ${b.choices.join('; ')}`)}`);
    if (b.fix?.length) {
      out.push(`  ${s.bold('Fix:')}`);
      for (const x of b.fix) out.push(`    ${s.green(`$ ${x}`)}`);
    }
  });
  return `${out.join('\n')}\n`;
}
