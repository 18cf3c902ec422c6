/** The text report of `diagnose`: the cause first, then the evidence, then the fix — what a senior engineer would say. */
import type { Evidence, Finding } from '../core/vocabulary.js';
import { checkTitle } from './check-titles.js';
import { type Lang, translator } from './i18n.js';
import { style } from './style.js';

function evidenceLine(e: Evidence): string {
  const where =
    e.kind === 'rule' && e.table ? `${e.table}/${e.chain} #${e.index}  ` : e.kind === 'policy' ? '' : `${e.kind}: `;
  return `${e.node ? `${e.node}  ` : ''}${where}${e.text}`;
}

export interface TextReportInput {
  findings: Finding[];
  nodes: number;
  checks: number;
}

export function formatFindingsText(
  { findings, nodes, checks }: TextReportInput,
  tty: boolean,
  lang: Lang = 'en',
): string {
  const s = style(tty);
  const t = translator(lang);
  const out: string[] = [];
  const sevColour = (sev: string) =>
    sev === 'critical' || sev === 'error' ? s.red : sev === 'warning' ? s.yellow : s.dim;
  for (const f of findings) {
    const local = checkTitle(lang, f.check);
    out.push(`${sevColour(f.severity)(s.bold(t(`severity.${f.severity}`)))}  ${s.bold(local ?? f.title)}`);
    if (local) out.push(`  ${f.title}`);
    out.push(`  ${s.dim(`${t('check')} ${f.check}${f.node ? `, ${t('node')} ${f.node}` : ''}`)}`);
    out.push('');
    for (const line of wrap(f.detail, 100)) out.push(`  ${line}`);
    if (f.evidence.length) {
      out.push('');
      out.push(`  ${t('evidence')}:`);
      for (const e of f.evidence) {
        out.push(`    ${evidenceLine(e)}`);
        const src = e.source as { file: string; line: number } | undefined;
        if (e.detail) out.push(`      ${s.dim(`${e.detail}${src ? `  (${src.file}:${src.line})` : ''}`)}`);
      }
    }
    if (f.fix.length) {
      out.push('');
      out.push(`  ${t('fix')}:`);
      for (const x of f.fix) out.push(`    ${s.green(`$ ${x}`)}`);
    }
    out.push('');
  }
  const counts = ['critical', 'error', 'warning', 'info']
    .map((sev) => [sev, findings.filter((f) => f.severity === sev).length] as const)
    .filter(([, n]) => n > 0)
    .map(([sev, n]) => `${n} ${sev}`);
  if (lang !== 'en') {
    const summary = counts.map((c) =>
      c.replace(/^(\d+) (\w+)$/, (_m, n, sev) => `${n} ${t(`severity.${sev}` as 'severity.info')}`),
    );
    out.push(
      findings.length === 0
        ? s.green(t('noProblems', { nodes, checks }))
        : t('diagnoseHeadline', { nodes, checks, summary: summary.join(', ') }),
    );
    return `${out.join('\n')}\n`;
  }
  out.push(
    findings.length === 0
      ? s.green(`No problems found: ${nodes} node${nodes === 1 ? '' : 's'}, ${checks} check${checks === 1 ? '' : 's'}.`)
      : `${counts.join(', ')} — ${nodes} node${nodes === 1 ? '' : 's'}, ${checks} check${checks === 1 ? '' : 's'}.`,
  );
  return `${out.join('\n')}\n`;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
