/**
 * conntrack-table-full: a node's connection-tracking table is (nearly) full, or has overflowed since boot: new
 * connections are dropped ("nf_conntrack: table full, dropping packet" in the kernel log), at random, for every pod.
 */
import type { Evidence } from '../core/vocabulary.js';
import { conntrackState } from '../model/conntrack.js';
import { defineCheck } from './define.js';

/** At this share of the limit the table counts as full: bursts fill the rest in seconds. */
export const FULL_RATIO = 0.9;

export default defineCheck({
  id: 'conntrack-table-full',
  title: "A node's conntrack table is full: new connections are dropped",
  severity: 'error',
  seeds: [],
  summary: 'nf_conntrack_count near nf_conntrack_max, or conntrack -S shows drops / early drops of new connections',
  docs: `Every connection through a Kubernetes node (Service DNAT, SNAT/masquerade, pod-to-pod through the bridge with
br_netfilter) takes an entry in the kernel's connection-tracking table. When nf_conntrack_count reaches
nf_conntrack_max, the kernel first evicts unreplied entries (\`early_drop\`), then drops the first packet of new
connections (\`drop\`) and logs "nf_conntrack: table full, dropping packet". Users see random timeouts and slow DNS on
busy nodes, worse at peaks; established connections keep working.

netdoctor reads nf_conntrack_count and nf_conntrack_max (/proc/sys/net/netfilter or sysctl -a) and the per-CPU
counters of \`conntrack -S\` (cumulative since boot). At ${FULL_RATIO * 100}% of the limit or more, or with drops counted,
it reports; early drops alone (the table was full at some point, but nothing was dropped) are a warning.

Confirm by hand: \`sysctl net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max\`, \`conntrack -S\`,
\`dmesg | grep 'table full'\`. Fix: raise the limit. kube-proxy sets nf_conntrack_max when it starts
(conntrack.maxPerCore x CPUs, at least conntrack.min), so set it in the kube-proxy configuration too, or a restart undoes
a sysctl; and find what opens so many connections (\`conntrack -L | awk '{print $1, $4}' | sort | uniq -c | sort -rn | head\`).`,
  run(cluster, { emit }) {
    for (const node of cluster.nodes) {
      const st = conntrackState(node);
      const drop = st.stats?.totals.drop ?? 0;
      const early = st.stats?.totals.early_drop ?? 0;
      const ratio = st.count !== undefined && st.max ? st.count / st.max : undefined;
      const full = ratio !== undefined && ratio >= FULL_RATIO;
      if (!full && drop === 0 && early === 0) continue;
      const evidence: Evidence[] = [];
      if (st.count !== undefined && st.max !== undefined)
        evidence.push({
          kind: 'sysctl',
          node: node.name,
          text: `nf_conntrack_count ${st.count} / nf_conntrack_max ${st.max} (${Math.round((ratio ?? 0) * 100)}%)`,
          detail: `${st.countSource}; ${st.maxSource}`,
        });
      if (st.stats && (drop || early))
        evidence.push({
          kind: 'conntrack-stats',
          node: node.name,
          text: `conntrack -S: drop=${drop} early_drop=${early} (summed over ${st.stats.cpus.length} CPUs, since boot)`,
          detail: st.stats.cpus
            .filter((c) => (c.counters.drop ?? 0) > 0 || (c.counters.early_drop ?? 0) > 0)
            .map((c) => `cpu=${c.cpu} drop=${c.counters.drop ?? 0} early_drop=${c.counters.early_drop ?? 0}`)
            .join(', '),
          source: { file: st.statsFile ?? '', line: st.stats.cpus[0]?.line ?? 0 },
        });
      const severity = full || drop > 0 ? 'error' : 'warning';
      const newMax = Math.max((st.max ?? 131072) * 2, 262144);
      emit({
        node: node.name,
        severity,
        title: full
          ? `${node.name}'s conntrack table is ${Math.round((ratio ?? 0) * 100)}% full (${st.count} of ${st.max})`
          : drop > 0
            ? `${node.name}'s conntrack table has overflowed: ${drop} new connections dropped since boot`
            : `${node.name}'s conntrack table has been full: ${early} entries evicted early since boot`,
        detail:
          `${full ? `The table holds ${st.count} of at most ${st.max} connections. ` : ''}` +
          'When it is full the kernel drops the first packet of new connections ("nf_conntrack: table full, dropping packet"): ' +
          'random connection timeouts and slow DNS for every pod on the node, at peaks, while established connections work. ' +
          (drop > 0
            ? `conntrack -S counts ${drop} such drops since boot. `
            : early > 0
              ? `conntrack -S counts ${early} early evictions (the table was full) but no drop. `
              : '') +
          'kube-proxy sets nf_conntrack_max when it starts (conntrack.maxPerCore × CPUs), so raise it in the kube-proxy configuration as well, or a restart undoes the sysctl.',
        evidence,
        fix: [
          `sysctl -w net.netfilter.nf_conntrack_max=${newMax}`,
          `echo 'net.netfilter.nf_conntrack_max = ${newMax}' > /etc/sysctl.d/90-conntrack.conf`,
          "kubectl -n kube-system edit configmap kube-proxy  # conntrack.maxPerCore: raise it (0 leaves the node's value alone), then restart kube-proxy",
        ],
      });
    }
  },
});
