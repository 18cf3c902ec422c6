/** `netdoctor trace <bundle> --from ... --to ...`: the whole path of a packet across the cluster, hop by hop. */
import type { Command } from 'commander';
import { Option } from 'commander';
import { CHECKS } from '../../checks/registry.js';
import { runChecks } from '../../checks/run.js';
import { UsageError } from '../../core/errors.js';
import { ExitCode } from '../../core/vocabulary.js';
import { ClusterModel } from '../../model/cluster.js';
import { formatTraceJson } from '../../report/trace-json.js';
import { formatTraceText } from '../../report/trace-text.js';
import { loadBundle } from '../../snapshot/bundle.js';
import { resolveQuery } from '../../trace/endpoints.js';
import { TraceEngine } from '../../trace/engine.js';
import { attachFixes } from '../../trace/fixes.js';
import { reportIssues } from '../input.js';

interface TraceFlags {
  from: string;
  to: string;
  proto: string;
  size?: string;
  rules?: boolean;
  format: 'text' | 'json';
}

export function registerTrace(program: Command): void {
  program
    .command('trace')
    .description(
      'Follow one packet across the cluster, hop by hop, from a bundle: pod, veth, bridge, every netfilter hook of every node it crosses, kube-proxy DNAT (each endpoint a branch), routing, the overlay (outer packet through the sender and the receiver), the destination pod, and the reply back. Names the rule, route or sysctl that decides.',
    )
    .argument('<bundle>', 'a bundle directory: cluster.json and nodes/<node>.json')
    .requiredOption('--from <source>', 'pod/NAMESPACE/NAME, node/NAME or an IP address')
    .requiredOption(
      '--to <target>',
      'pod/NAMESPACE/NAME[:PORT], svc/NAMESPACE/NAME[:PORT] (the service port), node/NAME[:PORT] (e.g. a NodePort) or IP[:PORT]',
    )
    .addOption(new Option('--proto <proto>', 'protocol').choices(['tcp', 'udp', 'icmp']).default('tcp'))
    .option(
      '--size <bytes>',
      'the IP packet size, to check every link MTU on the path (e.g. 1450 for `ping -M do -s 1422`); default: a small packet',
    )
    .option('--rules', 'text output: under each hop, every rule that matched there and the route used')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      `
Examples:
  # why can't a pod on one node reach a pod on another?
  netdoctor trace examples/seed-000 --from pod/default/echo-ccxwsd26n-c4s9j --to pod/default/echo-ccxwsd26n-dsc9r:8080
  # a Service: every endpoint kube-proxy can pick is a branch
  netdoctor trace ./bundle --from pod/default/client --to svc/kube-system/kube-dns:53 --proto udp
  # a NodePort on each node, from outside the cluster
  netdoctor trace ./bundle --from 192.168.56.1 --to node/node2:30080
  netdoctor trace ./bundle --from node/node1 --to 10.244.2.3 --proto icmp --format json | jq .verdict
  # does a full-size packet fit through the overlay? (ping -M do -s 1422 sends 1450 bytes)
  netdoctor trace ./bundle --from pod/default/a --to pod/default/b --proto icmp --size 1450

Verdicts: delivered, dropped, rejected (with what the client sees: timeout, refused, no route to host, admin
prohibited) and uncertain (with the rule or data that is missing). The JSON is
{"verdict", "decisive": {"node","kind","table","chain","index","text"} | null, "branches": [...], "hops": [...]}.

Exit code: 0 delivered on every branch, 1 any branch not delivered, 2 bad input (unknown names suggest close matches).`,
    )
    .action((dir: string, flags: TraceFlags) => {
      const cluster = new ClusterModel(loadBundle(dir));
      const query = resolveQuery(cluster, flags.from, flags.to, flags.proto);
      if (flags.size !== undefined) {
        const size = Number(flags.size);
        if (!/^\d+$/.test(flags.size) || size < 28 || size > 65535)
          throw new UsageError(`--size "${flags.size}" is not an IP packet size (28-65535 bytes)`);
        query.size = size;
      }
      const result = new TraceEngine(cluster).trace(query);
      if (result.verdict !== 'delivered') attachFixes(result, runChecks(cluster, CHECKS).findings);
      reportIssues(cluster.allIssues());
      const notes = query.to.kind === 'service' ? query.to.notes : [];
      process.stdout.write(
        flags.format === 'json'
          ? formatTraceJson(result)
          : formatTraceText(query, result, process.stdout.isTTY === true, { notes, rules: flags.rules === true }),
      );
      process.exitCode = result.verdict === 'delivered' ? ExitCode.ok : ExitCode.negative;
    });
}
