/**
 * The trace engine: a packet's whole path across the cluster, hop by hop, as the kernels of the nodes it crosses
 * handle it (DESIGN §3). Each node's netfilter verdicts come from the simulator (one hook at a time, so the trace
 * routes between them), routing from `routeGet`, overlay encapsulation from the devices, neighbours and forwarding
 * database of the snapshot. Every random choice (kube-proxy's statistic/numgen rules, IPVS scheduling) forks the trace
 * into branches; each branch ends delivered, dropped, rejected or uncertain, and a delivered request is followed by
 * its reply (ESTABLISHED), which can still die on the way back. Pure: a cluster model and a query in, a result out.
 */
import { formatIp, type Ip, parseIp } from '../core/ip.js';
import type { ClientSees, Outcome } from '../core/vocabulary.js';
import { podByIp } from '../kube/objects.js';
import { serviceByIp, serviceByNodePort } from '../kube/services.js';
import type { ClusterModel, NodeModel } from '../model/cluster.js';
import { ipvsLookup, ipvsTable, KUBE_IPVS_DEVICE, kubeIpvsAddresses } from '../model/ipvs.js';
import type { Hook, Packet } from '../netfilter/model.js';
import { makePacket } from '../netfilter/packet.js';
import type { Branch as SimBranch } from '../netfilter/simulate.js';
import { parseBridgeFdb } from '../parse/bridge-fdb.js';
import { parseIpNeigh } from '../parse/ip-neigh.js';
import { type RouteGetResult, routeGet } from '../route/get.js';
import { formatPacket, hopRules, traceDecisive } from './format.js';
import { runHook } from './hooks.js';
import { policyGate } from './policy.js';
import type {
  HopKind,
  TraceBranch,
  TraceDecisive,
  TraceEndpointReached,
  TraceHop,
  TraceQuery,
  TraceResult,
} from './types.js';

/** A node may be entered this many times by one branch before the trace calls it a loop. */
const MAX_NODE_VISITS = 16;
/** The source port of a client and of a VXLAN outer packet (a flow hash: any ephemeral port). */
const CLIENT_PORT = 40000;
const OUTER_PORT = 40001;
const MAX_BRANCHES = 256;

interface NatRecord {
  node: string;
  kind: 'dnat' | 'snat';
  /** The address (and port) before the rewrite. */
  from: { ip: Ip; port?: number };
  /** After. */
  to: { ip: Ip; port?: number };
}

/** A packet on its way, with what happened to it so far. */
interface Flight {
  pkt: Packet;
  direction: 'request' | 'reply';
  hops: TraceHop[];
  nat: NatRecord[];
  choices: string[];
  visits: number;
  /** Nodes whose netfilter rules are not in the bundle: the trace assumed they let the packet through. */
  assumed: string[];
  /** Set while this flight is an overlay's outer packet: what to continue with after decapsulation. */
  carrying?: { inner: Flight; device: string; mode: 'vxlan' | 'ipip' };
}

export type Where =
  | { kind: 'pod'; node: string; ip: string; pod?: string }
  | { kind: 'node'; node: string }
  | { kind: 'external'; ip: string };

type Leaf =
  | { end: 'delivered'; flight: Flight; at: Where }
  | {
      end: 'dropped' | 'rejected' | 'uncertain';
      flight: Flight;
      decisive: TraceDecisive | null;
      clientSees?: ClientSees;
      reason: string;
    };

export interface TraceOptions {
  /** Leave NetworkPolicy out (the datapath alone). */
  noPolicies?: boolean;
}

function copyFlight(f: Flight): Flight {
  return {
    ...f,
    pkt: { ...f.pkt },
    hops: f.hops.slice(),
    nat: f.nat.slice(),
    choices: f.choices.slice(),
    assumed: f.assumed.slice(),
  };
}

function ipText(ip: Ip): string {
  return formatIp(ip);
}

const sameIp = (a: Ip, b: Ip) => a.family === b.family && a.value === b.value;

export class TraceEngine {
  private readonly neighCache = new Map<string, ReturnType<typeof parseIpNeigh> | undefined>();
  private readonly fdbCache = new Map<string, ReturnType<typeof parseBridgeFdb> | undefined>();

  constructor(
    readonly cluster: ClusterModel,
    readonly opts: TraceOptions = {},
  ) {}

  trace(q: TraceQuery): TraceResult {
    const first = this.firstPacket(q);
    this.externalPeer = q.from.kind === 'external' ? q.from.ip : q.to.kind === 'ip' ? q.to.ip : undefined;
    const start: Flight = {
      pkt: first,
      direction: 'request',
      hops: [],
      nat: [],
      choices: [],
      visits: 0,
      assumed: [],
    };
    const leaves = this.startFrom(q.from, start);
    const branches: TraceBranch[] = [];
    for (const leaf of leaves) {
      if (branches.length >= MAX_BRANCHES) break;
      if (leaf.end !== 'delivered') {
        branches.push(this.branchOf(leaf, undefined));
        continue;
      }
      if (!this.opts.noPolicies) {
        const denied = policyGate(this.cluster, q, leaf.flight.hops, leaf.flight.pkt, leaf.at);
        if (denied) {
          const stopped: Leaf = { end: 'dropped', flight: leaf.flight, ...denied, clientSees: 'timeout' };
          branches.push(this.branchOf(stopped, this.endpointOf(leaf.at, leaf.flight.pkt)));
          continue;
        }
      }
      const endpoint = this.endpointOf(leaf.at, leaf.flight.pkt);
      if (q.from.kind === 'external' && leaf.at.kind === 'external') {
        branches.push(this.branchOf(leaf, endpoint));
        continue;
      }
      const replies = this.reply(q, leaf);
      for (const r of replies) branches.push(this.branchOf(r, endpoint));
    }
    // A Service without usable endpoints is named as such (its selector matches nothing, or nothing is ready).
    const empty = q.to.kind === 'service' ? q.to.notes.filter((n) => /no endpoints|no ready endpoint/.test(n)) : [];
    if (empty.length)
      for (const b of branches) if (b.verdict !== 'delivered') b.reason = `${b.reason}; ${empty.join('; ')}`;
    const rank = (o: Outcome) => (o === 'delivered' ? 0 : o === 'uncertain' ? 1 : 2);
    let worst = branches[0] as TraceBranch;
    for (const b of branches) if (rank(b.verdict) > rank(worst.verdict)) worst = b;
    return { verdict: worst.verdict, decisive: worst.decisive, branches, hops: worst.hops };
  }

  // ---------------------------------------------------------------- the question

  private firstPacket(q: TraceQuery): Packet {
    const src = q.from.kind === 'node' ? (q.from.ip ?? this.nodeAddress(q.from.node)) : q.from.ip;
    if (!src) throw new Error(`node ${q.from.kind === 'node' ? q.from.node : ''} has no address in the bundle`);
    const dport = q.to.port ?? (q.proto === 'icmp' ? undefined : 80);
    return makePacket({
      proto: q.proto,
      src,
      dst: q.to.ip,
      ...(q.proto === 'icmp' ? {} : { sport: CLIENT_PORT, dport }),
      state: 'new',
      ...(q.size !== undefined ? { length: q.size } : {}),
    });
  }

  private nodeAddress(node: string): string | undefined {
    return this.cluster.node(node)?.nodeIp;
  }

  private startFrom(from: TraceQuery['from'], f: Flight): Leaf[] {
    if (from.kind === 'pod') return this.fromPod(f, from.node, from.ip, `${from.namespace}/${from.name}`);
    if (from.kind === 'node') {
      const node = this.cluster.node(from.node);
      if (!node) return [this.missingNode(f, from.node, 'the source node')];
      return this.fromNode(f, node);
    }
    return this.fromOutside(f);
  }

  // ---------------------------------------------------------------- helpers

  private hop(
    f: Flight,
    kind: HopKind,
    node: string | null,
    result: TraceHop['result'],
    detail: string,
    extra: Partial<TraceHop> = {},
  ): void {
    f.hops.push({ direction: f.direction, kind, node, packet: formatPacket(f.pkt), result, detail, ...extra });
  }

  private stop(
    f: Flight,
    end: 'dropped' | 'rejected' | 'uncertain',
    decisive: TraceDecisive | null,
    reason: string,
    clientSees?: ClientSees,
  ): Leaf {
    const last = f.hops[f.hops.length - 1];
    if (last) last.decisive = true;
    return { end, flight: f, decisive, reason, ...(clientSees ? { clientSees } : {}) };
  }

  private missingNode(f: Flight, name: string, role: string): Leaf {
    this.hop(f, 'deliver', name, 'uncertain', `${role} ${name} is not in the bundle (no nodes/${name}.json)`);
    return this.stop(
      f,
      'uncertain',
      { node: name, kind: 'missing-data', table: null, chain: null, index: null, text: `nodes/${name}.json` },
      `the bundle has no snapshot of node ${name}, which this packet must cross`,
    );
  }

  /** The node that owns an address (one of its interface or local-table addresses). */
  private nodeOwning(ip: string): NodeModel | undefined {
    for (const n of this.cluster.nodes) {
      if (n.nodeIp === ip) return n;
    }
    for (const n of this.cluster.nodes) {
      if (n.addresses.some((a) => a.address === ip && a.ifname !== KUBE_IPVS_DEVICE && a.ifname !== 'lo')) return n;
    }
    return undefined;
  }

  private mtuOf(node: NodeModel, dev: string): number | undefined {
    return node.links.find((l) => l.name === dev)?.mtu;
  }

  /**
   * A packet larger than the outgoing device's MTU cannot leave with DF set (Linux sets it by default): the sender
   * gets "fragmentation needed". For an overlay's outer packet the tunnel driver sends that error to the inner
   * packet's source, so the client learns it.
   */
  private tooBigToSend(f: Flight, node: NodeModel, dev: string): Leaf | undefined {
    const mtu = this.mtuOf(node, dev);
    if (f.pkt.length === undefined || mtu === undefined || f.pkt.length <= mtu) return undefined;
    const inner = f.carrying
      ? ` (a ${f.carrying.mode === 'vxlan' ? 'VXLAN' : 'IP-in-IP'} outer packet: the inner one plus ${f.carrying.mode === 'vxlan' ? 50 : 20} bytes of headers)`
      : '';
    this.hop(
      f,
      'postrouting',
      node.name,
      'reject',
      `${dev} has MTU ${mtu}: the ${f.pkt.length}-byte packet${inner} does not fit; fragmentation needed`,
      {
        out: dev,
      },
    );
    return this.stop(
      f,
      'rejected',
      {
        node: node.name,
        kind: 'mtu',
        table: null,
        chain: null,
        index: null,
        text: `${dev} mtu ${mtu} (packet ${f.pkt.length} bytes)`,
      },
      `${node.name}'s ${dev} has MTU ${mtu}, smaller than ${this.what(f)} (${f.pkt.length} bytes)`,
      f.direction === 'reply' ? 'timeout' : 'frag needed',
    );
  }

  /** Whether an address belongs to the pod network: a pod's, or inside the cluster's pod CIDR or a node's podCIDR. */
  private isPodNetwork(ip: string): boolean {
    if (podByIp(this.cluster, ip)) return true;
    const addr = parseIp(ip);
    if (!addr) return false;
    for (const cidr of this.podCidrs()) {
      const [base, bits] = cidr.split('/');
      const net = parseIp(base ?? '');
      if (net && bits && sameSubnet(net, addr, Number(bits))) return true;
    }
    return false;
  }

  private podCidrCache?: string[];

  private podCidrs(): string[] {
    if (!this.podCidrCache) {
      const out = new Set<string>();
      for (const n of this.cluster.ofKind('Node')) {
        const spec = (n.spec ?? {}) as { podCIDR?: string; podCIDRs?: string[] };
        if (spec.podCIDR) out.add(spec.podCIDR);
        for (const c of spec.podCIDRs ?? []) out.add(c);
      }
      const conf = this.cluster.configMap('kube-flannel-cfg')?.data?.['net-conf.json'];
      const network = conf ? /"Network"\s*:\s*"([^"]+)"/.exec(conf)?.[1] : undefined;
      if (network) out.add(network);
      for (const n of this.cluster.nodes) {
        const env = n.fileContent('/run/flannel/subnet.env');
        const m = env ? /FLANNEL_NETWORK=(\S+)/.exec(env)?.[1] : undefined;
        if (m) out.add(m);
      }
      this.podCidrCache = [...out];
    }
    return this.podCidrCache;
  }

  /** The client of the query when it is outside the cluster: its address may be anywhere. */
  private externalPeer?: string;

  private isExternalPeer(ip: string): boolean {
    return this.externalPeer === ip;
  }

  private linkKind(node: NodeModel, dev: string): 'bridge' | 'vxlan' | 'ipip' | 'lo' | 'other' {
    if (dev === 'lo') return 'lo';
    const link = node.links.find((l) => l.name === dev);
    const kind = link?.kind;
    if (kind === 'bridge') return 'bridge';
    if (kind === 'vxlan') return 'vxlan';
    if (kind === 'ipip') return 'ipip';
    if (link) return 'other';
    // Without `ip -d link`, the usual names.
    if (/^(cni0|cbr0|docker0)$/.test(dev)) return 'bridge';
    if (/^(flannel\.\d+|vxlan\.calico|cilium_vxlan)$/.test(dev)) return 'vxlan';
    if (dev === 'tunl0') return 'ipip';
    return 'other';
  }

  private neighbours(node: NodeModel) {
    if (!this.neighCache.has(node.name)) {
      const text = node.output('ip-neigh');
      this.neighCache.set(node.name, text === undefined ? undefined : parseIpNeigh(text, `${node.file}#ip-neigh`));
    }
    return this.neighCache.get(node.name)?.neighbours ?? [];
  }

  private fdb(node: NodeModel) {
    if (!this.fdbCache.has(node.name)) {
      const text = node.output('bridge-fdb');
      this.fdbCache.set(node.name, text === undefined ? undefined : parseBridgeFdb(text, `${node.file}#bridge-fdb`));
    }
    return this.fdbCache.get(node.name)?.entries ?? [];
  }

  /** The bridge port (host veth) a pod's address sits behind, from the neighbour table and the bridge's fdb. */
  private podPort(node: NodeModel, bridge: string, ip: string): string | undefined {
    const mac = this.neighbours(node)
      .find((n) => n.dst === ip && n.dev === bridge)
      ?.lladdr?.toLowerCase();
    if (!mac) return undefined;
    return this.fdb(node).find((e) => e.mac === mac && e.master === bridge && e.dev !== bridge)?.dev;
  }

  /** A routed CNI's host-side veth of a pod: the device of the node's link-scope host route to the pod's address. */
  private podVeth(node: NodeModel, ip: string): string | undefined {
    const r = routeGet(node.routing, { dst: ip });
    if (!r.ok || r.type !== 'unicast' || r.gateway) return undefined;
    const kind = this.linkKind(node, r.dev);
    if (kind !== 'other') return undefined;
    const full = ip.includes(':') ? 128 : 32;
    const bits = r.route?.dst.prefix;
    return bits === full ? r.dev : undefined;
  }

  /** The bridge a pod's address belongs to on its node: the interface whose subnet holds it. */
  private podBridge(node: NodeModel, ip: string): string | undefined {
    const addr = parseIp(ip);
    if (!addr) return undefined;
    for (const a of node.addresses) {
      if (a.family !== addr.family || a.prefixlen >= (a.family === 4 ? 32 : 128)) continue;
      if (this.linkKind(node, a.ifname) !== 'bridge') continue;
      const net = parseIp(a.address);
      if (net && sameSubnet(net, addr, a.prefixlen)) return a.ifname;
    }
    return undefined;
  }

  // ---------------------------------------------------------------- netfilter

  /**
   * Run one hook of a node. Returns the branches that passed (with the packet after the hook) and the leaves that
   * ended here.
   */
  private hook(f: Flight, node: NodeModel, hook: Hook, kind: HopKind): { go: Flight[]; ended: Leaf[] } {
    if (!node.hasNetfilter) {
      // Rules not collected (a bundle made from pasted text): go on as if they let the packet through, and say so;
      // a branch delivered on that assumption is uncertain.
      this.hop(
        f,
        kind,
        node.name,
        'uncertain',
        `${node.name}'s netfilter rules are not in the bundle: assumed to let it through`,
      );
      if (!f.assumed.includes(node.name)) f.assumed.push(node.name);
      return { go: [f], ended: [] };
    }
    const { ruleset, env } = node.netfilter;
    const state = f.pkt.state;
    const res = runHook(ruleset, env, hook, f.pkt, node.name);
    const go: Flight[] = [];
    const ended: Leaf[] = [];
    const multi = res.branches.length > 1;
    for (const b of res.branches) {
      const g = multi ? copyFlight(f) : f;
      const before = g.pkt;
      g.pkt = { ...b.packet, state: b.packet.state === 'untracked' ? 'untracked' : state };
      for (const c of b.choices)
        if (c.kind === 'random')
          g.choices.push(`${node.name} ${c.rule.table}/${c.rule.chain} #${c.rule.index} ${formatTaken(c.taken)}`);
      const rewrites = b.rewrites.map((r) => r.detail);
      const extra: Partial<TraceHop> = {
        ...(before.in ? { in: before.in } : {}),
        ...(before.out ? { out: before.out } : {}),
        ...(b.matched.length ? { rules: hopRules(b.matched) } : {}),
        ...(rewrites.length ? { rewrites } : {}),
      };
      if (b.verdict === 'accept') {
        this.recordNat(g, node, before, b);
        this.hop(g, kind, node.name, 'pass', acceptDetail(b), extra);
        go.push(g);
        continue;
      }
      const d = b.decisive ? traceDecisive(b.decisive, node.name) : null;
      if (b.verdict === 'drop') {
        this.hop(g, kind, node.name, 'drop', `dropped by ${d ? describeRule(d) : 'a rule'}`, extra);
        ended.push(
          this.stop(g, 'dropped', d, `${node.name} drops ${this.what(g)} at ${hook.toUpperCase()}`, 'timeout'),
        );
      } else if (b.verdict === 'reject') {
        const sees = this.clientSeesReject(g, b.reject?.clientSees ?? 'refused');
        this.hop(
          g,
          kind,
          node.name,
          'reject',
          `rejected (${b.reject?.with ?? 'reject'}) by ${d ? describeRule(d) : 'a rule'}`,
          extra,
        );
        ended.push(
          this.stop(
            g,
            'rejected',
            d,
            `${node.name} rejects ${this.what(g)} at ${hook.toUpperCase()} (${b.reject?.with})${
              g.carrying ? `; the ICMP error goes to the sending node's kernel, not to the client, which times out` : ''
            }`,
            sees,
          ),
        );
      } else {
        this.hop(g, kind, node.name, 'uncertain', b.uncertainWhy ?? 'cannot tell', extra);
        ended.push(this.stop(g, 'uncertain', d, b.uncertainWhy ?? `${node.name}: outcome unknown at ${hook}`));
      }
    }
    return { go, ended };
  }

  /** The packet in words, for reasons: the overlay's outer packet says whose traffic it carries. */
  private what(f: Flight): string {
    const dir = f.direction === 'reply' ? 'the reply' : 'the packet';
    if (!f.carrying) return dir;
    const outer = formatPacket(f.pkt).replace(/ NEW$/, '');
    return `${dir} inside the ${f.carrying.mode === 'vxlan' ? 'VXLAN' : 'IP-in-IP'} outer packet ${outer}`;
  }

  /**
   * What the client sees when this packet is rejected: a rejected outer (overlay) packet's ICMP goes to the sending
   * node's kernel, and a rejected reply's to the server: in both cases the client waits for nothing.
   */
  private clientSeesReject(f: Flight, sees: ClientSees): ClientSees {
    if (f.carrying || f.direction === 'reply') return 'timeout';
    return sees;
  }

  private recordNat(f: Flight, node: NodeModel, before: Packet, b: SimBranch): void {
    if (f.direction !== 'request') return;
    const after = b.packet;
    if (!sameIp(before.dst, after.dst) || before.dport !== after.dport)
      f.nat.push({
        node: node.name,
        kind: 'dnat',
        from: { ip: before.dst, ...(before.dport !== undefined ? { port: before.dport } : {}) },
        to: { ip: after.dst, ...(after.dport !== undefined ? { port: after.dport } : {}) },
      });
    const masq = b.rewrites.some((r) => r.kind === 'masquerade');
    if (masq || (!sameIp(before.src, after.src) && b.rewrites.some((r) => r.kind === 'snat'))) {
      let to = after.src;
      if (masq) {
        const addr = this.masqueradeAddress(node, after);
        if (addr) to = addr;
      }
      f.nat.push({
        node: node.name,
        kind: 'snat',
        from: { ip: before.src, ...(before.sport !== undefined ? { port: before.sport } : {}) },
        to: { ip: to, ...(after.sport !== undefined ? { port: after.sport } : {}) },
      });
      b.packet.src = to;
      f.pkt.src = to;
    }
  }

  /** MASQUERADE's source: the outgoing device's address the route prefers (the kernel's inet_select_addr). */
  private masqueradeAddress(node: NodeModel, pkt: Packet): Ip | undefined {
    const r = routeGet(node.routing, { dst: ipText(pkt.dst), ...(pkt.out ? { oif: pkt.out } : {}) });
    if (r.ok && r.prefsrc) return parseIp(r.prefsrc);
    const a = node.addresses.find((x) => x.ifname === pkt.out && x.family === pkt.family);
    return a ? parseIp(a.address) : undefined;
  }

  /** Conntrack's reverse translations for a reply passing a node that translated the request. */
  private unNat(f: Flight, node: NodeModel, which: 'snat' | 'dnat'): void {
    if (f.direction !== 'reply') return;
    for (const r of f.nat) {
      if (r.node !== node.name || r.kind !== which) continue;
      if (which === 'snat' && sameIp(f.pkt.dst, r.to.ip)) {
        f.pkt.dst = r.from.ip;
        if (r.from.port !== undefined) f.pkt.dport = r.from.port;
        this.hop(
          f,
          'prerouting',
          node.name,
          'pass',
          `conntrack reverses the SNAT: destination back to ${ipText(r.from.ip)}`,
        );
      }
      if (which === 'dnat' && sameIp(f.pkt.src, r.to.ip) && (r.to.port === undefined || f.pkt.sport === r.to.port)) {
        f.pkt.src = r.from.ip;
        if (r.from.port !== undefined) f.pkt.sport = r.from.port;
        this.hop(
          f,
          'postrouting',
          node.name,
          'pass',
          `conntrack reverses the DNAT: source back to ${ipText(r.from.ip)}`,
        );
      }
    }
  }

  // ---------------------------------------------------------------- sources

  private fromPod(f: Flight, nodeName: string, ip: string, podRef: string): Leaf[] {
    const node = this.cluster.node(nodeName);
    if (!node) return [this.missingNode(f, nodeName, `the node of pod ${podRef}`)];
    const bridge = this.podBridge(node, ip);
    const veth = bridge ? undefined : this.podVeth(node, ip);
    if (veth) {
      // Calico and other routed CNIs: the pod's veth ends in the host, one /32 route per pod; everything is routed.
      f.pkt.in = veth;
      this.hop(f, 'send', nodeName, 'pass', `pod ${podRef} sends from eth0 over its veth ${veth} into ${nodeName}`, {
        out: veth,
      });
      return this.enterNode(f, node, veth);
    }
    if (!bridge) {
      this.hop(
        f,
        'send',
        nodeName,
        'uncertain',
        `no bridge on ${nodeName} holds ${ip}'s subnet, and no route names its veth`,
      );
      return [
        this.stop(
          f,
          'uncertain',
          { node: nodeName, kind: 'missing-data', table: null, chain: null, index: null, text: 'ip -j addr' },
          `cannot tell which device of ${nodeName} pod ${podRef} (${ip}) is attached to`,
        ),
      ];
    }
    const port = this.podPort(node, bridge, ip);
    f.pkt.in = bridge;
    if (port) {
      f.pkt.physIn = port;
    }
    this.hop(f, 'send', nodeName, 'pass', `pod ${podRef} sends from eth0 over ${port ?? 'its veth'} into ${bridge}`, {
      out: port ?? bridge,
    });
    const dstSubnet = this.podBridge(node, ipText(f.pkt.dst)) === bridge;
    const gw = node.addresses.some((a) => a.ifname === bridge && a.address === ipText(f.pkt.dst));
    if (dstSubnet && !gw) return this.bridged(f, node, bridge);
    return this.enterNode(f, node, bridge);
  }

  private fromNode(f: Flight, node: NodeModel): Leaf[] {
    f.visits++;
    const pkt = f.pkt;
    // IPVS catches a local connection to a virtual service at LOCAL_OUT, before routing it.
    const r = routeGet(node.routing, {
      dst: ipText(pkt.dst),
      ...(f.carrying || f.direction === 'reply' ? { src: ipText(pkt.src) } : {}),
      mark: pkt.mark,
      ipproto: pkt.proto,
      ...(pkt.sport !== undefined ? { sport: pkt.sport } : {}),
      ...(pkt.dport !== undefined ? { dport: pkt.dport } : {}),
    });
    if (!r.ok) return [this.routeFailed(f, node, r, 'output')];
    if (f.direction === 'request' && !f.carrying && r.prefsrc && f.hops.length === 0) {
      const src = parseIp(r.prefsrc);
      if (src) f.pkt.src = src;
    }
    this.hop(f, 'route', node.name, 'pass', `output route: ${r.text}`, { route: r.text, out: r.dev });
    f.pkt.out = r.dev;
    delete f.pkt.in;
    const out = this.hook(f, node, 'output', 'output');
    const leaves = [...out.ended];
    for (const g of out.go) {
      let route = r;
      if (!sameIp(g.pkt.dst, pkt.dst)) {
        // DNAT in OUTPUT: the kernel routes again.
        const again = routeGet(node.routing, { dst: ipText(g.pkt.dst), mark: g.pkt.mark });
        if (!again.ok) {
          leaves.push(this.routeFailed(g, node, again, 'output'));
          continue;
        }
        route = again;
        g.pkt.out = again.dev;
        this.hop(g, 'route', node.name, 'pass', `rerouted after DNAT: ${again.text}`, { route: again.text });
      }
      const ipvs = this.ipvsAt(g, node, route.type === 'local');
      if (ipvs) {
        leaves.push(...ipvs.ended);
        for (const h of ipvs.go) leaves.push(...this.afterIpvs(h, node));
        continue;
      }
      leaves.push(...this.postrouting(g, node, route));
    }
    return leaves;
  }

  private fromOutside(f: Flight): Leaf[] {
    // A client outside the cluster reaches a node directly (the target's node, or the node whose address is the target).
    const dst = ipText(f.pkt.dst);
    const node = this.nodeOwning(dst);
    if (!node) {
      this.hop(
        f,
        'send',
        null,
        'uncertain',
        `the client ${ipText(f.pkt.src)} is outside the cluster and ${dst} is not a node address: which node it enters is not in the bundle`,
      );
      return [
        this.stop(
          f,
          'uncertain',
          null,
          'traffic from outside the cluster is traced only to node addresses (NodePorts, host ports)',
        ),
      ];
    }
    const dev = node.interfaceOf(dst) ?? 'eth0';
    this.hop(f, 'wire', node.name, 'pass', `from ${ipText(f.pkt.src)} over the network to ${node.name} (${dev})`, {
      in: dev,
    });
    return this.enterNode(f, node, dev);
  }

  // ---------------------------------------------------------------- inside a node

  /** Same-node pod traffic stays on the bridge; with bridge-nf-call-iptables=1 it still passes iptables. */
  private bridged(f: Flight, node: NodeModel, bridge: string): Leaf[] {
    const key = `net.bridge.bridge-nf-call-${f.pkt.family === 6 ? 'ip6tables' : 'iptables'}`;
    const value = node.sysctl.get(key);
    const dstIp = ipText(f.pkt.dst);
    const toPort = this.podPort(node, bridge, dstIp);
    if (value === '0') {
      // Without br_netfilter's hooks conntrack never sees the bridged reply, so it cannot undo the request's DNAT:
      // the client gets an answer from the endpoint's address instead of the service's and discards it.
      const dnat = f.direction === 'reply' && f.nat.find((r) => r.node === node.name && r.kind === 'dnat');
      if (dnat) {
        this.hop(
          f,
          'bridge',
          node.name,
          'drop',
          `bridged on ${bridge} with ${key}=0: conntrack does not see the reply, the source stays ${ipText(f.pkt.src)} instead of ${ipText(dnat.from.ip)}, and the client discards it`,
          { in: bridge, out: bridge },
        );
        return [
          this.stop(
            f,
            'dropped',
            { node: node.name, kind: 'sysctl', table: null, chain: null, index: null, text: `${key}=0` },
            `${node.name} has ${key}=0: replies bridged between pods of one node skip conntrack, so a Service's DNAT is not undone`,
            'timeout',
          ),
        ];
      }
      this.hop(f, 'bridge', node.name, 'pass', `bridged on ${bridge}; ${key}=0: iptables does not see it`, {
        in: bridge,
        out: bridge,
      });
      return this.deliverPod(f, node, bridge);
    }
    f.pkt.bridged = true;
    if (toPort) f.pkt.physOut = toPort;
    this.hop(
      f,
      'bridge',
      node.name,
      'pass',
      `bridged on ${bridge} (${key}=${value ?? 'unknown, taken as 1'}): iptables PREROUTING, FORWARD, POSTROUTING see it`,
      { in: bridge, out: bridge },
    );
    f.pkt.in = bridge;
    delete f.pkt.out;
    const leaves: Leaf[] = [];
    const pre = this.hook(f, node, 'prerouting', 'prerouting');
    leaves.push(...pre.ended);
    for (const g of pre.go) {
      g.pkt.out = bridge;
      const fwd = this.hook(g, node, 'forward', 'forward');
      leaves.push(...fwd.ended);
      for (const h of fwd.go) {
        const post = this.hook(h, node, 'postrouting', 'postrouting');
        leaves.push(...post.ended);
        for (const k of post.go) {
          this.unNat(k, node, 'dnat');
          delete k.pkt.bridged;
          delete k.pkt.physIn;
          delete k.pkt.physOut;
          leaves.push(...this.deliverPod(k, node, bridge));
        }
      }
    }
    return leaves;
  }

  /** A routed packet arrives on a node's device: PREROUTING, routing, then INPUT or FORWARD. */
  private enterNode(f: Flight, node: NodeModel, dev: string): Leaf[] {
    f.visits++;
    if (f.visits > MAX_NODE_VISITS) {
      this.hop(f, 'route', node.name, 'uncertain', 'the packet keeps going round: a routing loop');
      return [this.stop(f, 'dropped', null, 'routing loop (the TTL runs out)', 'timeout')];
    }
    f.pkt.in = dev;
    delete f.pkt.out;
    this.unNat(f, node, 'snat');
    const pre = this.hook(f, node, 'prerouting', 'prerouting');
    const leaves = [...pre.ended];
    for (const g of pre.go) leaves.push(...this.routeInput(g, node, dev));
    return leaves;
  }

  private routeInput(f: Flight, node: NodeModel, dev: string): Leaf[] {
    const p = f.pkt;
    const r = routeGet(node.routing, {
      dst: ipText(p.dst),
      src: ipText(p.src),
      iif: dev,
      mark: p.mark,
      ipproto: p.proto,
      ...(p.sport !== undefined ? { sport: p.sport } : {}),
      ...(p.dport !== undefined ? { dport: p.dport } : {}),
    });
    if (!r.ok) return [this.routeFailed(f, node, r, 'input')];
    this.hop(f, 'route', node.name, 'pass', r.text, { route: r.text, in: dev, out: r.dev });
    if (r.type === 'local') {
      const inp = this.hook(f, node, 'input', 'input');
      const leaves = [...inp.ended];
      for (const g of inp.go) {
        const ipvs = this.ipvsAt(g, node, true);
        if (ipvs) {
          leaves.push(...ipvs.ended);
          for (const h of ipvs.go) leaves.push(...this.afterIpvs(h, node));
          continue;
        }
        leaves.push(...this.deliverLocal(g, node));
      }
      return leaves;
    }
    if (r.type !== 'unicast') {
      this.hop(f, 'route', node.name, 'uncertain', `a ${r.type} route: not traced further`);
      return [this.stop(f, 'uncertain', null, `${r.type} routes are not traced`)];
    }
    f.pkt.out = r.dev;
    const fwd = this.hook(f, node, 'forward', 'forward');
    const leaves = [...fwd.ended];
    for (const g of fwd.go) leaves.push(...this.postrouting(g, node, r));
    return leaves;
  }

  private routeFailed(f: Flight, node: NodeModel, r: RouteGetResult, path: 'input' | 'output'): Leaf {
    if (r.ok) throw new Error('routeFailed with a route');
    const forwardingOff = /forwarding is off/.test(r.reason);
    if (forwardingOff) {
      // The switch that is off: the global one, or (when it is on) the device's own.
      const dev = /forwarding is off on (\S+)/.exec(r.reason)?.[1];
      const fam = r.family === 6 ? 'ipv6' : 'ipv4';
      const global = r.family === 6 ? 'net.ipv6.conf.all.forwarding' : 'net.ipv4.ip_forward';
      const own = dev ? `net.${fam}.conf.${dev}.forwarding` : undefined;
      const key = node.sysctl.get(global) === '0' || !own || node.sysctl.get(own) === undefined ? global : own;
      this.hop(f, 'route', node.name, 'drop', `${r.reason}: the node does not route packets for others`, {});
      return this.stop(
        f,
        'dropped',
        {
          node: node.name,
          kind: 'sysctl',
          table: null,
          chain: null,
          index: null,
          text: `${key}=${node.sysctl.get(key) ?? '0'}`,
        },
        `${node.name} has forwarding off (${key}=0): it drops packets it should route`,
        'timeout',
      );
    }
    this.hop(f, 'route', node.name, 'drop', `${r.message} (${r.reason})`);
    const d: TraceDecisive = {
      node: node.name,
      kind: 'route',
      table: r.table ?? r.route?.table ?? null,
      chain: null,
      index: null,
      text: r.reason,
    };
    // What the sender sees: a local sender gets the error at once; a forwarded packet gets an ICMP error, except a
    // blackhole (silent) and a reverse-path failure (silent).
    let sees: ClientSees = 'timeout';
    let end: 'dropped' | 'rejected' = 'dropped';
    if (r.errno === 'EHOSTUNREACH') {
      sees = 'no route to host';
      end = 'rejected';
    } else if (r.errno === 'ENETUNREACH') {
      sees = 'network unreachable';
      end = 'rejected';
    } else if (r.errno === 'EACCES') {
      sees = 'admin prohibited';
      end = 'rejected';
    }
    if (f.direction === 'reply' || (f.carrying && path === 'input')) sees = 'timeout';
    return this.stop(f, end, d, `${node.name} has no usable route: ${r.reason}`, end === 'rejected' ? sees : 'timeout');
  }

  /** IPVS: a packet for one of the node's virtual services goes to a real server instead of the node. */
  private ipvsAt(f: Flight, node: NodeModel, local: boolean): { go: Flight[]; ended: Leaf[] } | undefined {
    if (!local || f.direction !== 'request' || f.carrying) return undefined;
    const dst = ipText(f.pkt.dst);
    const table = ipvsTable(node);
    const onIpvs = kubeIpvsAddresses(node).includes(dst);
    if (!table?.available) {
      if (!onIpvs) return undefined;
      this.hop(f, 'ipvs', node.name, 'uncertain', `${dst} is on ${KUBE_IPVS_DEVICE} but ipvsadm was not collected`);
      return {
        go: [],
        ended: [
          this.stop(
            f,
            'uncertain',
            { node: node.name, kind: 'missing-data', table: null, chain: null, index: null, text: 'ipvsadm -Sn' },
            `${node.name} runs kube-proxy in IPVS mode, but its IPVS table is not in the bundle`,
          ),
        ],
      };
    }
    if (f.pkt.dport === undefined) return undefined;
    const hit = ipvsLookup(node, { proto: f.pkt.proto as 6, dst, dport: f.pkt.dport, mark: f.pkt.mark });
    if (!hit) return undefined;
    const d: TraceDecisive = {
      node: node.name,
      kind: 'ipvs',
      table: null,
      chain: null,
      index: null,
      text: hit.lines.join('\n'),
    };
    if (hit.outcome === 'no-real-server') {
      this.hop(f, 'ipvs', node.name, 'reject', `IPVS virtual server ${hit.service.text} has no real server`, {
        rules: [],
      });
      return {
        go: [],
        ended: [this.stop(f, 'rejected', d, `IPVS ${hit.service.text} on ${node.name} has no real server`, 'refused')],
      };
    }
    const go: Flight[] = [];
    for (const rs of hit.schedulable) {
      const g = hit.schedulable.length > 1 ? copyFlight(f) : f;
      const to = parseIp(rs.address);
      if (!to) continue;
      g.nat.push({
        node: node.name,
        kind: 'dnat',
        from: { ip: g.pkt.dst, ...(g.pkt.dport !== undefined ? { port: g.pkt.dport } : {}) },
        to: { ip: to, port: rs.port },
      });
      if (hit.schedulable.length > 1)
        g.choices.push(`${node.name} IPVS ${hit.service.text} -> ${rs.address}:${rs.port}`);
      const before = `${dst}:${g.pkt.dport}`;
      g.pkt.origDst ??= g.pkt.dst;
      g.pkt.origDport ??= g.pkt.dport;
      g.pkt.dst = to;
      g.pkt.dport = rs.port;
      g.pkt.ctDnat = true;
      this.hop(
        g,
        'ipvs',
        node.name,
        'pass',
        `IPVS ${hit.service.text} (${hit.service.scheduler}) -> ${rs.address}:${rs.port}`,
        {
          rewrites: [`${before} → ${rs.address}:${rs.port}`],
          ...(hit.terminating.length
            ? {
                detail: `IPVS ${hit.service.text} -> ${rs.address}:${rs.port}; weight 0 (terminating): ${hit.terminating.map((t) => t.address).join(', ')}`,
              }
            : {}),
        },
      );
      go.push(g);
    }
    return { go, ended: [] };
  }

  /** After IPVS rewrote the destination, the packet leaves through LOCAL_OUT and POSTROUTING. */
  private afterIpvs(f: Flight, node: NodeModel): Leaf[] {
    const r = routeGet(node.routing, { dst: ipText(f.pkt.dst), mark: f.pkt.mark });
    if (!r.ok) return [this.routeFailed(f, node, r, 'output')];
    this.hop(f, 'route', node.name, 'pass', r.text, { route: r.text, out: r.dev });
    f.pkt.out = r.dev;
    const out = this.hook(f, node, 'output', 'output');
    const leaves = [...out.ended];
    for (const g of out.go) leaves.push(...this.postrouting(g, node, r));
    return leaves;
  }

  private postrouting(f: Flight, node: NodeModel, r: RouteGetResult & { ok: true }): Leaf[] {
    f.pkt.out = r.dev;
    const post = this.hook(f, node, 'postrouting', 'postrouting');
    const leaves = [...post.ended];
    for (const g of post.go) {
      this.unNat(g, node, 'dnat');
      if (r.type === 'local') {
        // Looped back: the packet comes in on lo.
        leaves.push(...this.enterLoopback(g, node));
        continue;
      }
      leaves.push(...this.egress(g, node, r));
    }
    return leaves;
  }

  private enterLoopback(f: Flight, node: NodeModel): Leaf[] {
    f.pkt.in = 'lo';
    delete f.pkt.out;
    const pre = this.hook(f, node, 'prerouting', 'prerouting');
    const leaves = [...pre.ended];
    for (const g of pre.go) {
      const inp = this.hook(g, node, 'input', 'input');
      leaves.push(...inp.ended);
      for (const h of inp.go) leaves.push(...this.deliverLocal(h, node));
    }
    return leaves;
  }

  // ---------------------------------------------------------------- leaving a node

  private egress(f: Flight, node: NodeModel, r: RouteGetResult & { ok: true }): Leaf[] {
    const kind = this.linkKind(node, r.dev);
    const tooBig = this.tooBigToSend(f, node, r.dev);
    if (tooBig) return [tooBig];
    if (kind === 'bridge') return this.deliverPod(f, node, r.dev);
    if (kind === 'vxlan') return this.encapVxlan(f, node, r);
    if (kind === 'ipip') return this.encapIpip(f, node, r);
    const nexthop = r.gateway ?? ipText(f.pkt.dst);
    if (!r.gateway && this.podVeth(node, nexthop) === r.dev) {
      const pod = podByIp(this.cluster, nexthop);
      if (!pod?.nodeName || pod.nodeName === node.name) return this.deliverPod(f, node, r.dev);
    }
    const next = this.nodeOwning(nexthop);
    if (next && next !== node) {
      const dev = next.interfaceOf(nexthop) ?? next.interfaceOf(next.nodeIp ?? '') ?? 'eth0';
      this.hop(f, 'wire', node.name, 'pass', `over ${r.dev} to ${next.name} (${nexthop}), arriving on ${dev}`, {
        out: r.dev,
        in: dev,
      });
      const mtu = this.mtuOf(next, dev);
      if (f.pkt.length !== undefined && mtu !== undefined && f.pkt.length > mtu) {
        // A frame larger than the receiving device's MTU is dropped there, silently: a PMTU black hole.
        this.hop(
          f,
          'wire',
          next.name,
          'drop',
          `${dev} on ${next.name} has MTU ${mtu}: the ${f.pkt.length}-byte packet is dropped on arrival`,
          {
            in: dev,
          },
        );
        return [
          this.stop(
            f,
            'dropped',
            {
              node: next.name,
              kind: 'mtu',
              table: null,
              chain: null,
              index: null,
              text: `${dev} mtu ${mtu} (packet ${f.pkt.length} bytes)`,
            },
            `${next.name}'s ${dev} (MTU ${mtu}) drops ${this.what(f)} of ${f.pkt.length} bytes without a word: a path-MTU black hole`,
            'timeout',
          ),
        ];
      }
      return this.enterNode(f, next, dev);
    }
    // Not a node of the bundle.
    const dst = ipText(f.pkt.dst);
    if (this.cluster.nodes.every((n) => n.nodeIp !== nexthop)) {
      const kubeNode = this.cluster.ofKind('Node').find((n) => JSON.stringify(n.status ?? {}).includes(`"${nexthop}"`));
      if (kubeNode) return [this.missingNode(f, kubeNode.metadata.name, 'the next hop')];
    }
    if (!r.gateway && this.isPodNetwork(dst) && !(f.direction === 'reply' && this.isExternalPeer(dst))) {
      // On link, but the address is a pod's (or in the pod network) and no node on this link holds it: the node's ARP
      // for it goes unanswered, and after about 3 s the sender gets "no route to host".
      this.hop(
        f,
        'wire',
        node.name,
        'reject',
        `${r.text}: ${dst} is taken as on link on ${r.dev}, but it is in the pod network and nothing on that link answers ARP for it`,
        { out: r.dev, route: r.text },
      );
      return [
        this.stop(
          f,
          'rejected',
          { node: node.name, kind: 'route', table: r.table, chain: null, index: null, text: r.text },
          `${node.name} routes ${dst} straight onto ${r.dev} (a connected route wins over the overlay's); its ARP goes unanswered`,
          f.direction === 'reply' || f.carrying ? 'timeout' : 'no route to host',
        ),
      ];
    }
    if (r.gateway && this.isPodNetwork(dst) && !this.isExternalPeer(dst)) {
      // A pod address sent to a router that is not a node: the pod network is not behind it.
      this.hop(
        f,
        'leave',
        node.name,
        'drop',
        `${r.text}: ${dst} is in the pod network, but ${node.name} sends it to ${r.gateway}, which is not a node`,
        { out: r.dev, route: r.text },
      );
      return [
        this.stop(
          f,
          'dropped',
          { node: node.name, kind: 'route', table: r.table, chain: null, index: null, text: r.text },
          `${node.name} has no route for the pod network of ${dst}: the packet leaves by ${r.text} and is lost outside the cluster`,
          'timeout',
        ),
      ];
    }
    if (f.direction === 'reply') {
      this.hop(f, 'leave', node.name, 'delivered', `leaves ${node.name} over ${r.dev} towards ${dst}`, { out: r.dev });
      return [{ end: 'delivered', flight: f, at: { kind: 'external', ip: dst } }];
    }
    const svc = serviceByIp(this.cluster, dst);
    if (svc && !f.nat.some((n) => n.kind === 'dnat')) {
      this.hop(
        f,
        'leave',
        node.name,
        'drop',
        `no service rule on ${node.name} translated ${dst} (Service ${svc.service.namespace}/${svc.service.name}): it follows ${r.text} out of the cluster`,
        { out: r.dev, route: r.text },
      );
      return [
        this.stop(
          f,
          'dropped',
          {
            node: node.name,
            kind: 'service',
            table: null,
            chain: null,
            index: null,
            text: `no kube-proxy rule for ${svc.service.namespace}/${svc.service.name} ${dst}; the route used: ${r.text}`,
          },
          f.pkt.proto === 1 || f.pkt.proto === 58
            ? `a ClusterIP answers only its Service's ports: kube-proxy translates TCP, UDP and SCTP ports, never a ping, so it leaves ${node.name} by ${r.text}`
            : `${node.name} has no kube-proxy rule (iptables, nftables or IPVS) for ${svc.service.namespace}/${svc.service.name} at ${dst}: is kube-proxy running there?`,
          'timeout',
        ),
      ];
    }
    this.hop(f, 'leave', node.name, 'uncertain', `leaves the cluster over ${r.dev} via ${nexthop}`, {
      out: r.dev,
      route: r.text,
    });
    return [
      this.stop(
        f,
        'uncertain',
        null,
        `the packet leaves the cluster towards ${dst}; what happens beyond ${node.name} is not in the bundle`,
      ),
    ];
  }

  private vtepOf(node: NodeModel, dev: string, gateway: string | undefined): { remote?: string; how: string } {
    if (!gateway) return { how: `no gateway on the route via ${dev}` };
    const neigh = this.neighbours(node).find((n) => n.dev === dev && n.dst === gateway);
    const mac = neigh?.lladdr?.toLowerCase();
    if (mac) {
      const fdb = this.fdb(node).find((e) => e.dev === dev && e.mac === mac && e.dst);
      if (fdb?.dst) return { remote: fdb.dst, how: `neigh ${gateway} lladdr ${mac}, fdb ${mac} dst ${fdb.dst}` };
    }
    // Without the tables: flannel's node annotations say which node owns the VTEP MAC or the subnet.
    for (const k of this.cluster.ofKind('Node')) {
      const a = k.metadata.annotations ?? {};
      const data = a['flannel.alpha.coreos.com/backend-data'];
      const vtep = data ? (/"VtepMAC":"([^"]+)"/.exec(data)?.[1] ?? '').toLowerCase() : '';
      if (mac && vtep === mac && a['flannel.alpha.coreos.com/public-ip'])
        return { remote: a['flannel.alpha.coreos.com/public-ip'], how: `node ${k.metadata.name}'s VtepMAC ${mac}` };
    }
    const owner = this.cluster.nodes.find((n) => n !== node && n.interfaceOf(gateway) === dev);
    if (owner?.nodeIp)
      return { remote: owner.nodeIp, how: `${gateway} is ${owner.name}'s ${dev} address (neigh/fdb not collected)` };
    return { how: `no neighbour entry for ${gateway} on ${dev}, and no fdb entry: the kernel cannot encapsulate` };
  }

  private encapVxlan(f: Flight, node: NodeModel, r: RouteGetResult & { ok: true }): Leaf[] {
    const link = node.links.find((l) => l.name === r.dev);
    const overlay = this.cluster.overlay;
    const port = link?.vxlan?.port ?? overlay?.port ?? 8472;
    const vtep = this.vtepOf(node, r.dev, r.gateway);
    if (!vtep.remote) {
      this.hop(f, 'encap', node.name, 'drop', vtep.how, { out: r.dev });
      return [
        this.stop(
          f,
          'dropped',
          { node: node.name, kind: 'route', table: null, chain: null, index: null, text: r.text },
          `${node.name} cannot find the VXLAN peer for ${r.gateway ?? ipText(f.pkt.dst)} on ${r.dev}: ${vtep.how}`,
          'timeout',
        ),
      ];
    }
    const local = link?.vxlan?.local ?? node.nodeIp;
    if (!local) {
      this.hop(f, 'encap', node.name, 'uncertain', `${r.dev} has no local address in the bundle`);
      return [this.stop(f, 'uncertain', null, `the source of ${node.name}'s VXLAN packets is not in the bundle`)];
    }
    const outer = makePacket({ proto: 'udp', src: local, dst: vtep.remote, sport: OUTER_PORT, dport: port });
    // Outer IPv4, UDP and VXLAN headers and the inner Ethernet header.
    if (f.pkt.length !== undefined) outer.length = f.pkt.length + 50;
    const carrier: Flight = {
      pkt: outer,
      direction: f.direction,
      hops: f.hops,
      nat: f.nat,
      choices: f.choices,
      visits: f.visits,
      assumed: f.assumed,
      carrying: { inner: f, device: r.dev, mode: 'vxlan' },
    };
    this.hop(
      carrier,
      'encap',
      node.name,
      'pass',
      `${r.dev} encapsulates (VXLAN id ${link?.vxlan?.id ?? '?'}, ${vtep.how}): outer packet udp ${local} > ${vtep.remote}:${port}`,
      { out: r.dev },
    );
    return this.fromNode(carrier, node);
  }

  private encapIpip(f: Flight, node: NodeModel, r: RouteGetResult & { ok: true }): Leaf[] {
    const remote = r.gateway;
    const local = node.nodeIp;
    if (!remote || !local) {
      this.hop(f, 'encap', node.name, 'uncertain', `IP-in-IP over ${r.dev}: no remote (gateway) or local address`);
      return [this.stop(f, 'uncertain', null, `cannot tell where ${node.name}'s IP-in-IP packet goes`)];
    }
    const outer = makePacket({ proto: 4, src: local, dst: remote });
    if (f.pkt.length !== undefined) outer.length = f.pkt.length + 20;
    const carrier: Flight = {
      pkt: outer,
      direction: f.direction,
      hops: f.hops,
      nat: f.nat,
      choices: f.choices,
      visits: f.visits,
      assumed: f.assumed,
      carrying: { inner: f, device: r.dev, mode: 'ipip' },
    };
    this.hop(
      carrier,
      'encap',
      node.name,
      'pass',
      `${r.dev} encapsulates (IP-in-IP, protocol 4): outer ${local} > ${remote}`,
      {
        out: r.dev,
      },
    );
    return this.fromNode(carrier, node);
  }

  // ---------------------------------------------------------------- arriving

  private deliverLocal(f: Flight, node: NodeModel): Leaf[] {
    if (f.carrying) return this.decap(f, node);
    this.unNat(f, node, 'dnat');
    const nodePort =
      f.direction === 'request' && f.pkt.dport !== undefined && (f.pkt.proto === 6 || f.pkt.proto === 17)
        ? serviceByNodePort(this.cluster, f.pkt.dport, f.pkt.proto === 6 ? 'TCP' : 'UDP')
        : undefined;
    if (nodePort && !f.nat.some((n) => n.kind === 'dnat')) {
      // Nothing translated a NodePort: the node's own stack gets it, where nothing listens on it.
      const svc = `${nodePort.service.namespace}/${nodePort.service.name}`;
      this.hop(
        f,
        'deliver',
        node.name,
        'reject',
        `${f.pkt.proto === 6 ? 'tcp' : 'udp'} ${f.pkt.dport} is the NodePort of ${svc}, but no kube-proxy rule on ${node.name} translated it: the node's own stack answers ${f.pkt.proto === 6 ? 'with a reset' : 'port unreachable'}`,
      );
      return [
        this.stop(
          f,
          'rejected',
          {
            node: node.name,
            kind: 'service',
            table: null,
            chain: null,
            index: null,
            text: `no kube-proxy rule for NodePort ${f.pkt.dport} (${svc}) on ${node.name}`,
          },
          `${node.name} has no kube-proxy rule for NodePort ${f.pkt.dport} of ${svc}: is kube-proxy running there?`,
          'refused',
        ),
      ];
    }
    const detail =
      f.direction === 'request'
        ? `delivered to ${node.name}'s own stack${f.pkt.dport !== undefined ? ` (whether something listens on ${f.pkt.proto === 17 ? 'udp' : 'tcp'} ${f.pkt.dport} is not in the bundle)` : ''}`
        : `the reply reaches ${node.name}`;
    this.hop(f, 'deliver', node.name, 'delivered', detail);
    return [{ end: 'delivered', flight: f, at: { kind: 'node', node: node.name } }];
  }

  private decap(f: Flight, node: NodeModel): Leaf[] {
    const c = f.carrying as NonNullable<Flight['carrying']>;
    // A copy: the outer packet may have forked into branches that each carry it.
    const inner = copyFlight(c.inner);
    let device: string | undefined;
    if (c.mode === 'vxlan') {
      device = node.links.find((l) => l.kind === 'vxlan' && (l.vxlan?.port ?? 8472) === f.pkt.dport)?.name;
      if (!device && node.links.length === 0) device = c.device;
    } else {
      device = node.links.find((l) => l.kind === 'ipip')?.name ?? (node.links.length === 0 ? 'tunl0' : undefined);
    }
    // The inner flight goes on with everything recorded while it was carried.
    inner.hops = f.hops;
    inner.nat = f.nat;
    inner.choices = f.choices;
    inner.visits = f.visits;
    inner.assumed = f.assumed;
    if (!device) {
      this.hop(inner, 'decap', node.name, 'reject', `no ${c.mode} device on ${node.name} takes this packet`);
      return [
        this.stop(
          inner,
          'rejected',
          { node: node.name, kind: 'route', table: null, chain: null, index: null, text: `no ${c.mode} device` },
          `${node.name} has no ${c.mode === 'vxlan' ? `VXLAN device on UDP ${f.pkt.dport}` : 'IP-in-IP device'}: the outer packet is answered with an ICMP error the pod never sees`,
          'timeout',
        ),
      ];
    }
    this.hop(inner, 'decap', node.name, 'pass', `${device} decapsulates; the inner packet arrives on ${device}`, {
      in: device,
    });
    return this.enterNode(inner, node, device);
  }

  private deliverPod(f: Flight, node: NodeModel, bridge: string): Leaf[] {
    const dst = ipText(f.pkt.dst);
    const pod = podByIp(this.cluster, dst);
    const ref = pod ? `${pod.namespace}/${pod.name}` : undefined;
    if (pod?.nodeName && pod.nodeName !== node.name) {
      this.hop(
        f,
        'deliver',
        node.name,
        'drop',
        `${dst} is pod ${ref} on ${pod.nodeName}, but ${node.name} routes it to its own ${bridge}`,
      );
      return [
        this.stop(
          f,
          'dropped',
          { node: node.name, kind: 'route', table: null, chain: null, index: null, text: `${dst} dev ${bridge}` },
          `${node.name} routes ${dst} to its local bridge although the pod lives on ${pod.nodeName} (stale or overlapping subnet)`,
          'timeout',
        ),
      ];
    }
    const port = this.podPort(node, bridge, dst);
    if (!pod && f.direction === 'request') {
      this.hop(
        f,
        'deliver',
        node.name,
        'uncertain',
        `${bridge}${port ? ` port ${port}` : ''}: no pod in the bundle has ${dst}`,
        {
          out: port ?? bridge,
        },
      );
      return [
        this.stop(
          f,
          'uncertain',
          { node: node.name, kind: 'missing-data', table: null, chain: null, index: null, text: `pod with IP ${dst}` },
          `no pod of the bundle has ${dst}: the node's ARP for it may go unanswered`,
        ),
      ];
    }
    this.hop(
      f,
      'deliver',
      node.name,
      'delivered',
      `${bridge}${port ? ` → ${port}` : ''} → ${ref ? `pod ${ref}` : dst}${f.direction === 'reply' ? ' (the reply is back)' : ''}`,
      { out: port ?? bridge },
    );
    return [
      { end: 'delivered', flight: f, at: { kind: 'pod', node: node.name, ip: dst, ...(ref ? { pod: ref } : {}) } },
    ];
  }

  // ---------------------------------------------------------------- the reply

  private reply(q: TraceQuery, leaf: Leaf & { end: 'delivered' }): Leaf[] {
    const req = leaf.flight;
    const p = req.pkt;
    const replyPkt: Packet = {
      family: p.family,
      proto: p.proto,
      src: p.dst,
      dst: p.src,
      state: 'established',
      mark: 0,
      ctmark: p.ctmark,
      ...(p.dport !== undefined ? { sport: p.dport } : {}),
      ...(p.sport !== undefined ? { dport: p.sport } : {}),
      ...(p.proto === 6 ? { tcpFlags: 0x12 } : {}),
      ...(p.proto === 1 && p.length !== undefined ? { length: p.length } : {}),
      ...(p.proto === 1 ? { icmpType: 0, icmpCode: 0 } : p.proto === 58 ? { icmpType: 129, icmpCode: 0 } : {}),
      ...(req.nat.some((n) => n.kind === 'dnat') ? { ctDnat: true } : {}),
      ...(req.nat.some((n) => n.kind === 'snat') ? { ctSnat: true } : {}),
    };
    const f: Flight = {
      pkt: replyPkt,
      direction: 'reply',
      hops: req.hops.slice(),
      nat: req.nat,
      choices: req.choices.slice(),
      visits: 0,
      assumed: req.assumed.slice(),
    };
    const at = leaf.at;
    let leaves: Leaf[];
    if (at.kind === 'pod') leaves = this.fromPod(f, at.node, at.ip, at.pod ?? at.ip);
    else if (at.kind === 'node') {
      const node = this.cluster.node(at.node) as NodeModel;
      leaves = this.fromNode(f, node);
    } else leaves = [{ end: 'delivered', flight: f, at }];
    // The reply must come back to the client.
    return leaves.map((l) => {
      if (l.end !== 'delivered') return l;
      if (this.isClient(q, l.at)) return l;
      this.hop(l.flight, 'deliver', null, 'uncertain', 'the reply went somewhere else than the client');
      return this.stop(l.flight, 'uncertain', null, 'the reply does not come back to the client (asymmetric NAT?)');
    });
  }

  private isClient(q: TraceQuery, at: Where): boolean {
    if (q.from.kind === 'pod') return at.kind === 'pod' && at.ip === q.from.ip;
    if (q.from.kind === 'node') return at.kind === 'node' && at.node === q.from.node;
    return at.kind === 'external' && at.ip === q.from.ip;
  }

  // ---------------------------------------------------------------- results

  private endpointOf(at: Where, pkt: Packet): TraceEndpointReached {
    const port = pkt.dport !== undefined ? { port: pkt.dport } : {};
    if (at.kind === 'pod') return { ip: at.ip, ...port, ...(at.pod ? { pod: at.pod } : {}), node: at.node };
    if (at.kind === 'node') return { ip: ipText(pkt.dst), ...port, node: at.node };
    return { ip: at.ip, ...port };
  }

  private branchOf(leaf: Leaf, reached: TraceEndpointReached | undefined): TraceBranch {
    const f = leaf.flight;
    // A branch that died after a Service's DNAT is still about the endpoint it was sent to.
    let endpoint = reached;
    const dnat = [...f.nat].reverse().find((n) => n.kind === 'dnat');
    if (!endpoint && dnat) {
      const ip = ipText(dnat.to.ip);
      const pod = podByIp(this.cluster, ip);
      endpoint = {
        ip,
        ...(dnat.to.port !== undefined ? { port: dnat.to.port } : {}),
        ...(pod ? { pod: `${pod.namespace}/${pod.name}` } : {}),
        ...(pod?.nodeName ? { node: pod.nodeName } : {}),
      };
    }
    const base = {
      choices: f.choices,
      hops: f.hops,
      ...(endpoint ? { endpoint } : {}),
    };
    const assumed = f.assumed.length
      ? `assuming the netfilter rules of ${f.assumed.join(', ')} (not in the bundle) let it through`
      : '';
    if (leaf.end === 'delivered' && f.assumed.length)
      return {
        verdict: 'uncertain',
        decisive: {
          node: f.assumed[0] as string,
          kind: 'missing-data',
          table: null,
          chain: null,
          index: null,
          text: 'iptables-save / nft list ruleset',
        },
        reason: `delivered ${assumed}`,
        ...base,
      };
    if (leaf.end === 'delivered')
      return {
        verdict: 'delivered',
        decisive: null,
        reason: endpoint?.pod
          ? `delivered to pod ${endpoint.pod}${endpoint.port !== undefined ? ` port ${endpoint.port}` : ''}, and the reply comes back`
          : endpoint?.node
            ? `delivered to node ${endpoint.node}, and the reply comes back`
            : 'delivered',
        ...base,
      };
    const said = f.direction === 'reply' ? `the request arrives, but the reply does not: ${leaf.reason}` : leaf.reason;
    const reason = assumed ? `${said} (${assumed})` : said;
    return {
      verdict: leaf.end,
      ...(leaf.end !== 'uncertain'
        ? { clientSees: f.direction === 'reply' ? 'timeout' : (leaf.clientSees ?? 'timeout') }
        : {}),
      decisive: leaf.decisive,
      reason,
      ...base,
    };
  }
}

function sameSubnet(a: Ip, b: Ip, bits: number): boolean {
  if (a.family === 4 && b.family === 4) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return ((a.value as number) & mask) >>> 0 === ((b.value as number) & mask) >>> 0;
  }
  if (a.family === 6 && b.family === 6) {
    const shift = BigInt(128 - bits);
    return (a.value as bigint) >> shift === (b.value as bigint) >> shift;
  }
  return false;
}

function formatTaken(t: boolean | string): string {
  return t === true ? 'matched' : t === false ? 'not matched' : t;
}

function describeRule(d: TraceDecisive): string {
  if (d.kind === 'rule') return `${d.table}/${d.chain} #${d.index}`;
  if (d.kind === 'policy') return `the ${d.table}/${d.chain} policy`;
  return d.text ?? d.kind;
}

function acceptDetail(b: SimBranch): string {
  const d = b.decisive;
  if (!d) return 'accepted';
  if (d.kind === 'rule') return `accepted by ${d.table}/${d.chain} #${d.index}`;
  if (d.kind === 'policy' && d.chain) return `accepted (${d.table}/${d.chain} policy ${d.policy ?? 'ACCEPT'})`;
  return d.detail ?? 'accepted';
}
