/**
 * Child processes for the kernel oracle: bounded in time, killed by their own PID only.
 */
import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export class ToolMissingError extends Error {}

/** Runs `cmd args`, feeding `input` on stdin; kills the child (by PID) after `timeoutMs`. */
export function run(
  cmd: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ENOENT') reject(new ToolMissingError(`kernel oracle: command not found: ${cmd}`));
      else reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
    child.stdin.on('error', () => {
      /* the child may exit before reading its input; its exit code tells */
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Like run(), but throws with the command's stderr when it fails. */
export async function mustRun(
  cmd: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number; what?: string } = {},
): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    const what = opts.what ?? `${cmd} ${args.join(' ')}`;
    throw new Error(`${what} failed${r.timedOut ? ' (timeout)' : ''}: ${(r.stderr || r.stdout).trim().slice(0, 2000)}`);
  }
  return r.stdout;
}
