/**
 * Small rulesets shaped like what real components leave on a node, as `iptables-save` text in canonical form (what
 * iptables-save prints back after loading them): flannel, Calico (with the matching `ipset save`), Docker and a
 * RHEL/CentOS host firewall like the one in seed 000. Each is a pure function of its options and seed. The `add*`
 * variants write into a shared SaveDocument so shapes can be stacked into one node's ruleset.
 */

import { intToIp, parsePrefix, subPrefix } from './ipv4.js';
import { Random } from './random.js';
import { type Backend, comment, SaveDocument } from './save-writer.js';

export { firewalldNft, kubeProxyNftables } from './nft-shapes.js';

export interface ShapeResult {
  text: string;
}

interface Common {
  seed?: number;
  backend?: Backend;
}

// ---------------------------------------------------------------- flannel

export interface FlannelOptions extends Common {
  /** Cluster-wide pod network (flannel's Network). Default 10.244.0.0/16. */
  network?: string;
  /** This node's lease (SubnetLen 24). Default: a /24 of the network picked by the seed. */
  subnet?: string;
  /** MASQUERADE --random-fully (flannel >= 0.15 when iptables supports it). Default true. */
  randomFully?: boolean;
}

/** flanneld's FORWARD accept rules and POSTROUTING masquerade chains (flannel 0.2x, vxlan backend). */
export function addFlannel(doc: SaveDocument, opts: FlannelOptions = {}): { network: string; subnet: string } {
  const rng = new Random(opts.seed ?? 1);
  const network = opts.network ?? '10.244.0.0/16';
  const net = parsePrefix(network);
  const subnet =
    opts.subnet ?? `${intToIp(subPrefix(net, 24, rng.int(0, 2 ** Math.max(0, 24 - net.prefix) - 1)).network)}/24`;
  const rf = opts.randomFully === false ? '' : ' --random-fully';
  const fwd = comment('flanneld forward');
  const masq = comment('flanneld masq');

  const filter = doc.table('filter');
  filter.add('FORWARD', `${fwd} -j FLANNEL-FWD`);
  filter.add('FLANNEL-FWD', `-s ${network} ${fwd} -j ACCEPT`);
  filter.add('FLANNEL-FWD', `-d ${network} ${fwd} -j ACCEPT`);

  const nat = doc.table('nat');
  nat.add('POSTROUTING', `${masq} -j FLANNEL-POSTRTG`);
  nat.add('FLANNEL-POSTRTG', `-m mark --mark 0x4000/0x4000 ${masq} -j RETURN`);
  nat.add('FLANNEL-POSTRTG', `-s ${subnet} -d ${network} ${masq} -j RETURN`);
  nat.add('FLANNEL-POSTRTG', `-s ${network} -d ${subnet} ${masq} -j RETURN`);
  nat.add('FLANNEL-POSTRTG', `! -s ${network} -d ${subnet} ${masq} -j RETURN`);
  nat.add('FLANNEL-POSTRTG', `-s ${network} ! -d 224.0.0.0/4 ${masq} -j MASQUERADE${rf}`);
  nat.add('FLANNEL-POSTRTG', `! -s ${network} -d ${network} ${masq} -j MASQUERADE${rf}`);
  return { network, subnet };
}

export function flannelShaped(opts: FlannelOptions = {}): ShapeResult & { network: string; subnet: string } {
  const doc = new SaveDocument();
  const r = addFlannel(doc, opts);
  return { text: doc.render({ backend: opts.backend, seed: opts.seed }), ...r };
}

// ---------------------------------------------------------------- Calico

export interface CalicoOptions extends Common {
  /** IP pool (CALICO_IPV4POOL_CIDR). Default 192.168.0.0/16. */
  pool?: string;
  /** Node addresses (cali40all-hosts-net). Default three addresses in 10.0.0.0/24. */
  hosts?: string[];
  /** Pods on this node. Default 3. */
  workloads?: number;
  /** Encapsulation: IPIP (tunl0, default) or VXLAN (vxlan.calico, UDP 4789). */
  encapsulation?: 'ipip' | 'vxlan';
}

export interface CalicoWorkload {
  iface: string;
  ip: string;
  namespace: string;
  /** Pods labelled as web servers are allowed by a NetworkPolicy on TCP 80 from the `frontend` set. */
  policy: boolean;
}

export interface CalicoResult extends ShapeResult {
  /** `ipset save` text for the sets the rules reference. */
  ipset: string;
  workloads: CalicoWorkload[];
  pool: string;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Felix's rule comment: `cali:` and a 16-character hash (random here, stable per seed). */
function caliId(rng: Random): string {
  let s = 'cali:';
  for (let i = 0; i < 16; i++) s += B64URL[rng.int(0, 63)];
  return comment(s);
}

function hex(rng: Random, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += '0123456789abcdef'[rng.int(0, 15)];
  return s;
}

/** Calico (Felix, iptables dataplane) chains in raw, mangle, filter and nat, plus the ipsets they match. */
export function addCalico(doc: SaveDocument, opts: CalicoOptions = {}): Omit<CalicoResult, 'text'> {
  const rng = new Random(opts.seed ?? 1);
  const id = () => caliId(rng);
  const pool = opts.pool ?? '192.168.0.0/16';
  const poolNet = parsePrefix(pool);
  const hosts = opts.hosts ?? ['10.0.0.11', '10.0.0.12', '10.0.0.13'];
  const ipip = (opts.encapsulation ?? 'ipip') === 'ipip';
  // This node's /26 block from the pool.
  const block = subPrefix(poolNet, 26, rng.int(0, 2 ** Math.max(0, 26 - poolNet.prefix) - 1));
  const namespaces = ['default', 'prod', 'kube-system'];
  const workloads: CalicoWorkload[] = [];
  for (let i = 0; i < (opts.workloads ?? 3); i++) {
    workloads.push({
      iface: `cali${hex(rng, 11)}`,
      ip: intToIp(block.network + 1 + i),
      namespace: namespaces[i % namespaces.length] as string,
      policy: i % 2 === 0,
    });
  }
  const frontendSet = `cali40s:${[...Array(22)].map(() => B64URL[rng.int(0, 61)]).join('')}`;
  const policyChain = `cali-pi-_${[...Array(19)].map(() => B64URL[rng.int(0, 61)]).join('')}`;
  const ACCEPT_MARK = '0x10000/0x10000';

  // raw
  const raw = doc.table('raw');
  raw.add('PREROUTING', `${id()} -j cali-PREROUTING`);
  raw.add('OUTPUT', `${id()} -j cali-OUTPUT`);
  raw.add('cali-OUTPUT', `${id()} -j MARK --set-xmark 0x0/0xf0000`);
  raw.add('cali-OUTPUT', `${id()} -j cali-to-host-endpoint`);
  raw.add('cali-OUTPUT', `${id()} -m mark --mark ${ACCEPT_MARK} -j ACCEPT`);
  raw.add('cali-PREROUTING', `${id()} -j MARK --set-xmark 0x0/0xf0000`);
  raw.add('cali-PREROUTING', `-i cali+ ${id()} -j MARK --set-xmark 0x40000/0x40000`);
  raw.add('cali-PREROUTING', `${id()} -m mark --mark 0x40000/0x40000 -j cali-rpf-skip`);
  raw.add('cali-PREROUTING', `${id()} -m mark --mark 0x40000/0x40000 -m rpfilter --validmark --invert -j DROP`);
  raw.add('cali-PREROUTING', `${id()} -m mark --mark 0x0/0x40000 -j cali-from-host-endpoint`);
  raw.add('cali-PREROUTING', `${id()} -m mark --mark ${ACCEPT_MARK} -j ACCEPT`);
  raw.chain('cali-from-host-endpoint').chain('cali-rpf-skip').chain('cali-to-host-endpoint');

  // mangle
  const mangle = doc.table('mangle');
  mangle.add('PREROUTING', `${id()} -j cali-PREROUTING`);
  mangle.add('POSTROUTING', `${id()} -j cali-POSTROUTING`);
  mangle.add('cali-PREROUTING', `${id()} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
  mangle.add('cali-PREROUTING', `${id()} -m mark --mark ${ACCEPT_MARK} -j ACCEPT`);
  mangle.add('cali-PREROUTING', `${id()} -j cali-from-host-endpoint`);
  mangle.add(
    'cali-PREROUTING',
    `${id()} -m comment --comment "Host endpoint policy accepted packet." -m mark --mark ${ACCEPT_MARK} -j ACCEPT`,
  );
  mangle.add('cali-POSTROUTING', `${id()} -m mark --mark ${ACCEPT_MARK} -j RETURN`);
  mangle.add('cali-POSTROUTING', `${id()} -j MARK --set-xmark 0x0/0xf0000`);
  mangle.add('cali-POSTROUTING', `${id()} -m conntrack --ctstate DNAT -j cali-to-host-endpoint`);
  mangle.add(
    'cali-POSTROUTING',
    `${id()} -m comment --comment "Host endpoint policy accepted packet." -m mark --mark ${ACCEPT_MARK} -j RETURN`,
  );
  mangle.chain('cali-from-host-endpoint').chain('cali-to-host-endpoint');

  // filter
  const f = doc.table('filter');
  f.add('INPUT', `${id()} -j cali-INPUT`);
  f.add('FORWARD', `${id()} -j cali-FORWARD`);
  f.add(
    'FORWARD',
    `${id()} -m comment --comment "Policy explicitly accepted packet." -m mark --mark ${ACCEPT_MARK} -j ACCEPT`,
  );
  f.add('FORWARD', `${id()} -j MARK --set-xmark ${ACCEPT_MARK}`);
  f.add('OUTPUT', `${id()} -j cali-OUTPUT`);

  f.add('cali-FORWARD', `${id()} -j MARK --set-xmark 0x0/0xe0000`);
  f.add('cali-FORWARD', `${id()} -m mark --mark 0x0/0x10000 -j cali-from-hep-forward`);
  f.add('cali-FORWARD', `-i cali+ ${id()} -j cali-from-wl-dispatch`);
  f.add('cali-FORWARD', `-o cali+ ${id()} -j cali-to-wl-dispatch`);
  f.add('cali-FORWARD', `${id()} -j cali-to-hep-forward`);
  f.add('cali-FORWARD', `${id()} -j cali-cidr-block`);
  f.chain('cali-from-hep-forward').chain('cali-to-hep-forward').chain('cali-cidr-block');

  if (ipip) {
    f.add(
      'cali-INPUT',
      `-p ipencap ${id()} -m comment --comment "Allow IPIP packets from Calico hosts" -m set --match-set cali40all-hosts-net src -m addrtype --dst-type LOCAL -j ACCEPT`,
    );
    f.add('cali-INPUT', `-p ipencap ${id()} -m comment --comment "Drop IPIP packets from non-Calico hosts" -j DROP`);
  } else {
    f.add(
      'cali-INPUT',
      `-p udp ${id()} -m comment --comment "Allow IPv4 VXLAN packets from allowed hosts" -m multiport --dports 4789 -m set --match-set cali40all-vxlan-net src -m addrtype --dst-type LOCAL -j ACCEPT`,
    );
    f.add(
      'cali-INPUT',
      `-p udp ${id()} -m comment --comment "Drop IPv4 VXLAN packets from non-allowed hosts" -m multiport --dports 4789 -m addrtype --dst-type LOCAL -j DROP`,
    );
  }
  f.add('cali-INPUT', `-i cali+ ${id()} -g cali-wl-to-host`);
  f.add('cali-INPUT', `${id()} -m mark --mark ${ACCEPT_MARK} -j ACCEPT`);
  f.add('cali-INPUT', `${id()} -j MARK --set-xmark 0x0/0xf0000`);
  f.add('cali-INPUT', `${id()} -j cali-from-host-endpoint`);
  f.add(
    'cali-INPUT',
    `${id()} -m comment --comment "Host endpoint policy accepted packet." -m mark --mark ${ACCEPT_MARK} -j ACCEPT`,
  );
  f.chain('cali-from-host-endpoint').chain('cali-to-host-endpoint');

  f.add('cali-OUTPUT', `${id()} -m mark --mark ${ACCEPT_MARK} -j ACCEPT`);
  f.add('cali-OUTPUT', `-o cali+ ${id()} -j RETURN`);
  if (ipip) {
    f.add(
      'cali-OUTPUT',
      `-p ipencap ${id()} -m comment --comment "Allow IPIP packets to other Calico hosts" -m set --match-set cali40all-hosts-net dst -m addrtype --src-type LOCAL -j ACCEPT`,
    );
  } else {
    f.add(
      'cali-OUTPUT',
      `-p udp ${id()} -m comment --comment "Allow IPv4 VXLAN packets to other allowed hosts" -m multiport --dports 4789 -m set --match-set cali40all-vxlan-net dst -m addrtype --src-type LOCAL -j ACCEPT`,
    );
  }
  f.add('cali-OUTPUT', `${id()} -j MARK --set-xmark 0x0/0xf0000`);
  f.add('cali-OUTPUT', `${id()} -m conntrack ! --ctstate DNAT -j cali-to-host-endpoint`);
  f.add(
    'cali-OUTPUT',
    `${id()} -m comment --comment "Host endpoint policy accepted packet." -m mark --mark ${ACCEPT_MARK} -j ACCEPT`,
  );

  f.add('cali-wl-to-host', `${id()} -j cali-from-wl-dispatch`);
  f.add('cali-wl-to-host', `${id()} -m comment --comment "Configured DefaultEndpointToHostAction" -j ACCEPT`);

  for (const w of workloads) {
    f.add('cali-from-wl-dispatch', `-i ${w.iface} ${id()} -g cali-fw-${w.iface}`);
    f.add('cali-to-wl-dispatch', `-o ${w.iface} ${id()} -g cali-tw-${w.iface}`);
  }
  f.add('cali-from-wl-dispatch', `${id()} -m comment --comment "Unknown interface" -j DROP`);
  f.add('cali-to-wl-dispatch', `${id()} -m comment --comment "Unknown interface" -j DROP`);

  const profiles = new Set<string>();
  for (const w of workloads) {
    const profile = `kns.${w.namespace}`;
    profiles.add(profile);
    const fw = `cali-fw-${w.iface}`;
    f.add(fw, `${id()} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
    f.add(fw, `${id()} -m conntrack --ctstate INVALID -j DROP`);
    f.add(fw, `${id()} -j MARK --set-xmark 0x0/0x10000`);
    if (ipip) {
      f.add(
        fw,
        `-p ipencap ${id()} -m comment --comment "Drop IPinIP encapped packets originating in workloads" -j DROP`,
      );
    } else {
      f.add(
        fw,
        `-p udp ${id()} -m comment --comment "Drop VXLAN encapped packets originating in workloads" -m multiport --dports 4789 -j DROP`,
      );
    }
    f.add(fw, `${id()} -j cali-pro-${profile}`);
    f.add(fw, `${id()} -m comment --comment "Return if profile accepted" -m mark --mark ${ACCEPT_MARK} -j RETURN`);
    f.add(fw, `${id()} -m comment --comment "Drop if no profiles matched" -j DROP`);

    const tw = `cali-tw-${w.iface}`;
    f.add(tw, `${id()} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
    f.add(tw, `${id()} -m conntrack --ctstate INVALID -j DROP`);
    f.add(tw, `${id()} -j MARK --set-xmark 0x0/0x10000`);
    if (w.policy) {
      f.add(tw, `${id()} -m comment --comment "Start of policies" -j MARK --set-xmark 0x0/0x20000`);
      f.add(tw, `${id()} -m mark --mark 0x0/0x20000 -j ${policyChain}`);
      f.add(tw, `${id()} -m comment --comment "Return if policy accepted" -m mark --mark ${ACCEPT_MARK} -j RETURN`);
      f.add(tw, `${id()} -m comment --comment "Drop if no policies passed packet" -m mark --mark 0x0/0x20000 -j DROP`);
    }
    f.add(tw, `${id()} -j cali-pri-${profile}`);
    f.add(tw, `${id()} -m comment --comment "Return if profile accepted" -m mark --mark ${ACCEPT_MARK} -j RETURN`);
    f.add(tw, `${id()} -m comment --comment "Drop if no profiles matched" -j DROP`);
  }
  if (workloads.some((w) => w.policy)) {
    f.add(
      policyChain,
      `-p tcp ${id()} -m comment --comment "Policy ${'default'}/knp.default.allow-frontend ingress" -m set --match-set ${frontendSet} src -m multiport --dports 80 -j MARK --set-xmark ${ACCEPT_MARK}`,
    );
    f.add(policyChain, `${id()} -m mark --mark ${ACCEPT_MARK} -j RETURN`);
  }
  for (const p of [...profiles].sort()) {
    for (const dir of ['pri', 'pro']) {
      f.add(`cali-${dir}-${p}`, `${id()} -j MARK --set-xmark ${ACCEPT_MARK}`);
      f.add(`cali-${dir}-${p}`, `${id()} -m mark --mark ${ACCEPT_MARK} -j RETURN`);
    }
  }

  // nat
  const nat = doc.table('nat');
  nat.add('PREROUTING', `${id()} -j cali-PREROUTING`);
  nat.add('OUTPUT', `${id()} -j cali-OUTPUT`);
  nat.add('POSTROUTING', `${id()} -j cali-POSTROUTING`);
  nat.add('cali-OUTPUT', `${id()} -j cali-fip-dnat`);
  nat.add('cali-PREROUTING', `${id()} -j cali-fip-dnat`);
  nat.add('cali-POSTROUTING', `${id()} -j cali-fip-snat`);
  nat.add('cali-POSTROUTING', `${id()} -j cali-nat-outgoing`);
  const tunnel = ipip ? 'tunl0' : 'vxlan.calico';
  nat.add(
    'cali-POSTROUTING',
    `-o ${tunnel} ${id()} -m addrtype ! --src-type LOCAL --limit-iface-out -m addrtype --src-type LOCAL -j MASQUERADE --random-fully`,
  );
  nat.add(
    'cali-nat-outgoing',
    `${id()} -m set --match-set cali40masq-ipam-pools src -m set ! --match-set cali40all-ipam-pools dst -j MASQUERADE --random-fully`,
  );
  nat.chain('cali-fip-dnat').chain('cali-fip-snat');

  // ipset save
  const create = (name: string) =>
    `create ${name} hash:net family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x${hex(rng, 8)}`;
  const ipset: string[] = [];
  ipset.push(create('cali40all-ipam-pools'), `add cali40all-ipam-pools ${pool}`);
  ipset.push(create('cali40masq-ipam-pools'), `add cali40masq-ipam-pools ${pool}`);
  const hostsSet = ipip ? 'cali40all-hosts-net' : 'cali40all-vxlan-net';
  ipset.push(create(hostsSet), ...hosts.map((h) => `add ${hostsSet} ${h}`));
  ipset.push(create(frontendSet));
  // Two "frontend" pods elsewhere in the pool.
  for (let i = 0; i < 2; i++) {
    const other = subPrefix(poolNet, 26, (rng.int(1, 2 ** Math.max(0, 26 - poolNet.prefix) - 1) + 0) >>> 0);
    ipset.push(`add ${frontendSet} ${intToIp(other.network + 2 + i)}`);
  }
  return { ipset: `${ipset.join('\n')}\n`, workloads, pool };
}

export function calicoShaped(opts: CalicoOptions = {}): CalicoResult {
  const doc = new SaveDocument();
  const r = addCalico(doc, opts);
  return { text: doc.render({ backend: opts.backend, seed: opts.seed }), ...r };
}

// ---------------------------------------------------------------- Docker

export interface DockerOptions extends Common {
  /** docker0's network. Default 172.17.0.0/16. */
  bridgeCIDR?: string;
  /** Containers on docker0 with a published TCP port each. Default 2. */
  publishedContainers?: number;
  /** Extra user-defined bridge networks (br-xxxxxxxxxxxx). Default 1. */
  userNetworks?: number;
}

export interface DockerPublished {
  hostPort: number;
  containerIP: string;
  containerPort: number;
  bridge: string;
}

/** dockerd's filter (FORWARD policy DROP, DOCKER-USER, isolation stages) and nat (DNAT for published ports) rules. */
export function addDocker(
  doc: SaveDocument,
  opts: DockerOptions = {},
): { published: DockerPublished[]; bridges: string[] } {
  const rng = new Random(opts.seed ?? 1);
  const networks: { bridge: string; cidr: string }[] = [
    { bridge: 'docker0', cidr: opts.bridgeCIDR ?? '172.17.0.0/16' },
  ];
  for (let i = 0; i < (opts.userNetworks ?? 1); i++) {
    networks.push({ bridge: `br-${hex(rng, 12)}`, cidr: `172.${18 + i}.0.0/16` });
  }
  const published: DockerPublished[] = [];
  const hostPorts = rng.sample(
    [8080, 8081, 8443, 9000, 3000, 5000, 8888, 9090, 6080, 8000],
    opts.publishedContainers ?? 2,
  );
  hostPorts.forEach((hostPort, i) => {
    const net = networks[i % networks.length] as { bridge: string; cidr: string };
    const base = parsePrefix(net.cidr).network;
    published.push({
      hostPort,
      containerIP: intToIp(base + 2 + Math.floor(i / networks.length)),
      containerPort: rng.pick([80, 443, 8080, 3000, 5432]),
      bridge: net.bridge,
    });
  });

  const f = doc.table('filter');
  f.policy('FORWARD', 'DROP');
  f.add('FORWARD', '-j DOCKER-USER');
  f.add('FORWARD', '-j DOCKER-ISOLATION-STAGE-1');
  // Docker inserts each new network's rules at the top of FORWARD, so the newest bridge comes first.
  for (const n of [...networks].reverse()) {
    f.add('FORWARD', `-o ${n.bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
    f.add('FORWARD', `-o ${n.bridge} -j DOCKER`);
    f.add('FORWARD', `-i ${n.bridge} ! -o ${n.bridge} -j ACCEPT`);
    f.add('FORWARD', `-i ${n.bridge} -o ${n.bridge} -j ACCEPT`);
  }
  for (const p of published) {
    f.add(
      'DOCKER',
      `-d ${p.containerIP}/32 ! -i ${p.bridge} -o ${p.bridge} -p tcp -m tcp --dport ${p.containerPort} -j ACCEPT`,
    );
  }
  f.chain('DOCKER');
  for (const n of [...networks].reverse()) {
    f.add('DOCKER-ISOLATION-STAGE-1', `-i ${n.bridge} ! -o ${n.bridge} -j DOCKER-ISOLATION-STAGE-2`);
  }
  f.add('DOCKER-ISOLATION-STAGE-1', '-j RETURN');
  for (const n of [...networks].reverse()) f.add('DOCKER-ISOLATION-STAGE-2', `-o ${n.bridge} -j DROP`);
  f.add('DOCKER-ISOLATION-STAGE-2', '-j RETURN');
  f.add('DOCKER-USER', '-j RETURN');

  const nat = doc.table('nat');
  nat.add('PREROUTING', '-m addrtype --dst-type LOCAL -j DOCKER');
  nat.add('OUTPUT', '! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER');
  for (const n of [...networks].reverse()) nat.add('POSTROUTING', `-s ${n.cidr} ! -o ${n.bridge} -j MASQUERADE`);
  for (const p of published) {
    nat.add(
      'POSTROUTING',
      `-s ${p.containerIP}/32 -d ${p.containerIP}/32 -p tcp -m tcp --dport ${p.containerPort} -j MASQUERADE`,
    );
  }
  for (const n of [...networks].reverse()) nat.add('DOCKER', `-i ${n.bridge} -j RETURN`);
  for (const p of published) {
    nat.add(
      'DOCKER',
      `! -i ${p.bridge} -p tcp -m tcp --dport ${p.hostPort} -j DNAT --to-destination ${p.containerIP}:${p.containerPort}`,
    );
  }
  return { published, bridges: networks.map((n) => n.bridge) };
}

export function dockerShaped(
  opts: DockerOptions = {},
): ShapeResult & { published: DockerPublished[]; bridges: string[] } {
  const doc = new SaveDocument();
  const r = addDocker(doc, opts);
  return { text: doc.render({ backend: opts.backend, seed: opts.seed }), ...r };
}

// ---------------------------------------------------------------- RHEL/CentOS host firewall (seed 000)

export interface FirewalldInputOptions extends Common {
  /**
   * Protocol of the rule that opens 8472 (flannel VXLAN). 'udp' is right; 'tcp' is seed 000's mistake (the rule
   * exists but VXLAN still hits the final REJECT); 'none' leaves the port closed.
   */
  vxlanProto?: 'udp' | 'tcp' | 'none';
  /** 'firewalld': CentOS 7 firewalld zone chains (default). 'flat': iptables-services, everything in INPUT. */
  style?: 'firewalld' | 'flat';
  /** Extra TCP ports to open; default the Kubernetes node ports (22, 6443, 10250, 30000-32767 etc.). */
  tcpPorts?: (number | [number, number])[];
  /** Reject forwarded traffic too (RHEL default); default true. */
  forwardReject?: boolean;
  /** Interface bound to the public zone; default eth0. */
  iface?: string;
}

const DEFAULT_TCP_PORTS: (number | [number, number])[] = [
  22,
  [2379, 2380],
  6443,
  10250,
  [10251, 10252],
  [30000, 32767],
];

function portSpec(p: number | [number, number]): string {
  return typeof p === 'number' ? String(p) : `${p[0]}:${p[1]}`;
}

/** The host firewall of seed 000: accept established, loopback and ICMP, a list of NEW ports, REJECT the rest. */
export function addFirewalldInput(doc: SaveDocument, opts: FirewalldInputOptions = {}): void {
  const vxlan = opts.vxlanProto ?? 'udp';
  const style = opts.style ?? 'firewalld';
  const tcpPorts = opts.tcpPorts ?? DEFAULT_TCP_PORTS;
  const iface = opts.iface ?? 'eth0';
  const f = doc.table('filter');
  const reject = '-j REJECT --reject-with icmp-host-prohibited';

  if (style === 'flat') {
    f.add('INPUT', '-m state --state RELATED,ESTABLISHED -j ACCEPT');
    f.add('INPUT', '-p icmp -j ACCEPT');
    f.add('INPUT', '-i lo -j ACCEPT');
    for (const p of tcpPorts)
      f.add('INPUT', `-p tcp -m conntrack --ctstate NEW -m tcp --dport ${portSpec(p)} -j ACCEPT`);
    if (vxlan !== 'none') f.add('INPUT', `-p ${vxlan} -m conntrack --ctstate NEW -m ${vxlan} --dport 8472 -j ACCEPT`);
    f.add('INPUT', reject);
    if (opts.forwardReject ?? true) f.add('FORWARD', reject);
    return;
  }

  // firewalld 0.6 on iptables (CentOS 7).
  f.add('INPUT', '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT');
  f.add('INPUT', '-i lo -j ACCEPT');
  f.add('INPUT', '-j INPUT_direct');
  f.add('INPUT', '-j INPUT_ZONES_SOURCE');
  f.add('INPUT', '-j INPUT_ZONES');
  f.add('INPUT', '-m conntrack --ctstate INVALID -j DROP');
  f.add('INPUT', reject);
  f.add('FORWARD', '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT');
  f.add('FORWARD', '-i lo -j ACCEPT');
  f.add('FORWARD', '-j FORWARD_direct');
  f.add('FORWARD', '-j FORWARD_IN_ZONES_SOURCE');
  f.add('FORWARD', '-j FORWARD_IN_ZONES');
  f.add('FORWARD', '-j FORWARD_OUT_ZONES_SOURCE');
  f.add('FORWARD', '-j FORWARD_OUT_ZONES');
  f.add('FORWARD', '-m conntrack --ctstate INVALID -j DROP');
  if (opts.forwardReject ?? true) f.add('FORWARD', reject);
  f.add('OUTPUT', '-o lo -j ACCEPT');
  f.add('OUTPUT', '-j OUTPUT_direct');
  for (const c of ['INPUT_direct', 'INPUT_ZONES_SOURCE', 'FORWARD_direct', 'FORWARD_IN_ZONES_SOURCE']) f.chain(c);
  for (const c of ['FORWARD_OUT_ZONES_SOURCE', 'OUTPUT_direct', 'IN_public_log', 'IN_public_deny']) f.chain(c);
  for (const c of ['FWDI_public_log', 'FWDI_public_deny', 'FWDI_public_allow']) f.chain(c);
  for (const c of ['FWDO_public_log', 'FWDO_public_deny', 'FWDO_public_allow']) f.chain(c);
  f.add('INPUT_ZONES', `-i ${iface} -g IN_public`);
  f.add('INPUT_ZONES', '-g IN_public');
  f.add('FORWARD_IN_ZONES', `-i ${iface} -g FWDI_public`);
  f.add('FORWARD_IN_ZONES', '-g FWDI_public');
  f.add('FORWARD_OUT_ZONES', `-o ${iface} -g FWDO_public`);
  f.add('FORWARD_OUT_ZONES', '-g FWDO_public');
  for (const [zone, base] of [
    ['IN_public', 'IN_public'],
    ['FWDI_public', 'FWDI_public'],
    ['FWDO_public', 'FWDO_public'],
  ] as const) {
    f.add(zone, `-j ${base}_log`);
    f.add(zone, `-j ${base}_deny`);
    f.add(zone, `-j ${base}_allow`);
    if (zone !== 'FWDO_public') f.add(zone, '-p icmp -j ACCEPT');
  }
  for (const p of tcpPorts) {
    f.add('IN_public_allow', `-p tcp -m tcp --dport ${portSpec(p)} -m conntrack --ctstate NEW -j ACCEPT`);
  }
  if (vxlan !== 'none') {
    f.add('IN_public_allow', `-p ${vxlan} -m ${vxlan} --dport 8472 -m conntrack --ctstate NEW -j ACCEPT`);
  }
}

export function firewalldInputShaped(opts: FirewalldInputOptions = {}): ShapeResult {
  const doc = new SaveDocument();
  addFirewalldInput(doc, opts);
  return { text: doc.render({ backend: opts.backend, seed: opts.seed }) };
}
