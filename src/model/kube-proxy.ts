/**
 * kube-proxy as the bundle shows it: which mode it runs in, which version, and whether it runs on a node at all —
 * from the kube-proxy ConfigMap (config.conf), its DaemonSet and pods, the nodes' `processes`, the Node objects'
 * `status.nodeInfo.kubeProxyVersion`, and what it leaves in the kernel (KUBE-SERVICES rules, IPVS services, the nft
 * table `kube-proxy`).
 */

import type { ClusterModel, NodeModel } from './cluster.js';
import { flagValue, topLevelScalar } from './config-text.js';
import { ipvsTable } from './ipvs.js';
import type { KubeObject } from './kube.js';
import { processesOf } from './processes.js';

export type ProxyMode = 'iptables' | 'ipvs' | 'nftables' | 'kernelspace' | 'userspace';

export interface ModeFact {
  mode: ProxyMode;
  /** Where it was read, as evidence text. */
  source: string;
  /** Configured (ConfigMap, flags) or observed in the kernel's state. */
  how: 'configured' | 'observed';
}

const MODES = new Set<ProxyMode>(['iptables', 'ipvs', 'nftables', 'kernelspace', 'userspace']);

function asMode(v: string | undefined): ProxyMode | undefined {
  if (v === undefined) return undefined;
  // An empty mode is the platform default: iptables on Linux.
  if (v === '') return 'iptables';
  return MODES.has(v as ProxyMode) ? (v as ProxyMode) : undefined;
}

export function isKubeProxyDaemonSet(o: KubeObject): boolean {
  return (
    o.kind === 'DaemonSet' &&
    (o.metadata.name === 'kube-proxy' ||
      o.metadata.labels?.['k8s-app'] === 'kube-proxy' ||
      o.metadata.labels?.component === 'kube-proxy')
  );
}

export function kubeProxyDaemonSets(cluster: ClusterModel): KubeObject[] {
  return cluster.objects.filter(isKubeProxyDaemonSet);
}

/** kube-proxy's pods: owned by its DaemonSet, or labelled / named as kubeadm and most installers do. */
export function kubeProxyPods(cluster: ClusterModel): KubeObject[] {
  const dsNames = new Set(kubeProxyDaemonSets(cluster).map((d) => d.metadata.name));
  return cluster.objects.filter(
    (o) =>
      o.kind === 'Pod' &&
      ((o.metadata.ownerReferences ?? []).some((r) => r.kind === 'DaemonSet' && dsNames.has(r.name)) ||
        o.metadata.labels?.['k8s-app'] === 'kube-proxy' ||
        o.metadata.labels?.component === 'kube-proxy' ||
        (o.metadata.namespace === 'kube-system' && /^kube-proxy-[a-z0-9]+$/.test(o.metadata.name))),
  );
}

function containers(
  o: KubeObject | undefined,
): { name?: string; image?: string; command?: string[]; args?: string[] }[] {
  const spec = (o?.kind === 'Pod' ? o.spec : (o?.spec?.template as { spec?: unknown } | undefined)?.spec) as
    | { containers?: unknown[] }
    | undefined;
  return (spec?.containers ?? []) as { name?: string; image?: string; command?: string[]; args?: string[] }[];
}

function kubeProxyContainer(o: KubeObject | undefined) {
  const cs = containers(o);
  return cs.find((c) => c.name === 'kube-proxy' || /kube-proxy/.test(c.image ?? '')) ?? cs[0];
}

/** The mode the cluster configures: the DaemonSet's `--proxy-mode` flag, else the ConfigMap's `mode`. */
export function configuredProxyMode(cluster: ClusterModel): ModeFact | undefined {
  for (const ds of kubeProxyDaemonSets(cluster)) {
    const c = kubeProxyContainer(ds);
    const flag = flagValue([...(c?.command ?? []), ...(c?.args ?? [])], 'proxy-mode');
    const mode = asMode(flag);
    if (mode)
      return {
        mode,
        how: 'configured',
        source: `DaemonSet ${ds.metadata.namespace}/${ds.metadata.name}: --proxy-mode=${flag}`,
      };
  }
  const cm = cluster.configMap('kube-proxy');
  for (const [key, text] of Object.entries(cm?.data ?? {})) {
    const v = topLevelScalar(text, 'mode');
    const mode = asMode(v?.value);
    if (v && mode)
      return {
        mode,
        how: 'configured',
        source: `ConfigMap ${cm?.metadata.namespace}/kube-proxy ${key} line ${v.line}: mode: ${v.value === '' ? '"" (iptables, the default)' : v.value}`,
      };
  }
  return undefined;
}

/** The mode on one node: its kube-proxy process's flag, else the configured mode, else what its kernel state shows. */
export function nodeProxyMode(cluster: ClusterModel, node: NodeModel): ModeFact | undefined {
  for (const p of processesOf(node, 'kube-proxy')) {
    const mode = asMode(flagValue(p.argv, 'proxy-mode'));
    if (mode) return { mode, how: 'configured', source: `${node.name} process ${p.pid}: ${p.text}` };
  }
  const configured = configuredProxyMode(cluster);
  if (configured) return configured;
  const ipvs = ipvsTable(node);
  if (ipvs && ipvs.services.length > 0)
    return { mode: 'ipvs', how: 'observed', source: `${node.name}: ${ipvs.services.length} IPVS virtual services` };
  if (hasKubeProxyNftTable(node))
    return { mode: 'nftables', how: 'observed', source: `${node.name}: nft table kube-proxy` };
  if (kubeServicesRules(node) > 0)
    return { mode: 'iptables', how: 'observed', source: `${node.name}: nat KUBE-SERVICES rules` };
  return undefined;
}

export interface ProxyVersion {
  /** As written (`v1.13.0`, `v1.12.2-eks-1`). */
  text: string;
  major: number;
  minor: number;
  patch: number;
  /** Where it was read: `DaemonSet kube-system/kube-proxy image k8s.gcr.io/kube-proxy:v1.13.0`. */
  source: string;
  /** The node it applies to, when read from a pod, a Node object or a process. */
  node?: string;
}

/** `v1.13.0`, `1.13.0`, `v1.12.2-eks-1`, `v1.11.5+k3s1` → numbers; undefined for `latest` and digests. */
export function parseKubeVersion(text: string): { major: number; minor: number; patch: number } | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+.].*)?$/.exec(text.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

/** The tag of an image reference (`registry:5000/kube-proxy:v1.13.0@sha256:...` → `v1.13.0`). */
export function imageTag(image: string): string | undefined {
  const noDigest = image.split('@')[0] as string;
  const last = noDigest.split('/').pop() ?? '';
  const i = last.indexOf(':');
  return i < 0 ? undefined : last.slice(i + 1);
}

/** Every kube-proxy version the bundle shows, with where it was read. */
export function kubeProxyVersions(cluster: ClusterModel): ProxyVersion[] {
  const out: ProxyVersion[] = [];
  const add = (text: string | undefined, source: string, node?: string) => {
    if (!text) return;
    const v = parseKubeVersion(text);
    if (v) out.push({ text, ...v, source, ...(node ? { node } : {}) });
  };
  for (const ds of kubeProxyDaemonSets(cluster)) {
    const image = kubeProxyContainer(ds)?.image;
    if (image) add(imageTag(image), `DaemonSet ${ds.metadata.namespace}/${ds.metadata.name} image ${image}`);
  }
  for (const pod of kubeProxyPods(cluster)) {
    const image = kubeProxyContainer(pod)?.image;
    const nodeName = (pod.spec as { nodeName?: string } | undefined)?.nodeName;
    if (image) add(imageTag(image), `Pod ${pod.metadata.namespace}/${pod.metadata.name} image ${image}`, nodeName);
  }
  for (const n of cluster.ofKind('Node')) {
    const v = (n.status?.nodeInfo as { kubeProxyVersion?: string } | undefined)?.kubeProxyVersion;
    add(v, `Node ${n.metadata.name} status.nodeInfo.kubeProxyVersion: ${v}`, n.metadata.name);
  }
  for (const node of cluster.nodes)
    for (const p of processesOf(node, 'kube-proxy')) {
      // A binary installed by hand is often kept under a versioned path (/opt/kubernetes/v1.13.0/bin/kube-proxy).
      const m = /\/v?(\d+\.\d+\.\d+)\//.exec(p.argv[0] ?? '');
      if (m) add(m[1], `${node.name} process ${p.pid}: ${p.argv[0]}`, node.name);
    }
  return out;
}

/** Rules in kube-proxy's nat KUBE-SERVICES chain on the node (any iptables backend, both families). */
export function kubeServicesRules(node: NodeModel): number {
  if (!node.hasNetfilter) return 0;
  let n = 0;
  for (const t of node.netfilter.ruleset.tables)
    if (t.backend !== 'nft' && t.name === 'nat') n += t.chains.get('KUBE-SERVICES')?.rules.length ?? 0;
  return n;
}

/** kube-proxy's nftables mode keeps its rules in `table ip kube-proxy` / `ip6 kube-proxy`. */
export function hasKubeProxyNftTable(node: NodeModel): boolean {
  if (!node.hasNetfilter) return false;
  return node.netfilter.ruleset.tables.some((t) => t.backend === 'nft' && t.name === 'kube-proxy');
}

export interface ProxyPresence {
  /** True when any sign of kube-proxy is found; false when none is and enough was collected to tell. */
  present: boolean | undefined;
  /** The signs found (evidence text). */
  signs: string[];
  /** What was looked at and found empty (evidence text). */
  absent: string[];
}

/** Whether kube-proxy runs (or ran and left its rules) on a node. */
export function kubeProxyPresence(cluster: ClusterModel, node: NodeModel): ProxyPresence {
  const signs: string[] = [];
  const absent: string[] = [];
  const pods = kubeProxyPods(cluster);
  const onNode = pods.filter((p) => (p.spec as { nodeName?: string } | undefined)?.nodeName === node.name);
  if (onNode.length) signs.push(...onNode.map((p) => `Pod ${p.metadata.namespace}/${p.metadata.name} on ${node.name}`));
  else if (pods.length || kubeProxyDaemonSets(cluster).length)
    absent.push(`no kube-proxy pod on ${node.name} (${pods.length} on other nodes)`);
  const procs = processesOf(node, 'kube-proxy');
  if (procs.length) signs.push(...procs.map((p) => `${node.name} process ${p.pid}: ${p.text}`));
  else if (node.output('processes') !== undefined) absent.push(`no kube-proxy process on ${node.name}`);
  if (node.hasNetfilter) {
    const rules = kubeServicesRules(node);
    if (rules > 0) signs.push(`${node.name}: ${rules} rules in nat KUBE-SERVICES`);
    else absent.push(`no rules in a nat KUBE-SERVICES chain on ${node.name}`);
    if (hasKubeProxyNftTable(node)) signs.push(`${node.name}: nft table kube-proxy`);
    else absent.push(`no nft table kube-proxy on ${node.name}`);
  }
  const ipvs = ipvsTable(node);
  if (ipvs && ipvs.services.length > 0) signs.push(`${node.name}: ${ipvs.services.length} IPVS virtual services`);
  else if (ipvs) absent.push(`IPVS table on ${node.name} is empty${ipvs.available ? '' : ` (${ipvs.error})`}`);
  const dataplaneSeen = node.hasNetfilter || ipvs !== undefined;
  return { present: signs.length > 0 ? true : dataplaneSeen ? false : undefined, signs, absent };
}
