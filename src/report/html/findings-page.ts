/** `diagnose --format html`: the cause first, then every finding with its evidence and fix. */
import { VERSION } from '../../cli/version.js';
import type { Finding } from '../../core/vocabulary.js';
import { type Lang, translator } from '../i18n.js';
import { renderPage } from './page.js';

export interface FindingsPageInput {
  findings: Finding[];
  nodes: number;
  checks: number;
  /** The bundle's name, for the title. */
  source: string;
}

export function formatFindingsHtml(input: FindingsPageInput, lang: Lang = 'en', now = new Date()): string {
  const t = translator(lang);
  const counts = (['critical', 'error', 'warning', 'info'] as const)
    .map((sev) => [sev, input.findings.filter((f) => f.severity === sev).length] as const)
    .filter(([, n]) => n > 0)
    .map(([sev, n]) => `${n} ${t(`severity.${sev}`)}`)
    .join(', ');
  return renderPage(
    {
      view: 'diagnose',
      title: `${t('diagnoseTitle')} — ${input.source}`,
      headline: counts
        ? t('diagnoseHeadline', { nodes: input.nodes, checks: input.checks, summary: counts })
        : t('noProblems', { nodes: input.nodes, checks: input.checks }),
      findings: input.findings,
      version: VERSION,
      generatedAt: now.toISOString(),
    },
    lang,
  );
}
