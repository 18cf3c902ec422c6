/**
 * Cluster DNS as the bundle shows it: the DNS Service (kube-dns in kube-system, or the Service holding kubelet's
 * clusterDNS address), kubelet's clusterDomain and clusterDNS per node (/var/lib/kubelet/config.yaml, overridden by
 * the --cluster-domain / --cluster-dns flags, as kubelet does), CoreDNS's zones (the `kubernetes` plugin of the
 * Corefile in ConfigMap coredns), and the resolv.conf files of the pods on each node.
 */
import { normalizeIp } from '../core/ip.js';
import { parseResolvConf, type ResolvConf } from '../parse/resolv-conf.js';
import type { ClusterModel, NodeModel } from './cluster.js';
import { flagValue, topLevelList, topLevelScalar } from './config-text.js';
import type { KubeObject } from './kube.js';
import { processesOf } from './processes.js';

export const KUBELET_CONFIG = '/var/lib/kubelet/config.yaml';

/** Where container runtimes keep the resolv.conf they give a pod (the collector reads these patterns). */
const POD_RESOLV_PATTERNS = [
  /^\/var\/lib\/docker\/containers\/[^/]+\/resolv\.conf$/,
  /^\/var\/lib\/containerd\/io\.containerd\.grpc\.v1\.cri\/sandboxes\/[^/]+\/resolv\.conf$/,
  /^\/run\/containers\/storage\/overlay-containers\/[^/]+\/userdata\/resolv\.conf$/,
];

export interface PodResolvConf {
  /** The file on the node. */
  path: string;
  conf: ResolvConf;
  text: string;
}

export function isPodResolvConf(path: string): boolean {
  return POD_RESOLV_PATTERNS.some((p) => p.test(path));
}

/** The pods' resolv.conf files of a node's snapshot. */
export function podResolvConfs(node: NodeModel): PodResolvConf[] {
  const out: PodResolvConf[] = [];
  for (const path of Object.keys(node.snapshot.files ?? {}).sort()) {
    if (!isPodResolvConf(path)) continue;
    const text = node.fileContent(path);
    if (text === undefined) continue;
    out.push({ path, conf: parseResolvConf(text, `${node.file}#${path}`).conf, text });
  }
  return out;
}

export interface KubeletDns {
  clusterDomain?: { value: string; source: string };
  clusterDNS?: { values: string[]; source: string };
}

/** kubelet's DNS settings on a node: flags win over the config file, as in kubelet. */
export function kubeletDns(node: NodeModel): KubeletDns {
  const out: KubeletDns = {};
  const text = node.fileContent(KUBELET_CONFIG);
  if (text !== undefined) {
    const d = topLevelScalar(text, 'clusterDomain');
    if (d?.value)
      out.clusterDomain = {
        value: d.value.replace(/\.$/, ''),
        source: `${KUBELET_CONFIG} line ${d.line}: clusterDomain: ${d.value}`,
      };
    const s = topLevelList(text, 'clusterDNS');
    if (s?.values.length)
      out.clusterDNS = {
        values: s.values.map((v) => normalizeIp(v) ?? v),
        source: `${KUBELET_CONFIG} line ${s.line}: clusterDNS: ${s.values.join(', ')}`,
      };
  }
  for (const p of processesOf(node, 'kubelet')) {
    const d = flagValue(p.argv, 'cluster-domain');
    if (d)
      out.clusterDomain = { value: d.replace(/\.$/, ''), source: `kubelet process ${p.pid}: --cluster-domain=${d}` };
    const s = flagValue(p.argv, 'cluster-dns');
    if (s)
      out.clusterDNS = {
        values: s.split(',').map((v) => normalizeIp(v) ?? v),
        source: `kubelet process ${p.pid}: --cluster-dns=${s}`,
      };
  }
  return out;
}

/** The Service pods resolve through: the one with kubelet's clusterDNS address, else kube-system/kube-dns. */
export function clusterDnsService(cluster: ClusterModel): KubeObject | undefined {
  const services = cluster.ofKind('Service');
  const ips = new Set(cluster.nodes.flatMap((n) => kubeletDns(n).clusterDNS?.values ?? []));
  const byIp = services.find((s) => {
    const ip = typeof s.spec?.clusterIP === 'string' ? normalizeIp(s.spec.clusterIP) : undefined;
    return ip !== undefined && ips.has(ip);
  });
  return (
    byIp ??
    services.find((s) => s.metadata.namespace === 'kube-system' && s.metadata.name === 'kube-dns') ??
    services.find((s) => s.metadata.namespace === 'kube-system' && s.metadata.labels?.['k8s-app'] === 'kube-dns')
  );
}

/** Every address pods are told to use as the cluster DNS: kubelets' clusterDNS and the DNS Service's ClusterIPs. */
export function clusterDnsAddresses(cluster: ClusterModel): Set<string> {
  const out = new Set(cluster.nodes.flatMap((n) => kubeletDns(n).clusterDNS?.values ?? []));
  const svc = clusterDnsService(cluster);
  for (const ip of [svc?.spec?.clusterIP, ...((svc?.spec?.clusterIPs as unknown[] | undefined) ?? [])])
    if (typeof ip === 'string' && normalizeIp(ip)) out.add(normalizeIp(ip) as string);
  return out;
}

export interface CorednsZones {
  /** The zones of the `kubernetes` plugin (`cluster.local`), without reverse zones. */
  zones: string[];
  /** Evidence text: the Corefile line. */
  source: string;
}

/** The cluster domain(s) CoreDNS answers for: the zones of its `kubernetes` plugin. */
export function corednsZones(cluster: ClusterModel): CorednsZones | undefined {
  const cm = cluster.objects.find(
    (o) =>
      o.kind === 'ConfigMap' &&
      o.metadata.name === 'coredns' &&
      (o.metadata.namespace ?? 'kube-system') === 'kube-system',
  );
  const corefile = cm?.data?.Corefile;
  if (!corefile) return undefined;
  const lines = corefile.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*kubernetes\s+([^{#]*)/.exec(lines[i] as string);
    if (!m) continue;
    const zones = (m[1] as string)
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map((z) => z.replace(/\.$/, ''))
      .filter((z) => !/\.arpa$/.test(z));
    return { zones, source: `ConfigMap kube-system/coredns Corefile line ${i + 1}: ${(lines[i] as string).trim()}` };
  }
  return undefined;
}

/** The cluster domain a pod's search list shows: `<ns>.svc.<domain> svc.<domain> <domain>`. */
export function searchDomain(conf: ResolvConf): string | undefined {
  for (const s of conf.search) {
    const m = /^svc\.(.+)$/.exec(s);
    if (m) return (m[1] as string).replace(/\.$/, '');
  }
  return undefined;
}
