/**
 * What the node collector runs and reads: one table, used to write the collector script and to name the records of a
 * snapshot. The ids are the keys of `NodeSnapshot.commands` (see `snapshot/schema.ts`).
 */

export interface CollectorCommand {
  /** The key in `NodeSnapshot.commands`. */
  id: string;
  /** The command line, word by word (plain words only: the script writes them without quoting). */
  argv: readonly string[];
}

export const COLLECTOR_COMMANDS: readonly CollectorCommand[] = [
  { id: 'iptables-nft-save', argv: ['iptables-nft-save'] },
  { id: 'ip6tables-nft-save', argv: ['ip6tables-nft-save'] },
  { id: 'iptables-legacy-save', argv: ['iptables-legacy-save'] },
  { id: 'ip6tables-legacy-save', argv: ['ip6tables-legacy-save'] },
  { id: 'nft-ruleset', argv: ['nft', '-j', 'list', 'ruleset'] },
  { id: 'ip-link', argv: ['ip', '-d', '-j', 'link', 'show'] },
  { id: 'ip-addr', argv: ['ip', '-j', 'addr', 'show'] },
  { id: 'ip-route', argv: ['ip', '-j', 'route', 'show', 'table', 'all'] },
  { id: 'ip6-route', argv: ['ip', '-j', '-6', 'route', 'show', 'table', 'all'] },
  { id: 'ip-rule', argv: ['ip', '-j', 'rule', 'show'] },
  { id: 'ip6-rule', argv: ['ip', '-j', '-6', 'rule', 'show'] },
  { id: 'ip-neigh', argv: ['ip', '-j', 'neigh', 'show'] },
  { id: 'bridge-fdb', argv: ['bridge', '-j', 'fdb', 'show'] },
  { id: 'ipvsadm-save', argv: ['ipvsadm', '-Sn'] },
  { id: 'ipvsadm-list', argv: ['ipvsadm', '-Ln'] },
  { id: 'ipset-save', argv: ['ipset', 'save'] },
  { id: 'sysctl', argv: ['sysctl', '-a'] },
  { id: 'conntrack-stats', argv: ['conntrack', '-S'] },
  { id: 'nmcli-dev', argv: ['nmcli', '-t', 'dev'] },
  { id: 'firewalld-state', argv: ['firewall-cmd', '--state'] },
  // Only the daemons whose flags matter, never every process: command lines can carry secrets into bug reports.
  {
    id: 'processes',
    argv: [
      'ps',
      '-o',
      'pid,args',
      '-C',
      'kube-proxy,kubelet,flanneld,calico-node,cilium-agent,NetworkManager,firewalld,containerd,dockerd',
    ],
  },
  { id: 'uname', argv: ['uname', '-a'] },
];

/** The command line of each id, as recorded in `CommandRecord.command`. */
export const COMMAND_LINES: ReadonlyMap<string, string> = new Map(
  COLLECTOR_COMMANDS.map((c) => [c.id, c.argv.join(' ')]),
);

/**
 * Files the collector reads. A pattern with `*` is expanded on the node and only the files it matches are recorded;
 * a plain path is always recorded, with its content or the reason it could not be read.
 */
export const COLLECTOR_FILES: readonly string[] = [
  '/run/flannel/subnet.env',
  '/etc/cni/net.d/*',
  '/etc/resolv.conf',
  // What kubelet hands pods when the node runs systemd-resolved (its stub resolver 127.0.0.53 is useless in a pod).
  '/run/systemd/resolve/resolv.conf',
  '/etc/NetworkManager/NetworkManager.conf',
  '/etc/NetworkManager/conf.d/*',
  // NetworkManager's packaged and per-boot snippets (Ubuntu ships unmanaged-devices there).
  '/usr/lib/NetworkManager/conf.d/*',
  '/run/NetworkManager/conf.d/*',
  // Pods' resolv.conf, where docker, containerd (CRI) and CRI-O keep them.
  '/var/lib/docker/containers/*/resolv.conf',
  '/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/*/resolv.conf',
  '/run/containers/storage/overlay-containers/*/userdata/resolv.conf',
  // kubelet's config file: clusterDomain and clusterDNS (seed 002's cluster1.local).
  '/var/lib/kubelet/config.yaml',
  '/proc/sys/net/netfilter/nf_conntrack_count',
  '/proc/sys/net/netfilter/nf_conntrack_max',
  // Loaded kernel modules: whether br_netfilter is loaded (absent on kernels without module support).
  '/proc/modules',
];
