#!/usr/bin/env node
/**
 * The netdoctor command line. This is the only file that touches the argument parser; each command's work lives in
 * `commands/`.
 */
import { Command, CommanderError } from 'commander';
import { NetdoctorError } from '../core/errors.js';
import { ExitCode } from '../core/vocabulary.js';
import { registerBundle } from './commands/bundle.js';
import { registerCollect } from './commands/collect.js';
import { registerDiagnose } from './commands/diagnose.js';
import { registerDiff } from './commands/diff.js';
import { registerLab } from './commands/lab.js';
import { registerCleanup } from './commands/live.js';
import { registerProbe } from './commands/probe.js';
import { registerRules } from './commands/rules.js';
import { registerTrace } from './commands/trace.js';
import { VERSION } from './version.js';

export function buildProgram(): Command {
  // Run as the kubectl plugin (`kubectl netdoctor ...`), the usage lines say so.
  const asPlugin = /kubectl-netdoctor$/.test(process.argv[1] ?? '');
  const program = new Command(asPlugin ? 'kubectl netdoctor' : 'netdoctor')
    .description(
      'Finds why traffic does not flow in a Kubernetes cluster: simulates netfilter, IPVS, routing and the overlay the way the Linux kernel does, and names the rule, route, sysctl, lease or missing endpoint that is the cause.',
    )
    .addHelpText(
      'after',
      `
Start here:
  netdoctor diagnose <bundle>                    what is wrong, with evidence and the fix
  netdoctor trace <bundle> --from A --to B       one packet's path across the cluster, hop by hop
  netdoctor rules eval iptables-save.txt ...     what one node does with one packet
  netdoctor diff <bundle> --all                  which node behaves unlike the others, and how
  netdoctor probe --lab --format html -o r.html  real traffic: the connectivity matrix and why each cell fails
  netdoctor <command> --help                     each command's options and examples`,
    )
    .version(VERSION)
    .option('--debug', 'print stack traces for internal errors')
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ sortSubcommands: true });
  program.exitOverride();
  registerRules(program);
  registerCollect(program);
  registerBundle(program);
  registerDiagnose(program);
  registerDiff(program);
  registerLab(program);
  registerCleanup(program);
  registerTrace(program);
  registerProbe(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return (process.exitCode as number | undefined) ?? ExitCode.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors were already printed by commander.
      return e.exitCode === 0 ? ExitCode.ok : ExitCode.error;
    }
    if (e instanceof NetdoctorError) {
      process.stderr.write(`netdoctor: ${e.message}\n`);
      return ExitCode.error;
    }
    const debug = argv.includes('--debug');
    process.stderr.write(`netdoctor: internal error: ${(e as Error).message}\n`);
    if (debug) process.stderr.write(`${(e as Error).stack}\n`);
    else process.stderr.write('(run again with --debug for the stack trace, and please report it)\n');
    return ExitCode.error;
  }
}

const invoked = process.argv[1] ?? '';
if (/(?:main\.[jt]s|netdoctor)$/.test(invoked)) {
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
