/** `netdoctor collect`: run the node collector here (or in a network namespace) and write the node snapshot. */
import type { Command } from 'commander';
import { collectNode, runningAsRoot } from '../../collect/run.js';
import { COLLECTOR_SCRIPT } from '../../collect/script.js';
import { snapshotSummary, writeSnapshot } from '../../collect/write.js';
import { UsageError } from '../../core/errors.js';
import { ExitCode } from '../../core/vocabulary.js';
import { parseDuration } from '../duration.js';
import { reportIssues } from '../input.js';
import { addLiveOptions, LIVE_HELP, type LiveFlags, rejectLiveFlagsWithoutLive, runLive } from './live.js';

interface CollectFlags extends Omit<LiveFlags, 'timeout'> {
  netns?: string;
  nodeName?: string;
  output?: string;
  printScript?: boolean;
  timeout: string;
  commandTimeout: string;
}

function positiveSeconds(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag}: "${value}" is not a number of seconds`);
  return n;
}

export function registerCollect(program: Command): void {
  const cmd = addLiveOptions(
    program
      .command('collect')
      .summary("record this node's network state (verbatim command outputs and files) as a node snapshot")
      .description(
        "Record this node's network state: run the collector script (iptables-save of both backends, nft, ip link/addr/" +
          'route/rule/neigh, bridge fdb, ipvsadm, ipset, sysctl, conntrack, NetworkManager, firewalld, processes, and the ' +
          'flannel, CNI and resolv.conf files) and write a node snapshot (JSON): every output verbatim with its exit code. ' +
          'A missing tool is recorded, not an error. Nothing is written on the node.',
      )
      .option('--netns <name>', 'run inside this network namespace (ip netns exec)')
      .option('--node-name <name>', 'the Kubernetes node name to record (default: the hostname)')
      .option(
        '-o, --output <file>',
        'write the snapshot here (folders are made); default stdout; with --live: the bundle directory',
      )
      .option('--print-script', 'print the collector script (POSIX sh) and exit, to run it on a node by hand')
      .option(
        '--timeout <seconds>',
        'give up on the whole collection after this long (with --live: per node, default 60s)',
        '1800',
      )
      .option(
        '--command-timeout <seconds>',
        'stop a single command after this long (needs timeout(1) on the node)',
        '600',
      )
      .addHelpText(
        'after',
        `
Examples:
  # This node, into a bundle (root is needed to read netfilter state):
  sudo netdoctor collect --node-name worker-1 -o bundle/nodes/worker-1.json

  # A network namespace (a lab node):
  sudo netdoctor collect --netns lab-node1 -o bundle/nodes/node1.json

  # A node where netdoctor is not installed: run the script there by hand, import its output here.
  netdoctor collect --print-script | ssh worker-2 sudo sh -s > worker-2.out
  netdoctor bundle import-raw worker-2.out --node worker-2 -o bundle/nodes/worker-2.json

  # Every node of the cluster of the current kubectl context, into a bundle (attach it to a bug report):
  netdoctor collect --live -o ./bundle
  netdoctor collect --live --context prod --nodes node-5,node-6 --timeout 2m -o ./bundle
${LIVE_HELP}

  # Or copy the script over and run it on the node:  sudo sh collect.sh > worker-2.out

The script's output is framed: "@@netdoctor <kind> <id> <exit> <bytes>" lines, each followed by exactly that
many raw bytes, so any output survives. Each command is bounded by timeout(1) where the node has it
(NETDOCTOR_CMD_TIMEOUT=seconds when the script is run by hand; default 600: iptables-nft-save of a large cluster
can take minutes).

Exit code: 0 when the snapshot was written (whatever the node's commands returned), 2 when collection could not run;
with --live, 1 when the bundle was written but some nodes or objects could not be read (reasons on stderr).`,
      ),
  );
  cmd.action(async (flags: CollectFlags) => {
    rejectLiveFlagsWithoutLive(flags);
    if (flags.live) {
      if (!flags.output || flags.output === '-')
        throw new UsageError('collect --live writes a bundle directory: give it with -o DIR');
      if (flags.netns || flags.printScript) throw new UsageError('--netns and --print-script do not go with --live');
      const timeoutMs =
        cmd.getOptionValueSource('timeout') === 'default' ? 60_000 : parseDuration(flags.timeout, '--timeout');
      const r = await runLive(flags.output, flags, timeoutMs);
      process.exitCode = r.problems.length ? ExitCode.negative : ExitCode.ok;
      return;
    }
    if (flags.printScript) {
      process.stdout.write(COLLECTOR_SCRIPT);
      process.exitCode = ExitCode.ok;
      return;
    }
    const seconds = positiveSeconds('--timeout', flags.timeout);
    const commandSeconds = positiveSeconds('--command-timeout', flags.commandTimeout);
    if (!runningAsRoot())
      process.stderr.write(
        'netdoctor: not running as root: iptables, nft, ipvsadm and ipset will answer "permission denied" (recorded as such); run with sudo for a useful snapshot\n',
      );
    const where = flags.netns ? `network namespace ${flags.netns}` : 'this host';
    process.stderr.write(`collecting ${where} ...\n`);
    const snapshot = await collectNode({
      netns: flags.netns,
      nodeName: flags.nodeName,
      timeoutMs: seconds * 1000,
      commandTimeoutMs: commandSeconds * 1000,
      onIssue: (i) => reportIssues([i]),
    });
    writeSnapshot(snapshot, flags.output);
    process.stderr.write(`${snapshotSummary(snapshot)}${flags.output ? ` -> ${flags.output}` : ''}\n`);
    process.exitCode = ExitCode.ok;
  });
}
