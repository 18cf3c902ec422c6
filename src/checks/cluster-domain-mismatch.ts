/**
 * cluster-domain-mismatch: the cluster's DNS domain is not what names use (seed 002: kubelet runs with
 * `cluster1.local`, the operator — and manifests — ask for `*.svc.cluster.local`), or kubelet, CoreDNS and the pods'
 * search lists disagree about it, so Service names do not resolve.
 */
import type { Evidence } from '../core/vocabulary.js';
import type { NodeModel } from '../model/cluster.js';
import { corednsZones, kubeletDns, podResolvConfs, searchDomain } from '../model/dns.js';
import type { KubeObject } from '../model/kube.js';
import { defineCheck } from './define.js';

const DEFAULT_DOMAIN = 'cluster.local';
/** `<name>.<ns>.svc.<domain>` in an object's text: the domain part. */
const SVC_NAME =
  /\b[a-z0-9]([-a-z0-9]*[a-z0-9])?\.[a-z0-9]([-a-z0-9]*[a-z0-9])?\.svc\.((?:[a-z0-9-]+\.)*[a-z0-9-]+)\b/g;

/** Service DNS names in an object (env values, args, ExternalName, ConfigMap data), with the domain they use. */
function namesIn(o: KubeObject): { name: string; domain: string }[] {
  const text =
    JSON.stringify(o.kind === 'ConfigMap' ? o.data : o.kind === 'Service' ? o.spec?.externalName : o.spec) ?? '';
  const out: { name: string; domain: string }[] = [];
  for (const m of text.matchAll(SVC_NAME)) out.push({ name: m[0], domain: (m[3] as string).replace(/\.$/, '') });
  return out;
}

const objRef = (o: KubeObject) =>
  `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

export default defineCheck({
  id: 'cluster-domain-mismatch',
  title: "Names use a cluster domain the cluster's DNS does not serve",
  severity: 'error',
  seeds: ['002'],
  summary:
    'names use cluster.local (or kubelets, CoreDNS and pods disagree) while the cluster domain is another, e.g. cluster1.local',
  docs: `Service names resolve under the cluster domain: \`<svc>.<ns>.svc.<domain>\`. kubelet gives it to pods
(clusterDomain in /var/lib/kubelet/config.yaml or --cluster-domain; it becomes the pods' search list
\`<ns>.svc.<domain> svc.<domain> <domain>\`), and CoreDNS answers for it (the zones of the \`kubernetes\` plugin in its
Corefile). Most clusters use cluster.local, and manifests, Helm values and people's fingers assume it. Seed 002's
cluster used cluster1.local: \`dig kubernetes.default.svc.cluster.local\` could never work there.

netdoctor reads the domain from every kubelet, from CoreDNS's Corefile and from the pods' resolv.conf search lists,
and looks for \`*.svc.<domain>\` names in the bundle's Pods, DaemonSets, Services (ExternalName) and networking
ConfigMaps. It reports names in another domain than the cluster's (error), kubelets or CoreDNS that disagree (error),
pods whose search list shows another domain than their kubelet (warning: they started before a change), and, as
info, a cluster domain that is not cluster.local, so that people who type cluster.local know why it fails.

Confirm in a pod: \`cat /etc/resolv.conf\` (search line) and \`nslookup kubernetes.default\` (short names use the search
list). Fix: use short names (\`<svc>.<ns>\` or \`<svc>.<ns>.svc\`), which work in any cluster domain, or the cluster's
own domain; make kubelet and CoreDNS agree.`,
  run(cluster, { emit }) {
    const kubelets = cluster.nodes
      .map((node) => ({ node, d: kubeletDns(node).clusterDomain }))
      .filter((x): x is { node: NodeModel; d: { value: string; source: string } } => x.d !== undefined);
    const coredns = corednsZones(cluster);
    const counts = new Map<string, number>();
    for (const k of kubelets) counts.set(k.d.value, (counts.get(k.d.value) ?? 0) + 1);
    const majority = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    // Without kubelet's configuration, the pods' search lists show the domain kubelet gave them.
    const searched = new Map<string, { node: NodeModel; path: string; n: number }>();
    for (const node of cluster.nodes)
      for (const f of podResolvConfs(node)) {
        const d = searchDomain(f.conf);
        if (!d) continue;
        const e = searched.get(d) ?? { node, path: f.path, n: 0 };
        e.n++;
        searched.set(d, e);
      }
    const bySearch = [...searched.entries()].sort((a, b) => b[1].n - a[1].n)[0];
    const fromSearch = majority === undefined && bySearch !== undefined;
    const domain = majority ?? bySearch?.[0] ?? (coredns?.zones.length === 1 ? coredns.zones[0] : undefined);
    if (!domain) return;
    const domainSource: Evidence[] = kubelets.length
      ? kubelets
          .filter((k) => k.d.value === domain)
          .slice(0, 2)
          .map((k) => ({ kind: 'config', node: k.node.name, text: k.d.source }))
      : fromSearch && bySearch
        ? [
            {
              kind: 'file',
              node: bySearch[1].node.name,
              path: bySearch[1].path,
              text: `search ${bySearch[0]} (${bySearch[1].n} pods' resolv.conf)`,
              detail: bySearch[1].path,
            },
          ]
        : coredns
          ? [{ kind: 'config', text: coredns.source }]
          : [];
    let serious = false;

    // kubelets that disagree with the others.
    for (const k of kubelets)
      if (k.d.value !== domain) {
        serious = true;
        emit({
          node: k.node.name,
          title: `kubelet on ${k.node.name} uses cluster domain ${k.d.value}, the other nodes ${domain}`,
          detail: `Pods on ${k.node.name} get the search list of ${k.d.value}, so short Service names resolve only if CoreDNS also answers for ${k.d.value}.`,
          evidence: [{ kind: 'config', node: k.node.name, text: k.d.source }, ...domainSource],
          fix: [
            `sed -i 's/^clusterDomain: .*/clusterDomain: ${domain}/' /var/lib/kubelet/config.yaml && systemctl restart kubelet  # on ${k.node.name}`,
          ],
        });
      }

    // CoreDNS does not answer for the domain kubelet gives pods.
    if (coredns?.zones.length && !coredns.zones.includes(domain)) {
      serious = true;
      emit({
        title: `CoreDNS answers for ${coredns.zones.join(', ')}, but kubelet gives pods the cluster domain ${domain}`,
        detail: `Pods search ${domain}; CoreDNS's kubernetes plugin serves ${coredns.zones.join(', ')} and forwards ${domain} names outside, where they fail: no Service name resolves in pods.`,
        evidence: [{ kind: 'config', text: coredns.source }, ...domainSource],
        fix: [
          `kubectl -n kube-system get configmap coredns -o yaml | sed 's/kubernetes ${coredns.zones[0]} /kubernetes ${domain} /' | kubectl apply -f -`,
        ],
      });
    }

    // Pods whose search list shows another domain than their kubelet's.
    for (const node of cluster.nodes) {
      const own = kubeletDns(node).clusterDomain?.value ?? domain;
      const odd = podResolvConfs(node).filter((f) => {
        const d = searchDomain(f.conf);
        return d !== undefined && d !== own;
      });
      if (odd.length === 0) continue;
      emit({
        node: node.name,
        severity: 'warning',
        title: `${odd.length} pods on ${node.name} search ${odd[0] ? searchDomain(odd[0].conf) : '?'}, kubelet's cluster domain is ${own}`,
        detail:
          "Their resolv.conf was written with another cluster domain (before kubelet's configuration changed): short Service names in them resolve in the old domain. Recreate them.",
        evidence: odd.slice(0, 3).map((f) => ({
          kind: 'file',
          node: node.name,
          path: f.path,
          text: `search ${f.conf.search.join(' ')}`,
          detail: f.path,
        })),
        fix: [],
      });
    }

    // Names written with another domain.
    const users = new Map<string, { o: KubeObject; names: string[] }>();
    for (const o of cluster.objects) {
      if (!['Pod', 'DaemonSet', 'Deployment', 'StatefulSet', 'Service', 'ConfigMap'].includes(o.kind)) continue;
      const wrong = namesIn(o).filter((n) => n.domain !== domain && !n.domain.endsWith(`.${domain}`));
      // Only domains that look like a cluster domain (cluster.local, cluster1.local...), not svc.example.com hosts.
      const clusterish = wrong.filter((n) => n.domain.endsWith('.local') || n.domain === DEFAULT_DOMAIN);
      if (clusterish.length) users.set(objRef(o), { o, names: [...new Set(clusterish.map((n) => n.name))] });
    }
    if (users.size) {
      serious = true;
      const all = [...users.values()];
      const used = [...new Set(all.flatMap((u) => u.names.map((n) => n.replace(/^.*?\.svc\./, ''))))];
      emit({
        title: `${all.length} object${all.length === 1 ? '' : 's'} use${all.length === 1 ? 's' : ''} names in ${used.join(', ')}, but the cluster domain is ${domain}`,
        detail: `Names like ${all[0]?.names[0]} do not resolve: CoreDNS answers for ${domain}. Use short names (<svc>.<ns> or <svc>.<ns>.svc), which work in any cluster domain, or ${domain}.`,
        evidence: [
          ...all
            .slice(0, 5)
            .map((u) => ({ kind: 'object', object: objRef(u.o), text: `${objRef(u.o)}: ${u.names.join(', ')}` })),
          ...domainSource,
        ],
        fix: all
          .filter((u) => u.o.kind !== 'Pod')
          .slice(0, 3)
          .map(
            (u) =>
              `kubectl ${u.o.metadata.namespace ? `-n ${u.o.metadata.namespace} ` : ''}get ${u.o.kind.toLowerCase()} ${u.o.metadata.name} -o yaml | sed 's/\\.svc\\.${used[0]?.replace(/\./g, '\\.')}/.svc.${domain}/g' | kubectl apply -f -`,
          ),
      });
    }

    if (!serious && domain !== DEFAULT_DOMAIN && (kubelets.length || fromSearch))
      emit({
        severity: 'info',
        title: `The cluster domain is ${domain}, not ${DEFAULT_DOMAIN}: names like kubernetes.default.svc.${DEFAULT_DOMAIN} do not resolve here`,
        detail: `kubelet gives pods the domain ${domain}${coredns ? ` and CoreDNS serves ${coredns.zones.join(', ')}` : ''}. Manifests, Helm values and hand-typed lookups (dig, nslookup) that assume ${DEFAULT_DOMAIN} fail; use kubernetes.default.svc.${domain} or short names.`,
        evidence: [...domainSource, ...(coredns ? [{ kind: 'config', text: coredns.source }] : [])],
        fix: [`nslookup kubernetes.default.svc.${domain}  # from a pod: the name in this cluster's domain`],
      });
  },
});
