/** `probe --format html`: the matrix, the failures with their path diagrams, DNS/overlay/MTU, diagnose's findings. */
import { VERSION } from '../../cli/version.js';
import { buildMatrix, summarize } from '../../probe/matrix.js';
import type { ProbeReport } from '../../probe/model.js';
import { type Lang, translator } from '../i18n.js';
import { outcomeLine, resultText } from '../probe-text.js';
import { renderPage } from './page.js';

export function formatProbeHtml(report: ProbeReport, lang: Lang = 'en', now = new Date()): string {
  const t = translator(lang);
  return renderPage(
    {
      view: 'probe',
      title: `${t('probeTitle')} — ${report.target}`,
      target: report.target,
      startedAt: report.startedAt,
      durationMs: report.durationMs,
      summary: summarize(report.outcomes),
      matrix: buildMatrix(report),
      outcomes: report.outcomes.map((o) => ({
        kind: o.probe.kind,
        status: o.status,
        proto: o.probe.proto,
        port: o.probe.port ?? null,
        line: outcomeLine(o),
        result: resultText(o, lang),
        reason: o.reason ?? null,
      })),
      findings: report.findings,
      problems: report.problems,
      version: VERSION,
      generatedAt: now.toISOString(),
    },
    lang,
  );
}
