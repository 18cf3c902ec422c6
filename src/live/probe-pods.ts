/**
 * The short-lived pods `probe --live` sends traffic from, per node:
 *   - two echo pods on the pod network (`echo-a` also probes; `echo-b` is the same-node destination of the others):
 *     their `agent` container runs netdoctor's echo server (TCP and UDP, answering with the pod's name) and is where the
 *     probe agent is exec'd;
 *   - one host pod on the node's own network (hostNetwork), the source of node→pod, node→Service, overlay and
 *     NodePort probes.
 * Every pod has two containers sharing its network namespace: `agent` (an image with node, the agent's runtime) and
 * `tools` (an image with iputils ping, for ICMP and don't-fragment probes). Pods are pinned to their node, tolerate
 * every taint, end by themselves (activeDeadlineSeconds) even if netdoctor is killed, carry the run's labels (so
 * `netdoctor cleanup` finds them), and are deleted by the run, also on Ctrl-C.
 */

import type { KubeObject } from '../model/kube.js';
import { PROBE_AGENT_SOURCE } from '../probe/agent.js';
import { ECHO_AGENT_SOURCE } from '../probe/echo.js';
import type { KubeApi } from './api.js';
import {
  DEFAULT_IMAGE,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  NODE_ANNOTATION,
  type PodOptions,
  type PodTracker,
  pinnedPodSpec,
  podName,
  podPath,
  RUN_LABEL,
  waitForPod,
} from './nodes.js';

/** An image with node (≥ 18) for the echo server and the probe agent. */
export const DEFAULT_AGENT_IMAGE = 'docker.io/library/node:22-alpine';
/** The tools image: iputils ping (DF probes), a shell. The collector's image has it. */
export const DEFAULT_TOOLS_IMAGE = DEFAULT_IMAGE;
/** The echo server's port (TCP and UDP) in each echo pod. */
export const PROBE_ECHO_PORT = 8080;
export const ROLE_LABEL = 'netdoctor.io/role';
/** The exec that runs the probe agent: its source is in the container's environment. */
export const AGENT_COMMAND = ['node', '-e', 'eval(process.env.NETDOCTOR_AGENT)'] as const;
export const AGENT_CONTAINER = 'agent';
export const TOOLS_CONTAINER = 'tools';

export type ProbePodRole = 'echo-a' | 'echo-b' | 'host';
export const PROBE_POD_ROLES: readonly ProbePodRole[] = ['echo-a', 'echo-b', 'host'];

export interface ProbePodOptions extends PodOptions {
  agentImage: string;
}

/** One probe pod's spec. */
export function probePod(node: string, role: ProbePodRole, name: string, o: ProbePodOptions): KubeObject {
  const host = role === 'host';
  const sleep = ['sleep', String(o.lifetimeS)];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: o.namespace,
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY,
        'app.kubernetes.io/name': 'netdoctor-probe',
        [RUN_LABEL]: o.runId,
        [ROLE_LABEL]: role,
      },
      annotations: { [NODE_ANNOTATION]: node },
    },
    spec: {
      ...pinnedPodSpec(node, o.lifetimeS),
      ...(host ? { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' } : {}),
      containers: [
        {
          name: AGENT_CONTAINER,
          image: o.agentImage,
          imagePullPolicy: 'IfNotPresent',
          command: host ? sleep : ['node', '-e', ECHO_AGENT_SOURCE],
          env: [
            { name: 'NETDOCTOR_ECHO_NAME', value: name },
            { name: 'NETDOCTOR_ECHO_PORT', value: String(PROBE_ECHO_PORT) },
            { name: 'NETDOCTOR_AGENT', value: PROBE_AGENT_SOURCE },
          ],
          ...(host
            ? {}
            : {
                ports: [
                  { name: 'echo-tcp', containerPort: PROBE_ECHO_PORT, protocol: 'TCP' },
                  { name: 'echo-udp', containerPort: PROBE_ECHO_PORT, protocol: 'UDP' },
                ],
                readinessProbe: { tcpSocket: { port: PROBE_ECHO_PORT }, periodSeconds: 1, failureThreshold: 3 },
              }),
          resources: { requests: { cpu: '10m', memory: '48Mi' } },
        },
        {
          name: TOOLS_CONTAINER,
          image: o.image,
          imagePullPolicy: 'IfNotPresent',
          command: sleep,
          // ping needs a raw socket; some runtimes (CRI-O) drop NET_RAW by default.
          securityContext: { capabilities: { add: ['NET_RAW'] } },
          resources: { requests: { cpu: '5m', memory: '16Mi' } },
        },
      ],
    },
  };
}

/** The probe pods of one node, up and ready (with their pod IP), or why they are not. */
export interface NodeProbePods {
  node: string;
  pods: Partial<Record<ProbePodRole, { name: string; ip?: string }>>;
  error?: string;
}

/** Creates a node's three probe pods and waits until each runs and is ready; never throws. */
export async function startProbePods(
  api: KubeApi,
  node: string,
  index: number,
  o: ProbePodOptions & { tracker: PodTracker; timeoutMs: number; signal?: AbortSignal },
): Promise<NodeProbePods> {
  const out: NodeProbePods = { node, pods: {} };
  const timeout = AbortSignal.timeout(o.timeoutMs);
  const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
  const role = (r: ProbePodRole) => podName(o.runId, node, `${index}${r === 'host' ? 'h' : r.slice(-1)}`, 'probe');
  // Settled one by one: every create has landed or failed before the caller deletes what the tracker holds.
  const settled = await Promise.allSettled(
    PROBE_POD_ROLES.map(async (r) => {
      if (signal.aborted) throw new Error('aborted');
      const name = role(r);
      o.tracker.add(name);
      await api.request('POST', podPath(o.namespace), {
        body: probePod(node, r, name, o),
        what: { verb: 'create', resource: 'pods' },
      });
      const pod = await waitForPod(api, o.namespace, name, { signal, ready: true });
      const ip = (pod.status as { podIP?: string } | undefined)?.podIP;
      out.pods[r] = { name, ...(ip ? { ip } : {}) };
    }),
  );
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed)
    out.error = o.signal?.aborted
      ? 'interrupted'
      : timeout.aborted
        ? `the probe pods were not ready within ${Math.round(o.timeoutMs / 1000)} s`
        : (failed.reason as Error).message;
  return out;
}
