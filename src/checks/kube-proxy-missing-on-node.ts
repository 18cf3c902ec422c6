/**
 * kube-proxy-missing-on-node: a node runs no kube-proxy (no pod of its DaemonSet, no process, no KUBE-SERVICES rules, no
 * IPVS services, no nft table), so nothing on it can reach a ClusterIP (seed 004: the master mcwk8s03 never got
 * kube-proxy; `curl 10.2.0.155:2024` timed out there and worked on the other nodes).
 */
import type { Evidence } from '../core/vocabulary.js';
import type { ClusterModel, NodeModel } from '../model/cluster.js';
import { kubeProxyReplacement } from '../model/datapath.js';
import { kubeProxyDaemonSets, kubeProxyPresence, type ProxyPresence } from '../model/kube-proxy.js';
import { processesOf } from '../model/processes.js';
import { defineCheck } from './define.js';

interface Taint {
  key: string;
  value?: string;
  effect: string;
}
interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}

function tolerates(tols: Toleration[], t: Taint): boolean {
  return tols.some(
    (x) =>
      (x.effect === undefined || x.effect === '' || x.effect === t.effect) &&
      (x.operator === 'Exists'
        ? x.key === undefined || x.key === '' || x.key === t.key
        : x.key === t.key && (x.value ?? '') === (t.value ?? '')),
  );
}

/** A ClusterIP service an operator would try from the node (kube-dns, then kubernetes, then any). */
function exampleService(cluster: ClusterModel): { ref: string; ip: string; port: number } | undefined {
  const services = cluster
    .ofKind('Service')
    .filter((s) => typeof s.spec?.clusterIP === 'string' && s.spec.clusterIP !== 'None' && s.spec.clusterIP !== '');
  const pick =
    services.find((s) => s.metadata.name === 'kube-dns') ??
    services.find((s) => s.metadata.name === 'kubernetes') ??
    services[0];
  if (!pick) return undefined;
  const port = ((pick.spec?.ports as { port?: number }[] | undefined) ?? [])[0]?.port ?? 80;
  return { ref: `${pick.metadata.namespace}/${pick.metadata.name}`, ip: pick.spec?.clusterIP as string, port };
}

function fixes(
  cluster: ClusterModel,
  node: NodeModel,
  sibling: NodeModel | undefined,
  blockingTaints: Taint[],
): string[] {
  const ds = kubeProxyDaemonSets(cluster)[0];
  if (ds) {
    const ns = ds.metadata.namespace ?? 'kube-system';
    if (blockingTaints.length)
      return [
        `kubectl -n ${ns} patch daemonset ${ds.metadata.name} --type=json -p '[{"op":"add","path":"/spec/template/spec/tolerations/-","value":{"operator":"Exists"}}]'`,
      ];
    return [
      `kubectl -n ${ns} get pods -o wide --field-selector spec.nodeName=${node.name}  # why the DaemonSet pod is not there`,
      `kubectl -n ${ns} rollout restart daemonset ${ds.metadata.name}`,
    ];
  }
  const proc = sibling ? processesOf(sibling, 'kube-proxy')[0] : undefined;
  return [
    `systemctl enable --now kube-proxy  # on ${node.name}, after installing the kube-proxy binary, unit and kubeconfig as on ${sibling?.name ?? 'the other nodes'}${proc ? ` (${proc.text})` : ''}`,
  ];
}

export default defineCheck({
  id: 'kube-proxy-missing-on-node',
  title: 'A node runs no kube-proxy: ClusterIPs do not work from it',
  severity: 'error',
  seeds: ['004'],
  summary: 'a node has no kube-proxy (pod, process, KUBE-SERVICES rules, IPVS services or nft table) while others do',
  docs: `A ClusterIP is not an address any host owns: kube-proxy on each node turns it into a pod address (DNAT rules in
iptables/nftables mode, IPVS virtual servers in ipvs mode). A node without kube-proxy sends ClusterIP packets to its
default gateway, where they die: \`curl <ClusterIP>\` times out on that node (and from its host-network pods) while it
works on the others. NodePorts on that node do not answer either. Seed 004's master ran no kube-proxy; its
\`ipvsadm -Ln\` was empty.

netdoctor looks for every sign of kube-proxy on each node: a pod of the kube-proxy DaemonSet scheduled there, a
kube-proxy process, rules in nat KUBE-SERVICES, IPVS virtual services, the nft table kube-proxy. A node with none of
them, while other nodes have them (or a kube-proxy DaemonSet exists), is reported. Under a datapath that replaces
kube-proxy (Cilium kube-proxy replacement, Calico eBPF, kube-router) the check stays quiet: no kube-proxy is normal there.

Confirm by hand on the node: \`iptables-save -t nat | grep -c KUBE-SERVICES\`, \`ipvsadm -Ln\`, \`pgrep -a kube-proxy\`.
Fix: run kube-proxy there (the DaemonSet's tolerations/nodeSelector, or the systemd unit on hand-made clusters).`,
  run(cluster, { emit }) {
    if (kubeProxyReplacement(cluster)) return;
    const presence = new Map<NodeModel, ProxyPresence>(cluster.nodes.map((n) => [n, kubeProxyPresence(cluster, n)]));
    const withProxy = cluster.nodes.filter((n) => presence.get(n)?.present === true);
    const ds = kubeProxyDaemonSets(cluster)[0];
    if (withProxy.length === 0 && !ds) return;
    const example = exampleService(cluster);
    for (const node of cluster.nodes) {
      const p = presence.get(node) as ProxyPresence;
      if (p.present !== false) continue;
      const sibling = withProxy[0];
      const taints = ((node.kube?.spec?.taints as Taint[] | undefined) ?? []).filter(
        (t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute',
      );
      const tols = ((ds?.spec?.template as { spec?: { tolerations?: Toleration[] } } | undefined)?.spec?.tolerations ??
        []) as Toleration[];
      const blocking = ds ? taints.filter((t) => !tolerates(tols, t)) : [];
      const evidence: Evidence[] = p.absent.map((text) => ({ kind: 'absent', node: node.name, text }));
      for (const t of blocking)
        evidence.push({
          kind: 'taint',
          node: node.name,
          text: `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`,
          detail: `DaemonSet ${ds?.metadata.namespace}/${ds?.metadata.name} does not tolerate this taint, so no kube-proxy pod is scheduled here`,
        });
      if (sibling)
        for (const text of (presence.get(sibling) as ProxyPresence).signs.slice(0, 3))
          evidence.push({
            kind: 'present',
            node: sibling.name,
            text,
            detail: `kube-proxy on ${sibling.name}, for comparison`,
          });
      emit({
        node: node.name,
        title: `${node.name} runs no kube-proxy: ClusterIPs${example ? ` such as ${example.ip}:${example.port} (${example.ref})` : ''} time out from it`,
        detail:
          `${node.name} has no kube-proxy: ${p.absent.join('; ')}. ` +
          `Without kube-proxy nothing on ${node.name} translates ClusterIPs to pod addresses, so connections from the node and its host-network pods to any ClusterIP leave through the default route and time out, and NodePorts on ${node.name} do not answer. ` +
          `${withProxy.length ? `${withProxy.map((n) => n.name).join(', ')} ${withProxy.length === 1 ? 'has' : 'have'} kube-proxy.` : `The DaemonSet ${ds?.metadata.namespace}/${ds?.metadata.name} should run one here.`}` +
          (blocking.length ? ` The node's taints keep the DaemonSet's pod away.` : ''),
        evidence,
        fix: fixes(cluster, node, sibling, blocking),
      });
    }
  },
});
