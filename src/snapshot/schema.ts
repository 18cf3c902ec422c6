/**
 * The snapshot is the contract between collection and analysis (DESIGN §2). Collection is dumb: a node snapshot holds
 * the verbatim stdout, stderr and exit code of each command the collector ran, and the verbatim content of each file it
 * read. Parsing lives on the analysis side, so a better parser improves old bundles.
 *
 * A bundle is a directory:
 *   cluster.json          a Kubernetes `List` (nodes, pods, services, endpoints and/or endpointslices,
 *                         networkpolicies, daemonsets, and only the named networking ConfigMaps)
 *   nodes/<node>.json     one NodeSnapshot per node
 *   etcd/subnets.json     optional: flannel leases read from etcd (`/coreos.com/network/subnets/*`)
 */

export const NODE_SNAPSHOT_SCHEMA = 1;

/** What one command left behind. A tool that is not installed is a fact (`missing: true`), not a failure. */
export interface CommandRecord {
  /** The command line as run. */
  command: string;
  stdout: string;
  stderr: string;
  /** Exit code; 127 with `missing: true` when the tool is not there. */
  exitCode: number;
  missing?: boolean;
  /** When stdout was not valid UTF-8 it is kept as base64 here (and `stdout` is empty). */
  stdoutBase64?: string;
}

/** What reading one file gave: its content, or why it could not be read. */
export interface FileRecord {
  content?: string;
  /** When the file was not valid UTF-8 its bytes are kept as base64 here (and `content` is absent). */
  contentBase64?: string;
  /** `missing`, `permission denied`, ... */
  error?: string;
}

export interface NodeSnapshot {
  schemaVersion: typeof NODE_SNAPSHOT_SCHEMA;
  kind: 'NodeSnapshot';
  /** The Kubernetes node name (defaults to the hostname). */
  node: string;
  collectedAt: string;
  collector: {
    version: string;
    /** local, netns, ssh, pod, import (made from pasted files by `bundle import`). */
    transport: 'local' | 'netns' | 'ssh' | 'pod' | 'import';
    /** The namespace, host or pod it ran in, when not local. */
    target?: string;
  };
  /**
   * Command outputs by id. The ids the analysis reads (a collector may add more):
   *   iptables-nft-save, ip6tables-nft-save, iptables-legacy-save, ip6tables-legacy-save   (`-c` not used)
   *   nft-ruleset        nft -j list ruleset
   *   ip-link            ip -d -j link show
   *   ip-addr            ip -j addr show
   *   ip-route, ip6-route  ip -j [-6] route show table all
   *   ip-rule, ip6-rule  ip -j [-6] rule show
   *   ip-neigh           ip -j neigh show
   *   bridge-fdb         bridge -j fdb show
   *   ipvsadm-save       ipvsadm -Sn        ipvsadm-list   ipvsadm -Ln
   *   ipset-save         ipset save
   *   sysctl             sysctl -a
   *   conntrack-stats    conntrack -S
   *   nmcli-dev          nmcli -t dev       firewalld-state  firewall-cmd --state
   *   processes          ps -o pid,args -C kube-proxy,kubelet,flanneld,... (their flags; no other process)
   *   uname              uname -a
   */
  commands: Record<string, CommandRecord>;
  /**
   * File contents by absolute path (globs expanded by the collector): /run/flannel/subnet.env, /etc/cni/net.d/*,
   * /etc/resolv.conf, /etc/NetworkManager/NetworkManager.conf, /etc/NetworkManager/conf.d/*,
   * /usr/lib/NetworkManager/conf.d/*, /run/NetworkManager/conf.d/*, pods' resolv.conf files,
   * /proc/sys/net/netfilter/nf_conntrack_count and _max, /proc/modules (br_netfilter loaded?).
   */
  files: Record<string, FileRecord>;
}

/** The flannel leases of an etcd-backed flannel (`etcd/subnets.json`). */
export interface EtcdSubnets {
  schemaVersion: 1;
  kind: 'FlannelSubnets';
  /** The etcd prefix read, e.g. /coreos.com/network. */
  prefix: string;
  /** The network config (`<prefix>/config`), verbatim JSON text. */
  config?: string;
  /** Lease key (e.g. `10.244.3.0-24`) to its value, verbatim JSON text (`{"PublicIP": ..., "BackendData": ...}`). */
  subnets: Record<string, string>;
}

/** The ConfigMaps a bundle may hold: networking ones only, never all (they carry users' data). */
export const NETWORKING_CONFIGMAPS = ['kube-proxy', 'coredns', 'kube-flannel-cfg', 'calico-config', 'cilium-config'];
