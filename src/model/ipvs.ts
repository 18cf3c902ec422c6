/**
 * A node's IPVS table (kube-proxy in ipvs mode), read from its snapshot: `ipvsadm -Sn` (id `ipvsadm-save`, exact) and
 * `ipvsadm -Ln` (id `ipvsadm-list`, carries the connection counters; what users paste, as in seed 003).
 *
 * API
 *   ipvsTable(node)            → IpvsTable | undefined
 *       The node's virtual services with their real servers; undefined when neither command was collected (or
 *       ipvsadm is not installed). A command that ran and failed (the ip_vs module not loaded) gives an empty table
 *       with `available: false`. Parsed once per node; parse problems join `node.issues`.
 *   ipvsLookup(node, { proto, dst, dport, mark? })  → IpvsHit | undefined
 *       What IPVS does with a packet that reached LOCAL_IN (or LOCAL_OUT) of the node: the virtual service it hits, in
 *       the kernel's order (fwmark service for the packet's mark, then proto+VIP+port, then a persistent port-0
 *       service on the VIP), and its real servers split into `schedulable` (weight > 0) and `terminating`
 *       (weight 0: kube-proxy's graceful termination; only existing connections use them). `outcome` is `forward`
 *       when a new connection gets a real server, `no-real-server` when it cannot: the kernel then answers with ICMP
 *       port unreachable (ip_vs_leave), which a TCP client sees as "connection refused" and nmap as "filtered".
 *       undefined when no virtual service matches (IPVS leaves the packet alone).
 *   kubeIpvsAddresses(node)    → string[]
 *       The addresses kube-proxy binds on its dummy device kube-ipvs0 (every ClusterIP/ExternalIP it serves): they
 *       make the VIP local, so the packet goes to INPUT, where IPVS takes it.
 *   ipvsLine(service, realServer?) → string
 *       An evidence line for a virtual service or one of its real servers, in `ipvsadm -Ln` words.
 */

import type { ParseIssue } from '../core/errors.js';
import { normalizeIp } from '../core/ip.js';
import {
  type IpvsadmParseResult,
  type IpvsProtocol,
  parseIpvsadmList,
  parseIpvsadmSave,
  type RealServer,
  serviceKey,
  type VirtualService,
} from '../parse/ipvsadm.js';
import type { NodeModel } from './cluster.js';

export type { IpvsProtocol, RealServer, VirtualService } from '../parse/ipvsadm.js';

/** The dummy device kube-proxy's ipvs mode binds every service address to. */
export const KUBE_IPVS_DEVICE = 'kube-ipvs0';

export interface IpvsTable {
  node: string;
  /** Which snapshot record the structure came from. */
  source: 'ipvsadm-save' | 'ipvsadm-list';
  /** `<node file>#ipvsadm-save`: with a service's or real server's `line`, the exact place in the snapshot. */
  file: string;
  /** False when ipvsadm ran and failed (no ip_vs in the kernel): no IPVS service can exist. */
  available: boolean;
  services: VirtualService[];
  /** Why ipvsadm failed, when it did (its stderr). */
  error?: string;
}

export interface IpvsQuery {
  /** IP protocol number (6 tcp, 17 udp, 132 sctp) or name. */
  proto: number | 'tcp' | 'udp' | 'sctp';
  dst: string;
  dport: number;
  /** The packet's fwmark (set by iptables MARK), for fwmark services. */
  mark?: number;
}

export interface IpvsHit {
  table: IpvsTable;
  service: VirtualService;
  /** Real servers new connections are scheduled to (weight > 0). */
  schedulable: RealServer[];
  /** Weight-0 real servers: kept for established connections while the endpoint terminates. */
  terminating: RealServer[];
  outcome: 'forward' | 'no-real-server';
  /** For `no-real-server`: the kernel's answer and what the client sees. */
  reply?: { icmp: 'port-unreachable'; clientSees: 'refused' };
  /** The service line and its real server lines, in `ipvsadm -Ln` words, for evidence. */
  lines: string[];
}

const PROTO_NAMES: Record<number, IpvsProtocol> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

const cache = new WeakMap<NodeModel, IpvsTable | null>();

function tryParse(
  node: NodeModel,
  id: 'ipvsadm-save' | 'ipvsadm-list',
  parse: (text: string, file: string) => IpvsadmParseResult,
): { result?: IpvsadmParseResult; failed?: string } | undefined {
  const rec = node.snapshot.commands[id];
  if (!rec || rec.missing) return undefined;
  const text = node.output(id);
  if (text === undefined) return { failed: rec.stderr.trim() || `exit code ${rec.exitCode}` };
  return { result: parse(text, `${node.file}#${id}`) };
}

export function ipvsTable(node: NodeModel): IpvsTable | undefined {
  const cached = cache.get(node);
  if (cached !== undefined) return cached ?? undefined;
  const save = tryParse(node, 'ipvsadm-save', parseIpvsadmSave);
  const list = tryParse(node, 'ipvsadm-list', parseIpvsadmList);
  let table: IpvsTable | null = null;
  // -Sn is exact (no column guessing); -Ln adds the connection counters, merged in by service and real server.
  const primary = save?.result ? { id: 'ipvsadm-save' as const, r: save.result } : undefined;
  const secondary = list?.result ? { id: 'ipvsadm-list' as const, r: list.result } : undefined;
  const main = primary ?? secondary;
  if (main) {
    node.issues.push(...main.r.issues);
    const services = main.r.services;
    if (primary && secondary) {
      const counters = new Map<string, RealServer>();
      for (const s of secondary.r.services)
        for (const rs of s.realServers) counters.set(`${serviceKey(s)} ${rs.address}:${rs.port}`, rs);
      for (const s of services)
        for (const rs of s.realServers) {
          const c = counters.get(`${serviceKey(s)} ${rs.address}:${rs.port}`);
          if (c?.activeConns !== undefined) rs.activeConns = c.activeConns;
          if (c?.inactiveConns !== undefined) rs.inactiveConns = c.inactiveConns;
        }
    }
    table = { node: node.name, source: main.id, file: `${node.file}#${main.id}`, available: true, services };
  } else if (save?.failed !== undefined || list?.failed !== undefined) {
    table = {
      node: node.name,
      source: save?.failed !== undefined ? 'ipvsadm-save' : 'ipvsadm-list',
      file: `${node.file}#${save?.failed !== undefined ? 'ipvsadm-save' : 'ipvsadm-list'}`,
      available: false,
      services: [],
      error: (save?.failed ?? list?.failed) as string,
    };
  }
  cache.set(node, table);
  return table ?? undefined;
}

/** `TCP 10.108.62.55:5473 rr` or `  -> 10.244.0.137:53 Masq 1 0 0`. */
export function ipvsLine(service: VirtualService, rs?: RealServer): string {
  if (!rs) return service.text;
  const fwd = rs.forward === 'masq' ? 'Masq' : rs.forward[0]?.toUpperCase() + rs.forward.slice(1);
  const ep = rs.address.includes(':') ? `[${rs.address}]:${rs.port}` : `${rs.address}:${rs.port}`;
  const conns = rs.activeConns !== undefined ? ` ${rs.activeConns} ${rs.inactiveConns ?? 0}` : '';
  return `  -> ${ep} ${fwd} ${rs.weight}${conns}`;
}

function protoName(p: IpvsQuery['proto']): IpvsProtocol | undefined {
  return typeof p === 'number' ? PROTO_NAMES[p] : p;
}

export function ipvsLookup(node: NodeModel, q: IpvsQuery): IpvsHit | undefined {
  const table = ipvsTable(node);
  if (!table || table.services.length === 0) return undefined;
  const proto = protoName(q.proto);
  const dst = normalizeIp(q.dst);
  if (!proto || dst === undefined) return undefined;
  const family = dst.includes(':') ? 6 : 4;
  // The kernel's order (ip_vs_service_find): fwmark first, then the exact tuple, then a persistent port-0 service.
  const service =
    (q.mark
      ? table.services.find((s) => s.protocol === 'fwmark' && s.fwmark === q.mark && s.family === family)
      : undefined) ??
    table.services.find((s) => s.protocol === proto && s.address === dst && s.port === q.dport) ??
    table.services.find((s) => s.protocol === proto && s.address === dst && s.port === 0 && s.persistent !== undefined);
  if (!service) return undefined;
  const schedulable = service.realServers.filter((r) => r.weight > 0);
  const terminating = service.realServers.filter((r) => r.weight === 0);
  const hit: IpvsHit = {
    table,
    service,
    schedulable,
    terminating,
    outcome: schedulable.length > 0 ? 'forward' : 'no-real-server',
    lines: [ipvsLine(service), ...service.realServers.map((r) => ipvsLine(service, r))],
  };
  if (hit.outcome === 'no-real-server') hit.reply = { icmp: 'port-unreachable', clientSees: 'refused' };
  return hit;
}

export function kubeIpvsAddresses(node: NodeModel): string[] {
  return node.addresses.filter((a) => a.ifname === KUBE_IPVS_DEVICE).map((a) => a.address);
}

/** Whether the node has the kube-ipvs0 device at all (kube-proxy ran in ipvs mode there at some point). */
export function hasKubeIpvsDevice(node: NodeModel): boolean {
  return (
    node.links.some((l) => l.name === KUBE_IPVS_DEVICE) || node.interfaces.some((i) => i.name === KUBE_IPVS_DEVICE)
  );
}

/** Parse problems met reading the table (already on `node.issues`; here for tests and messages). */
export function ipvsIssues(node: NodeModel): ParseIssue[] {
  ipvsTable(node);
  return node.issues.filter((i) => i.file.endsWith('#ipvsadm-save') || i.file.endsWith('#ipvsadm-list'));
}
