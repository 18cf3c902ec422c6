/**
 * cluster-dns-unreachable: pods cannot get answers from the cluster DNS — its Service has no ready endpoint, kubelet
 * points pods at an address no Service holds, or the path from a node's pods to the DNS endpoints is blocked (traced
 * through every node's netfilter, routing and overlay with the trace engine). Seed 000: queries from slave-2's pods
 * to 10.254.0.10 died at the firewall, and pods fell back to 8.8.8.8.
 */
import type { Evidence } from '../core/vocabulary.js';
import { notReadyReasons, podInfo } from '../kube/objects.js';
import { resolveServiceInfo, serviceInfo } from '../kube/services.js';
import type { ClusterModel, NodeModel } from '../model/cluster.js';
import { kubeProxyReplacement } from '../model/datapath.js';
import { clusterDnsService, kubeletDns } from '../model/dns.js';
import { TraceEngine } from '../trace/engine.js';
import type { TraceBranch, TraceSource } from '../trace/types.js';
import { defineCheck } from './define.js';

/** The client a node's pods resolve from: a running pod of the node that is not a DNS server, else the node itself. */
function clientOn(cluster: ClusterModel, node: NodeModel, dnsPods: Set<string>): TraceSource {
  for (const o of cluster.ofKind('Pod')) {
    const p = podInfo(o);
    if (p.nodeName !== node.name || p.hostNetwork || !p.ip || p.phase !== 'Running') continue;
    if (dnsPods.has(`${p.namespace}/${p.name}`)) continue;
    return { kind: 'pod', ip: p.ip, namespace: p.namespace, name: p.name, node: node.name };
  }
  return { kind: 'node', node: node.name };
}

/** The DNS endpoint a branch went to: the trace's endpoint, else the DNAT/IPVS rewrite of the service address. */
function endpointOf(b: TraceBranch, serviceIp: string): string | undefined {
  if (b.endpoint) return b.endpoint.ip;
  for (const h of b.hops)
    for (const r of h.rewrites ?? []) {
      const m = /^(\S+?):\d+ → (\S+?):\d+$/.exec(r);
      if (m && m[1] === serviceIp) return m[2];
    }
  return undefined;
}

/** The branch died as an overlay's outer packet (encapsulated, not yet decapsulated): the overlay is cut there. */
function diesEncapsulated(b: TraceBranch): boolean {
  let outer = false;
  for (const h of b.hops) {
    if (h.kind === 'encap') outer = true;
    else if (h.kind === 'decap') outer = false;
    if (h.decisive) return outer;
  }
  return false;
}

const sourceText = (s: TraceSource) =>
  s.kind === 'pod' ? `pod ${s.namespace}/${s.name} (${s.ip})` : s.kind === 'node' ? `node ${s.node}` : s.ip;

export default defineCheck({
  id: 'cluster-dns-unreachable',
  title: 'Pods cannot reach the cluster DNS',
  severity: 'error',
  seeds: ['000', '002'],
  summary:
    'the cluster DNS Service has no ready endpoints, kubelet points at an address no Service holds, or the path from a node to the DNS pods is blocked',
  docs: `Pods resolve names through the cluster DNS: kubelet writes its address (clusterDNS, usually the ClusterIP of
kube-system/kube-dns) into every pod's resolv.conf, kube-proxy sends queries for it to a CoreDNS pod, and the overlay
carries them when that pod is on another node. When any link breaks, every lookup in the affected pods times out
(or, with an outside fallback nameserver, takes seconds and returns the wrong answer for cluster names).

netdoctor checks the links in order: the DNS Service has ready endpoints (else nothing can answer); every kubelet's
clusterDNS address is that Service's ClusterIP; and, from one pod on each node (the node itself when it hosts none),
a UDP query to the DNS Service's port 53 is traced across the cluster — kube-proxy's DNAT or IPVS choosing each DNS
endpoint in turn, routing, the overlay, and the firewalls of the nodes on the way. Every endpoint that a query cannot
reach is reported with the rule or route that stops it, on the node where it stops. Under a datapath netdoctor does
not model (Cilium kube-proxy replacement, Calico eBPF) the path is not traced.

Confirm in a pod: \`nslookup kubernetes.default <dns-ip>\`; on the nodes, \`tcpdump -ni any udp port 53\`.
Fix: the finding names the rule, route or missing endpoint; fix that.`,
  run(cluster, { emit }) {
    const svcObj = clusterDnsService(cluster);
    const kubelets = cluster.nodes.map((n) => ({ node: n, dns: kubeletDns(n).clusterDNS }));
    if (!svcObj) {
      const pointed = kubelets.filter((k) => k.dns?.values.length);
      if (pointed.length && cluster.ofKind('Service').length)
        emit({
          title: `kubelet points pods at ${[...new Set(pointed.flatMap((k) => k.dns?.values ?? []))].join(', ')}, which no Service holds`,
          detail:
            'No Service has that ClusterIP, so every DNS query from pods goes nowhere (the DNS add-on is missing, or was installed with another address).',
          evidence: pointed.slice(0, 3).map((k) => ({ kind: 'config', node: k.node.name, text: k.dns?.source ?? '' })),
          fix: ['kubectl -n kube-system get svc -l k8s-app=kube-dns -o wide  # the DNS Service and its ClusterIP'],
        });
      return;
    }
    const svc = serviceInfo(svcObj);
    const ref = `${svc.namespace}/${svc.name}`;
    const resolved = resolveServiceInfo(cluster, svc);
    const port =
      resolved.ports.find((p) => p.port === 53 && p.protocol === 'UDP') ??
      resolved.ports.find((p) => p.port === 53) ??
      resolved.ports[0];
    if (!port || !svc.clusterIP) return;

    // 1. Nothing can answer.
    const ready = port.endpoints.filter((e) => e.ready);
    if (ready.length === 0) {
      const pods = resolved.pods;
      const evidence: Evidence[] = [
        {
          kind: 'endpoints',
          object: `${resolved.endpointSource} ${ref}`,
          text: `${resolved.endpointSource === 'none' ? 'no Endpoints or EndpointSlice' : `${resolved.endpointSource} ${ref}`}: ${port.endpoints.length ? port.endpoints.map((e) => `${e.ip}:${e.port} (not ready)`).join(', ') : 'no addresses'}`,
        },
        ...pods.slice(0, 4).map((p) => ({
          kind: 'object',
          object: `pod/${p.namespace}/${p.name}`,
          node: p.nodeName,
          text: `Pod ${p.namespace}/${p.name}: ${notReadyReasons(p).join('; ') || 'ready'}`,
        })),
      ];
      emit({
        severity: 'critical',
        title: `The cluster DNS ${ref} (${svc.clusterIP}) has no ready endpoint: no lookup in any pod can succeed`,
        detail: `${pods.length ? `${pods.length} pods match its selector, none ready.` : 'No pod matches its selector.'} Every pod's first nameserver is ${svc.clusterIP}; queries to it are refused or time out, and names resolve only through outside fallback nameservers, if any.`,
        evidence,
        fix: [
          `kubectl -n ${svc.namespace} get pods -l ${Object.entries(svc.selector ?? { 'k8s-app': 'kube-dns' })
            .map(([k, v]) => `${k}=${v}`)
            .join(',')} -o wide`,
          `kubectl -n ${svc.namespace} rollout restart deployment coredns`,
        ],
      });
      return;
    }

    // 2. kubelets that hand pods another address.
    for (const k of kubelets) {
      if (!k.dns?.values.length || k.dns.values.some((v) => svc.clusterIPs.includes(v))) continue;
      emit({
        node: k.node.name,
        title: `kubelet on ${k.node.name} gives pods the DNS ${k.dns.values.join(', ')}, but the cluster DNS ${ref} is ${svc.clusterIP}`,
        detail: `Pods on ${k.node.name} send their queries to ${k.dns.values.join(', ')}, which is not the DNS Service's ClusterIP: lookups time out.`,
        evidence: [
          { kind: 'config', node: k.node.name, text: k.dns.source },
          { kind: 'object', object: `service/${ref}`, text: `Service ${ref} clusterIP ${svc.clusterIP}` },
        ],
        fix: [
          `sed -i '/^clusterDNS:/{n;s/^- .*/- ${svc.clusterIP}/}' /var/lib/kubelet/config.yaml && systemctl restart kubelet  # on ${k.node.name}; then recreate its pods`,
        ],
      });
    }

    // 3. The path, traced from each node.
    if (kubeProxyReplacement(cluster)) return;
    const dnsPods = new Set(port.endpoints.flatMap((e) => (e.pod ? [`${e.pod.namespace}/${e.pod.name}`] : [])));
    const engine = new TraceEngine(cluster);
    interface Blocked {
      from: TraceSource;
      fromNode: string;
      branch: TraceBranch;
    }
    const blocked: Blocked[] = [];
    const total = new Map<string, number>();
    for (const node of cluster.nodes) {
      if (!node.hasNetfilter) continue;
      const from = clientOn(cluster, node, dnsPods);
      let branches: TraceBranch[];
      try {
        branches = engine.trace({
          from,
          to: {
            kind: 'service',
            ip: svc.clusterIP,
            namespace: svc.namespace,
            name: svc.name,
            port: port.port,
            notes: [],
          },
          proto: port.protocol === 'TCP' ? 'tcp' : 'udp',
        }).branches;
      } catch {
        continue;
      }
      total.set(node.name, branches.length);
      for (const b of branches)
        if (b.verdict === 'dropped' || b.verdict === 'rejected') blocked.push({ from, fromNode: node.name, branch: b });
    }
    // One finding per place the queries die.
    const groups = new Map<string, Blocked[]>();
    for (const b of blocked) {
      const d = b.branch.decisive;
      const isRule = d?.kind === 'rule' || d?.kind === 'policy';
      const key = `${d?.node ?? b.fromNode}|${d?.kind}${isRule ? `|${d?.table}|${d?.chain}|${d?.index}|${d?.text}` : ''}`;
      groups.set(key, [...(groups.get(key) ?? []), b]);
    }
    for (const list of groups.values()) {
      const first = list[0] as Blocked;
      const d = first.branch.decisive;
      const where = d?.node ?? first.fromNode;
      const fromNodes = [...new Set(list.map((b) => b.fromNode))];
      const endpointName = (ip: string | undefined) => {
        if (!ip) return 'the DNS Service';
        const e = port.endpoints.find((x) => x.ip === ip);
        return e?.pod ? `${ip} (${e.pod.name} on ${e.pod.nodeName ?? e.nodeName ?? '?'})` : ip;
      };
      // Per client: which endpoints it cannot reach.
      const pairs = fromNodes.map((n) => {
        const mine = list.filter((b) => b.fromNode === n);
        const eps = [...new Set(mine.map((b) => endpointName(endpointOf(b.branch, svc.clusterIP as string))))];
        return `${sourceText(mine[0]?.from as TraceSource)} on ${n} → ${eps.join(', ')}`;
      });
      const allFail = fromNodes.every((n) => blocked.filter((b) => b.fromNode === n).length === total.get(n));
      const rule =
        d?.kind === 'rule'
          ? `${d.table}/${d.chain} #${d.index}`
          : d?.kind === 'policy'
            ? `the ${d.table}/${d.chain} policy`
            : d?.text
              ? `${d.kind} ${d.text.length > 70 ? `${d.text.slice(0, 67)}...` : d.text}`
              : (d?.kind ?? 'the path');
      const evidence: Evidence[] = [];
      if (d)
        evidence.push({
          kind: d.kind,
          node: d.node ?? where,
          text: d.text ?? '',
          ...(d.table ? { table: d.table } : {}),
          ...(d.chain ? { chain: d.chain } : {}),
          ...(d.index !== null ? { index: d.index } : {}),
          detail: `${first.branch.verdict} the query ${sourceText(first.from)} → ${svc.clusterIP}:${port.port}/${port.protocol.toLowerCase()}${endpointOf(first.branch, svc.clusterIP as string) ? ` → ${endpointOf(first.branch, svc.clusterIP as string)}` : ''}: ${first.branch.reason}`,
        });
      for (const b of list.slice(0, 4)) {
        const hop = b.branch.hops.find((h) => h.decisive);
        if (hop && b !== first)
          evidence.push({
            kind: 'trace',
            node: hop.node ?? where,
            text: `${sourceText(b.from)}: ${hop.packet}`,
            detail: hop.detail,
          });
      }
      // Cut overlay: the cause is the overlay (overlay-port-blocked names the rule); this is its effect on DNS.
      const overlayCut = list.every((b) => diesEncapsulated(b.branch));
      // A route, a sysctl or a missing kube-proxy stops the query: the checks that own those name the cause (as
      // errors); here it is what that cause does to DNS. A firewall rule or a NetworkPolicy on the query itself is
      // a cause no other check names.
      const effect = overlayCut || !['rule', 'policy', 'policy-object'].includes(d?.kind ?? '');
      emit({
        node: where,
        ...(effect ? { severity: 'warning' as const } : {}),
        title: `DNS queries from ${fromNodes.join(', ')} to ${ref} ${svc.clusterIP}:${port.port} ${first.branch.verdict === 'rejected' ? 'are rejected' : 'die'} on ${where} (${rule}): ${allFail ? 'every lookup fails' : 'lookups fail at random'}`,
        detail:
          `Traced to the cluster DNS, these queries (or their answers) get only as far as ${where}, where ${rule} ${first.branch.verdict === 'rejected' ? 'rejects' : 'drops'} them: ${pairs.join('; ')}. ` +
          (allFail
            ? 'Every DNS endpoint is cut off: lookups in those pods time out (or fall back to an outside nameserver, seconds late).'
            : 'Other DNS endpoints answer, so lookups fail at random: a query kube-proxy sends to a cut-off endpoint waits the resolver timeout (5 s), then is retried.') +
          (overlayCut
            ? ` They die as the overlay's encapsulated packets between nodes: the cause is the overlay being blocked on ${where} (see overlay-port-blocked); this is what it does to DNS.`
            : effect
              ? ` The ${d?.kind ?? 'path'} on ${where} that stops them is the cause; the finding about it (same node) says how to fix it.`
              : ''),
        evidence,
        fix: first.branch.fix ?? [],
      });
    }
  },
});
