/**
 * Throw-away network namespaces for tests. Names carry a per-run prefix; every namespace made through here is deleted
 * when the callback ends, also when it throws, and at process exit as a last resort.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export const RUN_PREFIX = `ndt${process.pid.toString(36)}`;
let counter = 0;
const alive = new Set<string>();

process.on('exit', () => {
  for (const ns of alive) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
});

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * Tests that need root and namespaces: under CI=true a missing capability is a failure, never a skip; elsewhere the
 * test is skipped with the reason.
 */
export function needsRoot(t: TestContext): boolean {
  if (isRoot()) return true;
  if (process.env.CI === 'true')
    throw new Error('this test needs root and network namespaces, and CI must provide them');
  t.skip('needs root and network namespaces');
  return false;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  status: number;
}

/** Run a command inside a namespace; never throws on a non-zero exit (the caller reads status). */
export function nsRun(ns: string, cmd: string, args: string[], input?: string, timeoutMs = 30_000): ExecResult {
  const r = spawnSync('ip', ['netns', 'exec', ns, cmd, ...args], {
    input,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 256 * 1024 * 1024,
  });
  return { stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : ''), status: r.status ?? -1 };
}

export function makeNetns(label: string): string {
  const name = `${RUN_PREFIX}-${label}-${counter++}`.slice(0, 48);
  execFileSync('ip', ['netns', 'add', name]);
  alive.add(name);
  return name;
}

export function deleteNetns(name: string): void {
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  alive.delete(name);
}

export async function withNetns<T>(label: string, fn: (ns: string) => T | Promise<T>): Promise<T> {
  const ns = makeNetns(label);
  try {
    return await fn(ns);
  } finally {
    deleteNetns(ns);
  }
}
