/** `netdoctor rules eval`: the single-node question, answered from rule dumps, no bundle needed. */
import type { Command } from 'commander';
import { Option } from 'commander';
import { UsageError } from '../../core/errors.js';
import { normalizeIp } from '../../core/ip.js';
import { ExitCode } from '../../core/vocabulary.js';
import type { NodeEnv, Path } from '../../netfilter/model.js';
import { makePacket, PATHS, type PacketQuestion } from '../../netfilter/packet.js';
import { simulate } from '../../netfilter/simulate.js';
import { loadRules } from '../../parse/ruleset.js';
import { evalResultJson, formatEvalText } from '../../report/rules-eval.js';
import { readText, reportIssues } from '../input.js';

interface EvalFlags {
  path: Path;
  proto: string;
  src: string;
  sport?: string;
  dst: string;
  dport?: string;
  in?: string;
  out?: string;
  state: string;
  mark?: string;
  local?: string;
  format: 'text' | 'json';
  packets?: string;
}

export function registerRules(program: Command): void {
  const rules = program.command('rules').description("questions about one node's netfilter rules, from rule dumps");
  rules
    .command('eval')
    .description(
      'Say what the kernel does with one packet: walk it through every table and base chain of its path\n' +
        '(iptables-nft, iptables-legacy and native nftables together) and name the rule or policy that decides.',
    )
    .argument(
      '<file...>',
      'iptables-save / ip6tables-save output, `nft -j list ruleset` output and `ipset save` output, in any mix',
    )
    .addOption(
      new Option(
        '--path <path>',
        'input: PREROUTING then INPUT; forward: PREROUTING, FORWARD, POSTROUTING; output: OUTPUT then POSTROUTING',
      )
        .choices(PATHS)
        .default('input'),
    )
    .option('--proto <proto>', 'tcp, udp, icmp or a protocol number', 'tcp')
    .option('--src <addr>', 'source address')
    .option('--sport <port>', 'source port (default: an ephemeral one)')
    .option('--dst <addr>', 'destination address')
    .option('--dport <port>', 'destination port (tcp/udp)')
    .option('--in <iface>', 'incoming interface (input and forward paths)')
    .option('--out <iface>', 'outgoing interface (forward and output paths)')
    .addOption(
      new Option('--state <state>', 'conntrack state of the packet')
        .choices(['new', 'established', 'related', 'invalid', 'untracked'])
        .default('new'),
    )
    .option('--mark <mark>', 'packet mark on arrival, e.g. 0x4000')
    .option(
      '--local <addrs>',
      "the node's own addresses, comma-separated (for `addrtype LOCAL`, `fib daddr type local`)",
    )
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option(
      '--packets <file>',
      'one packet per line as JSON ({"path","proto","src","sport","dst","dport","in","out","state","mark"}); prints one JSON result per line',
    )
    .addHelpText(
      'after',
      `
Examples:
  # Why is VXLAN from 10.0.0.11 refused on this node?
  netdoctor rules eval iptables-save.txt --proto udp --src 10.0.0.11 --dst 10.0.0.12 --dport 8472 --in eth0

  # A node with both backends and firewalld's native table:
  netdoctor rules eval iptables-nft.txt iptables-legacy.txt nft.json --path forward --src 10.244.1.5 \\
      --dst 10.244.2.7 --dport 80 --in cni0 --out flannel.1

  # Thousands of questions, one start-up:
  netdoctor rules eval iptables-save.txt --packets packets.jsonl --local 10.0.0.12

Exit code: 0 when the question was answered (whatever the verdict), 2 for bad input.`,
    )
    .action((files: string[], flags: EvalFlags) => {
      // A user asking about these files wants every problem in them listed, not only those on the packet's path.
      const loaded = loadRules(
        files.map((f) => ({ name: f, text: readText(f) })),
        { eager: true },
      );
      reportIssues(loaded.ruleset.issues);
      const env: NodeEnv = { ipsets: loaded.ipsets };
      if (flags.local !== undefined) {
        const local = new Set<string>();
        for (const a of flags.local.split(',').filter(Boolean)) {
          const n = normalizeIp(a.trim());
          if (!n) throw new UsageError(`--local: "${a}" is not an IP address`);
          local.add(n);
        }
        env.local = local;
      }
      if (flags.packets) {
        const lines = readText(flags.packets).split('\n');
        const out: string[] = [];
        lines.forEach((line, i) => {
          if (!line.trim()) return;
          let q: PacketQuestion & { path?: Path };
          try {
            q = JSON.parse(line) as PacketQuestion & { path?: Path };
          } catch {
            throw new UsageError(`${flags.packets}:${i + 1}: not a JSON object`);
          }
          try {
            const path = q.path ?? flags.path;
            if (!PATHS.includes(path)) throw new UsageError(`path "${path}" is not one of ${PATHS.join(', ')}`);
            const pkt = makePacket(q);
            out.push(JSON.stringify(evalResultJson(simulate(loaded.ruleset, pkt, path, env))));
          } catch (e) {
            if (e instanceof UsageError) out.push(JSON.stringify({ line: i + 1, error: e.message }));
            else throw e;
          }
        });
        process.stdout.write(`${out.join('\n')}\n`);
        process.exitCode = ExitCode.ok;
        return;
      }
      if (!flags.src || !flags.dst) throw new UsageError('rules eval needs --src and --dst (or --packets FILE)');
      const q: PacketQuestion = { proto: flags.proto, src: flags.src, dst: flags.dst, state: flags.state };
      if (flags.sport) q.sport = flags.sport;
      if (flags.dport) q.dport = flags.dport;
      if (flags.in) q.in = flags.in;
      if (flags.out) q.out = flags.out;
      if (flags.mark) q.mark = flags.mark;
      const pkt = makePacket(q);
      const result = simulate(loaded.ruleset, pkt, flags.path, env);
      if (flags.format === 'json') process.stdout.write(`${JSON.stringify(evalResultJson(result), null, 2)}\n`);
      else process.stdout.write(formatEvalText(result, pkt, flags.path, process.stdout.isTTY === true));
      process.exitCode = ExitCode.ok;
    });
}
