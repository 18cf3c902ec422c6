/**
 * datapath-not-modelled: the cluster balances Services or enforces policy in a datapath netdoctor cannot see (Cilium's
 * kube-proxy replacement, Calico eBPF, kube-router's service proxy). Said once, as info, so a quiet report is not
 * read as "the datapath was checked"; the checks that would misfire under it (kube-proxy-missing-on-node,
 * ipvs-real-servers-mismatch) stay quiet.
 */
import { unmodelledDatapaths } from '../model/datapath.js';
import { defineCheck } from './define.js';

export default defineCheck({
  id: 'datapath-not-modelled',
  title: 'Part of the datapath runs in eBPF (or another proxy) netdoctor does not model',
  severity: 'info',
  seeds: [],
  summary:
    'Cilium kube-proxy replacement, Calico eBPF or kube-router service proxy detected: Service load balancing is not simulated',
  docs: `netdoctor simulates netfilter (iptables and nftables), IPVS, routing and the overlays. Cilium with kube-proxy
replacement, Calico's eBPF dataplane and kube-router's service proxy load balance Services (and Cilium and Calico enforce
policy) in eBPF programs or their own tables, which leave no kube-proxy rules to read. netdoctor detects them from their
configuration (cilium-config \`kube-proxy-replacement\`, the \`--kube-proxy-replacement\` flag, \`FELIX_BPFENABLED\` on
calico-node, kube-router's \`--run-service-proxy\`) and says so once. Checks about kube-proxy's own rules stay quiet under
them: "no kube-proxy on this node" is normal there.

Inspect those datapaths with their own tools: \`cilium-dbg service list\` and \`cilium-dbg monitor --type drop\`,
\`calico-node -bpf nat dump\`, \`ipvsadm -Ln\` for kube-router.`,
  run(cluster, { emit }) {
    const found = unmodelledDatapaths(cluster);
    if (found.length === 0) return;
    emit({
      title: `${found.map((d) => d.name).join(' and ')}: Service load balancing is not simulated`,
      detail:
        `The cluster runs ${found.map((d) => d.name).join(' and ')}. ${found.some((d) => d.replacesKubeProxy) ? 'Services are load balanced in eBPF (or by that proxy), not by kube-proxy rules, so' : 'Part of the Service handling happens in eBPF, so'} ` +
        'netdoctor does not simulate it: its traces stop at the Service address, and the kube-proxy checks are skipped. Netfilter, routing and overlay findings still apply.',
      evidence: found.map((d) => ({ kind: 'config', text: d.source, detail: d.name })),
      fix: [],
    });
  },
});
