/**
 * Makes examples/seed-003-ipvs and its healthy twin examples/seed-003-ipvs-healthy from seed 003's own data (IPVS is
 * not in the lab's kernel, so this incident cannot be replayed in namespaces):
 *
 *   node --import tsx scripts/make-seed-003-ipvs.ts
 *
 * What comes from the field report, verbatim or converted:
 *   - pasted/ipvsadm.txt: `ipvsadm -Ln` exactly as the report printed it (calico-typha `TCP 10.108.62.55:5473 rr`
 *     with no real server);
 *   - pasted/ip-route.txt: the report's `route -n` as `ip route` text (Calico's blackhole for the node's own block,
 *     the cali* host routes, tunl0 routes to 10.130.29.81 and .82), plus the local table kube-proxy's ipvs mode makes
 *     (every ClusterIP of the IPVS table bound on kube-ipvs0);
 *   - pasted/ip-addr.json: the interfaces those routes name;
 *   - cluster.json: the Services of the IPVS table (ClusterIPs and ports as listed; the names of calico-typha, kube-dns
 *     and kubernetes as the report gives them, the others named for what their ports suggest), their Endpoints (the
 *     real servers of the table), the three calico-node pods, kube-proxy-cdsgl (the pod whose log the report shows),
 *     kube-proxy 1.13.0 in IPVS mode, and one calico-typha pod: the report says the Service's traffic had nowhere to
 *     go although the Service was in use (its `grep calico` output shows only calico-node; a typha replica on
 *     10.130.29.81 is what makes "no real server" a fault rather than an idle Service).
 * The node is 10.130.29.80 (its routes send 10.244.1.0/24 to .81 and 10.244.2.0/24 to .82); the other two masters
 * have no snapshot, as in the report. The healthy twin reverts the fault: kube-proxy 1.13.2 (the fix of
 * kubernetes#71071) and its synced table, with 10.130.29.81:5473 under the typha virtual server.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importPastedFiles } from '../src/collect/import.js';
import type { KubeList, KubeObject } from '../src/model/kube.js';
import type { NodeSnapshot } from '../src/snapshot/schema.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SEED_003_DIRS = { fault: 'examples/seed-003-ipvs', healthy: 'examples/seed-003-ipvs-healthy' } as const;
export type Seed003Variant = keyof typeof SEED_003_DIRS;

const NODES = [
  { name: 'master1', ip: '10.130.29.80', podCIDR: '10.244.0.0/24' },
  { name: 'master2', ip: '10.130.29.81', podCIDR: '10.244.1.0/24' },
  { name: 'master3', ip: '10.130.29.82', podCIDR: '10.244.2.0/24' },
];
const CREATED = '2018-12-29T03:12:00Z';
/** The last line of the kube-proxy log in the report. */
const COLLECTED = '2019-01-11T06:56:00Z';

function node(n: (typeof NODES)[number], proxyVersion: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: n.name,
      labels: { 'kubernetes.io/hostname': n.name, 'node-role.kubernetes.io/master': '' },
      annotations: { 'projectcalico.org/IPv4Address': `${n.ip}/24`, 'projectcalico.org/IPv4IPIPTunnelAddr': '' },
    },
    spec: { podCIDR: n.podCIDR },
    status: {
      addresses: [
        { type: 'InternalIP', address: n.ip },
        { type: 'Hostname', address: n.name },
      ],
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
      nodeInfo: { kubeletVersion: 'v1.13.0', kubeProxyVersion: proxyVersion, containerRuntimeVersion: 'docker://18.6.1' },
    },
  };
}

interface PodSpec {
  ns: string;
  name: string;
  node: string;
  ip: string;
  labels: Record<string, string>;
  image: string;
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  hostNetwork?: boolean;
  owner?: { kind: string; name: string };
  containers?: number;
}

function pod(p: PodSpec): KubeObject {
  const containers = Array.from({ length: p.containers ?? 1 }, (_, i) => ({
    name: i === 0 ? p.name.replace(/-[a-z0-9]+(-[a-z0-9]+)?$/, '') : `${p.name.split('-')[0]}-sidecar`,
    image: p.image,
    ...(i === 0 && p.ports ? { ports: p.ports.map((x) => ({ protocol: 'TCP', ...x })) } : {}),
  }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: p.name,
      namespace: p.ns,
      labels: p.labels,
      ...(p.owner ? { ownerReferences: [{ kind: p.owner.kind, name: p.owner.name }] } : {}),
    },
    spec: { nodeName: p.node, containers, ...(p.hostNetwork ? { hostNetwork: true } : {}) },
    status: {
      phase: 'Running',
      hostIP: NODES.find((n) => n.name === p.node)?.ip,
      podIP: p.ip,
      podIPs: [{ ip: p.ip }],
      conditions: [
        { type: 'Initialized', status: 'True' },
        { type: 'Ready', status: 'True' },
        { type: 'ContainersReady', status: 'True' },
        { type: 'PodScheduled', status: 'True' },
      ],
      containerStatuses: containers.map((c) => ({ name: c.name, ready: true, restartCount: 0, state: { running: { startedAt: CREATED } } })),
    },
  };
}

function service(
  ns: string,
  name: string,
  clusterIP: string,
  ports: { name?: string; port: number; targetPort: number | string; protocol?: string }[],
  selector?: Record<string, string>,
  labels?: Record<string, string>,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns, ...(labels ? { labels } : {}) },
    spec: {
      type: 'ClusterIP',
      clusterIP,
      ports: ports.map((p) => ({ protocol: 'TCP', ...p })),
      ...(selector ? { selector } : {}),
      sessionAffinity: 'None',
    },
  };
}

/** An Endpoints object (1.13 has no EndpointSlices) whose addresses point at the pods. */
function endpoints(
  ns: string,
  name: string,
  addresses: { ip: string; node: string; pod?: string }[],
  ports: { name?: string; port: number; protocol?: string }[],
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name, namespace: ns },
    subsets: [
      {
        addresses: addresses.map((a) => ({
          ip: a.ip,
          nodeName: a.node,
          ...(a.pod ? { targetRef: { kind: 'Pod', namespace: ns, name: a.pod } } : {}),
        })),
        ports: ports.map((p) => ({ protocol: 'TCP', ...p })),
      },
    ],
  };
}

export function seed003Cluster(variant: Seed003Variant): KubeList {
  const proxyVersion = variant === 'fault' ? 'v1.13.0' : 'v1.13.2';
  const proxyImage = `k8s.gcr.io/kube-proxy:${proxyVersion}`;
  const items: KubeObject[] = NODES.map((n) => node(n, proxyVersion));
  const proxyPods = ['kube-proxy-cdsgl', 'kube-proxy-8xk2v', 'kube-proxy-q7w4n'];
  const calicoPods = ['calico-node-ftrks', 'calico-node-gvtsp', 'calico-node-v6cx4'];
  NODES.forEach((n, i) => {
    items.push(
      pod({
        ns: 'kube-system',
        name: proxyPods[i] as string,
        node: n.name,
        ip: n.ip,
        labels: { 'k8s-app': 'kube-proxy' },
        image: proxyImage,
        hostNetwork: true,
        owner: { kind: 'DaemonSet', name: 'kube-proxy' },
      }),
      pod({
        ns: 'kube-system',
        name: calicoPods[i] as string,
        node: n.name,
        ip: n.ip,
        labels: { 'k8s-app': 'calico-node' },
        image: 'quay.io/calico/node:v3.3.2',
        hostNetwork: true,
        owner: { kind: 'DaemonSet', name: 'calico-node' },
        containers: 2,
      }),
      pod({
        ns: 'ingress-nginx',
        name: `nginx-ingress-controller-${['m4x2k', 'p9s7d', 'z2c8f'][i]}`,
        node: n.name,
        ip: n.ip,
        labels: { app: 'ingress-nginx' },
        image: 'quay.io/kubernetes-ingress-controller/nginx-ingress-controller:0.21.0',
        hostNetwork: true,
        ports: [{ name: 'http', containerPort: 8080 }],
        owner: { kind: 'DaemonSet', name: 'nginx-ingress-controller' },
      }),
    );
  });
  const coredns = ['coredns-86c58d9df4-5lqzt', 'coredns-86c58d9df4-tsv9w'];
  ['10.244.0.137', '10.244.0.138'].forEach((ip, i) =>
    items.push(
      pod({
        ns: 'kube-system',
        name: coredns[i] as string,
        node: 'master1',
        ip,
        labels: { 'k8s-app': 'kube-dns' },
        image: 'k8s.gcr.io/coredns:1.2.6',
        ports: [
          { name: 'dns', containerPort: 53, protocol: 'UDP' },
          { name: 'dns-tcp', containerPort: 53 },
          { name: 'metrics', containerPort: 9153 },
        ],
        owner: { kind: 'ReplicaSet', name: 'coredns-86c58d9df4' },
      }),
    ),
  );
  items.push(
    pod({
      ns: 'kube-system',
      name: 'metrics-server-68d85f76bb-wq6hm',
      node: 'master1',
      ip: '10.244.0.140',
      labels: { 'k8s-app': 'metrics-server' },
      image: 'k8s.gcr.io/metrics-server-amd64:v0.3.1',
      ports: [{ name: 'main-port', containerPort: 443 }],
      owner: { kind: 'ReplicaSet', name: 'metrics-server-68d85f76bb' },
    }),
    pod({
      ns: 'kube-system',
      name: 'kubernetes-dashboard-57df4db6b-7n2rd',
      node: 'master2',
      ip: '10.244.1.30',
      labels: { 'k8s-app': 'kubernetes-dashboard' },
      image: 'k8s.gcr.io/kubernetes-dashboard-amd64:v1.10.1',
      ports: [{ containerPort: 8443 }],
      owner: { kind: 'ReplicaSet', name: 'kubernetes-dashboard-57df4db6b' },
    }),
    pod({
      ns: 'kube-system',
      name: 'calico-typha-5b8c6fdd5d-k2x9p',
      node: 'master2',
      ip: '10.130.29.81',
      labels: { 'k8s-app': 'calico-typha' },
      image: 'quay.io/calico/typha:v3.3.2',
      hostNetwork: true,
      ports: [{ name: 'calico-typha', containerPort: 5473 }],
      owner: { kind: 'ReplicaSet', name: 'calico-typha-5b8c6fdd5d' },
    }),
  );
  const masters = NODES.map((n) => ({ ip: n.ip, node: n.name }));
  items.push(
    service('default', 'kubernetes', '10.96.0.1', [{ name: 'https', port: 443, targetPort: 6443 }], undefined, {
      component: 'apiserver',
      provider: 'kubernetes',
    }),
    endpoints('default', 'kubernetes', masters, [{ name: 'https', port: 6443 }]),
    service(
      'kube-system',
      'kube-dns',
      '10.96.0.10',
      [
        { name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, targetPort: 53 },
      ],
      { 'k8s-app': 'kube-dns' },
      { 'k8s-app': 'kube-dns' },
    ),
    endpoints(
      'kube-system',
      'kube-dns',
      coredns.map((p, i) => ({ ip: `10.244.0.${137 + i}`, node: 'master1', pod: p })),
      [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53 },
      ],
    ),
    service('ingress-nginx', 'ingress-nginx', '10.99.182.13', [{ name: 'http', port: 80, targetPort: 8080 }], {
      app: 'ingress-nginx',
    }),
    endpoints(
      'ingress-nginx',
      'ingress-nginx',
      masters.map((m, i) => ({ ...m, pod: `nginx-ingress-controller-${['m4x2k', 'p9s7d', 'z2c8f'][i]}` })),
      [{ name: 'http', port: 8080 }],
    ),
    service('kube-system', 'kubernetes-dashboard', '10.99.216.249', [{ port: 443, targetPort: 8443 }], {
      'k8s-app': 'kubernetes-dashboard',
    }),
    endpoints(
      'kube-system',
      'kubernetes-dashboard',
      [{ ip: '10.244.1.30', node: 'master2', pod: 'kubernetes-dashboard-57df4db6b-7n2rd' }],
      [{ port: 8443 }],
    ),
    service('kube-system', 'metrics-server', '10.102.174.22', [{ port: 443, targetPort: 'main-port' }], {
      'k8s-app': 'metrics-server',
    }),
    endpoints(
      'kube-system',
      'metrics-server',
      [{ ip: '10.244.0.140', node: 'master1', pod: 'metrics-server-68d85f76bb-wq6hm' }],
      [{ port: 443 }],
    ),
    service(
      'kube-system',
      'calico-typha',
      '10.108.62.55',
      [{ name: 'calico-typha', port: 5473, targetPort: 'calico-typha' }],
      { 'k8s-app': 'calico-typha' },
      { 'k8s-app': 'calico-typha' },
    ),
    endpoints(
      'kube-system',
      'calico-typha',
      [{ ip: '10.130.29.81', node: 'master2', pod: 'calico-typha-5b8c6fdd5d-k2x9p' }],
      [{ name: 'calico-typha', port: 5473 }],
    ),
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'kube-proxy', namespace: 'kube-system', labels: { 'k8s-app': 'kube-proxy' } },
      spec: {
        selector: { matchLabels: { 'k8s-app': 'kube-proxy' } },
        template: {
          metadata: { labels: { 'k8s-app': 'kube-proxy' } },
          spec: {
            hostNetwork: true,
            containers: [
              {
                name: 'kube-proxy',
                image: proxyImage,
                command: ['/usr/local/bin/kube-proxy', '--config=/var/lib/kube-proxy/config.conf', '--hostname-override=$(NODE_NAME)'],
              },
            ],
            tolerations: [{ key: 'CriticalAddonsOnly', operator: 'Exists' }, { operator: 'Exists' }],
          },
        },
      },
      status: { desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 3 },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'calico-node', namespace: 'kube-system', labels: { 'k8s-app': 'calico-node' } },
      spec: {
        selector: { matchLabels: { 'k8s-app': 'calico-node' } },
        template: {
          metadata: { labels: { 'k8s-app': 'calico-node' } },
          spec: {
            hostNetwork: true,
            containers: [
              {
                name: 'calico-node',
                image: 'quay.io/calico/node:v3.3.2',
                env: [
                  { name: 'CALICO_IPV4POOL_CIDR', value: '10.244.0.0/16' },
                  { name: 'CALICO_IPV4POOL_IPIP', value: 'Always' },
                  { name: 'FELIX_IPINIPMTU', value: '1440' },
                  { name: 'FELIX_TYPHAK8SSERVICENAME', value: 'calico-typha' },
                ],
              },
            ],
          },
        },
      },
      status: { desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 3 },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kube-proxy', namespace: 'kube-system', labels: { app: 'kube-proxy' } },
      data: {
        'config.conf': [
          'apiVersion: kubeproxy.config.k8s.io/v1alpha1',
          'bindAddress: 0.0.0.0',
          'clusterCIDR: 10.244.0.0/16',
          'ipvs:',
          '  excludeCIDRs: null',
          '  minSyncPeriod: 0s',
          '  scheduler: ""',
          '  syncPeriod: 30s',
          'kind: KubeProxyConfiguration',
          'mode: "ipvs"',
          '',
        ].join('\n'),
      },
    },
  );
  return { apiVersion: 'v1', kind: 'List', items };
}

/** master1's snapshot, from the pasted files of the variant (as `netdoctor bundle import` makes it). */
export function seed003Node(variant: Seed003Variant): NodeSnapshot {
  const r = importPastedFiles(join(root, SEED_003_DIRS[variant], 'pasted'), 'master1');
  if (r.skipped.length) throw new Error(`pasted files left out: ${JSON.stringify(r.skipped)}`);
  return { ...r.snapshot, collectedAt: COLLECTED };
}

export function writeSeed003(variant: Seed003Variant): void {
  const dir = join(root, SEED_003_DIRS[variant]);
  mkdirSync(join(dir, 'nodes'), { recursive: true });
  writeFileSync(join(dir, 'cluster.json'), `${JSON.stringify(seed003Cluster(variant), null, 2)}\n`);
  writeFileSync(join(dir, 'nodes', 'master1.json'), `${JSON.stringify(seed003Node(variant), null, 2)}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const v of ['fault', 'healthy'] as const) {
    writeSeed003(v);
    process.stderr.write(`wrote ${SEED_003_DIRS[v]}\n`);
  }
}
