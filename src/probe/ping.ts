/**
 * One `ping` attempt (iputils): its arguments and how its output reads. Written once as JavaScript source: the probe
 * agent embeds it (it runs ping itself), and a live probe pod's tools container runs ping from a shell script whose
 * output netdoctor reads here, so both judge a ping the same way.
 */
import type { AgentProbe, AttemptOutcome } from './agent.js';

export const PING_SOURCE = String.raw`function pingArgs(p) {
  const secs = Math.max(1, Math.ceil(p.timeoutMs / 1000));
  const args = ['-n', '-c', '1', '-W', String(secs)];
  if (p.kind === 'mtu') args.push('-M', 'do', '-s', String(p.size));
  args.push(p.dst);
  return args;
}

function pingFirstError(text) {
  const line = text.split('\n').find((l) => /unreachable|prohibited|filtered/i.test(l));
  return line ? line.trim() : undefined;
}

function classifyPing(p, ok, text, elapsedMs) {
  const rtt = /time=([0-9.]+) ms/.exec(text);
  if (ok) return { outcome: 'ok', answer: p.dst, ms: rtt ? Number(rtt[1]) : elapsedMs };
  const mtu = /mtu ?= ?(\d+)/i.exec(text);
  if (mtu || /message too long|frag needed/i.test(text))
    return { outcome: 'too big', detail: mtu ? 'mtu ' + mtu[1] : text.trim().split('\n').pop() };
  if (/Packet filtered|Communication prohibited|Host Prohibited|Net Prohibited/i.test(text))
    return { outcome: 'admin prohibited', detail: pingFirstError(text) };
  if (/Destination Port Unreachable|Protocol Unreachable/i.test(text))
    return { outcome: 'refused', detail: pingFirstError(text) };
  if (/Destination Net Unreachable|Network is unreachable/i.test(text))
    return { outcome: 'network unreachable', detail: pingFirstError(text) };
  if (/Destination Host Unreachable|No route to host/i.test(text))
    return { outcome: 'no route to host', detail: pingFirstError(text) };
  if (/not found|invalid option|unrecognized option|usage:|Operation not permitted|socket:/i.test(text))
    return { outcome: 'error', detail: 'ping failed: ' + text.trim().split('\n')[0] };
  return { outcome: 'timeout' };
}
`;

/** One attempt's result, as the agent records it. */
export interface PingAttempt {
  outcome: AttemptOutcome;
  answer?: string;
  ms?: number;
  detail?: string;
}

const compiled = new Function(`${PING_SOURCE}\nreturn { pingArgs, classifyPing };`)() as {
  pingArgs: (p: AgentProbe) => string[];
  classifyPing: (p: AgentProbe, ok: boolean, text: string, elapsedMs: number) => PingAttempt;
};

/** ping's arguments for an icmp or mtu probe (one packet, the probe's timeout, DF and size for mtu). */
export const pingArgs = compiled.pingArgs;
/** Reads one ping's exit status and output the way a client would: ok with the RTT, too big, prohibited, ... */
export const classifyPing = compiled.classifyPing;
