/**
 * conntrack-insert-failed: `conntrack -S` counts insert_failed — packets dropped because two conntrack entries for the
 * same tuple raced (the UDP DNS race: glibc sends the A and AAAA queries from one socket at once, through kube-proxy's
 * DNAT; one of them is dropped and the lookup waits the resolver's 5-second timeout).
 */
import type { Evidence } from '../core/vocabulary.js';
import { conntrackState, kernelVersion } from '../model/conntrack.js';
import { podResolvConfs } from '../model/dns.js';
import { defineCheck } from './define.js';

const WORKAROUND_OPTIONS = ['single-request-reopen', 'single-request', 'use-vc'];

export default defineCheck({
  id: 'conntrack-insert-failed',
  title: 'conntrack insert races drop packets (the 5-second DNS lookups)',
  severity: 'warning',
  seeds: [],
  summary:
    'conntrack -S counts insert_failed: UDP packets of one socket race in conntrack and one is dropped (DNS lookups that take 5 s)',
  docs: `glibc's resolver sends the A and AAAA queries of a lookup from the same UDP socket at the same time. Both
packets go through kube-proxy's DNAT to the cluster DNS; the kernel creates a conntrack entry for each, and when both
try to insert the same tuple, the second insert fails and that packet is dropped (\`insert_failed\` in \`conntrack -S\`).
The resolver waits its timeout (5 s) and retries: lookups that sometimes take exactly 5 seconds (or 2.5, 10).
Kernels from 5.0 resolve most of these clashes (\`clash_resolve\`); with several DNS endpoints the race can still lose.

netdoctor sums insert_failed over the CPUs of each node (cumulative since boot) and reports any, with the kernel version
and whether the pods' resolv.conf files (when collected) already use a workaround option.

Confirm by hand: \`conntrack -S | grep -o 'insert_failed=[0-9]*'\` rising while \`time nslookup kubernetes.default\`
in a pod sometimes takes 5 s. Fix: \`options single-request-reopen\` (glibc; via the pod's dnsConfig), \`use-vc\` (TCP),
NodeLocal DNSCache (queries to a node-local address that is not DNATed), or a newer kernel. musl (Alpine) ignores
those options: NodeLocal DNSCache is the fix there.`,
  run(cluster, { emit }) {
    for (const node of cluster.nodes) {
      const st = conntrackState(node);
      const failed = st.stats?.totals.insert_failed ?? 0;
      if (!st.stats || failed === 0) continue;
      const kernel = kernelVersion(node);
      const evidence: Evidence[] = [
        {
          kind: 'conntrack-stats',
          node: node.name,
          text: `conntrack -S: insert_failed=${failed}${st.stats.totals.clash_resolve !== undefined ? ` clash_resolve=${st.stats.totals.clash_resolve}` : ''} (summed over ${st.stats.cpus.length} CPUs, since boot)`,
          detail: st.stats.cpus
            .filter((c) => (c.counters.insert_failed ?? 0) > 0)
            .map((c) => `cpu=${c.cpu} insert_failed=${c.counters.insert_failed}`)
            .join(', '),
          source: {
            file: st.statsFile ?? '',
            line: st.stats.cpus.find((c) => (c.counters.insert_failed ?? 0) > 0)?.line ?? 0,
          },
        },
      ];
      if (kernel)
        evidence.push({
          kind: 'kernel',
          node: node.name,
          text: `kernel ${kernel.text}`,
          detail:
            kernel.major < 5
              ? 'before 5.0: clashing UDP inserts are not resolved, every race drops a packet'
              : 'resolves most clashes; the race still drops when the two packets are DNATed to different DNS endpoints',
        });
      const confs = podResolvConfs(node);
      const withOption = confs.filter((c) => c.conf.flags.some((f) => WORKAROUND_OPTIONS.includes(f)));
      if (confs.length)
        evidence.push({
          kind: 'file',
          node: node.name,
          text: `${withOption.length} of ${confs.length} pods' resolv.conf use ${WORKAROUND_OPTIONS.join(' / ')}`,
          ...(confs[0] ? { detail: `e.g. ${confs[0].path}` } : {}),
        });
      emit({
        node: node.name,
        title: `${node.name}: ${failed} packets dropped by conntrack insert races (DNS lookups that take 5 s)`,
        detail:
          `conntrack -S on ${node.name} counts insert_failed=${failed}: packets dropped because two conntrack entries for the same tuple raced. ` +
          "The common cause is glibc's resolver sending the A and AAAA queries from one UDP socket at once through kube-proxy's DNAT to the cluster DNS: " +
          "one is dropped and the lookup waits 5 seconds. Use `options single-request-reopen` (glibc) or `use-vc` in the pods' dnsConfig, " +
          'or NodeLocal DNSCache (also the fix for musl/Alpine images)' +
          (kernel && kernel.major < 5 ? `, and move off kernel ${kernel.text} (5.0+ resolves most clashes)` : '') +
          '.',
        evidence,
        fix: [
          `kubectl patch deployment <name> -n <namespace> -p '{"spec":{"template":{"spec":{"dnsConfig":{"options":[{"name":"single-request-reopen"}]}}}}}'  # per affected workload`,
          'conntrack -S | grep -o "insert_failed=[0-9]*"  # on the node, again after the change: the counters stop rising',
        ],
      });
    }
  },
});
