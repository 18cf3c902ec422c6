/** `netdoctor lab`: a Kubernetes-like cluster in network namespaces, healthy or with a field incident reproduced. */
import type { Command } from 'commander';
import { Option } from 'commander';
import { UsageError } from '../../core/errors.js';
import { ExitCode } from '../../core/vocabulary.js';
import { Lab, labDown, labUp } from '../../lab/lab.js';
import { MAX_NODES } from '../../lab/plan.js';
import { SCENARIOS } from '../../lab/scenarios.js';
import { defaultStatePath, readState } from '../../lab/state.js';

function integer(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`${name}: "${text}" is not a whole number from ${min} to ${max}`);
  return n;
}

const stateOption = () =>
  new Option('--state <file>', 'the lab state file').default(defaultStatePath(), 'netdoctor-lab.json in the temp dir');

function stateHint(statePath: string): string {
  return statePath === defaultStatePath() ? '' : ` --state ${statePath}`;
}

function upSummary(lab: Lab): string {
  const plan = lab.plan;
  const s = lab.state;
  const lines = [
    `lab ${plan.prefix} is up: scenario ${s.scenario} (seed ${s.seed}), ${plan.nodes.length} nodes, ${plan.pods.length} pods`,
    '',
    `nodes (underlay ${plan.underlay.cidr} in namespace ${plan.underlay.netns}):`,
  ];
  for (const n of plan.nodes)
    lines.push(`  ${n.name.padEnd(7)} ${n.ip.padEnd(15)} pods ${n.podCIDR.padEnd(15)} netns ${n.netns}`);
  lines.push('pods:');
  for (const p of plan.pods) {
    lines.push(`  ${`${p.namespace}/${p.name}`.padEnd(42)} ${p.node.padEnd(7)} ${p.ip.padEnd(13)} netns ${p.netns}`);
  }
  lines.push('services:');
  for (const svc of plan.services) {
    const ports = svc.ports
      .map((p) => `${p.port}/${p.protocol}${p.nodePort !== undefined ? ` (NodePort ${p.nodePort})` : ''}`)
      .join(', ');
    lines.push(`  ${`${svc.namespace}/${svc.name}`.padEnd(22)} ${svc.clusterIP.padEnd(13)} ${ports}`);
  }
  const from = plan.pods.find((p) => p.role === 'echo' && p.node === plan.nodes[0]?.name);
  const to = [...plan.pods].reverse().find((p) => p.role === 'echo');
  const echo = plan.services.find((x) => x.name === 'echo');
  lines.push('', 'try:');
  if (from && to) lines.push(`  ip netns exec ${from.netns} ping -c 2 -W 1 ${to.ip}`);
  if (from && echo) lines.push(`  ip netns exec ${from.netns} nc -w 1 ${echo.clusterIP} 80`);
  if (s.fault)
    lines.push('', `fault injected: ${s.scenario}; what a diagnosis must find is recorded in the state file`);
  const hint = stateHint(lab.statePath);
  lines.push(
    '',
    `bundle: netdoctor lab collect -o DIR${hint}`,
    `remove: netdoctor lab down${hint}`,
    `state:  ${lab.statePath}`,
  );
  return `${lines.join('\n')}\n`;
}

export function registerLab(program: Command): void {
  const lab = program
    .command('lab')
    .description(
      'A Kubernetes-like cluster in network namespaces (underlay bridge, nodes with flannel VXLAN, pods, kube-proxy ' +
        'iptables rules, echo and DNS servers) that reproduces field incidents for real. Needs root.',
    );

  lab
    .command('list')
    .description('List the scenarios, and the lab that is up (if any).')
    .addOption(stateOption())
    .action((flags: { state: string }) => {
      const out: string[] = ['scenarios:'];
      for (const s of SCENARIOS) {
        out.push(`  ${s.name}${s.seeds.length ? ` (seed ${s.seeds.join(', ')})` : ''}`);
        for (const line of s.description.split('\n')) out.push(`      ${line}`);
        if (s.name !== 'healthy') {
          const [first, ...rest] = s.symptom.split('\n');
          out.push(`      symptom: ${first}`, ...rest.map((l) => `        ${l}`));
        }
      }
      const state = readState(flags.state);
      out.push('');
      out.push(
        state
          ? `lab up: ${state.prefix}, scenario ${state.scenario} (seed ${state.seed}), ${state.plan.nodes.length} nodes, ${state.status} (${flags.state})`
          : 'no lab is up',
      );
      process.stdout.write(`${out.join('\n')}\n`);
      process.exitCode = ExitCode.ok;
    });

  lab
    .command('up')
    .description("Build a lab and inject the scenario's fault.")
    .argument('<scenario>', `one of: ${SCENARIOS.map((s) => s.name).join(', ')}`)
    .option('--nodes <n>', `number of nodes (2-${MAX_NODES})`, '3')
    .option(
      '--seed <n>',
      "picks the broken node and the fault's details (firewall layout, sysctl, subnets; default: random)",
    )
    .addOption(stateOption())
    .addHelpText(
      'after',
      `
Examples:
  sudo netdoctor lab up seed-000 --seed 7
  sudo netdoctor lab collect -o bundle && netdoctor diagnose bundle
  sudo netdoctor lab down

Namespaces are named <prefix>-<node or pod>; the state file lists them, with the servers' PIDs, for \`lab down\`.`,
    )
    .action(async (scenario: string, flags: { nodes: string; seed?: string; state: string }) => {
      if (!SCENARIOS.some((s) => s.name === scenario))
        throw new UsageError(`unknown scenario "${scenario}"; one of: ${SCENARIOS.map((s) => s.name).join(', ')}`);
      const nodes = integer('--nodes', flags.nodes, 2, MAX_NODES);
      const seed = flags.seed === undefined ? undefined : integer('--seed', flags.seed, 0, 2 ** 31 - 1);
      const up = await labUp({
        scenario,
        nodes,
        seed,
        statePath: flags.state,
        log: (m) => process.stderr.write(`${m}\n`),
      });
      process.stdout.write(upSummary(up));
      process.exitCode = ExitCode.ok;
    });

  lab
    .command('collect')
    .description(
      'Write a bundle of the lab: cluster.json and nodes/<node>.json (the real collector run in every node).',
    )
    .requiredOption('-o, --output <dir>', 'the bundle directory (made if missing)')
    .addOption(stateOption())
    .action(async (flags: { output: string; state: string }) => {
      const up = Lab.open(flags.state);
      process.stderr.write(`collecting ${up.plan.nodes.length} nodes of lab ${up.prefix} ...\n`);
      await up.collect(flags.output, (node) => process.stderr.write(`  ${node} done\n`));
      process.stderr.write(`bundle written to ${flags.output}\n`);
      process.exitCode = ExitCode.ok;
    });

  lab
    .command('heal')
    .description(
      "Undo the injected fault the way its fix would, keeping the scenario's setting (NetworkManager's files, " +
        "flannel's etcd, ...): the scenario's healthy twin.",
    )
    .addOption(stateOption())
    .addHelpText(
      'after',
      `
Examples:
  sudo netdoctor lab up seed-004-flannel-lease --seed 3
  sudo netdoctor lab collect -o broken && sudo netdoctor lab heal && sudo netdoctor lab collect -o healed
  netdoctor diagnose broken; netdoctor diagnose healed`,
    )
    .action(async (flags: { state: string }) => {
      const up = Lab.open(flags.state);
      const scenario = up.state.scenario;
      await up.inject(scenario, up.state.fault?.seed ?? up.state.seed, { twin: true });
      process.stderr.write(`lab ${up.prefix}: ${scenario} healed (its setting kept, the fault undone)\n`);
      process.exitCode = ExitCode.ok;
    });

  lab
    .command('down')
    .description('Remove the lab: its processes, namespaces, scratch files and state file (also after a crash).')
    .addOption(stateOption())
    .action(async (flags: { state: string }) => {
      const r = await labDown(flags.state);
      process.stderr.write(
        r.found
          ? `removed lab ${r.prefix}: ${r.namespaces.length} namespaces, ${r.killed.length} processes\n`
          : `no lab recorded in ${flags.state}; nothing to remove\n`,
      );
      process.exitCode = ExitCode.ok;
    });
}
