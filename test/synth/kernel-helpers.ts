/**
 * Test helpers for loading generated rulesets into a real kernel: a throw-away network namespace per use (named with
 * this process's pid, always deleted), and a splitter that makes iptables-save texts comparable table by table.
 */
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

let counter = 0;

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], input?: string): RunResult {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  if (r.error) return { status: null, stdout: '', stderr: String(r.error) };
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command inside the namespace; throws with its stderr when it fails. */
export function inNs(ns: string, cmd: string, args: string[], input?: string): string {
  const r = run('ip', ['netns', 'exec', ns, cmd, ...args], input);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * True when the kernel tests can run (root, `ip` and the iptables/nft tools present). Otherwise skips the test, or
 * fails it under CI=true, where a skipped kernel test would hide a broken setup.
 */
export function kernelAvailable(t: TestContext, tools: string[] = []): boolean {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push('not running as root');
  for (const tool of ['ip', ...tools]) {
    const r = run(tool, tool === 'ip' ? ['-V'] : ['--version']);
    if (r.status === null) problems.push(`${tool} not found`);
  }
  if (problems.length === 0) return true;
  const why = `kernel test needs root and tools: ${problems.join(', ')}`;
  if (process.env.CI === 'true') throw new Error(why);
  t.skip(why);
  return false;
}

/** Creates a namespace, runs `fn` in it, deletes it whatever happens. */
export function withNetns<T>(fn: (ns: string) => T): T {
  const ns = `ndsynth${process.pid}-${counter++}`;
  const add = run('ip', ['netns', 'add', ns]);
  if (add.status !== 0) throw new Error(`ip netns add ${ns}: ${add.stderr.trim()}`);
  try {
    return fn(ns);
  } finally {
    run('ip', ['netns', 'del', ns]);
  }
}

/** `*table` → its lines (chains and rules), without comment lines; table order does not matter. */
export function saveTables(text: string): Map<string, string[]> {
  const tables = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    if (line.startsWith('*')) {
      cur = [];
      tables.set(line.slice(1), cur);
    } else if (line === 'COMMIT') {
      cur = undefined;
    } else {
      cur?.push(line);
    }
  }
  return tables;
}

/** Loads `text` with `iptables-<backend>-restore` in a fresh namespace and returns `iptables-<backend>-save`. */
export function iptablesRoundTrip(text: string, backend: 'nft' | 'legacy', before?: (ns: string) => void): string {
  return withNetns((ns) => {
    before?.(ns);
    inNs(ns, `iptables-${backend}-restore`, [], text);
    return inNs(ns, `iptables-${backend}-save`, []);
  });
}
