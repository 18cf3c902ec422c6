/**
 * The `--live` options shared by `diagnose` and `collect`, and `netdoctor cleanup`. The work lives in `src/live/`.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { UsageError } from '../../core/errors.js';
import { ExitCode } from '../../core/vocabulary.js';
import { DEFAULT_ETCD_PREFIX } from '../../live/etcd.js';
import { cleanupPods, collectLive, DEFAULT_PARALLEL, type LiveOptions, type LiveResult } from '../../live/live.js';
import { DEFAULT_IMAGE, DEFAULT_NAMESPACE } from '../../live/nodes.js';
import { reportIssues } from '../input.js';

export interface LiveFlags {
  live?: boolean;
  kubeconfig?: string;
  context?: string;
  nodes?: string;
  selector?: string;
  image?: string;
  namespace?: string;
  timeout?: string;
  parallel?: string;
  etcdEndpoints?: string;
  etcdCafile?: string;
  etcdCertfile?: string;
  etcdKeyfile?: string;
  etcdPrefix?: string;
  etcdApi?: 'auto' | 'v2' | 'v3';
}

/**
 * Adds the live-cluster options (all but --timeout, which each command words itself; and --parallel when the command
 * has its own).
 */
export function addLiveOptions(
  cmd: Command,
  o: { parallel?: boolean; live?: string; image?: string; namespace?: string } = {},
): Command {
  if (o.parallel !== false)
    cmd.option('--parallel <n>', 'collect at most this many nodes at once', String(DEFAULT_PARALLEL));
  return cmd
    .option('--live', o.live ?? 'read the running cluster (kubeconfig) instead of a bundle directory')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context (default: its current-context)')
    .option('--nodes <names>', 'only these nodes (comma-separated)')
    .option(
      '-l, --selector <selector>',
      'only the nodes this label selector picks (e.g. node-role.kubernetes.io/worker)',
    )
    .option(
      '--image <image>',
      o.image ?? 'image of the collector pods (needs sh; gzip and the network tools help)',
      DEFAULT_IMAGE,
    )
    .option(
      '-n, --namespace <ns>',
      o.namespace ?? 'namespace of the collector pods (labelled for privileged pods)',
      DEFAULT_NAMESPACE,
    )
    .option('--etcd-endpoints <urls>', "flannel's etcd (comma-separated URLs): read its leases into the bundle")
    .option('--etcd-cafile <file>', 'CA certificate of etcd (TLS)')
    .option('--etcd-certfile <file>', 'client certificate for etcd (TLS)')
    .option('--etcd-keyfile <file>', 'client key for etcd (TLS)')
    .option('--etcd-prefix <prefix>', "flannel's etcd prefix", DEFAULT_ETCD_PREFIX)
    .addOption(
      new Option('--etcd-api <version>', 'etcd API to read (auto: v3, else v2)')
        .choices(['auto', 'v2', 'v3'])
        .default('auto'),
    );
}

export const LIVE_HELP = `
Live cluster (--live): netdoctor reads nodes, pods, services, endpoints, endpointslices, networkpolicies,
daemonsets and only the networking ConfigMaps (kube-proxy, coredns, kube-flannel-cfg, calico-config, cilium-config;
never Secrets), then runs one short-lived privileged pod per node (host network and PID namespaces, the node's /
mounted read-only) in the namespace given with -n, reads the node's state through pods/exec, and deletes the pod.
Pods are labelled app.kubernetes.io/managed-by=netdoctor; Ctrl-C deletes them, \`netdoctor cleanup\` removes leftovers.
The permissions it needs are in deploy/rbac.yaml.`;

export function liveOptions(flags: LiveFlags, timeoutMs: number, log: (l: string) => void): LiveOptions {
  const parallel = Number(flags.parallel ?? DEFAULT_PARALLEL);
  if (!Number.isInteger(parallel) || parallel < 1)
    throw new UsageError(`--parallel: "${flags.parallel}" is not a positive integer`);
  if (flags.nodes && flags.selector) throw new UsageError('--nodes and -l/--selector pick nodes two ways: give one');
  const list = (s: string | undefined) =>
    s
      ?.split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  const etcdEndpoints = list(flags.etcdEndpoints);
  if (!etcdEndpoints?.length && (flags.etcdCafile || flags.etcdCertfile || flags.etcdKeyfile))
    throw new UsageError('--etcd-cafile/--etcd-certfile/--etcd-keyfile need --etcd-endpoints');
  return {
    kubeconfig: flags.kubeconfig,
    context: flags.context,
    nodes: list(flags.nodes),
    selector: flags.selector,
    image: flags.image,
    namespace: flags.namespace,
    timeoutMs,
    parallel,
    etcd: etcdEndpoints?.length
      ? {
          endpoints: etcdEndpoints,
          cafile: flags.etcdCafile,
          certfile: flags.etcdCertfile,
          keyfile: flags.etcdKeyfile,
          prefix: flags.etcdPrefix,
          api: flags.etcdApi,
        }
      : undefined,
    log,
  };
}

/** Live-only options given without --live are a mistake worth saying. */
export function rejectLiveFlagsWithoutLive(flags: LiveFlags): void {
  if (flags.live) return;
  const given = (
    [
      ['--kubeconfig', flags.kubeconfig],
      ['--context', flags.context],
      ['--nodes', flags.nodes],
      ['--selector', flags.selector],
      ['--etcd-endpoints', flags.etcdEndpoints],
    ] as const
  ).filter(([, v]) => v !== undefined);
  if (given.length)
    throw new UsageError(`${given.map(([f]) => f).join(', ')} ${given.length > 1 ? 'go' : 'goes'} with --live`);
}

const stderrLine = (l: string) => process.stderr.write(`${l}\n`);

/** Makes the bundle from the live cluster; prints a summary of what is missing. */
export async function runLive(
  dir: string,
  flags: LiveFlags,
  timeoutMs: number,
  temporary = false,
): Promise<LiveResult> {
  const r = await collectLive(dir, liveOptions(flags, timeoutMs, stderrLine));
  reportIssues(r.issues);
  const ok = r.nodeRuns.filter((n) => n.snapshot).length;
  const failed = r.nodeRuns.filter((n) => !n.snapshot);
  stderrLine(
    `${temporary ? 'bundle (temporary; keep it with --save-bundle DIR)' : `bundle ${dir}`}: ${ok} of ${r.nodeRuns.length} nodes collected${
      failed.length ? `; not collected: ${failed.map((f) => f.node).join(', ')} (reasons above)` : ''
    }`,
  );
  return r;
}

export function registerCleanup(program: Command): void {
  program
    .command('cleanup')
    .description(
      'Delete the collector and probe pods a `--live` run left behind (after a crash or a second Ctrl-C), found by their label app.kubernetes.io/managed-by=netdoctor.',
    )
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context (default: its current-context)')
    .option('-n, --namespace <ns>', 'namespace of the collector pods', DEFAULT_NAMESPACE)
    .option('-A, --all-namespaces', 'look in every namespace')
    .addHelpText(
      'after',
      `
Examples:
  netdoctor cleanup                      # the default namespace, ${DEFAULT_NAMESPACE}
  netdoctor cleanup -A --context prod

Exit code: 0 when nothing is left, 2 when the cluster could not be read or a pod could not be deleted.`,
    )
    .action(async (flags: { kubeconfig?: string; context?: string; namespace: string; allNamespaces?: boolean }) => {
      const deleted = await cleanupPods({ ...flags, log: stderrLine });
      stderrLine(deleted.length ? `deleted ${deleted.length} pod(s)` : 'no netdoctor pods found');
      process.exitCode = ExitCode.ok;
    });
}
