/** Running `netdoctor diagnose --format json` on a bundle and checking it against a scenario's ExpectedFault. */
import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExpectedFault } from '../../src/lab/scenarios.js';
import { run } from '../../src/lab/shell.js';

const cli = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.ts');
export interface Finding {
  check: string;
  severity: string;
  node?: string;
  title: string;
  evidence: { kind: string; node?: string; text?: string }[];
  fix: string[];
}

export async function diagnose(bundle: string): Promise<{ status: number; findings: Finding[] }> {
  const r = await run(process.execPath, ['--import', 'tsx', cli, 'diagnose', bundle, '--format', 'json'], {
    timeoutMs: 60_000,
  });
  assert.ok(r.status === 0 || r.status === 1, `diagnose exited ${r.status}: ${r.stderr.slice(0, 500)}`);
  return { status: r.status, findings: (JSON.parse(r.stdout) as { findings: Finding[] }).findings };
}

export const serious = (f: Finding) => f.severity === 'critical' || f.severity === 'error';
const list = (fs: Finding[]) => fs.map((f) => `${f.severity} ${f.check} ${f.node ?? '-'}: ${f.title}`).join('\n  ');

/** The diagnosis names every expected finding (check, node, evidence values), nothing else serious, the cause first. */
export function assertDiagnosis(findings: Finding[], ex: ExpectedFault): void {
  for (const want of ex.findings) {
    const f = findings.find((x) => x.check === want.check && (want.node === undefined || x.node === want.node));
    assert.ok(f, `no ${want.check} finding${want.node ? ` on ${want.node}` : ''}; findings:\n  ${list(findings)}`);
    const evidence = JSON.stringify(f.evidence);
    for (const v of want.evidence)
      assert.ok(evidence.includes(v), `${want.check}: "${v}" is not in its evidence ${evidence}`);
  }
  const allowed = new Set<string>([...ex.findings.map((x) => x.check), ...ex.also]);
  const extra = findings.filter(serious).filter((f) => !allowed.has(f.check));
  assert.deepEqual(
    extra.map((f) => `${f.check} ${f.node ?? '-'}`),
    [],
    'no other finding at error level or above',
  );
  const first = findings.find(serious);
  assert.ok(first && ex.findings.some((x) => x.check === first.check), `the cause comes first, not ${first?.check}`);
}
