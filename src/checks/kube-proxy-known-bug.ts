/**
 * kube-proxy-known-bug: the kube-proxy version the cluster runs has a known networking bug (seed 003: 1.13.0 in IPVS
 * mode, kubernetes#71071, stops syncing IPVS). The table of bugs is data in `model/kube-proxy-bugs.ts`.
 */
import type { Evidence } from '../core/vocabulary.js';
import type { ClusterModel } from '../model/cluster.js';
import { ipvsLine, ipvsTable } from '../model/ipvs.js';
import {
  configuredProxyMode,
  imageTag,
  kubeProxyDaemonSets,
  kubeProxyVersions,
  type ModeFact,
  nodeProxyMode,
  type ProxyVersion,
} from '../model/kube-proxy.js';
import { bugsAffecting } from '../model/kube-proxy-bugs.js';
import { defineCheck } from './define.js';

function clusterMode(cluster: ClusterModel): ModeFact | undefined {
  const configured = configuredProxyMode(cluster);
  if (configured) return configured;
  for (const node of cluster.nodes) {
    const m = nodeProxyMode(cluster, node);
    if (m) return m;
  }
  return undefined;
}

/** `kubectl set image` for the DaemonSet with the fixed tag, keeping registry and name. */
function upgradeCommands(cluster: ClusterModel, fixedTag: string, versions: ProxyVersion[]): string[] {
  const out: string[] = [];
  for (const ds of kubeProxyDaemonSets(cluster)) {
    const cs = ((ds.spec?.template as { spec?: { containers?: { name?: string; image?: string }[] } } | undefined)?.spec
      ?.containers ?? []) as { name?: string; image?: string }[];
    const c = cs.find((x) => x.name === 'kube-proxy' || /kube-proxy/.test(x.image ?? '')) ?? cs[0];
    const tag = c?.image ? imageTag(c.image) : undefined;
    if (!c?.image || !c.name || !tag) continue;
    const image = `${c.image.split('@')[0]?.slice(0, -tag.length)}${fixedTag}`;
    out.push(
      `kubectl -n ${ds.metadata.namespace ?? 'kube-system'} set image daemonset/${ds.metadata.name} ${c.name}=${image}`,
    );
  }
  if (out.length === 0) {
    const nodes = [...new Set(versions.map((v) => v.node).filter(Boolean))];
    out.push(
      `systemctl restart kube-proxy  # on ${nodes.length ? nodes.join(', ') : 'each node'}, after installing the kube-proxy ${fixedTag} binary`,
    );
  }
  return out;
}

export default defineCheck({
  id: 'kube-proxy-known-bug',
  title: 'kube-proxy runs a version with a known networking bug',
  severity: 'error',
  seeds: ['003'],
  summary:
    'the kube-proxy version (image tag, node info, binary path) is one with a known networking bug, e.g. kubernetes#71071 in IPVS mode',
  docs: `Some kube-proxy releases have bugs that break Services after a while, with nothing wrong in the objects.
The classic (seed 003) is kubernetes#71071: in IPVS mode, kube-proxy 1.11.5-1.11.6, 1.12.2-1.12.4 and 1.13.0-1.13.1
deadlock in the graceful-termination code; kube-proxy stops syncing, its log repeats "graceful_termination.go ...
Trying to delete rs", and IPVS virtual servers keep stale real servers or none at all. Some Services then fail from
some pods while the pods' own IPs answer.

netdoctor reads the version from the kube-proxy DaemonSet's and pods' image tags, the Nodes'
status.nodeInfo.kubeProxyVersion, and versioned binary paths in the nodes' process list; the mode from the
kube-proxy ConfigMap, the --proxy-mode flag, or the IPVS table. A bug that needs a mode the cluster does not run is not
reported; when the mode is unknown the finding is a warning.

Confirm by hand: \`kubectl -n kube-system get ds kube-proxy -o jsonpath='{..image}'\`, and the kube-proxy log.
Fix: upgrade to a fixed patch release of the same minor line (the finding names it); the workaround for #71071 is
iptables mode. The table of bugs lives in src/model/kube-proxy-bugs.ts.`,
  run(cluster, { emit }) {
    const versions = kubeProxyVersions(cluster);
    if (versions.length === 0) return;
    const mode = clusterMode(cluster);
    const byVersion = new Map<string, ProxyVersion[]>();
    for (const v of versions) {
      const key = `${v.major}.${v.minor}.${v.patch}`;
      byVersion.set(key, [...(byVersion.get(key) ?? []), v]);
    }
    for (const [key, seen] of byVersion) {
      const first = seen[0] as ProxyVersion;
      for (const { bug, range } of bugsAffecting(first, mode?.mode)) {
        const fixedTag = range.fixed !== undefined ? `v${range.minor}.${range.fixed}` : undefined;
        const fixedList = bug.affected
          .filter((r) => r.fixed !== undefined)
          .map((r) => `${r.minor}.${r.fixed}`)
          .join(', ');
        const affected = `kube-proxy ${key}: affected by ${bug.id} (${range.minor}.${range.from}${range.fixed !== undefined ? ` to ${range.minor}.${range.fixed - 1}` : ' and later'})`;
        // One line per kind of source: the DaemonSet, its pods, the Nodes, the processes.
        const evidence: Evidence[] = [];
        for (const kind of ['DaemonSet', 'Pod', 'Node', 'process'] as const) {
          const of = seen.filter((v) =>
            kind === 'process' ? / process \d+:/.test(v.source) : v.source.startsWith(`${kind} `),
          );
          if (of.length === 0) continue;
          if (of.length === 1 || kind === 'DaemonSet')
            for (const v of of)
              evidence.push({ kind: 'version', ...(v.node ? { node: v.node } : {}), text: v.source, detail: affected });
          else
            evidence.push({
              kind: 'version',
              text:
                kind === 'Pod'
                  ? `${of.length} kube-proxy pods (${of.map((v) => v.source.split(' ')[1]).join(', ')}) run ${first.text}`
                  : kind === 'Node'
                    ? `${of.length} Nodes (${of.map((v) => v.node).join(', ')}) report status.nodeInfo.kubeProxyVersion ${first.text}`
                    : `${of.length} kube-proxy processes (${of.map((v) => v.node).join(', ')}) run ${first.text}`,
              detail: affected,
            });
        }
        if (mode) evidence.push({ kind: 'config', text: mode.source, detail: `kube-proxy mode ${mode.mode}` });
        // The symptom, when the IPVS tables show it: virtual services without a real server.
        if (bug.mode === 'ipvs')
          for (const node of cluster.nodes) {
            const table = ipvsTable(node);
            for (const s of table?.services ?? [])
              if (s.realServers.length === 0)
                evidence.push({
                  kind: 'ipvs',
                  node: node.name,
                  text: ipvsLine(s),
                  detail: 'a virtual service without real servers: what a kube-proxy that stopped syncing leaves',
                  source: { file: table?.file ?? '', line: s.line },
                });
          }
        const modeKnown = mode !== undefined;
        emit({
          ...(modeKnown ? {} : { severity: 'warning' as const }),
          title: `kube-proxy ${first.text} has ${bug.id}: ${bug.title}`,
          detail:
            `kube-proxy ${key}${bug.mode ? (modeKnown ? ` runs in ${mode?.mode} mode and` : ` (the bug needs ${bug.mode} mode, which the bundle does not show)`) : ''} is affected by ${bug.id} (${bug.url}): ${bug.symptom}. ` +
            `Fixed in ${fixedList}. Confirm: ${bug.confirm}. Workaround: ${bug.workaround}.`,
          evidence,
          fix: [
            ...(fixedTag ? upgradeCommands(cluster, fixedTag, seen) : []),
            ...bug.workaroundCommands.map((c, i) =>
              i === 0 ? `${c}  # or, until you can upgrade: the workaround` : c,
            ),
          ],
        });
      }
    }
  },
});
