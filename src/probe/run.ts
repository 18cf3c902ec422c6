/**
 * Runs planned probes through an executor (the lab's namespaces, or probe pods on a live cluster): one agent process
 * per source with all of that source's probes, a few sources at a time, each bounded in time. A source whose agent
 * cannot run is a problem of the run, and its probes are errors, never silently dropped.
 */
import { mapLimit } from '../core/async.js';
import type { AgentProbe, AgentResult } from './agent.js';
import { judge, type Probe, type ProbeOutcome, type ProbeSource } from './model.js';

export interface ProbeExecutor {
  /** For messages: `lab` or `live`. */
  readonly target: string;
  /** Runs the agent with these probes inside the source's network namespace; one result per probe, any order. */
  run(source: ProbeSource, probes: AgentProbe[], timeoutMs: number): Promise<AgentResult[]>;
}

export interface RunProbesOptions {
  /** Sources probed at once. */
  parallel?: number;
  /** Called after each source finished, for a progress line. */
  onSource?: (source: ProbeSource, done: number, total: number) => void;
}

/** The longest an agent may take with these probes: 16 run at once, each bounded by tries x timeout. */
export function agentBudgetMs(probes: readonly AgentProbe[]): number {
  // ping waits whole seconds (-W), at least one.
  const perTry = (p: AgentProbe) =>
    p.kind === 'icmp' || p.kind === 'mtu' ? Math.max(1000, Math.ceil(p.timeoutMs / 1000) * 1000) : p.timeoutMs;
  const each = probes.map(
    (p) => p.tries * perTry(p) * Math.max(1, p.kind === 'dns' ? (p.attempts ?? 1) * (p.nameservers?.length ?? 1) : 1),
  );
  const total = each.reduce((a, b) => a + b, 0);
  return Math.ceil(total / 16) + Math.max(0, ...each) + 5_000;
}

export async function runProbes(
  probes: readonly Probe[],
  executor: ProbeExecutor,
  opts: RunProbesOptions = {},
): Promise<{ outcomes: ProbeOutcome[]; problems: string[] }> {
  const bySource = new Map<string, { source: ProbeSource; probes: Probe[] }>();
  for (const p of probes) {
    const key = `${p.from.kind}/${p.from.name}`;
    const g = bySource.get(key) ?? { source: p.from, probes: [] };
    bySource.set(key, g);
    g.probes.push(p);
  }
  const groups = [...bySource.values()];
  const problems: string[] = [];
  const results = new Map<string, AgentResult>();
  let done = 0;
  await mapLimit(groups, opts.parallel ?? 4, async (g) => {
    const agentProbes = g.probes.map((p) => p.agent);
    try {
      for (const r of await executor.run(g.source, agentProbes, agentBudgetMs(agentProbes))) results.set(r.id, r);
    } catch (e) {
      problems.push(`${g.source.kind} ${g.source.name}: ${(e as Error).message}`);
    }
    opts.onSource?.(g.source, ++done, groups.length);
  });
  const outcomes = probes.map((probe): ProbeOutcome => {
    const result: AgentResult = results.get(probe.agent.id) ?? {
      id: probe.agent.id,
      outcome: 'error',
      attempts: 0,
      answers: [],
      failures: {},
      detail: "the probe did not run (see the run's problems)",
    };
    return { probe, result, ...judge(probe, result) };
  });
  return { outcomes, problems };
}

/** Parses the agent's output: one JSON result per line; a broken line is an error naming it. */
export function parseAgentOutput(stdout: string, what: string): AgentResult[] {
  const out: AgentResult[] = [];
  stdout.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      out.push(JSON.parse(line) as AgentResult);
    } catch {
      throw new Error(`${what}: line ${i + 1} of the probe agent's output is not JSON: ${line.slice(0, 120)}`);
    }
  });
  return out;
}
