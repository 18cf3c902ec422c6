/** `netdoctor probe`: real traffic from real endpoints, the matrix of what reaches what, and why a flow fails. */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { Option } from 'commander';
import { UsageError } from '../../core/errors.js';
import { ExitCode } from '../../core/vocabulary.js';
import { Lab } from '../../lab/lab.js';
import { defaultStatePath } from '../../lab/state.js';
import { probeLab } from '../../probe/lab.js';
import { PROBE_KINDS, type ProbeKind, type ProbeReport } from '../../probe/model.js';
import { formatProbeHtml } from '../../report/html/probe-page.js';
import { LANGS, type Lang } from '../../report/i18n.js';
import { formatProbeJson } from '../../report/probe-json.js';
import { formatProbeText } from '../../report/probe-text.js';
import { parseDuration } from '../duration.js';

interface ProbeFlags {
  lab?: boolean;
  live?: boolean;
  state: string;
  bundle?: string;
  kinds?: string;
  format: 'text' | 'json' | 'html';
  output?: string;
  lang: Lang;
  timeout: string;
  parallel: string;
  quiet?: boolean;
}

export function parseKinds(text: string | undefined): ProbeKind[] | undefined {
  if (!text) return undefined;
  const kinds = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = kinds.filter((k) => !PROBE_KINDS.includes(k as ProbeKind));
  if (bad.length) throw new UsageError(`--kinds: unknown ${bad.join(', ')} (kinds: ${PROBE_KINDS.join(', ')})`);
  return kinds as ProbeKind[];
}

export function renderProbeReport(report: ProbeReport, format: ProbeFlags['format'], lang: Lang, tty: boolean): string {
  if (format === 'json') return formatProbeJson(report);
  if (format === 'html') return formatProbeHtml(report, lang);
  return formatProbeText(report, tty, lang);
}

export function registerProbe(program: Command): void {
  program
    .command('probe')
    .description(
      'Send real traffic between pods, nodes, Services and NodePorts, look up DNS, cross the overlay, test the path MTU — and explain every failure with the trace of the same flow.',
    )
    .option('--lab', 'probe the running lab (`netdoctor lab up`), from its pods, nodes and the underlay')
    .addOption(stateOption())
    .option('--bundle <dir>', 'plan and explain with this bundle instead of collecting the lab now')
    .option('--kinds <kinds>', `only these probe kinds (comma-separated: ${PROBE_KINDS.join(', ')})`)
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'html']).default('text'))
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .addOption(new Option('--lang <lang>', 'language of the report').choices([...LANGS]).default('en'))
    .option('--timeout <duration>', 'time limit of one attempt (e.g. 800ms, 2s)', '1s')
    .option('--parallel <n>', 'sources probed at once', '4')
    .option('-q, --quiet', 'no progress lines on stderr')
    .addHelpText(
      'after',
      `
What is probed (every loop bounded in count and time):
  pod-pod      every pod → every echo pod: TCP, UDP and ICMP, same node and across nodes
  pod-service  every pod → every Service port: repeats until each endpoint kube-proxy may pick has answered
  node-pod     every node → every echo pod: TCP and ICMP
  nodeport     a host outside the cluster → every node's NodePorts (externalTrafficPolicy: Local is respected)
  dns          each pod's lookup through its resolv.conf; 1 s or more means a nameserver failed (seed 000)
  overlay      every node → every other node's tunnel address (the ping crosses VXLAN/IPIP)
  mtu          a don't-fragment ping of the pod MTU across nodes: small passes, large vanishes = PMTU black hole

Examples:
  netdoctor lab up seed-000 && netdoctor probe --lab
  netdoctor probe --lab --format html -o report.html
  netdoctor probe --lab --kinds dns,overlay --lang zh

Exit code: 0 every probe passed, 1 a probe failed, 2 bad input or the probes could not run.`,
    )
    .action(async (flags: ProbeFlags) => {
      if (!flags.lab)
        throw new UsageError(
          'say where to probe: --lab (the running lab); live clusters: see `netdoctor diagnose --live`',
        );
      const timeoutMs = parseDuration(flags.timeout, '--timeout');
      const parallel = Number(flags.parallel);
      if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64)
        throw new UsageError(`--parallel: "${flags.parallel}" is not a whole number from 1 to 64`);
      const kinds = parseKinds(flags.kinds);
      const lab = Lab.open(flags.state);
      const log = flags.quiet ? undefined : (line: string) => process.stderr.write(`${line}\n`);
      const { report } = await probeLab(lab, {
        ...(flags.bundle ? { bundle: flags.bundle } : {}),
        ...(kinds ? { kinds } : {}),
        timeoutMs,
        parallel,
        ...(log ? { log } : {}),
      });
      const text = renderProbeReport(report, flags.format, flags.lang, !flags.output && process.stdout.isTTY === true);
      if (flags.output) {
        writeFileSync(flags.output, text);
        log?.(`report written to ${flags.output}`);
      } else process.stdout.write(text);
      const failed = report.outcomes.some((o) => o.status !== 'pass');
      process.exitCode =
        report.problems.length && report.outcomes.every((o) => o.status === 'error')
          ? ExitCode.error
          : failed
            ? ExitCode.negative
            : ExitCode.ok;
    });
}

function stateOption(): Option {
  return new Option('--state <file>', 'the lab state file').default(
    defaultStatePath(),
    'netdoctor-lab.json in the temp dir',
  );
}
