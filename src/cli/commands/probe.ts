/** `netdoctor probe`: real traffic from real endpoints, the matrix of what reaches what, and why a flow fails. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { UsageError } from '../../core/errors.js';
import { ExitCode } from '../../core/vocabulary.js';
import { Lab } from '../../lab/lab.js';
import { defaultStatePath } from '../../lab/state.js';
import { DEFAULT_NAMESPACE } from '../../live/nodes.js';
import { DEFAULT_AGENT_IMAGE, PROBE_ECHO_PORT } from '../../live/probe-pods.js';
import { explainReport } from '../../probe/explain.js';
import { probeLab } from '../../probe/lab.js';
import { probeLive } from '../../probe/live.js';
import { summarize } from '../../probe/matrix.js';
import { formatMetrics, parseListen, type RoundStats, serveMetrics } from '../../probe/metrics.js';
import { PROBE_KINDS, type ProbeKind, type ProbeReport } from '../../probe/model.js';
import { formatProbeHtml } from '../../report/html/probe-page.js';
import { LANGS, type Lang } from '../../report/i18n.js';
import { formatProbeJson } from '../../report/probe-json.js';
import { formatProbeText } from '../../report/probe-text.js';
import { parseDuration } from '../duration.js';
import { addLiveOptions, type LiveFlags, liveOptions, rejectLiveFlagsWithoutLive } from './live.js';

interface ProbeFlags extends LiveFlags {
  lab?: boolean;
  state: string;
  agentImage: string;
  podTimeout: string;
  saveBundle?: string;
  bundle?: string;
  kinds?: string;
  format: 'text' | 'json' | 'html';
  output?: string;
  lang: Lang;
  timeout: string;
  parallel: string;
  quiet?: boolean;
  watch?: boolean;
  interval: string;
  metrics?: string;
  count?: string;
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
  const cmd = program
    .command('probe')
    .description(
      'Send real traffic between pods, nodes, Services and NodePorts, look up DNS, cross the overlay, test the path MTU — and explain every failure with the trace of the same flow.',
    )
    .option('--lab', 'probe the running lab (`netdoctor lab up`), from its pods, nodes and the underlay')
    .addOption(stateOption())
    .option('--bundle <dir>', '--lab: plan and explain with this bundle instead of collecting the lab now')
    .option('--kinds <kinds>', `only these probe kinds (comma-separated: ${PROBE_KINDS.join(', ')})`)
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'html']).default('text'))
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .addOption(new Option('--lang <lang>', 'language of the report').choices([...LANGS]).default('en'))
    .option('--timeout <duration>', 'time limit of one attempt (e.g. 800ms, 2s)', '1s')
    .option('--parallel <n>', 'sources probed at once (--live: also nodes started and collected at once)', '4')
    .option('-q, --quiet', 'no progress lines on stderr')
    .option('--watch', 'keep probing, one round every --interval, until Ctrl-C (or --count rounds)')
    .option('--interval <duration>', 'time between the starts of two rounds with --watch', '30s')
    .option(
      '--metrics <[host]:port>',
      'with --watch: serve Prometheus metrics of the last round (loopback unless a host is given)',
    )
    .option('--count <n>', 'with --watch: stop after this many rounds');
  addLiveOptions(cmd, {
    parallel: false,
    live: 'probe the cluster of your kubeconfig, from probe pods on its nodes (see below)',
    image: "--live: image of the collector pods and of the probe pods' tools container (sh, iputils ping)",
    namespace: '--live: namespace of the collector and probe pods (labelled for privileged pods)',
  })
    .option(
      '--agent-image <image>',
      "--live: image of the probe pods' agent container (needs node ≥ 18)",
      DEFAULT_AGENT_IMAGE,
    )
    .option(
      '--pod-timeout <duration>',
      "--live: time for a node's probe pods to be ready, and for its collection",
      '60s',
    )
    .option('--save-bundle <dir>', '--live: keep the bundle collected for the probes (diagnose it, trace its flows)')
    .addHelpText(
      'after',
      `
What is probed (every loop bounded in count and time):
  pod-pod      every pod → every echo pod: TCP, UDP and ICMP, same node and across nodes
  pod-service  every pod → every Service port: repeats until each endpoint kube-proxy may pick has answered
  node-pod     every node → every echo pod: TCP and ICMP
  node-service every node → every Service port, from the node's own network namespace
  nodeport     a host outside the cluster → every node's NodePorts (externalTrafficPolicy: Local is respected)
  dns          each pod's lookup through its resolv.conf; 1 s or more means a nameserver failed (seed 000)
  overlay      every node → every other node's tunnel address (the ping crosses VXLAN/IPIP)
  mtu          a don't-fragment ping of the pod MTU across nodes: small passes, large vanishes = PMTU black hole

Where the probes start:
  --lab   the lab's pods, nodes, and its underlay (a host outside the cluster, for NodePorts)
  --live  short-lived probe pods on every selected node, in the namespace given with -n (default ${DEFAULT_NAMESPACE}):
          two echo pods on the pod network (TCP and UDP echo on port ${PROBE_ECHO_PORT}) and one on the host network.
          Each pod has an agent container (--agent-image, node) and a tools container (--image, iputils ping).
          The node state is collected as diagnose --live does, after the pods run, to plan and explain the probes.
          NodePorts are probed from the next node (no host outside the cluster is assumed); Services in front of
          other workloads by TCP connect, every try: some failing is a partial result. All pods are deleted at
          the end and on Ctrl-C; \`netdoctor cleanup\` removes leftovers. Permissions: deploy/rbac.yaml.

Examples:
  netdoctor lab up seed-000 && netdoctor probe --lab
  netdoctor probe --lab --format html -o report.html
  netdoctor probe --lab --kinds dns,overlay --lang zh
  netdoctor probe --lab --watch --interval 30s --metrics :9099   # curl -s localhost:9099/metrics
  netdoctor probe --live --context prod --nodes node-a,node-b --format html -o probe.html

Exit code: 0 every probe passed, 1 a probe failed, 2 bad input or the probes could not run.`,
    )
    .action(async (flags: ProbeFlags) => {
      if (flags.lab === flags.live)
        throw new UsageError(
          flags.lab
            ? '--lab and --live: probe one place at a time'
            : 'say where to probe: --lab (the running lab) or --live (the cluster of your kubeconfig)',
        );
      rejectLiveFlagsWithoutLive(flags);
      const timeoutMs = parseDuration(flags.timeout, '--timeout');
      const parallel = Number(flags.parallel);
      if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64)
        throw new UsageError(`--parallel: "${flags.parallel}" is not a whole number from 1 to 64`);
      const kinds = parseKinds(flags.kinds);
      if ((flags.metrics || flags.count) && !flags.watch) throw new UsageError('--metrics and --count need --watch');
      const log = flags.quiet ? undefined : (line: string) => process.stderr.write(`${line}\n`);
      if (flags.live) {
        if (flags.watch) throw new UsageError('--watch works with --lab; on a live cluster run probe --live again');
        if (flags.bundle)
          throw new UsageError(
            '--bundle goes with --lab; --live collects a bundle with its probe pods in it (keep it with --save-bundle)',
          );
        const { report } = await probeLive({
          ...liveOptions(
            { ...flags, parallel: flags.parallel },
            parseDuration(flags.podTimeout, '--pod-timeout'),
            log ?? (() => {}),
          ),
          agentImage: flags.agentImage,
          attemptTimeoutMs: timeoutMs,
          explain: explainReport,
          ...(kinds ? { kinds } : {}),
          ...(flags.saveBundle ? { saveBundle: flags.saveBundle } : {}),
        });
        writeReport(report, flags, log);
        return;
      }
      if (flags.saveBundle) throw new UsageError('--save-bundle goes with --live');
      const lab = Lab.open(flags.state);
      const options = {
        ...(kinds ? { kinds } : {}),
        timeoutMs,
        parallel,
        explain: explainReport,
      };
      if (!flags.watch) {
        const { report } = await probeLab(lab, {
          ...options,
          ...(flags.bundle ? { bundle: flags.bundle } : {}),
          ...(log ? { log } : {}),
        });
        writeReport(report, flags, log);
        return;
      }
      await watch(lab, flags, options, log);
    });
}

/**
 * Prints or writes the report; exit code 2 when no probe could run, 1 when a probe did not pass or a part of the
 * cluster could not be probed (a node whose probe pods never came up is a finding, not a footnote), else 0.
 */
function writeReport(report: ProbeReport, flags: ProbeFlags, log: ((line: string) => void) | undefined): void {
  const text = renderProbeReport(report, flags.format, flags.lang, !flags.output && process.stdout.isTTY === true);
  if (flags.output) {
    writeFileSync(flags.output, text);
    log?.(`report written to ${flags.output}`);
  } else process.stdout.write(text);
  const failed = report.outcomes.some((o) => o.status !== 'pass') || report.problems.length > 0;
  process.exitCode =
    report.problems.length && report.outcomes.every((o) => o.status === 'error')
      ? ExitCode.error
      : failed
        ? ExitCode.negative
        : ExitCode.ok;
}

async function watch(
  lab: Lab,
  flags: ProbeFlags,
  options: Parameters<typeof probeLab>[1],
  log: ((line: string) => void) | undefined,
): Promise<void> {
  const intervalMs = parseDuration(flags.interval, '--interval');
  const count = flags.count === undefined ? Number.POSITIVE_INFINITY : Number(flags.count);
  if (flags.count !== undefined && (!Number.isInteger(count) || count < 1))
    throw new UsageError(`--count: "${flags.count}" is not a whole number of rounds`);
  const listen = flags.metrics ? parseListen(flags.metrics) : undefined;
  let last: ProbeReport | undefined;
  const stats: RoundStats = { rounds: 0, failedRounds: 0 };
  const server = listen ? await serveMetrics(listen, () => formatMetrics(last, stats)) : undefined;
  if (server && listen)
    log?.(`metrics on http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}/metrics`);
  // The lab is collected once; every round probes again and explains with that bundle.
  const scratch = flags.bundle ? undefined : mkdtempSync(join(tmpdir(), 'netdoctor-watch-'));
  let stop = false;
  let wake: (() => void) | undefined;
  const onSignal = () => {
    stop = true;
    wake?.();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (scratch) {
      log?.(`collecting the lab's ${lab.plan.nodes.length} nodes into a bundle`);
      await lab.collect(scratch);
    }
    const bundle = flags.bundle ?? (scratch as string);
    while (!stop && stats.rounds + stats.failedRounds < count) {
      const started = Date.now();
      try {
        last = (await probeLab(lab, { ...options, bundle })).report;
        stats.rounds++;
        const sum = summarize(last.outcomes);
        const failing = last.outcomes.filter((o) => o.status !== 'pass').length;
        process.stdout.write(
          `${last.startedAt}  round ${stats.rounds}: ${sum.total} probes, ${sum.byStatus.pass} pass, ${failing} not passing\n`,
        );
        if (flags.output) writeFileSync(flags.output, renderProbeReport(last, flags.format, flags.lang, false));
      } catch (e) {
        stats.failedRounds++;
        process.stderr.write(`netdoctor: probe round failed: ${(e as Error).message}\n`);
      }
      const wait = Math.max(0, intervalMs - (Date.now() - started));
      if (!stop && stats.rounds + stats.failedRounds < count)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (server) await new Promise((r) => server.close(r));
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
  process.exitCode = last?.outcomes.every((o) => o.status === 'pass') ? ExitCode.ok : ExitCode.negative;
}

function stateOption(): Option {
  return new Option('--state <file>', 'the lab state file').default(
    defaultStatePath(),
    'netdoctor-lab.json in the temp dir',
  );
}
