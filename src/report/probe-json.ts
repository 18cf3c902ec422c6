/** The JSON report of `probe`: the run, every probe with its outcome and reason, the matrix, diagnose's findings. */
import { buildMatrix, summarize } from '../probe/matrix.js';
import type { ProbeReport } from '../probe/model.js';

export function formatProbeJson(report: ProbeReport): string {
  return `${JSON.stringify({ ...report, summary: summarize(report.outcomes), matrix: buildMatrix(report) }, null, 2)}\n`;
}
