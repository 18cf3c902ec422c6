/**
 * The text report of `probe`: a headline, the matrix (one symbol per cell, names numbered so the table stays narrow),
 * then every failure with the reason the trace gives, then DNS, overlay and MTU. Like kubectl: plain columns, colour
 * only on a terminal.
 */
import { buildMatrix, summarize } from '../probe/matrix.js';
import type { ProbeOutcome, ProbeReport, ProbeStatus } from '../probe/model.js';
import { type Lang, translator } from './i18n.js';
import { style } from './style.js';

const SYMBOL: Record<ProbeStatus, string> = { pass: '✓', fail: '✗', partial: '◐', slow: '◷', error: '?' };

export function outcomeLine(o: ProbeOutcome): string {
  const p = o.probe;
  const what = `${p.proto}${p.port !== undefined ? `/${p.port}` : ''}`;
  const from =
    p.from.kind === 'pod' ? `pod/${p.from.name}` : p.from.kind === 'node' ? `node/${p.from.name}` : 'outside';
  const to =
    p.kind === 'nodeport'
      ? `node/${p.to.name}:${p.port}`
      : p.to.kind === 'service'
        ? `svc/${p.to.name}`
        : p.to.kind === 'dns'
          ? p.to.name
          : `${p.to.kind}/${p.to.name}`;
  return `${from} → ${to} ${what}`;
}

/** What the network did, in a client's words: `timeout ×3`, `answered by a, b`, `refused`. */
export function resultText(o: ProbeOutcome, lang: Lang = 'en'): string {
  const t = translator(lang);
  const r = o.result;
  const parts: string[] = [];
  const named = !o.probe.agent.connect && o.probe.kind !== 'dns' && o.probe.agent.kind !== 'icmp';
  if (r.answers.length && named && o.probe.agent.kind !== 'mtu')
    parts.push(`${t('answeredBy')} ${r.answers.join(', ')}`);
  if (o.probe.kind === 'dns' && r.answers.length) {
    const fast = Math.round(r.latencyMs ?? 0);
    const slow = Math.round(r.slowestMs ?? fast);
    parts.push(
      `${r.answers.join(' ')} ${t('latency')} ${fast === slow ? `${fast}` : `${fast}–${slow}`} ms${r.server ? ` (${r.server})` : ''}`,
    );
  } else if (r.latencyMs !== undefined && r.answers.length) parts.push(`${t('latency')} ${r.latencyMs.toFixed(1)} ms`);
  const fails = Object.entries(r.failures)
    .map(([k, n]) => `${k} ×${n}`)
    .join(', ');
  if (fails) parts.push(o.probe.agent.all ? `${fails} / ${r.attempts}` : fails);
  if (o.missing.length) parts.push(`${t('neverAnswered')}: ${o.missing.join(', ')}`);
  if (o.unexpected.length) parts.push(`${t('unexpectedAnswer')} ${o.unexpected.join(', ')}`);
  if (o.probe.blocked && o.status === 'pass') parts.push(`${t('blockedByDesign')}: ${o.probe.blocked}`);
  if (r.detail && (o.status !== 'pass' || o.probe.kind === 'dns')) parts.push(r.detail);
  return parts.join('; ');
}

export function formatProbeText(report: ProbeReport, tty: boolean, lang: Lang = 'en'): string {
  const s = style(tty);
  const t = translator(lang);
  const sum = summarize(report.outcomes);
  const colour = (st: ProbeStatus) => (st === 'pass' ? s.green : st === 'fail' || st === 'error' ? s.red : s.yellow);
  const out: string[] = [];
  out.push(
    s.bold(
      t('probeHeadline', {
        target: report.target,
        total: sum.total,
        seconds: (report.durationMs / 1000).toFixed(1),
        ...sum.byStatus,
      }),
    ),
  );
  out.push('');

  const m = buildMatrix(report);
  if (m.rows.length && m.cols.length) {
    out.push(s.bold(t('matrix')));
    const colIds = m.cols.map((_, i) => `${i + 1}`);
    const width = Math.max(...colIds.map((c) => c.length)) + 1;
    const rowLabels = m.rows.map((r) => `${r.label}${r.node && r.kind === 'pod' ? ` (${r.node})` : ''}`);
    const labelW = Math.max(...rowLabels.map((l) => l.length), 4) + 2;
    out.push(`${' '.repeat(labelW)}${colIds.map((c) => c.padStart(width)).join('')}`);
    const cellOf = new Map(m.cells.map((c) => [`${c.row}\u0000${c.col}`, c]));
    m.rows.forEach((r, ri) => {
      const cells = m.cols.map((c) => {
        const cell = cellOf.get(`${r.key}\u0000${c.key}`);
        const sym = cell ? SYMBOL[cell.status] : '·';
        return `${' '.repeat(width - 1)}${cell ? colour(cell.status)(sym) : s.dim(sym)}`;
      });
      out.push(`${(rowLabels[ri] as string).padEnd(labelW)}${cells.join('')}`);
    });
    out.push('');
    m.cols.forEach((c, i) => {
      out.push(s.dim(`  ${`${i + 1}`.padStart(width)}  ${c.kind.padEnd(8)} ${c.label}`));
    });
    out.push(
      s.dim(
        `  ${(['pass', 'fail', 'partial', 'slow', 'error'] as const).map((st) => `${SYMBOL[st]} ${t(`status.${st}`)}`).join('   ')}   · —`,
      ),
    );
    out.push('');
  }

  const failed = report.outcomes.filter((o) => o.status !== 'pass');
  out.push(s.bold(t('failures')));
  if (failed.length === 0) out.push(`  ${s.green(t('noFailures'))}`);
  // One line per failed flow, grouped by reason so forty failures through one REJECT read as one cause.
  const byReason = new Map<string, ProbeOutcome[]>();
  for (const o of failed) {
    const key = o.reason?.summary ?? `(${t('noTrace')})`;
    const list = byReason.get(key) ?? [];
    list.push(o);
    byReason.set(key, list);
  }
  for (const [reason, list] of [...byReason.entries()].sort((a, b) => b[1].length - a[1].length)) {
    out.push(`  ${s.bold(`${t('reason')}:`)} ${reason}`);
    const disagreement = list.find((o) => o.reason?.disagreement)?.reason?.disagreement;
    if (disagreement) out.push(`    ${s.yellow(disagreement)}`);
    for (const o of list.slice(0, 12))
      out.push(
        `    ${colour(o.status)(t(`status.${o.status}`).padEnd(7))} ${outcomeLine(o)}  ${s.dim(resultText(o, lang))}`,
      );
    if (list.length > 12) out.push(s.dim(`    … ${list.length - 12} more`));
  }
  out.push('');

  for (const [kind, title] of [
    ['dns', t('dns')],
    ['overlay', t('overlay')],
    ['mtu', t('mtu')],
  ] as const) {
    const list = report.outcomes.filter((o) => o.probe.kind === kind);
    if (!list.length) continue;
    out.push(s.bold(title));
    for (const o of list)
      out.push(
        `  ${colour(o.status)(t(`status.${o.status}`).padEnd(7))} ${outcomeLine(o)}  ${s.dim(resultText(o, lang))}`,
      );
    out.push('');
  }
  if (report.problems.length) {
    out.push(s.bold(t('problems')));
    for (const p of report.problems) out.push(`  ${s.red(p)}`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}
