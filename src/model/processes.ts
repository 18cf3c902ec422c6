/**
 * The Kubernetes daemons' command lines of a node (`ps -o pid,args -C kube-proxy,kubelet,...`, id `processes`): which
 * run, and with which flags. Only those daemons are collected, never every process.
 */
import type { NodeModel } from './cluster.js';

export interface ProcessInfo {
  pid: number;
  /** The command line split on white space (ps prints it joined, so quoting is lost). */
  argv: string[];
  /** The program's base name (`kube-proxy` for `/usr/local/bin/kube-proxy`). */
  program: string;
  /** The line as ps printed it. */
  text: string;
  /** 1-based line in the `processes` output. */
  line: number;
}

export function processes(node: NodeModel): ProcessInfo[] | undefined {
  const text = node.output('processes');
  if (text === undefined) return undefined;
  const out: ProcessInfo[] = [];
  text.split('\n').forEach((raw, k) => {
    const m = /^\s*(\d+)\s+(.+?)\s*$/.exec(raw);
    if (!m) return;
    const argv = (m[2] as string).split(/\s+/);
    out.push({
      pid: Number(m[1]),
      argv,
      program: (argv[0] ?? '').split('/').pop() ?? '',
      text: raw.trim(),
      line: k + 1,
    });
  });
  return out;
}

/** The processes running a program (`kube-proxy`; `hyperkube proxy` / `hyperkube kube-proxy` count as kube-proxy). */
export function processesOf(node: NodeModel, program: string): ProcessInfo[] {
  return (processes(node) ?? []).filter(
    (p) =>
      p.program === program ||
      (p.program === 'hyperkube' && (p.argv[1] === program || `kube-${p.argv[1]}` === program)),
  );
}
