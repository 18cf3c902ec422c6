/**
 * flannel's view of a cluster: its net-conf (Network, backend), the per-node subnet.env, and the leases — from etcd
 * (`etcd/subnets.json` of the bundle: `/coreos.com/network/subnets/<subnet>`) or, with the kube subnet manager, from
 * the Node objects (spec.podCIDR plus flannel's annotations). Pure functions of the cluster model.
 */
import { type Cidr, formatCidr, parseCidr } from '../core/ip.js';
import { type FlannelSubnetEnv, parseFlannelSubnetEnv } from '../parse/flannel-subnet-env.js';
import type { ClusterModel, NodeModel } from './cluster.js';
import type { KubeObject } from './kube.js';

export const SUBNET_ENV = '/run/flannel/subnet.env';
const ANN = 'flannel.alpha.coreos.com/';

export interface FlannelNetConf {
  network?: string;
  /** vxlan, host-gw, udp, wireguard, ipip (lower case). */
  backend?: string;
  directRouting: boolean;
  source: string;
}

/** flannel's net-conf.json from the kube-flannel-cfg ConfigMap (or etcd's `<prefix>/config`). */
export function flannelNetConf(cluster: ClusterModel): FlannelNetConf | undefined {
  const cm = cluster.configMap('kube-flannel-cfg');
  const read = (text: string, source: string): FlannelNetConf | undefined => {
    try {
      const conf = JSON.parse(text) as { Network?: string; Backend?: { Type?: string; DirectRouting?: boolean } };
      return {
        ...(conf.Network ? { network: conf.Network } : {}),
        backend: (conf.Backend?.Type ?? 'udp').toLowerCase(),
        directRouting: conf.Backend?.DirectRouting === true,
        source,
      };
    } catch {
      return undefined;
    }
  };
  const text = cm?.data?.['net-conf.json'];
  if (text) {
    const c = read(text, `ConfigMap ${cm?.metadata.namespace}/kube-flannel-cfg net-conf.json`);
    if (c) return c;
  }
  const etcd = cluster.bundle.etcd;
  if (etcd?.config) return read(etcd.config, `etcd ${etcd.prefix}/config`);
  return undefined;
}

const envCache = new WeakMap<NodeModel, FlannelSubnetEnv | null>();

/** The node's /run/flannel/subnet.env, parsed (its problems join the node's issues); undefined when not collected. */
export function subnetEnv(node: NodeModel): FlannelSubnetEnv | undefined {
  const known = envCache.get(node);
  if (known !== undefined) return known ?? undefined;
  const text = node.fileContent(SUBNET_ENV);
  let env: FlannelSubnetEnv | null = null;
  if (text !== undefined) {
    const r = parseFlannelSubnetEnv(text, `${node.file}#${SUBNET_ENV}`);
    node.issues.push(...r.issues);
    env = r.env;
  }
  envCache.set(node, env);
  return env ?? undefined;
}

export interface FlannelLease {
  subnet: Cidr;
  /** `10.244.3.0/24` */
  text: string;
  publicIp?: string;
  vtepMac?: string;
  backendType?: string;
  /** The node that holds it: by name (kube subnet manager) or by its public IP (etcd). */
  node?: string;
  /** Where it was read, as evidence text. */
  source: string;
}

export interface FlannelLeases {
  store: 'etcd' | 'kube';
  leases: FlannelLease[];
  /** Where the leases were read (`etcd /coreos.com/network/subnets`, `Node objects`). */
  where: string;
}

/** The addresses a node is known by: flannel's public-ip, the InternalIP, the VXLAN local address. */
export function nodeAddresses(node: NodeModel): Set<string> {
  const out = new Set<string>();
  if (node.nodeIp) out.add(node.nodeIp);
  const internal = (node.kube?.status?.addresses as { type: string; address: string }[] | undefined) ?? [];
  for (const a of internal) if (a.type === 'InternalIP') out.add(a.address);
  for (const l of node.links) if (l.vxlan?.local && /^flannel/.test(l.name)) out.add(l.vxlan.local);
  return out;
}

function backendData(o: KubeObject | undefined): { VtepMAC?: string } | undefined {
  const text = o?.metadata.annotations?.[`${ANN}backend-data`];
  if (!text) return undefined;
  try {
    return JSON.parse(text) as { VtepMAC?: string };
  } catch {
    return undefined;
  }
}

/** Whether the cluster uses the kube subnet manager (leases are the Node objects). */
function usesKubeSubnetManager(cluster: ClusterModel): boolean {
  if (cluster.ofKind('Node').some((n) => n.metadata.annotations?.[`${ANN}kube-subnet-manager`] === 'true')) return true;
  if (cluster.nodes.some((n) => /flanneld\b.*--kube-subnet-mgr/.test(n.output('processes') ?? ''))) return true;
  return cluster
    .ofKind('DaemonSet')
    .some((d) => /flannel/.test(d.metadata.name) && JSON.stringify(d.spec ?? {}).includes('--kube-subnet-mgr'));
}

/** The leases, when the bundle shows them; undefined when flannel's lease store is not in the bundle. */
export function flannelLeases(cluster: ClusterModel): FlannelLeases | undefined {
  const etcd = cluster.bundle.etcd;
  if (etcd) {
    const leases: FlannelLease[] = [];
    for (const [key, value] of Object.entries(etcd.subnets)) {
      const subnet = parseCidr(key.replace(/^.*\//, '').replace('-', '/'));
      if (!subnet) continue;
      let v: { PublicIP?: string; BackendType?: string; BackendData?: { VtepMAC?: string } } = {};
      try {
        v = JSON.parse(value);
      } catch {
        // The lease exists; its value is unreadable.
      }
      const node = v.PublicIP ? cluster.nodes.find((n) => nodeAddresses(n).has(v.PublicIP as string)) : undefined;
      leases.push({
        subnet,
        text: formatCidr(subnet),
        ...(v.PublicIP ? { publicIp: v.PublicIP } : {}),
        ...(v.BackendData?.VtepMAC ? { vtepMac: v.BackendData.VtepMAC.toLowerCase() } : {}),
        ...(v.BackendType ? { backendType: v.BackendType } : {}),
        ...(node ? { node: node.name } : {}),
        source: `etcd ${etcd.prefix}/subnets/${key}: ${value}`,
      });
    }
    return { store: 'etcd', leases, where: `etcd ${etcd.prefix}/subnets` };
  }
  if (!usesKubeSubnetManager(cluster)) return undefined;
  const leases: FlannelLease[] = [];
  for (const n of cluster.ofKind('Node')) {
    const ann = n.metadata.annotations ?? {};
    const spec = (n.spec ?? {}) as { podCIDR?: string };
    const subnet = spec.podCIDR ? parseCidr(spec.podCIDR) : undefined;
    // Without flannel's annotations flannel has not registered the node: no lease.
    if (!subnet || !ann[`${ANN}public-ip`]) continue;
    const mac = backendData(n)?.VtepMAC;
    leases.push({
      subnet,
      text: formatCidr(subnet),
      publicIp: ann[`${ANN}public-ip`] as string,
      ...(mac ? { vtepMac: mac.toLowerCase() } : {}),
      ...(ann[`${ANN}backend-type`] ? { backendType: ann[`${ANN}backend-type`] } : {}),
      node: n.metadata.name,
      source: `node/${n.metadata.name}: spec.podCIDR ${spec.podCIDR}, ${ANN}public-ip ${ann[`${ANN}public-ip`]}${mac ? `, VtepMAC ${mac}` : ''}`,
    });
  }
  return { store: 'kube', leases, where: 'Node objects (kube subnet manager)' };
}

/** The lease of a node: the one whose public IP is one of the node's addresses, or (kube) the one named after it. */
export function leaseOf(leases: FlannelLeases, node: NodeModel): FlannelLease | undefined {
  const addrs = nodeAddresses(node);
  return leases.leases.find((l) => l.node === node.name || (l.publicIp !== undefined && addrs.has(l.publicIp)));
}

/** flannel's pod on a node, when cluster.json has one. */
export function flannelPod(cluster: ClusterModel, node: string): KubeObject | undefined {
  return cluster
    .ofKind('Pod')
    .find(
      (p) =>
        (p.spec as { nodeName?: string } | undefined)?.nodeName === node &&
        (p.metadata.labels?.app === 'flannel' ||
          /flannel/.test(p.metadata.ownerReferences?.find((o) => o.kind === 'DaemonSet')?.name ?? '') ||
          /^kube-flannel/.test(p.metadata.name)),
    );
}

/** Whether flannel runs on a node: its subnet.env, its device, its process or its pod. */
export function runsFlannel(cluster: ClusterModel, node: NodeModel): boolean {
  return (
    node.fileContent(SUBNET_ENV) !== undefined ||
    node.links.some((l) => /^flannel[.-]/.test(l.name)) ||
    /flanneld/.test(node.output('processes') ?? '') ||
    flannelPod(cluster, node.name) !== undefined
  );
}

/** The command that restarts flannel on a node: delete its pod, or restart the systemd unit. */
export function restartFlannel(cluster: ClusterModel, node: NodeModel): string {
  const pod = flannelPod(cluster, node.name);
  if (pod) return `kubectl -n ${pod.metadata.namespace ?? 'kube-system'} delete pod ${pod.metadata.name}`;
  return 'systemctl restart flanneld';
}
