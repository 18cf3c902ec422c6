/**
 * A pod of the lab's pod network made on demand, as the kubelet and flannel's bridge CNI plugin make one for a new
 * pod: a network namespace of its own, named with the lab's prefix (so `labDown` removes it with the rest of the lab),
 * a veth into its node's cni0 with hairpin on (as the lab's own pods have it), the bridge's MTU on both ends, an
 * address of the node's /24 that the lab's plan pods do not use (from .200 up), and the default route via cni0's
 * address, and the pod's /etc/resolv.conf as the kubelet writes it (in /etc/netns/<netns>/, which `ip netns exec`
 * mounts over /etc/resolv.conf). Tests use it for pods created through an API server (the fake kubelet of test/live/fake-apiserver.ts).
 *
 *   const pod = await attachPod(lab.plan, 'node1');   // pod.netns, pod.ip
 *   try { ... ip netns exec pod.netns ... } finally { await detachPod(pod); }
 */

import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type LabPlan, type NodePlan, podResolvConf, VXLAN_MTU } from './plan.js';
import { bridgeBatch, ipBatch, LabError, run, sleep } from './shell.js';

/** The host part of the first address an attached pod gets (the lab's plan pods start at .2). */
export const ATTACHED_FIRST_HOST = 200;
export const ATTACHED_LAST_HOST = 254;

export interface AttachedPod {
  /** The node the pod is on. */
  node: string;
  /** The node's namespace (where the host end of the veth is). */
  nodeNetns: string;
  /** The pod's own namespace: `<prefix>-pod-<node>-<host>`. */
  netns: string;
  /** Its address in the node's pod subnet (a /24). */
  ip: string;
  /** Its default gateway: cni0's address. */
  gateway: string;
  /** The host end of the veth, a port of cni0. */
  hostVeth: string;
  mtu: number;
}

/** The namespace name of the pod with address 10.244.N.`host` on `node`. */
export function attachedNetns(plan: LabPlan, node: string, host: number): string {
  return `${plan.prefix}-pod-${node}-${host}`;
}

/** cni0's MTU in the node's namespace (the lab's overlay MTU when it cannot be read). */
async function bridgeMtu(node: NodePlan): Promise<number> {
  const r = await run('ip', ['-n', node.netns, '-o', 'link', 'show', 'cni0'], { timeoutMs: 10_000 });
  const m = /\bmtu (\d+)/.exec(r.stdout);
  return m ? Number(m[1]) : VXLAN_MTU;
}

/**
 * Creates a pod namespace on `nodeName`'s cni0 and returns it. The address is the first free one from .200: a
 * namespace name is taken atomically by `ip netns add`, so concurrent calls (also from other processes) get
 * different addresses. On failure nothing is left behind.
 */
export async function attachPod(plan: LabPlan, nodeName: string, podNamespace = 'default'): Promise<AttachedPod> {
  const node = plan.nodes.find((n) => n.name === nodeName);
  if (!node) throw new LabError(`no node "${nodeName}" in the lab`);
  const subnet = node.podCIDR.split('.').slice(0, 3).join('.');
  const planned = new Set(plan.pods.filter((p) => p.node === node.name).map((p) => p.ip));
  let chosen: { netns: string; ip: string } | undefined;
  for (let host = ATTACHED_FIRST_HOST; host <= ATTACHED_LAST_HOST && !chosen; host++) {
    const ip = `${subnet}.${host}`;
    if (planned.has(ip)) continue;
    const netns = attachedNetns(plan, node.name, host);
    const r = await run('ip', ['netns', 'add', netns], { timeoutMs: 10_000 });
    if (r.status === 0) chosen = { netns, ip };
    else if (!/exists/i.test(r.stderr))
      throw new LabError(`cannot create namespace ${netns}: ${r.stderr.trim() || `exit ${r.status}`}`);
  }
  if (!chosen)
    throw new LabError(`no free pod address on ${node.name} (.${ATTACHED_FIRST_HOST}-.${ATTACHED_LAST_HOST})`);
  const pod: AttachedPod = {
    node: node.name,
    nodeNetns: node.netns,
    netns: chosen.netns,
    ip: chosen.ip,
    gateway: node.gateway,
    hostVeth: `veth${randomBytes(4).toString('hex')}`,
    mtu: VXLAN_MTU,
  };
  try {
    mkdirSync(netnsEtc(pod.netns), { recursive: true });
    writeFileSync(join(netnsEtc(pod.netns), 'resolv.conf'), podResolvConf(plan, { namespace: podNamespace }));
    pod.mtu = await bridgeMtu(node);
    await ipBatch(
      [
        `link add ${pod.hostVeth} mtu ${pod.mtu} type veth peer name eth0 mtu ${pod.mtu} netns ${pod.netns}`,
        `link set ${pod.hostVeth} master cni0 up`,
      ],
      node.netns,
    );
    await bridgeBatch([`link set dev ${pod.hostVeth} hairpin on`], node.netns);
    await ipBatch(podAddressing(pod.ip, pod.gateway), pod.netns);
  } catch (e) {
    await detachPod(pod);
    throw e;
  }
  return pod;
}

/**
 * Removes an attached pod: kills what still runs in its namespace (SIGKILL, by PID; only processes started into the
 * pod's own namespace are there), deletes the veth (both ends) and the namespace. Forgiving what is already gone.
 */
export async function detachPod(pod: AttachedPod): Promise<void> {
  const pids = async () => {
    const r = await run('ip', ['netns', 'pids', pod.netns], { timeoutMs: 5_000 });
    return r.stdout
      .split('\n')
      .map((t) => Number(t.trim()))
      .filter((pid) => Number.isInteger(pid) && pid > 1 && pid !== process.pid);
  };
  const deadline = Date.now() + 5_000;
  for (let i = 0; i < 100 && Date.now() < deadline; i++) {
    const left = await pids();
    if (left.length === 0) break;
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await sleep(50);
  }
  await run('ip', ['-n', pod.nodeNetns, 'link', 'del', pod.hostVeth], { timeoutMs: 10_000 });
  await run('ip', ['netns', 'del', pod.netns], { timeoutMs: 10_000 });
  rmSync(netnsEtc(pod.netns), { recursive: true, force: true });
}

/** Inside a pod's namespace: its address on eth0 (a /24 of the node's pod subnet) and the default route via cni0. */
export function podAddressing(ip: string, gateway: string): string[] {
  return [
    'link set lo up',
    `addr add ${ip}/24 dev eth0`,
    'link set eth0 up',
    `route add default via ${gateway} dev eth0`,
  ];
}

/** Where `ip netns exec` finds a namespace's own /etc files. */
export function netnsEtc(netns: string): string {
  return join('/etc/netns', netns);
}
