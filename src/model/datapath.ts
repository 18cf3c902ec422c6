/**
 * Datapaths netdoctor cannot see (DESIGN §3): Cilium's kube-proxy replacement, Calico's eBPF dataplane, kube-router's
 * service proxy. They load balance Services (and enforce policy) in eBPF or their own IPVS, leaving no kube-proxy rules,
 * so "no kube-proxy on this node" is normal under them. Detected from their configuration, never from absence.
 */
import type { ClusterModel } from './cluster.js';
import { flagValue } from './config-text.js';
import type { KubeObject } from './kube.js';
import { processesOf } from './processes.js';

export interface UnmodelledDatapath {
  kind: 'cilium-kube-proxy-replacement' | 'calico-ebpf' | 'kube-router-service-proxy';
  /** Human name for messages. */
  name: string;
  /** It load balances Services itself: kube-proxy is not needed (fully) on the nodes. */
  replacesKubeProxy: boolean;
  /** Where it was read, as evidence text. */
  source: string;
}

interface Container {
  name?: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
}

function podTemplateContainers(ds: KubeObject): Container[] {
  const spec = (ds.spec?.template as { spec?: { containers?: Container[]; initContainers?: Container[] } } | undefined)
    ?.spec;
  return [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])];
}

const TRUE = new Set(['true', 'strict', '1', 'yes']);

function ciliumKpr(cluster: ClusterModel): UnmodelledDatapath | undefined {
  const cm = cluster.configMap('cilium-config');
  const v = cm?.data?.['kube-proxy-replacement'];
  if (v !== undefined) {
    const on = TRUE.has(v.toLowerCase());
    // partial / probe (before Cilium 1.14) replace ClusterIP and NodePort handling on the nodes where they succeed.
    const partial = ['partial', 'probe'].includes(v.toLowerCase());
    if (on || partial)
      return {
        kind: 'cilium-kube-proxy-replacement',
        name: `Cilium kube-proxy replacement (${v})`,
        replacesKubeProxy: on,
        source: `ConfigMap ${cm?.metadata.namespace}/cilium-config: kube-proxy-replacement: ${v}`,
      };
    return undefined;
  }
  for (const ds of cluster.ofKind('DaemonSet')) {
    for (const c of podTemplateContainers(ds)) {
      const flag = flagValue([...(c.command ?? []), ...(c.args ?? [])], 'kube-proxy-replacement');
      if (flag && (TRUE.has(flag.toLowerCase()) || flag === 'partial'))
        return {
          kind: 'cilium-kube-proxy-replacement',
          name: `Cilium kube-proxy replacement (${flag})`,
          replacesKubeProxy: TRUE.has(flag.toLowerCase()),
          source: `DaemonSet ${ds.metadata.namespace}/${ds.metadata.name}: --kube-proxy-replacement=${flag}`,
        };
    }
  }
  for (const node of cluster.nodes)
    for (const p of processesOf(node, 'cilium-agent')) {
      const flag = flagValue(p.argv, 'kube-proxy-replacement');
      if (flag && TRUE.has(flag.toLowerCase()))
        return {
          kind: 'cilium-kube-proxy-replacement',
          name: `Cilium kube-proxy replacement (${flag})`,
          replacesKubeProxy: true,
          source: `${node.name} process ${p.pid}: ${p.text}`,
        };
    }
  return undefined;
}

function calicoEbpf(cluster: ClusterModel): UnmodelledDatapath | undefined {
  for (const ds of cluster.ofKind('DaemonSet'))
    for (const c of podTemplateContainers(ds))
      for (const e of c.env ?? [])
        if (e.name === 'FELIX_BPFENABLED' && TRUE.has(String(e.value ?? '').toLowerCase()))
          return {
            kind: 'calico-ebpf',
            name: 'Calico eBPF dataplane',
            replacesKubeProxy: true,
            source: `DaemonSet ${ds.metadata.namespace}/${ds.metadata.name}: FELIX_BPFENABLED=${e.value}`,
          };
  const cm = cluster.configMap('calico-config');
  for (const [key, value] of Object.entries(cm?.data ?? {}))
    if (/^(felix_?)?bpf_?enabled$/i.test(key) && TRUE.has(value.toLowerCase()))
      return {
        kind: 'calico-ebpf',
        name: 'Calico eBPF dataplane',
        replacesKubeProxy: true,
        source: `ConfigMap ${cm?.metadata.namespace}/calico-config: ${key}: ${value}`,
      };
  return undefined;
}

function kubeRouterProxy(cluster: ClusterModel): UnmodelledDatapath | undefined {
  for (const ds of cluster.ofKind('DaemonSet'))
    for (const c of podTemplateContainers(ds)) {
      const argv = [...(c.command ?? []), ...(c.args ?? [])];
      const flag = flagValue(argv, 'run-service-proxy') ?? (argv.includes('--run-service-proxy') ? 'true' : undefined);
      if (flag === 'true' && /kube-router/.test(`${c.image ?? ''} ${ds.metadata.name}`))
        return {
          kind: 'kube-router-service-proxy',
          name: "kube-router's service proxy",
          replacesKubeProxy: true,
          source: `DaemonSet ${ds.metadata.namespace}/${ds.metadata.name}: --run-service-proxy`,
        };
    }
  return undefined;
}

/** Every unmodelled datapath the bundle shows (usually none or one). */
export function unmodelledDatapaths(cluster: ClusterModel): UnmodelledDatapath[] {
  return [ciliumKpr(cluster), calicoEbpf(cluster), kubeRouterProxy(cluster)].filter(
    (d): d is UnmodelledDatapath => d !== undefined,
  );
}

/** The datapath that replaces kube-proxy, if any: checks about kube-proxy's own rules stay quiet under it. */
export function kubeProxyReplacement(cluster: ClusterModel): UnmodelledDatapath | undefined {
  return unmodelledDatapaths(cluster).find((d) => d.replacesKubeProxy);
}
