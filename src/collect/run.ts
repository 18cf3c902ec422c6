/**
 * Running the collector on this machine: in the current network namespace (`sh -s`) or in a named one
 * (`ip netns exec NAME sh -s`). The script goes in on stdin, its framed output is parsed as it streams out.
 */
import { spawn } from 'node:child_process';
import { NetdoctorError, type ParseIssue } from '../core/errors.js';
import type { NodeSnapshot } from '../snapshot/schema.js';
import { SnapshotAssembler } from './output.js';
import { COLLECTOR_SCRIPT, DEFAULT_COMMAND_TIMEOUT_S } from './script.js';

export interface CollectOptions {
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  /** The node name to record; default the hostname the script prints. */
  nodeName?: string;
  /** Bound on the whole collection (default 30 minutes). */
  timeoutMs?: number;
  /** Bound on each command, passed to the script (default 10 minutes, at most `timeoutMs`; needs `timeout` there). */
  commandTimeoutMs?: number;
  /** The POSIX shell that runs the script (default `sh`). */
  shell?: string;
  /** Environment of the script (default this process's). Its PATH decides which tools the script finds. */
  env?: NodeJS.ProcessEnv;
  onIssue?: (issue: ParseIssue) => void;
  /** Called as the collector starts each command, for progress reports. */
  onCommand?: (id: string) => void;
}

const DEFAULT_TIMEOUT_MS = 30 * 60_000;
/** After the timeout: TERM, then KILL if the shell is still there after this long. */
const KILL_GRACE_MS = 5_000;

/** Runs the collector script and returns the node snapshot. Rejects with a NetdoctorError when it cannot run. */
export function collectNode(opts: CollectOptions = {}): Promise<NodeSnapshot> {
  const shell = opts.shell ?? 'sh';
  const [cmd, args] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, shell, '-s']] : [shell, ['-s']];
  const where = opts.netns ? `network namespace ${opts.netns}` : 'this host';
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const commandTimeoutS = Math.max(
    1,
    Math.ceil((opts.commandTimeoutMs ?? Math.min(DEFAULT_COMMAND_TIMEOUT_S * 1000, timeoutMs)) / 1000),
  );
  const assembler = new SnapshotAssembler({
    transport: opts.netns ? 'netns' : 'local',
    target: opts.netns,
    nodeName: opts.nodeName,
    source: opts.netns ? `collector in netns ${opts.netns}` : 'collector',
    onIssue: opts.onIssue,
    onCommand: opts.onCommand,
  });

  return new Promise<NodeSnapshot>((resolve, reject) => {
    const env = { ...(opts.env ?? process.env), NETDOCTOR_CMD_TIMEOUT: String(commandTimeoutS) };
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const stderr: Buffer[] = [];
    let stderrBytes = 0;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;

    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new NetdoctorError(message));
    };
    const timer = setTimeout(() => {
      const running = assembler.running ? ` while running ${assembler.running}` : '';
      fail(`collection in ${where} timed out after ${Math.round(timeoutMs / 1000)} s${running}`);
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    }, timeoutMs);

    child.on('error', (e: NodeJS.ErrnoException) => {
      fail(
        e.code === 'ENOENT'
          ? `cannot run the collector: "${cmd}" is not installed or not on PATH`
          : `cannot run the collector: ${e.message}`,
      );
    });
    child.stdout.on('data', (chunk: Buffer) => {
      if (settled) return;
      try {
        assembler.push(chunk);
      } catch (e) {
        fail((e as Error).message);
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      // The script sends commands' stderr into frames; what reaches here is the shell's own complaint. Keep a bit.
      if (stderrBytes < 64 * 1024) stderr.push(chunk);
      stderrBytes += chunk.length;
    });
    // The script is small; a shell that exits before reading it all (netns missing) must not crash us with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(COLLECTOR_SCRIPT);

    child.on('close', (code, signal) => {
      clearTimeout(killTimer);
      if (settled) return;
      const said = Buffer.concat(stderr).toString('utf8').trim();
      if (code !== 0) {
        const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        fail(`the collector in ${where} ${why}${said ? `: ${said.split('\n').slice(0, 5).join(' / ')}` : ''}`);
        return;
      }
      try {
        const snapshot = assembler.finish();
        settled = true;
        clearTimeout(timer);
        resolve(snapshot);
      } catch (e) {
        fail((e as Error).message + (said ? ` (${said.split('\n')[0]})` : ''));
      }
    });
  });
}

/** The uid of this process, when the platform has one. */
export function runningAsRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
