/** The JSON report of `diagnose`: `{"schemaVersion": 1, "findings": [...]}`. */
import type { Finding } from '../core/vocabulary.js';

export const FINDINGS_SCHEMA = 1;

export function formatFindingsJson(findings: Finding[]): string {
  return `${JSON.stringify({ schemaVersion: FINDINGS_SCHEMA, findings }, null, 2)}\n`;
}
