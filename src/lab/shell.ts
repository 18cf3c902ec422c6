/** Running the lab's commands: every call has a time limit, and failures say which command and why. */

import { spawn } from 'node:child_process';
import { NetdoctorError } from '../core/errors.js';

/** A lab that cannot be built, reached or removed. Exit code 2, one line for the user. */
export class LabError extends NetdoctorError {
  override name = 'LabError';
}

export interface RunResult {
  stdout: string;
  stderr: string;
  /** Exit code; -1 when the command could not start or was killed at its time limit. */
  status: number;
  timedOut: boolean;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
}

/** Runs a command; never throws on a non-zero exit (the caller reads `status`). */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let done = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    const finish = (status: number, extra = '') => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + extra,
        status: timedOut ? -1 : status,
        timedOut,
      });
    };
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => finish(-1, String(e.message)));
    child.on('close', (code) => finish(code ?? -1));
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs a command and throws a LabError with its stderr when it fails. */
export async function mustRun(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.status !== 0) {
    const why = r.timedOut ? 'timed out' : r.stderr.trim().split('\n').slice(0, 3).join('; ') || `exit ${r.status}`;
    throw new LabError(`\`${[cmd, ...args].join(' ').slice(0, 160)}\` failed: ${why}`);
  }
  return r.stdout;
}

/** Runs `ip -batch -` (optionally inside a namespace); one process for many ip commands. */
export async function ipBatch(lines: readonly string[], netns?: string): Promise<void> {
  if (lines.length === 0) return;
  await mustRun('ip', [...(netns ? ['-n', netns] : []), '-batch', '-'], { input: `${lines.join('\n')}\n` });
}

/** Runs `bridge -batch -` inside a namespace. */
export async function bridgeBatch(lines: readonly string[], netns: string): Promise<void> {
  if (lines.length === 0) return;
  await mustRun('bridge', ['-n', netns, '-batch', '-'], { input: `${lines.join('\n')}\n` });
}

export function nsRun(netns: string, argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run('ip', ['netns', 'exec', netns, ...argv], opts);
}

export function nsMustRun(netns: string, argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  return mustRun('ip', ['netns', 'exec', netns, ...argv], opts);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The names of every network namespace (`ip netns list`). */
export async function listNetns(): Promise<string[]> {
  const r = await run('ip', ['netns', 'list'], { timeoutMs: 10_000 });
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}
