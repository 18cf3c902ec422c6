/** Kubernetes objects for the kube-proxy, IPVS and DNS check tests, shaped as `kubectl get -o json` prints them. */
import type { KubeObject } from '../../src/model/kube.js';
import type { Bundle } from '../../src/snapshot/bundle.js';

export function kubeProxyDs(image: string, opts: { args?: string[]; tolerations?: unknown[] } = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'kube-proxy', namespace: 'kube-system', labels: { 'k8s-app': 'kube-proxy' } },
    spec: {
      selector: { matchLabels: { 'k8s-app': 'kube-proxy' } },
      template: {
        metadata: { labels: { 'k8s-app': 'kube-proxy' } },
        spec: {
          containers: [
            {
              name: 'kube-proxy',
              image,
              command: ['/usr/local/bin/kube-proxy', '--config=/var/lib/kube-proxy/config.conf', ...(opts.args ?? [])],
            },
          ],
          ...(opts.tolerations ? { tolerations: opts.tolerations } : {}),
        },
      },
    },
  };
}

export function kubeProxyPod(name: string, node: string, image: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'kube-system',
      labels: { 'k8s-app': 'kube-proxy' },
      ownerReferences: [{ kind: 'DaemonSet', name: 'kube-proxy' }],
    },
    spec: { nodeName: node, containers: [{ name: 'kube-proxy', image }] },
    status: { phase: 'Running' },
  };
}

export function kubeProxyConfig(mode: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'kube-proxy', namespace: 'kube-system' },
    data: {
      'config.conf': `apiVersion: kubeproxy.config.k8s.io/v1alpha1\nipvs:\n  scheduler: ""\nkind: KubeProxyConfiguration\nmode: ${mode}\n`,
    },
  };
}

export function configMap(name: string, namespace: string, data: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data };
}

export function service(
  namespace: string,
  name: string,
  clusterIP: string,
  ports: { port: number; targetPort?: number | string; protocol?: string; name?: string }[],
  selector: Record<string, string> | undefined = { app: name },
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, ...(name === 'kube-dns' ? { labels: { 'k8s-app': 'kube-dns' } } : {}) },
    spec: {
      type: 'ClusterIP',
      clusterIP,
      clusterIPs: [clusterIP],
      ports: ports.map((p) => ({ protocol: 'TCP', targetPort: p.port, ...p })),
      ...(selector ? { selector } : {}),
    },
  };
}

/** An Endpoints object: ready and not-ready addresses, one subset with the given ports. */
export function endpoints(
  namespace: string,
  name: string,
  ready: string[],
  ports: { port: number; protocol?: string; name?: string }[],
  notReady: string[] = [],
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name, namespace },
    subsets:
      ready.length || notReady.length
        ? [
            {
              ...(ready.length ? { addresses: ready.map((ip) => ({ ip })) } : {}),
              ...(notReady.length ? { notReadyAddresses: notReady.map((ip) => ({ ip })) } : {}),
              ports: ports.map((p) => ({ protocol: 'TCP', ...p })),
            },
          ]
        : [],
  };
}

export function pod(
  namespace: string,
  name: string,
  node: string,
  ip: string,
  labels: Record<string, string>,
  ready = true,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { nodeName: node, containers: [{ name: 'c', image: 'x' }] },
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  };
}

/** Put files (`/etc/resolv.conf`, pods' resolv.conf, kubelet config) into a test bundle's node snapshot. */
export function withFiles(bundle: Bundle, node: string, files: Record<string, string>): Bundle {
  const snap = bundle.nodes.get(node);
  if (!snap) throw new Error(`no node ${node} in the test bundle`);
  for (const [path, content] of Object.entries(files)) snap.files[path] = { content };
  return bundle;
}
