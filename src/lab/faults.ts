/**
 * The faults of seeds 001, 002 and 004 and of the MTU scenario as data: what changes in the network (ip, bridge and
 * sysctl commands per node), the setting the collector sees (files, command outputs, daemons, etcd) and what a
 * correct diagnosis names. Pure: a function of the plan, the scenario and the seed. `lab.ts` applies them.
 */

import { Random } from '../synth/random.js';
import { type LabPlan, type NodePlan, VXLAN_MTU, VXLAN_VNI } from './plan.js';
import {
  type ExpectedFinding,
  emptySetting,
  type FaultPlan,
  layoutForSeed,
  type NetworkChanges,
  noChanges,
  type OtherFault,
  pickBroken,
  type ScenarioSetting,
} from './scenarios.js';

/** The underlay MTU of the mtu-overlay scenario's broken node. */
export const SMALL_UNDERLAY_MTU = 1400;
/** The cluster domain kubelet is given in seed 002 (CoreDNS keeps serving cluster.local). */
export const SEED_002_DOMAIN = 'cluster1.local';
export const FLANNEL_ETCD_PREFIX = '/coreos.com/network';

/** flanneld's route to a peer's pod subnet over VXLAN, as `ip route` prints it. */
export function overlayRoute(peer: Pick<NodePlan, 'podCIDR' | 'flannelIP'>): string {
  return `${peer.podCIDR} via ${peer.flannelIP} dev flannel.1 onlink`;
}

/** A flannel lease key under `<prefix>/subnets/` (`10.244.3.0-24`). */
export function leaseKey(cidr: string): string {
  return cidr.replace('/', '-');
}

/** A flannel lease value as flanneld writes it. */
export function leaseValue(node: NodePlan): string {
  return JSON.stringify({
    PublicIP: node.ip,
    PublicIPv6: null,
    BackendType: 'vxlan',
    BackendData: { VNI: VXLAN_VNI, VtepMAC: node.vtepMAC },
  });
}

export function flannelEtcdConfig(plan: LabPlan): string {
  return JSON.stringify({ Network: plan.clusterCIDR, Backend: { Type: 'vxlan', VNI: VXLAN_VNI, Port: 8472 } });
}

function rngFor(scenario: string, seed: number): Random {
  let h = 0x9e3779b9;
  for (const c of scenario) h = Math.imul(h ^ c.charCodeAt(0), 0x85ebca6b) >>> 0;
  return new Random((seed ^ h) >>> 0);
}

function base(plan: LabPlan, broken: NodePlan) {
  return { brokenNode: broken.name, healthyNodes: plan.nodes.filter((n) => n !== broken).map((n) => n.name) };
}

function result(
  plan: LabPlan,
  seed: number,
  twin: boolean,
  expected: OtherFault,
  changes: NetworkChanges,
  setting: ScenarioSetting = emptySetting(),
): FaultPlan {
  const vxlanProto: Record<string, 'udp' | 'tcp'> = {};
  for (const n of plan.nodes) vxlanProto[n.name] = 'udp';
  return { expected, layout: layoutForSeed(seed), vxlanProto, setting, changes: twin ? noChanges() : changes, twin };
}

export function planSeed001(
  plan: LabPlan,
  scenario: 'seed-001-ip-forward' | 'seed-001-bridge-nf' | 'seed-001-cidr-overlap',
  seed: number,
  twin: boolean,
): FaultPlan {
  const broken = pickBroken(plan, scenario, seed);
  const rng = rngFor(scenario, seed);
  const changes = noChanges();
  const b = base(plan, broken);

  if (scenario === 'seed-001-ip-forward') {
    const where = rng.pick(['all', 'cni0', 'flannel.1'] as const);
    // In sysctl's notation a dot inside an interface name is a slash: net.ipv4.conf.flannel/1.forwarding.
    const key = where === 'all' ? 'net.ipv4.ip_forward' : `net.ipv4.conf.${where.replace('.', '/')}.forwarding`;
    changes.sysctl[broken.name] = { [key]: '0' };
    const expected: OtherFault = {
      scenario,
      seed,
      ...b,
      summary: `${broken.name} has ${key} = 0: it does not route between its pods and the overlay`,
      symptom:
        `pods on ${broken.name} and pods on ${b.healthyNodes.join(', ')} cannot reach each other (dropped silently, ` +
        `no ICMP); pods on ${broken.name} still reach each other`,
      findings: [{ check: 'ip-forward-disabled', node: broken.name, evidence: [`${key} = 0`] }],
      also: ['cluster-dns-unreachable'],
      fix: [`sysctl -w ${key}=1`, `echo '${key} = 1' > /etc/sysctl.d/99-kubernetes.conf`],
      facts: { sysctl: key, value: '0', where },
    };
    return result(plan, seed, twin, expected, changes);
  }

  if (scenario === 'seed-001-bridge-nf') {
    const key = 'net.bridge.bridge-nf-call-iptables';
    changes.sysctl[broken.name] = { [key]: '0' };
    const pods = plan.pods.filter((p) => p.node === broken.name && p.role === 'echo').map((p) => p.name);
    const expected: OtherFault = {
      scenario,
      seed,
      ...b,
      summary: `${broken.name} has ${key} = 0: bridged pod-to-pod frames on cni0 bypass iptables and conntrack`,
      symptom:
        `from ${pods[0]}, the echo ClusterIP fails whenever kube-proxy picks ${pods[1]} (same node): its reply ` +
        `crosses cni0 without the reverse NAT and the client drops it; other endpoints answer`,
      findings: [{ check: 'bridge-netfilter-disabled', node: broken.name, evidence: [`${key} = 0`] }],
      also: [],
      fix: [`sysctl -w ${key}=1`, 'modprobe br_netfilter', `echo '${key} = 1' > /etc/sysctl.d/99-kubernetes.conf`],
      facts: { sysctl: key, value: '0', pods },
    };
    return result(plan, seed, twin, expected, changes);
  }

  // seed-001-cidr-overlap: the broken node's uplink also holds a host network equal to a victim's pod subnet.
  const victim = rng.pick(plan.nodes.filter((n) => n !== broken));
  const host = rng.int(200, 250);
  const prefix = victim.podCIDR.split('.').slice(0, 3).join('.');
  const address = `${prefix}.${host}/24`;
  // The host network came up first (its connected route), so flanneld's route add failed with "file exists".
  changes.ip[broken.name] = [`route del ${overlayRoute(victim)}`, `addr add ${address} dev eth0`];
  const expected: OtherFault = {
    scenario,
    seed,
    ...b,
    summary:
      `${broken.name}'s eth0 holds ${address}, a host network inside the cluster CIDR ${plan.clusterCIDR} that is ` +
      `${victim.name}'s pod subnet ${victim.podCIDR}`,
    symptom:
      `pods on ${broken.name} and pods on ${victim.name} cannot talk (${broken.name} ARPs for them on eth0: ` +
      'No route to host); every other pair flows',
    findings: [{ check: 'pod-cidr-overlap', node: broken.name, evidence: [address, victim.podCIDR] }],
    // True consequences: the victim's subnet is routed out of eth0 (a wrong route), and strict rp_filter drops the
    // victim's packets arriving on flannel.1 since the way back is eth0.
    also: ['overlay-route-missing', 'overlay-route-stale', 'rp-filter-strict', 'cluster-dns-unreachable'],
    fix: [
      `ip addr del ${address} dev eth0`,
      `ip route add ${overlayRoute(victim)}`,
      `renumber the host network ${prefix}.0/24 or choose a cluster CIDR that does not contain it`,
    ],
    facts: { victim: victim.name, address, victimSubnet: victim.podCIDR, clusterCIDR: plan.clusterCIDR },
  };
  return result(plan, seed, twin, expected, changes);
}

export const NM_UNMANAGED_CONF = `[keyfile]
unmanaged-devices=interface-name:cali*;interface-name:tunl*;interface-name:vxlan.calico;interface-name:flannel*;interface-name:veth*;interface-name:cni0;interface-name:docker0
`;

export const NM_CONF = `# Configuration file for NetworkManager.
# See "man 5 NetworkManager.conf" for details.

[main]
plugins = ifcfg-rh

[logging]
#level=DEBUG
`;

/** `nmcli -t dev` on a lab node: NetworkManager holds cni0 and flannel.1 unless the unmanaged file is there. */
export function nmcliDevices(plan: LabPlan, node: NodePlan, managesCni: boolean): string {
  const veths = plan.pods.filter((p) => p.node === node.name).map((p) => p.hostVeth);
  const lines = [
    'eth0:ethernet:connected:System eth0',
    managesCni ? 'cni0:bridge:connected:cni0' : 'cni0:bridge:unmanaged:',
    managesCni ? 'flannel.1:vxlan:connected:flannel.1' : 'flannel.1:vxlan:unmanaged:',
    ...veths.map((v) =>
      managesCni ? `${v}:ethernet:connected:Wired connection ${v.slice(4, 7)}` : `${v}:ethernet:unmanaged:`,
    ),
    'lo:loopback:unmanaged:',
  ];
  return `${lines.join('\n')}\n`;
}

export function planSeed002(plan: LabPlan, seed: number, twin: boolean): FaultPlan {
  const broken = pickBroken(plan, 'seed-002-networkmanager', seed);
  const peers = plan.nodes.filter((n) => n !== broken);
  const b = base(plan, broken);
  const changes = noChanges();
  // NetworkManager took flannel.1 over: its address now is a local route on lo, flannel's routes are flushed.
  changes.ip[broken.name] = [
    ...peers.map((p) => `route del ${overlayRoute(p)}`),
    `addr del ${broken.flannelIP}/32 dev flannel.1`,
    `addr add ${broken.flannelIP}/32 dev lo`,
  ];
  const setting = emptySetting();
  for (const n of plan.nodes) {
    const manages = n === broken && !twin;
    setting.files[n.name] = {
      '/etc/NetworkManager/NetworkManager.conf': NM_CONF,
      ...(manages ? {} : { '/etc/NetworkManager/conf.d/k8s.conf': NM_UNMANAGED_CONF }),
    };
    setting.commands[n.name] = { 'nmcli-dev': { stdout: nmcliDevices(plan, n, manages), exitCode: 0 } };
    setting.daemons[n.name] = ['    702 /usr/sbin/NetworkManager --no-daemon'];
  }
  if (!twin) setting.kubeletClusterDomain = SEED_002_DOMAIN;
  const findings: ExpectedFinding[] = [
    { check: 'networkmanager-manages-cni', node: broken.name, evidence: ['flannel.1', 'cni0'] },
    { check: 'overlay-address-hijacked', node: broken.name, evidence: [broken.flannelIP] },
    { check: 'overlay-route-missing', node: broken.name, evidence: peers.map((p) => p.podCIDR) },
    { check: 'cluster-domain-mismatch', evidence: [SEED_002_DOMAIN, plan.clusterDomain] },
  ];
  const expected: OtherFault = {
    scenario: 'seed-002-networkmanager',
    seed,
    ...b,
    summary:
      `NetworkManager manages cni0 and flannel.1 on ${broken.name} (no unmanaged-devices file): flannel.1 lost ` +
      `${broken.flannelIP} (now local on lo; the kernel flushed flannel.1's neighbours with it) and the routes to ` +
      `${peers.map((p) => p.podCIDR).join(', ')}; kubelet's ` +
      `cluster domain is ${SEED_002_DOMAIN}, CoreDNS serves ${plan.clusterDomain}`,
    symptom:
      `pods on ${broken.name} and pods on ${peers.map((p) => p.name).join(', ')} cannot reach each other; ` +
      `names under ${SEED_002_DOMAIN} do not resolve`,
    findings,
    // True consequences: removing flannel.1's last address makes the kernel flush its neighbours (the peers' VTEP
    // entries), and with no route back over flannel.1 strict rp_filter drops what peers send.
    also: ['vxlan-peer-mismatch', 'rp-filter-strict', 'cluster-dns-unreachable'],
    fix: [
      `cat > /etc/NetworkManager/conf.d/k8s.conf << 'EOF'\n${NM_UNMANAGED_CONF}EOF`,
      'systemctl restart NetworkManager',
      'restart flanneld on the node (it puts back the flannel.1 address and the routes)',
      ...peers.map((p) => `ip route replace ${overlayRoute(p)}`),
      `set kubelet's clusterDomain to ${plan.clusterDomain} (or CoreDNS's zone to ${SEED_002_DOMAIN})`,
    ],
    facts: {
      flannelIP: broken.flannelIP,
      missingRoutes: peers.map((p) => overlayRoute(p)),
      kubeletDomain: SEED_002_DOMAIN,
      corednsDomain: plan.clusterDomain,
    },
  };
  return result(plan, seed, twin, expected, changes, setting);
}

export function planSeed004(plan: LabPlan, seed: number, twin: boolean): FaultPlan {
  const master = plan.nodes.find((n) => n.controlPlane) ?? (plan.nodes[0] as NodePlan);
  const rng = rngFor('seed-004-flannel-lease', seed);
  const broken = rng.pick(plan.nodes.filter((n) => n !== master));
  const peers = plan.nodes.filter((n) => n !== broken);
  const b = base(plan, broken);
  const used = new Set(plan.nodes.map((n) => n.index));
  const stale: string[] = [];
  while (stale.length < 2) {
    const k = rng.int(20, 250);
    const cidr = `10.244.${k}.0/24`;
    if (!used.has(k) && !stale.includes(cidr)) stale.push(cidr);
  }
  const staleRoutes = stale.map((c) => overlayRoute({ podCIDR: c, flannelIP: c.replace('/24', '') }));
  const changes = noChanges();
  for (const p of peers) {
    changes.ip[p.name] = [`route del ${overlayRoute(broken)}`, `neigh del ${broken.flannelIP} dev flannel.1`];
    changes.bridge[p.name] = [`fdb del ${broken.vtepMAC} dev flannel.1 dst ${broken.ip}`];
  }
  changes.ip[broken.name] = [
    ...peers.map((p) => `route del ${overlayRoute(p)}`),
    ...staleRoutes.map((r) => `route add ${r}`),
  ];
  const setting = emptySetting();
  const leases: Record<string, string> = {};
  for (const n of plan.nodes) if (twin || n !== broken) leases[leaseKey(n.podCIDR)] = leaseValue(n);
  setting.flannelEtcd = { prefix: FLANNEL_ETCD_PREFIX, config: flannelEtcdConfig(plan), leases };
  if (!twin) setting.noKubeProxy = [master.name];
  const expected: OtherFault = {
    scenario: 'seed-004-flannel-lease',
    seed,
    ...b,
    summary:
      `${broken.name} has no flannel lease in etcd (${FLANNEL_ETCD_PREFIX}/subnets has no ${leaseKey(broken.podCIDR)}) ` +
      `while its cni0 is still on ${broken.gateway}/24; it routes to ${stale.join(' and ')} (nobody's) and to no current ` +
      `subnet; ${master.name} runs no kube-proxy`,
    symptom:
      `pods on ${broken.name} and pods on ${peers.map((p) => p.name).join(', ')} cannot talk; ClusterIPs time out ` +
      `from ${master.name}'s own network namespace`,
    findings: [
      { check: 'flannel-lease-missing', node: broken.name, evidence: [broken.podCIDR] },
      { check: 'bridge-subnet-mismatch', node: broken.name, evidence: [`${broken.gateway}/24`] },
      { check: 'overlay-route-stale', node: broken.name, evidence: stale },
      { check: 'overlay-route-missing', node: broken.name, evidence: peers.map((p) => p.podCIDR) },
      { check: 'kube-proxy-missing-on-node', node: master.name, evidence: [] },
    ],
    also: ['cluster-dns-unreachable'],
    fix: [
      'systemctl restart flanneld (it writes the lease back; the other nodes add their route to it)',
      'systemctl restart docker (or containerd) so the bridge takes the leased subnet',
      ...staleRoutes.map((r) => `ip route del ${r}`),
      `run kube-proxy on ${master.name}`,
    ],
    facts: {
      master: master.name,
      leaseKey: `${FLANNEL_ETCD_PREFIX}/subnets/${leaseKey(broken.podCIDR)}`,
      bridge: `${broken.gateway}/24`,
      staleSubnets: stale,
      staleRoutes,
    },
  };
  return result(plan, seed, twin, expected, changes, setting);
}

export function planMtu(plan: LabPlan, seed: number, twin: boolean): FaultPlan {
  const broken = pickBroken(plan, 'mtu-overlay', seed);
  const b = base(plan, broken);
  const changes = noChanges();
  changes.ip[broken.name] = [`link set dev eth0 mtu ${SMALL_UNDERLAY_MTU}`];
  const expected: OtherFault = {
    scenario: 'mtu-overlay',
    seed,
    ...b,
    summary:
      `${broken.name}'s eth0 has MTU ${SMALL_UNDERLAY_MTU}, but flannel.1 and the pods use ${VXLAN_MTU}: ` +
      `${VXLAN_MTU} + 50 bytes of VXLAN headers do not fit`,
    symptom: `small packets pass; large DF packets from pods on ${b.healthyNodes.join(', ')} to pods on ${broken.name} vanish`,
    findings: [{ check: 'mtu-mismatch', node: broken.name, evidence: [String(SMALL_UNDERLAY_MTU), String(VXLAN_MTU)] }],
    also: [],
    fix: [`ip link set dev eth0 mtu 1500`],
    facts: { underlayMTU: SMALL_UNDERLAY_MTU, overlayMTU: VXLAN_MTU },
  };
  return result(plan, seed, twin, expected, changes);
}
