/**
 * Probes in the lab: the agent runs with `ip netns exec` in the pod's or node's own network namespace, so its packets
 * take exactly the path a workload's would. `outside` is the underlay's namespace: a host on the nodes' network that is
 * not a node, the NodePort client.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab } from '../lab/lab.js';
import { LabError } from '../lab/shell.js';
import { type AgentProbe, type AgentResult, PROBE_AGENT_FILE, PROBE_AGENT_SOURCE } from './agent.js';
import type { ProbeSource } from './model.js';
import { type ProbeExecutor, parseAgentOutput } from './run.js';

export class LabExecutor implements ProbeExecutor {
  readonly target = 'lab';
  private readonly dir: string;
  private readonly agent: string;

  constructor(private readonly lab: Lab) {
    this.dir = mkdtempSync(join(tmpdir(), 'netdoctor-probe-'));
    this.agent = join(this.dir, PROBE_AGENT_FILE);
    writeFileSync(this.agent, PROBE_AGENT_SOURCE);
  }

  /** The lab namespace a source's probes run in. */
  netnsOf(source: ProbeSource): string {
    if (source.kind === 'outside') return this.lab.netnsOf('underlay');
    // Pods are `NS/NAME` in probes; the lab knows them by name.
    const name = source.kind === 'pod' ? (source.name.split('/')[1] ?? source.name) : source.name;
    return this.lab.netnsOf(name);
  }

  async run(source: ProbeSource, probes: AgentProbe[], timeoutMs: number): Promise<AgentResult[]> {
    if (probes.length === 0) return [];
    const r = await this.lab.exec(this.netnsOf(source), [process.execPath, this.agent], {
      input: `${JSON.stringify(probes)}\n`,
      timeoutMs,
    });
    if (r.timedOut) throw new LabError(`the probe agent ran over its ${Math.round(timeoutMs / 1000)} s budget`);
    if (r.status !== 0)
      throw new LabError(`the probe agent failed (exit ${r.status}): ${r.stderr.trim().slice(0, 300)}`);
    return parseAgentOutput(r.stdout, `${source.kind} ${source.name}`);
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
