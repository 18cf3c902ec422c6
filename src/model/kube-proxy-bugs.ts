/**
 * kube-proxy versions with known networking bugs: data, one entry per bug, read by the `kube-proxy-known-bug` check.
 * To add one: the upstream issue, the affected patch ranges per minor line (first affected, first fixed), the mode it
 * needs (if any), what users see, and the upgrade or workaround.
 */
import type { ProxyMode } from './kube-proxy.js';

export interface AffectedRange {
  /** `1.13` */
  minor: string;
  /** First affected patch release of that line. */
  from: number;
  /** First fixed patch release; undefined when the line never got a fix. */
  fixed?: number;
}

export interface KnownProxyBug {
  /** `kubernetes#71071` */
  id: string;
  url: string;
  title: string;
  /** Only in this proxy mode. */
  mode?: ProxyMode;
  affected: AffectedRange[];
  /** What users see, for the finding's detail. */
  symptom: string;
  /** How to confirm it on a node. */
  confirm: string;
  /** Why and when to use the workaround (prose, for the detail). */
  workaround: string;
  /** The workaround as commands that run as they are (the check adds the upgrade command first). */
  workaroundCommands: string[];
}

export const KNOWN_PROXY_BUGS: readonly KnownProxyBug[] = [
  {
    id: 'kubernetes#71071',
    url: 'https://github.com/kubernetes/kubernetes/issues/71071',
    title: 'kube-proxy in IPVS mode hangs after a few hours (graceful termination deadlock)',
    mode: 'ipvs',
    affected: [
      { minor: '1.11', from: 5, fixed: 7 },
      { minor: '1.12', from: 2, fixed: 5 },
      { minor: '1.13', from: 0, fixed: 2 },
    ],
    symptom:
      'two goroutines of the IPVS graceful-termination code call libipvs at once and deadlock; kube-proxy stops syncing, ' +
      'so IPVS virtual servers keep stale real servers or none at all while the Endpoints are fine: some Services ' +
      'time out or are refused from some nodes while pod IPs answer (fixed by #72361, "Protect Netlink calls with a mutex")',
    confirm:
      'kubectl -n kube-system logs <kube-proxy pod> | tail  # repeats "graceful_termination.go:160] Trying to delete rs" and nothing else',
    workaround:
      'until kube-proxy is upgraded, run it in iptables mode (a restart of the kube-proxy pods resyncs IPVS at once, but the deadlock comes back)',
    workaroundCommands: [
      "kubectl -n kube-system get configmap kube-proxy -o yaml | sed 's/^\\( *\\)mode: .*/\\1mode: iptables/' | kubectl apply -f -",
      'kubectl -n kube-system delete pods -l k8s-app=kube-proxy  # the DaemonSet starts them again with the new mode',
      'ipvsadm --clear  # on each node, once kube-proxy runs in iptables mode',
    ],
  },
];

/** The bugs a version (in a mode, when known) is affected by. */
export function bugsAffecting(
  version: { major: number; minor: number; patch: number },
  mode: ProxyMode | undefined,
): { bug: KnownProxyBug; range: AffectedRange }[] {
  const line = `${version.major}.${version.minor}`;
  const out: { bug: KnownProxyBug; range: AffectedRange }[] = [];
  for (const bug of KNOWN_PROXY_BUGS) {
    if (bug.mode && mode && bug.mode !== mode) continue;
    const range = bug.affected.find((r) => r.minor === line);
    if (range && version.patch >= range.from && (range.fixed === undefined || version.patch < range.fixed))
      out.push({ bug, range });
  }
  return out;
}
