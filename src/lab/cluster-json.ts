/**
 * The lab as a real cluster's API server would describe it: the `List` that `kubectl get nodes,pods,services,
 * endpoints,endpointslices,networkpolicies,daemonsets -A -o json` prints, plus the networking ConfigMaps
 * (kube-flannel-cfg, kube-proxy, coredns). Object shapes follow Kubernetes 1.29 with flannel 0.25 (kube subnet
 * manager, vxlan backend) and kube-proxy in iptables mode. Pure: a function of the plan and a timestamp.
 */

import { Random } from '../synth/random.js';
import {
  CLUSTER_CIDR,
  CLUSTER_DOMAIN,
  ECHO_PORT,
  FLANNEL_CNI_CONF,
  KUBERNETES_VERSION,
  type LabPlan,
  type NodePlan,
  type PodPlan,
  type ServicePlan,
  VXLAN_PORT,
  VXLAN_VNI,
} from './plan.js';

type Obj = Record<string, unknown>;

const FLANNEL_IMAGE = 'docker.io/flannel/flannel:v0.25.1';
const FLANNEL_CNI_IMAGE = 'docker.io/flannel/flannel-cni-plugin:v1.4.0-flannel1';
const KUBE_PROXY_IMAGE = `registry.k8s.io/kube-proxy:${KUBERNETES_VERSION}`;
const COREDNS_IMAGE = 'registry.k8s.io/coredns/coredns:v1.11.1';
const ECHO_IMAGE = 'registry.k8s.io/e2e-test-images/agnhost:2.47';

export const NET_CONF_JSON = `{
  "Network": "${CLUSTER_CIDR}",
  "EnableNFTables": false,
  "Backend": {
    "Type": "vxlan",
    "Port": ${VXLAN_PORT}
  }
}
`;

function kubeProxyConfig(plan: LabPlan): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
bindAddressHardFail: false
clientConnection:
  acceptContentTypes: ""
  burst: 0
  contentType: ""
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  qps: 0
clusterCIDR: ${plan.clusterCIDR}
configSyncPeriod: 0s
conntrack:
  maxPerCore: null
  min: null
  tcpBeLiberal: false
  tcpCloseWaitTimeout: null
  tcpEstablishedTimeout: null
  udpStreamTimeout: 0s
  udpTimeout: 0s
detectLocal:
  bridgeInterface: ""
  interfaceNamePrefix: ""
detectLocalMode: ""
enableProfiling: false
healthzBindAddress: ""
hostnameOverride: ""
iptables:
  localhostNodePorts: null
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
ipvs:
  excludeCIDRs: null
  minSyncPeriod: 0s
  scheduler: ""
  strictARP: false
  syncPeriod: 0s
  tcpFinTimeout: 0s
  tcpTimeout: 0s
  udpTimeout: 0s
kind: KubeProxyConfiguration
logging:
  flushFrequency: 0
  options:
    json:
      infoBufferSize: "0"
  verbosity: 0
metricsBindAddress: ""
mode: iptables
nodePortAddresses: null
oomScoreAdj: null
portRange: ""
showHiddenMetricsForAlphaFeatures: false
winkernel:
  enableDSR: false
  forwardHealthCheckVip: false
  networkName: ""
  rootHnsEndpointName: ""
  sourceVip: ""
`;
}

function kubeProxyKubeconfig(plan: LabPlan): string {
  const api = plan.nodes[0]?.ip ?? '127.0.0.1';
  return `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
    server: https://${api}:6443
  name: default
contexts:
- context:
    cluster: default
    namespace: default
    user: default
  name: default
current-context: default
users:
- name: default
  user:
    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token
`;
}

function corefile(domain: string): string {
  return `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes ${domain} in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
`;
}

class Ids {
  private readonly rng: Random;
  constructor(seed: number) {
    this.rng = new Random((seed ^ 0x6b756265) >>> 0);
  }
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[this.rng.int(0, 15)];
    return s;
  }
  uid(): string {
    return `${this.hex(8)}-${this.hex(4)}-4${this.hex(3)}-${'89ab'[this.rng.int(0, 3)]}${this.hex(3)}-${this.hex(12)}`;
  }
  suffix(n: number): string {
    const a = 'bcdfghjklmnpqrstvwxz2456789';
    let s = '';
    for (let i = 0; i < n; i++) s += a[this.rng.int(0, a.length - 1)];
    return s;
  }
  resourceVersion(): string {
    return String(this.rng.int(200, 99999));
  }
}

function meta(ids: Ids, created: string, name: string, namespace?: string, extra: Obj = {}): Obj {
  const m: Obj = { creationTimestamp: created, name };
  if (namespace) m.namespace = namespace;
  Object.assign(m, extra);
  m.resourceVersion = ids.resourceVersion();
  m.uid = ids.uid();
  return m;
}

function nodeObject(node: NodePlan, ids: Ids, created: string): Obj {
  const labels: Record<string, string> = {
    'beta.kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'kubernetes.io/hostname': node.name,
    'kubernetes.io/os': 'linux',
  };
  if (node.controlPlane) {
    labels['node-role.kubernetes.io/control-plane'] = '';
    labels['node.kubernetes.io/exclude-from-external-load-balancers'] = '';
  }
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: meta(ids, created, node.name, undefined, {
      annotations: {
        'flannel.alpha.coreos.com/backend-data': JSON.stringify({ VNI: VXLAN_VNI, VtepMAC: node.vtepMAC }),
        'flannel.alpha.coreos.com/backend-type': 'vxlan',
        'flannel.alpha.coreos.com/kube-subnet-manager': 'true',
        'flannel.alpha.coreos.com/public-ip': node.ip,
        'kubeadm.alpha.kubernetes.io/cri-socket': 'unix:///var/run/containerd/containerd.sock',
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
      },
      labels,
    }),
    spec: { podCIDR: node.podCIDR, podCIDRs: [node.podCIDR] },
    status: {
      addresses: [
        { address: node.ip, type: 'InternalIP' },
        { address: node.name, type: 'Hostname' },
      ],
      allocatable: { cpu: '2', 'ephemeral-storage': '18698430040', memory: '3927004Ki', pods: '110' },
      capacity: { cpu: '2', 'ephemeral-storage': '20289272Ki', memory: '4029404Ki', pods: '110' },
      conditions: [
        ['MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'],
        ['DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'],
        ['PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'],
        ['Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'],
      ].map(([type, status, reason, message]) => ({
        lastHeartbeatTime: created,
        lastTransitionTime: created,
        message,
        reason,
        status,
        type,
      })),
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: 'amd64',
        bootID: ids.uid(),
        containerRuntimeVersion: 'containerd://1.7.13',
        kernelVersion: '5.14.0-362.24.1.el9_3.x86_64',
        kubeProxyVersion: KUBERNETES_VERSION,
        kubeletVersion: KUBERNETES_VERSION,
        machineID: ids.hex(32),
        operatingSystem: 'linux',
        osImage: 'Rocky Linux 9.3 (Blue Onyx)',
        systemUUID: ids.uid(),
      },
    },
  };
}

interface PodSpec {
  name: string;
  namespace: string;
  node: NodePlan;
  ip: string;
  uid?: string;
  labels: Record<string, string>;
  owner: { kind: 'ReplicaSet' | 'DaemonSet'; name: string };
  hostNetwork: boolean;
  containers: Obj[];
  priorityClassName?: string;
  serviceAccountName: string;
}

function podObject(p: PodSpec, ids: Ids, created: string): Obj {
  const m = meta(ids, created, p.name, p.namespace, {
    generateName: p.name.replace(/[^-]+$/, ''),
    labels: p.labels,
    ownerReferences: [
      {
        apiVersion: 'apps/v1',
        blockOwnerDeletion: true,
        controller: true,
        kind: p.owner.kind,
        name: p.owner.name,
        uid: ids.uid(),
      },
    ],
  });
  if (p.uid) m.uid = p.uid;
  const spec: Obj = {
    containers: p.containers,
    dnsPolicy: p.hostNetwork ? 'ClusterFirstWithHostNet' : 'ClusterFirst',
    enableServiceLinks: true,
    nodeName: p.node.name,
    preemptionPolicy: 'PreemptLowerPriority',
    priority: p.priorityClassName ? 2000001000 : 0,
    restartPolicy: 'Always',
    schedulerName: 'default-scheduler',
    securityContext: {},
    serviceAccount: p.serviceAccountName,
    serviceAccountName: p.serviceAccountName,
    terminationGracePeriodSeconds: 30,
  };
  if (p.hostNetwork) spec.hostNetwork = true;
  if (p.priorityClassName) spec.priorityClassName = p.priorityClassName;
  const containerStatuses = p.containers.map((c) => ({
    containerID: `containerd://${ids.hex(64)}`,
    image: c.image,
    imageID: `${String(c.image).split(':')[0]}@sha256:${ids.hex(64)}`,
    lastState: {},
    name: c.name,
    ready: true,
    restartCount: 0,
    started: true,
    state: { running: { startedAt: created } },
  }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: m,
    spec,
    status: {
      conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map(
        (type) => ({ lastProbeTime: null, lastTransitionTime: created, status: 'True', type }),
      ),
      containerStatuses,
      hostIP: p.node.ip,
      hostIPs: [{ ip: p.node.ip }],
      phase: 'Running',
      podIP: p.ip,
      podIPs: [{ ip: p.ip }],
      qosClass: p.priorityClassName ? 'Burstable' : 'BestEffort',
      startTime: created,
    },
  };
}

function labPodSpec(plan: LabPlan, pod: PodPlan): PodSpec {
  const node = plan.nodes.find((n) => n.name === pod.node) as NodePlan;
  const containers: Obj[] =
    pod.role === 'dns'
      ? [
          {
            args: ['-conf', '/etc/coredns/Corefile'],
            image: COREDNS_IMAGE,
            imagePullPolicy: 'IfNotPresent',
            name: 'coredns',
            ports: [
              { containerPort: 53, name: 'dns', protocol: 'UDP' },
              { containerPort: 53, name: 'dns-tcp', protocol: 'TCP' },
              { containerPort: 9153, name: 'metrics', protocol: 'TCP' },
            ],
            resources: { limits: { memory: '170Mi' }, requests: { cpu: '100m', memory: '70Mi' } },
          },
        ]
      : [
          {
            args: ['netexec', `--http-port=${ECHO_PORT}`, `--udp-port=${ECHO_PORT}`],
            image: ECHO_IMAGE,
            imagePullPolicy: 'IfNotPresent',
            name: 'echo',
            ports: [
              { containerPort: ECHO_PORT, name: 'tcp', protocol: 'TCP' },
              { containerPort: ECHO_PORT, name: 'udp', protocol: 'UDP' },
            ],
            resources: {},
          },
        ];
  const spec: PodSpec = {
    name: pod.name,
    namespace: pod.namespace,
    node,
    ip: pod.ip,
    uid: pod.uid,
    labels: pod.labels,
    owner: { kind: 'ReplicaSet', name: pod.replicaSet },
    hostNetwork: false,
    containers,
    serviceAccountName: pod.role === 'dns' ? 'coredns' : 'default',
  };
  if (pod.role === 'dns') spec.priorityClassName = 'system-cluster-critical';
  return spec;
}

function serviceObject(s: ServicePlan, ids: Ids, created: string): Obj {
  const extra: Obj = { labels: s.labels };
  if (s.name === 'kube-dns') extra.annotations = { 'prometheus.io/port': '9153', 'prometheus.io/scrape': 'true' };
  const spec: Obj = {
    clusterIP: s.clusterIP,
    clusterIPs: [s.clusterIP],
    internalTrafficPolicy: 'Cluster',
    ipFamilies: ['IPv4'],
    ipFamilyPolicy: 'SingleStack',
    ports: s.ports.map((p) => {
      const o: Obj = { name: p.name };
      if (p.nodePort !== undefined) o.nodePort = p.nodePort;
      Object.assign(o, { port: p.port, protocol: p.protocol, targetPort: p.targetPort });
      return o;
    }),
    sessionAffinity: 'None',
    type: s.type,
  };
  if (s.type === 'NodePort') spec.externalTrafficPolicy = 'Cluster';
  if (s.selector) spec.selector = s.selector;
  const m = meta(ids, created, s.name, s.namespace, extra);
  m.uid = s.uid;
  return { apiVersion: 'v1', kind: 'Service', metadata: m, spec, status: { loadBalancer: {} } };
}

function targetRef(plan: LabPlan, podName: string | undefined): Obj | undefined {
  const pod = plan.pods.find((p) => p.name === podName);
  return pod ? { kind: 'Pod', name: pod.name, namespace: pod.namespace, uid: pod.uid } : undefined;
}

function endpointsObject(plan: LabPlan, s: ServicePlan, ids: Ids, created: string): Obj {
  const addresses = s.endpoints.map((e) => {
    const a: Obj = { ip: e.ip };
    if (e.node) a.nodeName = e.node;
    const ref = targetRef(plan, e.pod);
    if (ref) a.targetRef = ref;
    return a;
  });
  const ports = s.ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: p.protocol }));
  const extra: Obj = { labels: s.labels };
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: meta(ids, created, s.name, s.namespace, extra),
    subsets: addresses.length ? [{ addresses, ports }] : undefined,
  };
}

function endpointSliceObject(plan: LabPlan, s: ServicePlan, ids: Ids, created: string): Obj {
  const mirrored = !s.selector;
  const labels: Record<string, string> = {
    ...s.labels,
    'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
    'kubernetes.io/service-name': s.name,
  };
  const extra: Obj = { labels };
  if (mirrored) {
    // The API server keeps the kubernetes service's slice itself.
    delete labels['endpointslice.kubernetes.io/managed-by'];
    labels['kubernetes.io/service-name'] = s.name;
  } else {
    extra.annotations = { 'endpoints.kubernetes.io/last-change-trigger-time': created };
    extra.generateName = `${s.name}-`;
    extra.ownerReferences = [
      { apiVersion: 'v1', blockOwnerDeletion: true, controller: true, kind: 'Service', name: s.name, uid: s.uid },
    ];
  }
  return {
    addressType: 'IPv4',
    apiVersion: 'discovery.k8s.io/v1',
    endpoints: s.endpoints.map((e) => {
      const o: Obj = { addresses: [e.ip], conditions: { ready: true, serving: true, terminating: false } };
      if (e.node) o.nodeName = e.node;
      const ref = targetRef(plan, e.pod);
      if (ref) o.targetRef = ref;
      return o;
    }),
    kind: 'EndpointSlice',
    metadata: meta(ids, created, mirrored ? s.name : `${s.name}-${ids.suffix(5)}`, s.namespace, extra),
    ports: s.ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: p.protocol })),
  };
}

function daemonSetObject(
  name: string,
  namespace: string,
  labels: Record<string, string>,
  template: Obj,
  nodes: number,
  ids: Ids,
  created: string,
): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: meta(ids, created, name, namespace, {
      annotations: { 'deprecated.daemonset.template.generation': '1' },
      generation: 1,
      labels,
    }),
    spec: {
      revisionHistoryLimit: 10,
      selector: { matchLabels: labels },
      template,
      updateStrategy: { rollingUpdate: { maxSurge: 0, maxUnavailable: 1 }, type: 'RollingUpdate' },
    },
    status: {
      currentNumberScheduled: nodes,
      desiredNumberScheduled: nodes,
      numberAvailable: nodes,
      numberMisscheduled: 0,
      numberReady: nodes,
      observedGeneration: 1,
      updatedNumberScheduled: nodes,
    },
  };
}

function configMap(name: string, namespace: string, data: Record<string, string>, ids: Ids, created: string): Obj {
  const labels: Record<string, string> =
    name === 'kube-flannel-cfg' ? { app: 'flannel', 'k8s-app': 'flannel', tier: 'node' } : {};
  if (name === 'kube-proxy') labels.app = 'kube-proxy';
  const extra: Obj = Object.keys(labels).length ? { labels } : {};
  return { apiVersion: 'v1', data, kind: 'ConfigMap', metadata: meta(ids, created, name, namespace, extra) };
}

const KUBE_PROXY_CONTAINER: Obj = {
  command: [
    '/usr/local/bin/kube-proxy',
    '--config=/var/lib/kube-proxy/config.conf',
    '--hostname-override=$(NODE_NAME)',
  ],
  env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } }],
  image: KUBE_PROXY_IMAGE,
  imagePullPolicy: 'IfNotPresent',
  name: 'kube-proxy',
  resources: {},
  securityContext: { privileged: true },
};

const FLANNEL_CONTAINER: Obj = {
  args: ['--ip-masq', '--kube-subnet-mgr'],
  command: ['/opt/bin/flanneld'],
  env: [
    { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
    { name: 'EVENT_QUEUE_DEPTH', value: '5000' },
  ],
  image: FLANNEL_IMAGE,
  imagePullPolicy: 'IfNotPresent',
  name: 'kube-flannel',
  resources: { requests: { cpu: '100m', memory: '50Mi' } },
  securityContext: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] }, privileged: false },
};

/** The lab's cluster as a Kubernetes `List`. */
export function clusterList(plan: LabPlan, created = new Date().toISOString().replace(/\.\d+Z$/, 'Z')): Obj {
  const ids = new Ids(plan.seed);
  const items: Obj[] = [];
  const n = plan.nodes.length;

  for (const node of plan.nodes) items.push(nodeObject(node, ids, created));

  const proxyHash = ids.suffix(10);
  const flannelHash = ids.suffix(10);
  const pods: PodSpec[] = [];
  for (const node of plan.nodes) {
    pods.push({
      name: `kube-flannel-ds-${ids.suffix(5)}`,
      namespace: 'kube-flannel',
      node,
      ip: node.ip,
      labels: {
        app: 'flannel',
        'controller-revision-hash': flannelHash,
        'k8s-app': 'flannel',
        'pod-template-generation': '1',
        tier: 'node',
      },
      owner: { kind: 'DaemonSet', name: 'kube-flannel-ds' },
      hostNetwork: true,
      containers: [FLANNEL_CONTAINER],
      priorityClassName: 'system-node-critical',
      serviceAccountName: 'flannel',
    });
    pods.push({
      name: `kube-proxy-${ids.suffix(5)}`,
      namespace: 'kube-system',
      node,
      ip: node.ip,
      labels: { 'controller-revision-hash': proxyHash, 'k8s-app': 'kube-proxy', 'pod-template-generation': '1' },
      owner: { kind: 'DaemonSet', name: 'kube-proxy' },
      hostNetwork: true,
      containers: [KUBE_PROXY_CONTAINER],
      priorityClassName: 'system-node-critical',
      serviceAccountName: 'kube-proxy',
    });
  }
  for (const pod of plan.pods) pods.push(labPodSpec(plan, pod));
  for (const p of pods) items.push(podObject(p, ids, created));

  for (const s of plan.services) items.push(serviceObject(s, ids, created));
  for (const s of plan.services) items.push(endpointsObject(plan, s, ids, created));
  for (const s of plan.services) items.push(endpointSliceObject(plan, s, ids, created));

  items.push(
    daemonSetObject(
      'kube-flannel-ds',
      'kube-flannel',
      { app: 'flannel', 'k8s-app': 'flannel', tier: 'node' },
      {
        metadata: { labels: { app: 'flannel', tier: 'node' } },
        spec: {
          containers: [FLANNEL_CONTAINER],
          hostNetwork: true,
          initContainers: [
            {
              args: ['-f', '/flannel', '/opt/cni/bin/flannel'],
              command: ['cp'],
              image: FLANNEL_CNI_IMAGE,
              name: 'install-cni-plugin',
            },
            {
              args: ['-f', '/etc/kube-flannel/cni-conf.json', '/etc/cni/net.d/10-flannel.conflist'],
              command: ['cp'],
              image: FLANNEL_IMAGE,
              name: 'install-cni',
            },
          ],
          priorityClassName: 'system-node-critical',
          serviceAccountName: 'flannel',
          tolerations: [{ effect: 'NoSchedule', operator: 'Exists' }],
        },
      },
      n,
      ids,
      created,
    ),
    daemonSetObject(
      'kube-proxy',
      'kube-system',
      { 'k8s-app': 'kube-proxy' },
      {
        metadata: { labels: { 'k8s-app': 'kube-proxy' } },
        spec: {
          containers: [KUBE_PROXY_CONTAINER],
          hostNetwork: true,
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          priorityClassName: 'system-node-critical',
          serviceAccountName: 'kube-proxy',
          tolerations: [{ operator: 'Exists' }],
        },
      },
      n,
      ids,
      created,
    ),
  );

  items.push(
    configMap('coredns', 'kube-system', { Corefile: corefile(plan.clusterDomain || CLUSTER_DOMAIN) }, ids, created),
    configMap(
      'kube-flannel-cfg',
      'kube-flannel',
      { 'cni-conf.json': FLANNEL_CNI_CONF, 'net-conf.json': NET_CONF_JSON },
      ids,
      created,
    ),
    configMap(
      'kube-proxy',
      'kube-system',
      { 'config.conf': kubeProxyConfig(plan), 'kubeconfig.conf': kubeProxyKubeconfig(plan) },
      ids,
      created,
    ),
  );

  return { apiVersion: 'v1', items, kind: 'List', metadata: { resourceVersion: '' } };
}
