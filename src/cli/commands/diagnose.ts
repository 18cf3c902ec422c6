/** `netdoctor diagnose <bundle>`: run the check catalogue and name the causes, with evidence and fixes. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { CHECKS } from '../../checks/registry.js';
import { runChecks } from '../../checks/run.js';
import { UsageError } from '../../core/errors.js';
import { ExitCode, SEVERITIES, type Severity, severityRank } from '../../core/vocabulary.js';
import { ClusterModel } from '../../model/cluster.js';
import { formatFindingsJson } from '../../report/findings-json.js';
import { formatFindingsText } from '../../report/findings-text.js';
import { formatFindingsHtml } from '../../report/html/findings-page.js';
import { LANGS, type Lang } from '../../report/i18n.js';
import { loadBundle } from '../../snapshot/bundle.js';
import { parseDuration } from '../duration.js';
import { reportIssues } from '../input.js';
import { addLiveOptions, LIVE_HELP, type LiveFlags, rejectLiveFlagsWithoutLive, runLive } from './live.js';

interface DiagnoseFlags extends LiveFlags {
  saveBundle?: string;
  format: 'text' | 'json' | 'html';
  lang: Lang;
  failOn: Severity;
  checks?: string;
  debug?: boolean;
}

export function registerDiagnose(program: Command): void {
  addLiveOptions(
    program
      .command('diagnose')
      .description(
        'Find why traffic does not flow: run every check on a bundle and name the cause, with evidence and the fix.',
      )
      .argument(
        '[bundle]',
        'a bundle directory: cluster.json and nodes/<node>.json (made by `netdoctor lab collect`, `collect`, `bundle import`); none with --live',
      )
      .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'html']).default('text'))
      .addOption(new Option('--lang <lang>', 'language of text and html reports').choices([...LANGS]).default('en'))
      .addOption(
        new Option('--fail-on <severity>', 'exit 1 when a finding is at or above this severity')
          .choices([...SEVERITIES])
          .default('error'),
      )
      .option('--checks <ids>', 'run only these checks (comma-separated ids; see `netdoctor checks`)')
      .option('--timeout <duration>', 'with --live: time limit per node (pod start and collection)', '60s')
      .option('--save-bundle <dir>', 'with --live: keep the bundle made from the cluster in this directory'),
  )
    .addHelpText(
      'after',
      `
Examples:
  netdoctor diagnose examples/seed-000
  netdoctor diagnose ./bundle --format json | jq '.findings[] | {check, node, title}'
  netdoctor diagnose ./bundle --format html > report.html   # one self-contained page
  netdoctor diagnose ./bundle --lang zh                      # 中文报告
  netdoctor diagnose ./bundle --fail-on warning      # for CI: fail on warnings too
  netdoctor diagnose --live                          # the cluster of the current kubectl context
  kubectl netdoctor diagnose --live --context prod -l node-role.kubernetes.io/worker --save-bundle ./prod
  netdoctor diagnose --live --nodes node-5,node-6 --etcd-endpoints https://10.0.0.33:2379 \
      --etcd-cafile ca.pem --etcd-certfile client.pem --etcd-keyfile client-key.pem
${LIVE_HELP}

Exit code: 0 nothing at or above --fail-on, 1 a finding at or above it, 2 bad input or an internal error.`,
    )
    .action(async (given: string | undefined, flags: DiagnoseFlags) => {
      if (given && flags.live) throw new UsageError('give a bundle directory or --live, not both');
      if (!given && !flags.live) throw new UsageError('give a bundle directory, or --live to read the running cluster');
      if (!flags.live && flags.saveBundle) throw new UsageError('--save-bundle goes with --live');
      rejectLiveFlagsWithoutLive(flags);
      let dir = given as string;
      let scratch: string | undefined;
      if (flags.live) {
        const timeoutMs = parseDuration(flags.timeout ?? '60s', '--timeout');
        if (flags.saveBundle) dir = flags.saveBundle;
        else dir = scratch = mkdtempSync(join(tmpdir(), 'netdoctor-live-'));
        try {
          await runLive(dir, flags, timeoutMs, scratch !== undefined);
        } catch (e) {
          if (scratch) rmSync(scratch, { recursive: true, force: true });
          throw e;
        }
      }
      try {
        diagnoseDir(dir, flags);
      } finally {
        if (scratch) rmSync(scratch, { recursive: true, force: true });
      }
    });

  /** Runs the checks on a bundle directory and prints the report; sets the exit code. */
  function diagnoseDir(dir: string, flags: DiagnoseFlags): void {
    const bundle = loadBundle(dir);
    const cluster = new ClusterModel(bundle);
    let checks = CHECKS;
    if (flags.checks) {
      const ids = flags.checks.split(',').map((s) => s.trim());
      const unknown = ids.filter((id) => !CHECKS.some((c) => c.id === id));
      if (unknown.length) throw new UsageError(`unknown check ${unknown.join(', ')} (see \`netdoctor checks\`)`);
      checks = CHECKS.filter((c) => ids.includes(c.id));
    }
    const { findings, failed } = runChecks(cluster, checks);
    reportIssues(cluster.allIssues());
    for (const f of failed)
      process.stderr.write(`netdoctor: check ${f.check} failed (internal error): ${f.error.message}\n`);
    if (flags.format === 'json') process.stdout.write(formatFindingsJson(findings));
    else if (flags.format === 'html')
      process.stdout.write(
        formatFindingsHtml({ findings, nodes: cluster.nodes.length, checks: checks.length, source: dir }, flags.lang),
      );
    else
      process.stdout.write(
        formatFindingsText(
          { findings, nodes: cluster.nodes.length, checks: checks.length },
          process.stdout.isTTY === true,
          flags.lang,
        ),
      );
    const failing = findings.some((f) => severityRank(f.severity) >= severityRank(flags.failOn));
    process.exitCode = failed.length ? ExitCode.error : failing ? ExitCode.negative : ExitCode.ok;
  }

  program
    .command('checks')
    .description('List the check catalogue: id, severity, the field reports it covers, and what it finds.')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action((flags: { format: string }) => {
      if (flags.format === 'json') {
        process.stdout.write(
          `${JSON.stringify(
            CHECKS.map(({ run: _run, ...meta }) => meta),
            null,
            2,
          )}\n`,
        );
        return;
      }
      const width = Math.max(...CHECKS.map((c) => c.id.length));
      process.stdout.write(`${'ID'.padEnd(width)}  SEVERITY  SEEDS    WHAT IT FINDS\n`);
      for (const c of CHECKS)
        process.stdout.write(
          `${c.id.padEnd(width)}  ${c.severity.padEnd(8)}  ${c.seeds.join(',').padEnd(7)}  ${c.summary}\n`,
        );
    });
}
