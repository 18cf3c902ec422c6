/**
 * The lab's cluster as data: nodes, pods, services and endpoints, decided before anything is created. Everything
 * else (the namespaces, the iptables rules, `cluster.json`) is derived from this plan, so what the lab builds and what
 * it reports cannot drift apart. Pure: a function of the node count, the seed and the namespace prefix.
 */

import { intToIp, ipToInt } from '../synth/ipv4.js';
import { Random } from '../synth/random.js';

export const CLUSTER_CIDR = '10.244.0.0/16';
export const SERVICE_CIDR = '10.96.0.0/12';
export const CLUSTER_DOMAIN = 'cluster.local';
export const DNS_SERVICE_IP = '10.96.0.10';
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
/** The underlay: node addresses and the underlay bridge's own address (the nodes' default gateway). */
export const UNDERLAY_CIDR = '192.168.56.0/24';
export const UNDERLAY_GATEWAY = '192.168.56.1';
export const VXLAN_PORT = 8472;
export const VXLAN_VNI = 1;
export const VXLAN_MTU = 1450;
/** The echo servers listen here on TCP and UDP and answer with their pod's name. */
export const ECHO_PORT = 8080;
export const KUBERNETES_VERSION = 'v1.29.4';
export const MAX_NODES = 8;

export interface NodePlan {
  name: string;
  /** 1-based; the node's pod subnet is 10.244.<index>.0/24. */
  index: number;
  /** The node's network namespace. */
  netns: string;
  ip: string;
  podCIDR: string;
  /** cni0's address, the pods' default gateway (10.244.N.1). */
  gateway: string;
  /** flannel.1's address (10.244.N.0/32). */
  flannelIP: string;
  vtepMAC: string;
  /** The underlay end of the node's eth0 veth. */
  underlayPort: string;
  controlPlane: boolean;
}

export type PodRole = 'echo' | 'dns';

export interface PodPlan {
  name: string;
  namespace: string;
  node: string;
  netns: string;
  ip: string;
  /** The node-side veth on cni0. */
  hostVeth: string;
  role: PodRole;
  /** Owner: the ReplicaSet's name. */
  replicaSet: string;
  labels: Record<string, string>;
  uid: string;
}

export interface ServicePortPlan {
  name: string;
  port: number;
  targetPort: number;
  protocol: 'TCP' | 'UDP';
  nodePort?: number;
}

export interface EndpointPlan {
  ip: string;
  /** Pod name, or undefined for the API server's endpoint (a node address). */
  pod?: string;
  node?: string;
}

export interface ServicePlan {
  name: string;
  namespace: string;
  type: 'ClusterIP' | 'NodePort';
  clusterIP: string;
  ports: ServicePortPlan[];
  selector?: Record<string, string>;
  endpoints: EndpointPlan[];
  labels: Record<string, string>;
  uid: string;
}

export interface LabPlan {
  prefix: string;
  seed: number;
  clusterCIDR: string;
  serviceCIDR: string;
  clusterDomain: string;
  underlay: { netns: string; bridge: string; cidr: string; gateway: string };
  nodes: NodePlan[];
  pods: PodPlan[];
  services: ServicePlan[];
}

export interface PlanOptions {
  nodes: number;
  seed: number;
  prefix: string;
}

/** Characters Kubernetes uses for generated name suffixes (no vowels, no look-alikes). */
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function suffix(rng: Random, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += NAME_ALPHABET[rng.int(0, NAME_ALPHABET.length - 1)];
  return s;
}

function hex(rng: Random, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += '0123456789abcdef'[rng.int(0, 15)];
  return s;
}

/** A locally administered unicast MAC, like the random one flanneld gives flannel.1. */
function randomMAC(rng: Random): string {
  const bytes = [((rng.int(0, 255) & 0xfc) | 0x02) >>> 0];
  for (let i = 0; i < 5; i++) bytes.push(rng.int(0, 255));
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function uid(rng: Random): string {
  return `${hex(rng, 8)}-${hex(rng, 4)}-4${hex(rng, 3)}-${'89ab'[rng.int(0, 3)]}${hex(rng, 3)}-${hex(rng, 12)}`;
}

export function nodeName(index: number): string {
  return `node${index}`;
}

export function buildPlan(opts: PlanOptions): LabPlan {
  if (!Number.isInteger(opts.nodes) || opts.nodes < 2 || opts.nodes > MAX_NODES)
    throw new RangeError(`a lab has 2 to ${MAX_NODES} nodes`);
  const rng = new Random(opts.seed);
  const ns = (label: string) => `${opts.prefix}-${label}`;
  const base = ipToInt(UNDERLAY_GATEWAY) - 1;

  const nodes: NodePlan[] = [];
  for (let i = 1; i <= opts.nodes; i++) {
    nodes.push({
      name: nodeName(i),
      index: i,
      netns: ns(nodeName(i)),
      ip: intToIp(base + 10 + i),
      podCIDR: `10.244.${i}.0/24`,
      gateway: `10.244.${i}.1`,
      flannelIP: `10.244.${i}.0`,
      vtepMAC: randomMAC(rng),
      underlayPort: `veth-${nodeName(i)}`,
      controlPlane: i === 1,
    });
  }

  const pods: PodPlan[] = [];
  const nextHost = new Map<string, number>(nodes.map((n) => [n.name, 2]));
  const addPod = (node: NodePlan, name: string, namespace: string, role: PodRole, rs: string, app: string) => {
    const host = nextHost.get(node.name) as number;
    nextHost.set(node.name, host + 1);
    const labels: Record<string, string> =
      role === 'dns' ? { 'k8s-app': 'kube-dns', 'pod-template-hash': rs.split('-').pop() as string } : { app };
    if (role === 'echo') labels['pod-template-hash'] = rs.split('-').pop() as string;
    pods.push({
      name,
      namespace,
      node: node.name,
      netns: ns(name),
      ip: `10.244.${node.index}.${host}`,
      hostVeth: `veth${hex(rng, 8)}`,
      role,
      replicaSet: rs,
      labels,
      uid: uid(rng),
    });
  };

  // CoreDNS (a dnsmasq stands in for it) on the first two nodes, as kubeadm's two replicas usually land.
  const dnsRS = `coredns-${suffix(rng, 10)}`;
  for (const node of nodes.slice(0, 2)) addPod(node, `${dnsRS}-${suffix(rng, 5)}`, 'kube-system', 'dns', dnsRS, '');
  // Two echo pods per node.
  const echoRS = `echo-${suffix(rng, 9)}`;
  for (const node of nodes) {
    for (let k = 0; k < 2; k++) addPod(node, `${echoRS}-${suffix(rng, 5)}`, 'default', 'echo', echoRS, 'echo');
  }

  const dnsPods = pods.filter((p) => p.role === 'dns');
  const echoPods = pods.filter((p) => p.role === 'echo');
  const ep = (p: PodPlan): EndpointPlan => ({ ip: p.ip, pod: p.name, node: p.node });
  const echoIP = intToIp(ipToInt('10.96.0.0') + rng.int(16, 4000));
  const services: ServicePlan[] = [
    {
      name: 'kubernetes',
      namespace: 'default',
      type: 'ClusterIP',
      clusterIP: KUBERNETES_SERVICE_IP,
      ports: [{ name: 'https', port: 443, targetPort: 6443, protocol: 'TCP' }],
      endpoints: [{ ip: (nodes[0] as NodePlan).ip }],
      labels: { component: 'apiserver', provider: 'kubernetes' },
      uid: uid(rng),
    },
    {
      name: 'kube-dns',
      namespace: 'kube-system',
      type: 'ClusterIP',
      clusterIP: DNS_SERVICE_IP,
      ports: [
        { name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, targetPort: 53, protocol: 'TCP' },
        { name: 'metrics', port: 9153, targetPort: 9153, protocol: 'TCP' },
      ],
      selector: { 'k8s-app': 'kube-dns' },
      endpoints: dnsPods.map(ep),
      labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' },
      uid: uid(rng),
    },
    {
      name: 'echo',
      namespace: 'default',
      type: 'NodePort',
      clusterIP: echoIP,
      ports: [
        { name: 'tcp', port: 80, targetPort: ECHO_PORT, protocol: 'TCP', nodePort: 30080 },
        { name: 'udp', port: ECHO_PORT, targetPort: ECHO_PORT, protocol: 'UDP', nodePort: 30081 },
      ],
      selector: { app: 'echo' },
      endpoints: echoPods.map(ep),
      labels: { app: 'echo' },
      uid: uid(rng),
    },
  ];

  return {
    prefix: opts.prefix,
    seed: opts.seed,
    clusterCIDR: CLUSTER_CIDR,
    serviceCIDR: SERVICE_CIDR,
    clusterDomain: CLUSTER_DOMAIN,
    underlay: { netns: ns('underlay'), bridge: 'br0', cidr: UNDERLAY_CIDR, gateway: UNDERLAY_GATEWAY },
    nodes,
    pods,
    services,
  };
}

/** flanneld's /run/flannel/subnet.env for a node. */
export function subnetEnv(plan: LabPlan, node: NodePlan): string {
  return [
    `FLANNEL_NETWORK=${plan.clusterCIDR}`,
    `FLANNEL_SUBNET=${node.gateway}/24`,
    `FLANNEL_MTU=${VXLAN_MTU}`,
    'FLANNEL_IPMASQ=true',
    '',
  ].join('\n');
}

/** The CNI config flannel's install-cni container writes to /etc/cni/net.d/10-flannel.conflist. */
export const FLANNEL_CNI_CONF = `{
  "name": "cbr0",
  "cniVersion": "0.3.1",
  "plugins": [
    {
      "type": "flannel",
      "delegate": {
        "hairpinMode": true,
        "isDefaultGateway": true
      }
    },
    {
      "type": "portmap",
      "capabilities": {
        "portMappings": true
      }
    }
  ]
}
`;

/** The pods' /etc/resolv.conf as kubelet writes it (ClusterFirst DNS policy). */
export function podResolvConf(plan: LabPlan, pod: { namespace: string }): string {
  const d = plan.clusterDomain;
  return `search ${pod.namespace}.svc.${d} svc.${d} ${d}\nnameserver ${DNS_SERVICE_IP}\noptions ndots:5\n`;
}

/** Every name the lab's DNS server answers for, with its address. */
export function dnsRecords(plan: LabPlan): { name: string; ip: string }[] {
  return plan.services.map((s) => ({ name: `${s.name}.${s.namespace}.svc.${plan.clusterDomain}`, ip: s.clusterIP }));
}

export function findNode(plan: LabPlan, name: string): NodePlan {
  const n = plan.nodes.find((x) => x.name === name);
  if (!n) throw new RangeError(`no node ${name} in the lab`);
  return n;
}
