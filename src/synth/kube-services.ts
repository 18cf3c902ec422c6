/**
 * The cluster model behind the kube-proxy generators: services (one entry per service port) with ClusterIPs in the
 * service CIDR, NodePorts, traffic policies and endpoints on pod IPs in the cluster CIDR. Both the iptables-mode and
 * the nftables-mode generator render the same model, and tests/benchmarks use it to pick packets.
 */

import { formatPrefix, intToIp, lastAddress, type Prefix, parsePrefix, prefixSize, subPrefix } from './ipv4.js';
import { Random } from './random.js';

export type ServiceProtocol = 'tcp' | 'udp';

export interface EndpointModel {
  ip: string;
  port: number;
  /** On this node (inside `nodePodCIDR`, or the node IP itself). */
  local: boolean;
}

export interface ServiceModel {
  namespace: string;
  name: string;
  /** Port name; '' for an unnamed port. */
  portName: string;
  /** `ns/name:port` (or `ns/name`), as kube-proxy prints it in comments. */
  servicePortName: string;
  clusterIP: string;
  port: number;
  protocol: ServiceProtocol;
  targetPort: number;
  nodePort?: number;
  /** Set for NodePort services with externalTrafficPolicy Local. */
  healthCheckNodePort?: number;
  externalTrafficPolicy: 'Cluster' | 'Local';
  sessionAffinity: 'None' | 'ClientIP';
  /** Ready endpoints, in kube-proxy's order (sorted by `ip:port` text). Empty for a service without endpoints. */
  endpoints: EndpointModel[];
}

export interface ClusterOptions {
  /** Number of service ports (the two system services count: kubernetes has 1 port, kube-dns 3). */
  services: number;
  endpointsPerService: number;
  nodeIP: string;
  clusterCIDR: string;
  serviceCIDR: string;
  seed?: number;
  /** `true`: about a third of the services get a NodePort; a number: exactly that many. Default false. */
  nodePorts?: boolean | number;
  /** How many services have no ready endpoints (REJECT in the filter table). Default 0. */
  noEndpointServices?: number;
  /** How many NodePort services use externalTrafficPolicy: Local (made NodePort if needed). Default 0. */
  externalTrafficPolicyLocal?: number;
  /** How many services use sessionAffinity: ClientIP. Default 0. */
  sessionAffinity?: number;
  /** Include default/kubernetes and kube-system/kube-dns (ClusterIPs .1 and .10). Default true. */
  systemServices?: boolean;
  /** This node's pod range; endpoints inside it are local. Default: a /24 of the cluster CIDR picked by the seed. */
  nodePodCIDR?: string;
}

export interface ClusterModel {
  nodeIP: string;
  clusterCIDR: string;
  serviceCIDR: string;
  nodePodCIDR: string;
  services: ServiceModel[];
}

const NAMESPACES = [
  'default',
  'prod',
  'staging',
  'payments',
  'web',
  'monitoring',
  'logging',
  'data',
  'auth',
  'search',
  'ingress-nginx',
  'cert-manager',
];
const NAME_A = [
  'api',
  'web',
  'user',
  'order',
  'cart',
  'auth',
  'billing',
  'search',
  'catalog',
  'media',
  'report',
  'edge',
];
const NAME_B = ['gateway', 'service', 'backend', 'frontend', 'worker', 'store', 'cache', 'db', 'proxy', 'svc', 'app'];
const TCP_PORTS: readonly (readonly [number, string, number])[] = [
  [80, 'http', 8080],
  [443, 'https', 8443],
  [8080, 'http', 8080],
  [8443, 'https', 8443],
  [9090, 'metrics', 9090],
  [3000, 'web', 3000],
  [5432, 'postgres', 5432],
  [6379, 'redis', 6379],
  [27017, 'mongo', 27017],
  [9200, 'http', 9200],
  [50051, 'grpc', 50051],
  [8000, '', 8000],
  [80, '', 80],
];
const UDP_PORTS: readonly (readonly [number, string, number])[] = [
  [53, 'dns', 53],
  [514, 'syslog', 5514],
  [8125, 'statsd', 8125],
  [123, '', 123],
];

const NODEPORT_MIN = 30000;
const NODEPORT_MAX = 32767;

function endpointKey(e: EndpointModel): string {
  return `${e.ip}:${e.port}`;
}

function sortEndpoints(list: EndpointModel[]): EndpointModel[] {
  return list.sort((a, b) => {
    const ka = endpointKey(a);
    const kb = endpointKey(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}

/** Pod addresses: every /24 of the cluster CIDR from .2 to .254 (.1 is the node's bridge). */
class PodAddressPool {
  private readonly cluster: Prefix;
  private readonly perSubnet: number;
  readonly size: number;
  private readonly subnets: number;

  constructor(cluster: Prefix) {
    this.cluster = cluster;
    if (cluster.prefix <= 24) {
      this.subnets = prefixSize(cluster) / 256;
      this.perSubnet = 253;
    } else {
      this.subnets = 1;
      this.perSubnet = Math.max(1, prefixSize(cluster) - 3);
    }
    this.size = this.subnets * this.perSubnet;
  }

  address(index: number): number {
    const i = index % this.size;
    const subnet = Math.floor(i / this.perSubnet);
    const host = (i % this.perSubnet) + 2;
    const base = this.cluster.prefix <= 24 ? subPrefix(this.cluster, 24, subnet).network : this.cluster.network;
    return (base + host) >>> 0;
  }
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Builds the service/endpoint model; deterministic from `seed`. */
export function buildCluster(opts: ClusterOptions): ClusterModel {
  const seed = opts.seed ?? 1;
  const rng = new Random(seed);
  const cluster = parsePrefix(opts.clusterCIDR);
  const svcNet = parsePrefix(opts.serviceCIDR);
  const pool = new PodAddressPool(cluster);

  const nodeSubnet =
    opts.nodePodCIDR !== undefined
      ? parsePrefix(opts.nodePodCIDR)
      : cluster.prefix <= 24
        ? subPrefix(cluster, 24, rng.int(0, Math.min(prefixSize(cluster) / 256, 256) - 1))
        : cluster;
  const isLocal = (ip: number) => ip >>> 0 >= nodeSubnet.network && ip >>> 0 <= lastAddress(nodeSubnet);

  // Scatter pod addresses over the whole pool with an affine permutation: unique until the pool wraps.
  let stride = Math.floor(pool.size * 0.6180339887) | 1;
  while (gcd(stride, pool.size) !== 1) stride += 2;
  const offset = rng.int(0, pool.size - 1);
  let podCounter = 0;
  const nextPod = () => pool.address((offset + podCounter++ * stride) % pool.size);
  // Local pods for services that must have one (externalTrafficPolicy Local): .2-.254 of the node subnet, cycling.
  const localHosts = Math.max(1, Math.min(253, prefixSize(nodeSubnet) - 3));
  let localCounter = 0;
  const nextLocalPod = () => (nodeSubnet.network + 2 + (localCounter++ % localHosts)) >>> 0;

  // ClusterIPs: unique, never the network, broadcast, .1 (kubernetes) or .10 (kube-dns).
  const usedIPs = new Set<number>();
  const svcFirst = svcNet.network;
  const svcLast = lastAddress(svcNet);
  const reserve = (ip: number) => usedIPs.add(ip >>> 0);
  reserve(svcFirst);
  reserve(svcLast);
  reserve(svcFirst + 1);
  reserve(svcFirst + 10);
  const svcCapacity = svcLast - svcFirst + 1 - 4;
  if (opts.services > svcCapacity)
    throw new Error(`service CIDR ${opts.serviceCIDR} holds only ${svcCapacity} ClusterIPs`);
  const nextClusterIP = (): string => intToIp(drawUnique(rng, usedIPs, svcFirst + 1, svcLast - 1));

  const usedNodePorts = new Set<number>();
  const nextNodePort = (): number => drawUnique(rng, usedNodePorts, NODEPORT_MIN, NODEPORT_MAX);

  const services: ServiceModel[] = [];
  const systemServices = opts.systemServices ?? true;
  if (systemServices && opts.services >= 4) {
    const kubernetesIP = intToIp(svcFirst + 1);
    const dnsIP = intToIp(svcFirst + 10);
    services.push(
      systemService('default', 'kubernetes', 'https', kubernetesIP, 443, 'tcp', [
        // The API server's endpoint has no nodeName, so kube-proxy never counts it as local.
        { ip: opts.nodeIP, port: 6443, local: false },
      ]),
    );
    const dnsPods = [nextPod(), nextPod()].map((ip) => ({ ip: intToIp(ip), local: isLocal(ip) }));
    for (const [portName, port, protocol] of [
      ['dns', 53, 'udp'],
      ['dns-tcp', 53, 'tcp'],
      ['metrics', 9153, 'tcp'],
    ] as const) {
      services.push(
        systemService(
          'kube-system',
          'kube-dns',
          portName,
          dnsIP,
          port,
          protocol,
          dnsPods.map((p) => ({ ip: p.ip, port, local: p.local })),
        ),
      );
    }
  }

  const userCount = opts.services - services.length;
  const usedNames = new Set<string>();
  const user: ServiceModel[] = [];
  for (let i = 0; i < userCount; i++) {
    const namespace = rng.pick(NAMESPACES);
    let name = `${rng.pick(NAME_A)}-${rng.pick(NAME_B)}`;
    if (usedNames.has(`${namespace}/${name}`)) name = `${name}-${i.toString(36)}`;
    usedNames.add(`${namespace}/${name}`);
    const udp = rng.chance(0.08);
    const [port, portName, targetPort] = rng.pick(udp ? UDP_PORTS : TCP_PORTS);
    user.push({
      namespace,
      name,
      portName,
      servicePortName: portName ? `${namespace}/${name}:${portName}` : `${namespace}/${name}`,
      clusterIP: nextClusterIP(),
      port,
      protocol: udp ? 'udp' : 'tcp',
      targetPort,
      externalTrafficPolicy: 'Cluster',
      sessionAffinity: 'None',
      endpoints: [],
    });
  }

  // Which user services get which features: disjoint random picks where it matters.
  const order = rng.shuffle(user.map((_, i) => i));
  const noEp = new Set(order.slice(0, Math.min(opts.noEndpointServices ?? 0, user.length)));
  const withEp = order.filter((i) => !noEp.has(i));
  const etpLocal = new Set(withEp.slice(0, Math.min(opts.externalTrafficPolicyLocal ?? 0, withEp.length)));
  // NodePorts and health-check ports share the 30000-32767 range.
  const portCapacity = NODEPORT_MAX - NODEPORT_MIN + 1 - etpLocal.size;
  const wantNodePorts =
    opts.nodePorts === true
      ? Math.min(Math.round(user.length / 3), portCapacity)
      : typeof opts.nodePorts === 'number'
        ? opts.nodePorts
        : 0;
  if (Math.max(wantNodePorts, etpLocal.size) > portCapacity)
    throw new Error(`${wantNodePorts} NodePorts and ${etpLocal.size} health-check ports do not fit in 30000-32767`);
  const nodePortSet = new Set<number>(etpLocal);
  for (const i of rng.shuffle(order)) {
    if (nodePortSet.size >= Math.max(wantNodePorts, etpLocal.size)) break;
    nodePortSet.add(i);
  }
  const affinity = new Set(rng.sample(withEp, opts.sessionAffinity ?? 0));

  let etpIndex = 0;
  for (let i = 0; i < user.length; i++) {
    const s = user[i] as ServiceModel;
    if (nodePortSet.has(i)) s.nodePort = nextNodePort();
    if (etpLocal.has(i)) {
      s.externalTrafficPolicy = 'Local';
      s.healthCheckNodePort = nextNodePort();
    }
    if (affinity.has(i)) s.sessionAffinity = 'ClientIP';
    if (noEp.has(i)) continue;
    const eps: EndpointModel[] = [];
    for (let k = 0; k < opts.endpointsPerService; k++) {
      // Half of the Local-policy services get one endpoint on this node for sure.
      const ip = etpLocal.has(i) && k === 0 && etpIndex % 2 === 0 ? nextLocalPod() : nextPod();
      eps.push({ ip: intToIp(ip), port: s.targetPort, local: isLocal(ip) });
    }
    if (etpLocal.has(i)) etpIndex++;
    s.endpoints = dedupe(sortEndpoints(eps));
  }
  services.push(...user);

  return {
    nodeIP: opts.nodeIP,
    clusterCIDR: formatPrefix(cluster),
    serviceCIDR: formatPrefix(svcNet),
    nodePodCIDR: formatPrefix(nodeSubnet),
    services,
  };
}

/** A random integer in [min, max] not yet in `used` (then added); falls back to a scan when the range is crowded. */
function drawUnique(rng: Random, used: Set<number>, min: number, max: number): number {
  for (let tries = 0; tries < 64; tries++) {
    const v = rng.int(min, max);
    if (!used.has(v)) {
      used.add(v);
      return v;
    }
  }
  const start = rng.int(min, max);
  const span = max - min + 1;
  for (let k = 0; k < span; k++) {
    const v = min + ((start - min + k) % span);
    if (!used.has(v)) {
      used.add(v);
      return v;
    }
  }
  throw new Error(`no free value left in ${min}-${max}`);
}

function dedupe(sorted: EndpointModel[]): EndpointModel[] {
  return sorted.filter((e, i) => i === 0 || endpointKey(e) !== endpointKey(sorted[i - 1] as EndpointModel));
}

function systemService(
  namespace: string,
  name: string,
  portName: string,
  clusterIP: string,
  port: number,
  protocol: ServiceProtocol,
  endpoints: EndpointModel[],
): ServiceModel {
  return {
    namespace,
    name,
    portName,
    servicePortName: `${namespace}/${name}:${portName}`,
    clusterIP,
    port,
    protocol,
    targetPort: endpoints[0]?.port ?? port,
    externalTrafficPolicy: 'Cluster',
    sessionAffinity: 'None',
    endpoints: sortEndpoints(endpoints),
  };
}
