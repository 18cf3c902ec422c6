/**
 * Probes on a live cluster: the agent runs through `pods/exec` in a probe pod's `agent` container (a pod source: the
 * node's echo-a pod; a node source: its hostNetwork pod), so its packets leave from the pod network or the node's
 * own. ICMP and don't-fragment probes run `ping` in the same pod's `tools` container (same network namespace), from
 * a bounded shell script whose output is read with the agent's own rules (src/probe/ping.ts).
 */
import type { KubeApi } from '../live/api.js';
import { execInPod } from '../live/exec.js';
import { AGENT_COMMAND, AGENT_CONTAINER, TOOLS_CONTAINER } from '../live/probe-pods.js';
import type { AgentProbe, AgentResult, AttemptOutcome } from './agent.js';
import type { ProbeSource } from './model.js';
import { classifyPing, type PingAttempt, pingArgs } from './ping.js';
import { type ProbeExecutor, parseAgentOutput } from './run.js';

/** Pings run at once in the tools container. */
const PING_PARALLEL = 16;

export class LiveExecutor implements ProbeExecutor {
  readonly target = 'live';

  constructor(
    private readonly api: KubeApi,
    private readonly namespace: string,
    /** The probe pod a source's probes run in. */
    private readonly podOf: (source: ProbeSource) => string | undefined,
    /** Aborts every exec (Ctrl-C). */
    private readonly stop?: AbortSignal,
  ) {}

  async run(source: ProbeSource, probes: AgentProbe[], timeoutMs: number): Promise<AgentResult[]> {
    const pod = this.podOf(source);
    if (!pod) throw new Error('no probe pod runs there');
    const pings = probes.filter((p) => p.kind === 'icmp' || p.kind === 'mtu');
    const others = probes.filter((p) => p.kind !== 'icmp' && p.kind !== 'mtu');
    const budget = AbortSignal.timeout(timeoutMs);
    const signal = this.stop ? AbortSignal.any([budget, this.stop]) : budget;
    const [a, b] = await Promise.all([
      others.length ? this.runAgent(pod, others, signal, source) : [],
      pings.length ? this.runPings(pod, pings, signal) : [],
    ]);
    return [...a, ...b];
  }

  /** Captures one exec's output; a failed command is an error with its first words on stderr. */
  async exec(
    pod: string,
    container: string,
    command: readonly string[],
    signal: AbortSignal,
    stdin?: string,
  ): Promise<string> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const r = await execInPod(this.api, {
      namespace: this.namespace,
      pod,
      container,
      command,
      ...(stdin !== undefined ? { stdin } : {}),
      onStdout: (c) => out.push(c),
      onStderr: (c) => {
        if (err.length < 64) err.push(c);
      },
      signal,
    });
    if (r.exitCode !== undefined && r.exitCode !== 0) {
      const said = Buffer.concat(err).toString('utf8').trim().slice(0, 300);
      throw new Error(`${command[0]} in ${pod}/${container} failed (exit ${r.exitCode})${said ? `: ${said}` : ''}`);
    }
    return Buffer.concat(out).toString('utf8');
  }

  private async runAgent(
    pod: string,
    probes: AgentProbe[],
    signal: AbortSignal,
    source: ProbeSource,
  ): Promise<AgentResult[]> {
    const stdout = await this.exec(pod, AGENT_CONTAINER, AGENT_COMMAND, signal, `${JSON.stringify(probes)}\n`);
    return parseAgentOutput(stdout, `${source.kind} ${source.name}`);
  }

  private async runPings(pod: string, probes: AgentProbe[], signal: AbortSignal): Promise<AgentResult[]> {
    const stdout = await this.exec(pod, TOOLS_CONTAINER, ['sh', '-c', pingScript(probes)], signal);
    return readPingOutput(probes, stdout);
  }
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A shell script that runs each probe's pings (at most its tries, stopping at the first answer), PING_PARALLEL at a
 * time, and prints one line per attempt: `@@<probe index> <exit status> <output with | for newlines>`.
 */
export function pingScript(probes: readonly AgentProbe[]): string {
  const lines = [
    `p() { i=$1; n=$2; shift 2; k=0; while [ "$k" -lt "$n" ]; do k=$((k+1)); out=$(ping "$@" 2>&1); rc=$?; printf '@@%s %s %s\\n' "$i" "$rc" "$(printf '%s' "$out" | tr '\\n' '|')"; [ "$rc" -eq 0 ] && break; done; }`,
  ];
  probes.forEach((p, i) => {
    lines.push(`p ${i} ${Math.max(1, Math.min(p.tries, 10))} ${pingArgs(p).map(quote).join(' ')} &`);
    if ((i + 1) % PING_PARALLEL === 0) lines.push('wait');
  });
  lines.push('wait');
  return `${lines.join('\n')}\n`;
}

/** Turns the script's lines into one AgentResult per probe, judged like the agent judges its own pings. */
export function readPingOutput(probes: readonly AgentProbe[], stdout: string): AgentResult[] {
  const attempts: PingAttempt[][] = probes.map(() => []);
  for (const line of stdout.split('\n')) {
    const m = /^@@(\d+) (\d+) ?(.*)$/.exec(line);
    const i = m ? Number(m[1]) : -1;
    const p = probes[i];
    if (!m || !p) continue;
    const text = (m[3] ?? '').split('|').join('\n');
    if (m[2] === '127') attempts[i]?.push({ outcome: 'error', detail: 'ping is not installed in the tools image' });
    else attempts[i]?.push(classifyPing(p, m[2] === '0', text, 0));
  }
  return probes.map((p, i) => {
    const tries = attempts[i] ?? [];
    const ok = tries.filter((t) => t.outcome === 'ok');
    const failures: Partial<Record<AttemptOutcome, number>> = {};
    let detail: string | undefined;
    for (const t of tries) {
      if (t.outcome !== 'ok') failures[t.outcome] = (failures[t.outcome] ?? 0) + 1;
      if (t.detail) detail = t.detail;
    }
    const worst = Object.keys(failures).sort(
      (a, b) => (failures[b as AttemptOutcome] ?? 0) - (failures[a as AttemptOutcome] ?? 0),
    )[0] as AttemptOutcome | undefined;
    const ms = ok.map((t) => t.ms ?? 0);
    return {
      id: p.id,
      outcome: ok.length ? 'ok' : (worst ?? 'error'),
      attempts: tries.length,
      answers: ok.length ? [p.dst] : [],
      ...(ms.length ? { latencyMs: Math.min(...ms), slowestMs: Math.max(...ms) } : {}),
      failures,
      ...(detail ? { detail } : tries.length ? {} : { detail: 'ping printed nothing' }),
    };
  });
}
