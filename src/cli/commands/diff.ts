/** `netdoctor diff`: two nodes (or every node against its peers) compared by behaviour, not by text. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { InputError, UsageError } from '../../core/errors.js';
import { ExitCode } from '../../core/vocabulary.js';
import { diffAll, diffNodes } from '../../diff/diff.js';
import { DIFFERENCE_KINDS, type DifferenceKind } from '../../diff/types.js';
import { ClusterModel, NodeModel } from '../../model/cluster.js';
import type { KubeList, KubeObject } from '../../model/kube.js';
import { formatDiffAllJson, formatDiffJson } from '../../report/diff-json.js';
import { formatDiffAllText, formatDiffText } from '../../report/diff-text.js';
import { loadBundle } from '../../snapshot/bundle.js';
import { NODE_SNAPSHOT_SCHEMA, type NodeSnapshot } from '../../snapshot/schema.js';
import { readText, reportIssues } from '../input.js';

interface DiffFlags {
  nodes?: string;
  all?: boolean;
  format: 'text' | 'json';
  kinds?: string;
}

/** A node snapshot file given on its own; the Node object comes from the bundle's cluster.json when it sits in one. */
function loadNodeFile(file: string): NodeModel {
  const text = readText(file);
  let snap: NodeSnapshot;
  try {
    snap = JSON.parse(text) as NodeSnapshot;
  } catch (e) {
    throw new InputError(`not valid JSON (${(e as Error).message})`, file);
  }
  if (!snap || typeof snap !== 'object' || snap.kind !== 'NodeSnapshot' || typeof snap.node !== 'string')
    throw new InputError('not a node snapshot (kind NodeSnapshot with node and commands)', file, 1);
  if (snap.schemaVersion !== NODE_SNAPSHOT_SCHEMA)
    throw new InputError(
      `schema version ${snap.schemaVersion} is not one this netdoctor reads (${NODE_SNAPSHOT_SCHEMA})`,
      file,
      1,
    );
  let kube: KubeObject | undefined;
  const clusterFile = join(dirname(dirname(file)), 'cluster.json');
  if (existsSync(clusterFile)) {
    try {
      const list = JSON.parse(readFileSync(clusterFile, 'utf8')) as KubeList;
      kube = list.items?.find((o) => o?.kind === 'Node' && o.metadata?.name === snap.node);
    } catch {
      // The bundle's cluster.json is optional here: without it the node's own state names its addresses.
    }
  }
  return new NodeModel(snap.node, snap, file, kube);
}

function parseKinds(v: string | undefined): DifferenceKind[] | undefined {
  if (!v) return undefined;
  const kinds = v.split(',').map((s) => s.trim());
  const expanded = kinds.flatMap((k) => (k === 'netfilter' ? ['netfilter-rule', 'netfilter-policy'] : [k]));
  const bad = expanded.filter((k) => !(DIFFERENCE_KINDS as readonly string[]).includes(k));
  if (bad.length)
    throw new UsageError(`unknown kind ${bad.join(', ')} (kinds: netfilter, ${DIFFERENCE_KINDS.join(', ')})`);
  return expanded as DifferenceKind[];
}

export function registerDiff(program: Command): void {
  program
    .command('diff')
    .summary(
      'Compare nodes by behaviour, not by text: the rule, route, sysctl or interface that makes one node act differently',
    )
    .description(
      'Compare nodes by behaviour, not by text: netfilter (normalised and aligned, then the packet classes each\n' +
        'differing rule touches simulated on both nodes), sysctls, interfaces, routes per pod subnet, the overlay\n' +
        "fdb/neighbours, IPVS and kube-proxy. What is expected to differ (the node's own addresses, pod subnet,\n" +
        "kube-proxy's chain hashes, counters, comments) is not a difference.",
    )
    .argument('<bundle-or-node>', 'a bundle directory, or a node snapshot file (nodes/<node>.json)')
    .argument('[node2]', 'the second node snapshot file, when the first argument is one')
    .option('--nodes <a,b>', 'the two nodes of the bundle to compare')
    .option('--all', 'compare every node of the bundle with its peers and name the odd ones out')
    .option('--kinds <kinds>', `compare only these (comma-separated): netfilter, ${DIFFERENCE_KINDS.join(', ')}`)
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      `
Examples:
  netdoctor diff examples/seed-000 --nodes node1,node2        # why does one node drop what the other accepts?
  netdoctor diff bundle/nodes/slave-1.json bundle/nodes/slave-2.json
  netdoctor diff ./bundle --all                               # which node is not like the others?
  netdoctor diff ./bundle --nodes a,b --format json | jq '.differences[] | {kind, title}'
  netdoctor diff ./bundle --nodes a,b --kinds netfilter,sysctl

Each difference names both sides (the rule with its table/chain #index, the sysctl, the route) and, for
netfilter, the packet classes it changes and what each node does with them, e.g.
  8472 accept: node1 \`-p udp\` (filter/INPUT #10), node2 \`-p tcp\` (filter/INPUT #10) — udp/8472 NEW:
  node1 accepts, node2 rejects (filter/INPUT #16 REJECT); tcp/8472 NEW: the reverse

Exit code: 0 no difference, 1 differences (with --all: an odd one out), 2 usage or input error.`,
    )
    .action((first: string, second: string | undefined, flags: DiffFlags) => {
      const kinds = parseKinds(flags.kinds);
      const opts = kinds ? { kinds } : {};
      if (flags.nodes && flags.all) throw new UsageError('give either --nodes A,B or --all, not both');
      const isDir = existsSync(first) && statSync(first).isDirectory();
      if (!isDir) {
        if (!existsSync(first)) throw new InputError('no such file or bundle directory', first);
        if (!second)
          throw new UsageError('give two node snapshot files, or a bundle directory with --nodes A,B or --all');
        if (flags.nodes || flags.all)
          throw new UsageError('--nodes and --all go with a bundle directory, not node files');
        const a = loadNodeFile(first);
        const b = loadNodeFile(second);
        if (a.name === b.name && first !== second)
          process.stderr.write(
            `netdoctor: both files describe node ${a.name}: ${basename(first)} is A, ${basename(second)} is B\n`,
          );
        const r = diffNodes(a, b, opts);
        reportIssues([...a.issues, ...b.issues]);
        process.stdout.write(
          flags.format === 'json' ? formatDiffJson(r) : formatDiffText(r, process.stdout.isTTY === true),
        );
        process.exitCode = r.differences.length ? ExitCode.negative : ExitCode.ok;
        return;
      }
      if (second) throw new UsageError('with a bundle directory, name the nodes with --nodes A,B (or use --all)');
      const cluster = new ClusterModel(loadBundle(first));
      const names = cluster.nodes.map((n) => n.name);
      if (names.length < 2)
        throw new InputError(
          `the bundle has ${names.length} node snapshot${names.length === 1 ? '' : 's'}; diff needs two`,
          first,
        );
      if (flags.all) {
        const r = diffAll(cluster.nodes, opts);
        reportIssues(cluster.allIssues());
        process.stdout.write(
          flags.format === 'json' ? formatDiffAllJson(r) : formatDiffAllText(r, process.stdout.isTTY === true),
        );
        process.exitCode = r.oddOnesOut.length || r.undecided ? ExitCode.negative : ExitCode.ok;
        return;
      }
      if (!flags.nodes) {
        if (names.length !== 2)
          throw new UsageError(
            `name the two nodes to compare with --nodes A,B (nodes: ${names.join(', ')}), or use --all`,
          );
      }
      const pick = flags.nodes ? flags.nodes.split(',').map((s) => s.trim()) : names;
      if (pick.length !== 2 || !pick[0] || !pick[1]) throw new UsageError('--nodes takes two node names: --nodes A,B');
      const [a, b] = pick.map((name) => {
        const n = cluster.node(name);
        if (!n) throw new UsageError(`no node "${name}" in ${first} (nodes: ${names.join(', ')})`);
        return n;
      }) as [NodeModel, NodeModel];
      const r = diffNodes(a, b, opts);
      reportIssues(cluster.allIssues());
      process.stdout.write(
        flags.format === 'json' ? formatDiffJson(r) : formatDiffText(r, process.stdout.isTTY === true),
      );
      process.exitCode = r.differences.length ? ExitCode.negative : ExitCode.ok;
    });
}
