/**
 * dns-fallback-nameserver: a pod's resolv.conf lists an outside nameserver after the cluster DNS (seed 000:
 * `nameserver 10.254.0.10`, then `8.8.8.8`, `8.8.4.4`). When the cluster DNS does not answer, the resolver waits its
 * timeout and asks the outside server: external names resolve seconds late, cluster names fail, and the broken cluster
 * DNS path stays hidden behind "DNS is slow".
 */
import { normalizeIp } from '../core/ip.js';
import type { Evidence } from '../core/vocabulary.js';
import { clusterDnsAddresses, podResolvConfs } from '../model/dns.js';
import type { KubeObject } from '../model/kube.js';
import { MAX_NAMESERVERS, RESOLV_DEFAULTS } from '../parse/resolv-conf.js';
import { defineCheck } from './define.js';

/** The nameservers a pod gets from its spec (kubelet: ClusterFirst puts clusterDNS first, dnsConfig's are appended). */
function specNameservers(pod: KubeObject, clusterDns: string[]): { servers: string[]; why: string } | undefined {
  const spec = pod.spec as
    | { dnsPolicy?: string; dnsConfig?: { nameservers?: string[] }; hostNetwork?: boolean }
    | undefined;
  const extra = (spec?.dnsConfig?.nameservers ?? []).map((s) => normalizeIp(s) ?? s);
  if (extra.length === 0) return undefined;
  const policy = spec?.dnsPolicy ?? 'ClusterFirst';
  if (policy === 'None') return { servers: extra, why: `dnsPolicy None, dnsConfig.nameservers [${extra.join(', ')}]` };
  if (policy === 'ClusterFirst' || (policy === 'ClusterFirstWithHostNet' && spec?.hostNetwork))
    return {
      servers: [...clusterDns, ...extra],
      why: `dnsPolicy ${policy} with dnsConfig.nameservers [${extra.join(', ')}], appended after the cluster DNS`,
    };
  return undefined;
}

/** The first used nameserver is the cluster DNS and a later used one is not: the outside fallbacks. */
function fallbacks(servers: string[], dns: Set<string>): string[] {
  const used = servers.slice(0, MAX_NAMESERVERS);
  if (!used[0] || !dns.has(used[0])) return [];
  return used.slice(1).filter((s) => !dns.has(s));
}

export default defineCheck({
  id: 'dns-fallback-nameserver',
  title: 'Pods fall back to an outside nameserver when the cluster DNS fails',
  severity: 'warning',
  seeds: ['000'],
  summary:
    "a pod's resolv.conf lists an outside nameserver after the cluster DNS: lookups silently take seconds when the cluster DNS fails",
  docs: `A pod's resolver (glibc) asks the nameservers of its resolv.conf in order and moves to the next only when one
does not answer (timeout, default ${RESOLV_DEFAULTS.timeout} s per try). When a pod lists the cluster DNS first and an
outside server after it (seed 000: 10.254.0.10, then 8.8.8.8 and 8.8.4.4), a cluster DNS that cannot be reached does
not look broken: external names still resolve, seconds late, from the outside server, and cluster names fail with
NXDOMAIN from a server that never knew them. The real fault (the path to the cluster DNS) goes unnoticed; seed 000's
author saw only "nslookup takes 2-3 seconds, Server: 8.8.8.8".

netdoctor reads the pods' resolv.conf files the container runtime keeps on each node, and the pods' dnsPolicy and
dnsConfig.nameservers (kubelet appends those after the cluster DNS under ClusterFirst), and reports outside servers
after the cluster DNS. Fix: let pods use only the cluster DNS (it forwards outside names itself), and fix the path to
it (see cluster-dns-unreachable, overlay-port-blocked). Confirm in a pod: \`cat /etc/resolv.conf\` and
\`nslookup kubernetes.default\` (the Server: line names who answered).`,
  run(cluster, { emit }) {
    const dns = clusterDnsAddresses(cluster);
    if (dns.size === 0) return;
    for (const node of cluster.nodes) {
      const bad = podResolvConfs(node)
        .map((f) => ({ f, outside: fallbacks(f.conf.nameservers, dns) }))
        .filter((x) => x.outside.length > 0);
      if (bad.length === 0) continue;
      const all = podResolvConfs(node).length;
      const outside = [...new Set(bad.flatMap((b) => b.outside))];
      const first = bad[0]?.f;
      const timeout = first?.conf.timeout ?? RESOLV_DEFAULTS.timeout;
      const evidence: Evidence[] = bad.slice(0, 5).map(({ f, outside: o }) => ({
        kind: 'file',
        node: node.name,
        path: f.path,
        text: f.conf.nameservers.map((n) => `nameserver ${n}`).join('; '),
        detail: `${f.path}: ${o.join(', ')} after the cluster DNS ${f.conf.nameservers[0]}`,
      }));
      if (bad.length > 5)
        evidence.push({ kind: 'file', node: node.name, text: `and ${bad.length - 5} more pods' resolv.conf` });
      emit({
        node: node.name,
        title: `${bad.length} of ${all} pods on ${node.name} fall back to ${outside.join(', ')} when the cluster DNS ${first?.conf.nameservers[0]} does not answer`,
        detail:
          `Their resolv.conf lists ${outside.join(', ')} after the cluster DNS. When the cluster DNS cannot be reached from ${node.name}, every lookup waits ${timeout} s, then gets its answer from ${outside.join(', ')}: ` +
          'outside names resolve seconds late, cluster names (*.svc) fail with NXDOMAIN, and the broken path to the cluster DNS looks like "slow DNS". ' +
          'Pods should list only the cluster DNS (it forwards outside names itself); if lookups are slow here, the cluster DNS is not reachable from this node.',
        evidence,
        fix: [
          `kubectl get pods -A --field-selector spec.nodeName=${node.name} -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} {.spec.dnsPolicy} {.spec.dnsConfig.nameservers}{"\\n"}{end}'  # which pods add the outside nameservers`,
          `nslookup kubernetes.default.svc ${first?.conf.nameservers[0]}  # from a pod on ${node.name}: the cluster DNS must answer itself`,
        ],
      });
    }
    // Pods whose spec asks for the fallback (whether or not their node's files were collected).
    const clusterList = [...dns];
    const byOwner = new Map<string, { pods: KubeObject[]; why: string; outside: string[] }>();
    for (const pod of cluster.ofKind('Pod')) {
      const s = specNameservers(pod, clusterList.slice(0, 1));
      if (!s) continue;
      const outside = fallbacks(s.servers, dns);
      if (outside.length === 0) continue;
      const owner = pod.metadata.ownerReferences?.[0];
      const key = `${pod.metadata.namespace}/${owner ? `${owner.kind}/${owner.name}` : `Pod/${pod.metadata.name}`}`;
      const g = byOwner.get(key) ?? { pods: [], why: s.why, outside };
      g.pods.push(pod);
      byOwner.set(key, g);
    }
    for (const [key, g] of byOwner) {
      const [ns, kind, name] = key.split('/') as [string, string, string];
      // A ReplicaSet's pods come from a Deployment: the name without the template hash.
      const target =
        kind === 'ReplicaSet' ? `deployment/${name.replace(/-[a-z0-9]{5,10}$/, '')}` : `${kind.toLowerCase()}/${name}`;
      emit({
        title: `${target} in ${ns} falls back to ${g.outside.join(', ')} after the cluster DNS`,
        detail: `Its pods (${g.pods.map((p) => p.metadata.name).join(', ')}) get ${g.why}. When the cluster DNS does not answer, lookups wait the resolver's timeout and go to ${g.outside.join(', ')}: slow outside names, failing cluster names, and a hidden DNS fault.`,
        evidence: g.pods.slice(0, 3).map((p) => ({
          kind: 'object',
          object: `pod/${ns}/${p.metadata.name}`,
          text: `Pod ${ns}/${p.metadata.name}: ${g.why}`,
        })),
        fix: target.startsWith('pod/')
          ? []
          : g.why.startsWith('dnsPolicy None')
            ? [
                `kubectl -n ${ns} patch ${target} --type=json -p '[{"op":"replace","path":"/spec/template/spec/dnsConfig/nameservers","value":["${clusterList[0]}"]}]'`,
              ]
            : [
                `kubectl -n ${ns} patch ${target} --type=json -p '[{"op":"remove","path":"/spec/template/spec/dnsConfig/nameservers"}]'`,
              ],
      });
    }
  },
});
