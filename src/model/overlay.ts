/**
 * Which overlay the cluster runs, and on which protocol and port its encapsulated packets travel between nodes — read
 * from the cluster's own settings, never assumed: flannel's net-conf.json (`Backend.Type`, `Port`), Calico's and
 * Cilium's ConfigMaps, node annotations, and the tunnel device's details from `ip -d -j link`.
 */
import type { ClusterModel, NodeModel } from './cluster.js';

export interface OverlaySpec {
  cni: 'flannel' | 'calico' | 'cilium';
  /** vxlan, udp, wireguard, ipip, geneve */
  mode: string;
  /** IP protocol of the outer packet: 17 (UDP) or 4 (IP-in-IP). */
  proto: number;
  port?: number;
  /** The tunnel device on each node. */
  device?: string;
  /** Where this was learned, as evidence text. */
  source: string;
}

const FLANNEL: Record<string, { proto: number; port?: number; device?: string }> = {
  // flannel's Linux default VXLAN port is 8472 (the kernel's historical port), not IANA's 4789.
  vxlan: { proto: 17, port: 8472, device: 'flannel.1' },
  udp: { proto: 17, port: 8285, device: 'flannel0' },
  wireguard: { proto: 17, port: 51820, device: 'flannel-wg' },
  ipip: { proto: 4, device: 'flannel.ipip' },
};

function flannelOverlay(cluster: ClusterModel): OverlaySpec | null | undefined {
  const cm = cluster.configMap('kube-flannel-cfg');
  const text = cm?.data?.['net-conf.json'];
  let type: string | undefined;
  let port: number | undefined;
  let source = '';
  if (text) {
    try {
      const conf = JSON.parse(text) as { Backend?: { Type?: string; Port?: number } };
      type = (conf.Backend?.Type ?? 'udp').toLowerCase();
      port = conf.Backend?.Port;
      source = `ConfigMap ${cm?.metadata.namespace}/kube-flannel-cfg net-conf.json: Backend ${JSON.stringify(conf.Backend ?? {})}`;
    } catch {
      source = `ConfigMap ${cm?.metadata.namespace}/kube-flannel-cfg net-conf.json is not JSON`;
    }
  }
  if (!type) {
    const ann = cluster
      .ofKind('Node')
      .map((n) => n.metadata.annotations?.['flannel.alpha.coreos.com/backend-type'])
      .find(Boolean);
    if (ann) {
      type = ann.toLowerCase();
      source = `node annotation flannel.alpha.coreos.com/backend-type: ${ann}`;
    }
  }
  if (!type && cluster.nodes.some((n) => n.fileContent('/run/flannel/subnet.env'))) {
    type = 'vxlan';
    source = '/run/flannel/subnet.env present; backend not given anywhere, flannel.1 device details decide';
  }
  if (!type) return undefined;
  if (type === 'host-gw' || type === 'alloc') return null;
  const known = FLANNEL[type];
  if (!known) return null;
  return {
    cni: 'flannel',
    mode: type,
    proto: known.proto,
    ...((port ?? known.port) ? { port: port ?? known.port } : {}),
    ...(known.device ? { device: known.device } : {}),
    source,
  };
}

function calicoOverlay(cluster: ClusterModel): OverlaySpec | undefined {
  const cm = cluster.configMap('calico-config');
  const ds = cluster.ofKind('DaemonSet').find((d) => d.metadata.name === 'calico-node');
  if (!cm && !ds) return undefined;
  const env = JSON.stringify(ds?.spec ?? {});
  if (/CALICO_IPV4POOL_VXLAN[^}]*"value":"(Always|CrossSubnet)"/.test(env))
    return {
      cni: 'calico',
      mode: 'vxlan',
      proto: 17,
      port: 4789,
      device: 'vxlan.calico',
      source: 'DaemonSet calico-node: CALICO_IPV4POOL_VXLAN',
    };
  return {
    cni: 'calico',
    mode: 'ipip',
    proto: 4,
    device: 'tunl0',
    source: 'Calico without VXLAN pools: IP-in-IP (protocol 4) between nodes',
  };
}

function ciliumOverlay(cluster: ClusterModel): OverlaySpec | null | undefined {
  const cm = cluster.configMap('cilium-config');
  if (!cm) return undefined;
  const mode = (cm.data?.['tunnel-protocol'] ?? cm.data?.tunnel ?? 'vxlan').toLowerCase();
  if (mode === 'disabled' || cm.data?.['routing-mode'] === 'native') return null;
  if (mode === 'geneve')
    return {
      cni: 'cilium',
      mode,
      proto: 17,
      port: Number(cm.data?.['tunnel-port'] ?? 6081),
      device: 'cilium_geneve',
      source: 'ConfigMap cilium-config: geneve',
    };
  return {
    cni: 'cilium',
    mode: 'vxlan',
    proto: 17,
    port: Number(cm.data?.['tunnel-port'] ?? 8472),
    device: 'cilium_vxlan',
    source: 'ConfigMap cilium-config: vxlan',
  };
}

export function detectOverlay(cluster: ClusterModel): OverlaySpec | null {
  const found = flannelOverlay(cluster) ?? ciliumOverlay(cluster) ?? calicoOverlay(cluster);
  return found ?? null;
}

/** The UDP port a node's tunnel device sends to (`ip -d -j link`: the VXLAN `port`); undefined when not collected. */
export function devicePort(node: NodeModel, device: string): number | undefined {
  return node.links.find((l) => l.name === device)?.vxlan?.port;
}

/** The address a node's tunnel device sends from (`local` of the VXLAN device). */
export function deviceLocal(node: NodeModel, device: string): string | undefined {
  return node.links.find((l) => l.name === device)?.vxlan?.local;
}
