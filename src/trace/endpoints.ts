/**
 * `--from` and `--to` as the user writes them, resolved against the bundle: `pod/NS/NAME`, `svc/NS/NAME[:PORT]`,
 * `node/NAME[:PORT]`, an IP with an optional port. Unknown names are errors with close matches (exit code 2).
 */
import { UsageError } from '../core/errors.js';
import { normalizeIp, parseIp } from '../core/ip.js';
import { closeMatches, NotFoundError } from '../kube/names.js';
import { findPod, nodeByName, podByIp } from '../kube/objects.js';
import { proxyEndpoints, resolveService, serviceByIp } from '../kube/services.js';
import type { ClusterModel } from '../model/cluster.js';
import type { TraceProto, TraceQuery, TraceSource, TraceTarget } from './types.js';

const FROM_FORMS = 'pod/NAMESPACE/NAME, node/NAME or an IP address';
const TO_FORMS = 'pod/NAMESPACE/NAME[:PORT], svc/NAMESPACE/NAME[:PORT], node/NAME[:PORT] or IP[:PORT]';

function splitPort(text: string, what: string): { name: string; port?: string } {
  // IPv6 with a port: [fd00::1]:80
  const br = /^\[([^\]]+)\](?::(.+))?$/.exec(text);
  if (br) return { name: br[1] as string, ...(br[2] !== undefined ? { port: br[2] } : {}) };
  if ((text.match(/:/g) ?? []).length > 1) return { name: text };
  const i = text.lastIndexOf(':');
  if (i < 0) return { name: text };
  const port = text.slice(i + 1);
  if (!port) throw new UsageError(`${what} "${text}" ends with ":" but no port`);
  return { name: text.slice(0, i), port };
}

function portNumber(p: string | undefined, what: string): number | undefined {
  if (p === undefined) return undefined;
  if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535)
    throw new UsageError(`${what}: "${p}" is not a port (1-65535)`);
  return Number(p);
}

/** A node of the bundle by name: it must have a snapshot or a Node object. */
function bundleNode(cluster: ClusterModel, name: string): { name: string; ip?: string } {
  const snap = cluster.node(name);
  if (snap) return { name, ...(snap.nodeIp ? { ip: snap.nodeIp } : {}) };
  const names = [
    ...new Set([...cluster.nodes.map((n) => n.name), ...cluster.ofKind('Node').map((n) => n.metadata.name)]),
  ];
  if (!cluster.ofKind('Node').some((n) => n.metadata.name === name))
    throw new NotFoundError('node', name, closeMatches(name, names));
  const info = nodeByName(cluster, name);
  return { name, ...(info.internalIP ? { ip: info.internalIP } : {}) };
}

function nsName(rest: string, kind: string, forms: string): [string, string] {
  const parts = rest.split('/');
  if (parts.length === 1 && parts[0]) return ['default', parts[0]];
  if (parts.length === 2 && parts[0] && parts[1]) return [parts[0], parts[1]];
  throw new UsageError(`"${kind}/${rest}" is not ${kind}/NAMESPACE/NAME (use ${forms})`);
}

function checkIp(text: string, what: string): string {
  const ip = parseIp(text);
  if (!ip) throw new UsageError(`${what} "${text}" is neither ${what === '--from' ? FROM_FORMS : TO_FORMS}`);
  return normalizeIp(text) ?? text;
}

export function resolveSource(cluster: ClusterModel, text: string): TraceSource {
  const [kind, ...rest] = text.split('/');
  if (rest.length && (kind === 'pod' || kind === 'po' || kind === 'pods')) {
    const [ns, name] = nsName(rest.join('/'), 'pod', FROM_FORMS);
    const pod = findPod(cluster, ns, name);
    if (!pod.ip) throw new UsageError(`pod ${ns}/${name} has no IP in the bundle (phase ${pod.phase ?? 'unknown'})`);
    if (pod.hostNetwork) {
      if (!pod.nodeName) throw new UsageError(`pod ${ns}/${name} uses the host network but has no node`);
      return { kind: 'node', node: pod.nodeName, ip: pod.ip };
    }
    if (!pod.nodeName) throw new UsageError(`pod ${ns}/${name} is not scheduled on a node`);
    return { kind: 'pod', ip: pod.ip, namespace: ns, name, node: pod.nodeName };
  }
  if (rest.length && (kind === 'node' || kind === 'no' || kind === 'nodes')) {
    const n = bundleNode(cluster, rest.join('/'));
    return { kind: 'node', node: n.name, ...(n.ip ? { ip: n.ip } : {}) };
  }
  if (rest.length) throw new UsageError(`--from "${text}": unknown kind "${kind}" (use ${FROM_FORMS})`);
  const ip = checkIp(text, '--from');
  const pod = podByIp(cluster, ip);
  if (pod?.nodeName) return { kind: 'pod', ip, namespace: pod.namespace, name: pod.name, node: pod.nodeName };
  const node = cluster.nodes.find((n) => n.nodeIp === ip || n.addresses.some((a) => a.address === ip));
  if (node) return { kind: 'node', node: node.name, ip };
  return { kind: 'external', ip };
}

export function resolveTarget(cluster: ClusterModel, text: string, proto: TraceProto): TraceTarget {
  const [kind, ...restParts] = text.split('/');
  const rest = restParts.join('/');
  if (restParts.length && (kind === 'pod' || kind === 'po' || kind === 'pods')) {
    const { name: ref, port } = splitPort(rest, '--to');
    const [ns, name] = nsName(ref, 'pod', TO_FORMS);
    const pod = findPod(cluster, ns, name);
    if (!pod.ip) throw new UsageError(`pod ${ns}/${name} has no IP in the bundle (phase ${pod.phase ?? 'unknown'})`);
    const p = portNumber(port, '--to');
    return {
      kind: 'pod',
      ip: pod.ip,
      namespace: ns,
      name,
      ...(pod.nodeName ? { node: pod.nodeName } : {}),
      ...(p !== undefined ? { port: p } : {}),
    };
  }
  if (restParts.length && (kind === 'svc' || kind === 'service' || kind === 'services')) {
    const { name: ref, port } = splitPort(rest, '--to');
    const [ns, name] = nsName(ref, 'svc', TO_FORMS);
    const protocol = proto === 'udp' ? 'UDP' : 'TCP';
    const wanted = port === undefined ? undefined : /^\d+$/.test(port) ? Number(port) : port;
    const resolved = resolveService(cluster, ns, name, wanted, proto === 'icmp' ? undefined : protocol);
    const svc = resolved.service;
    if (!svc.clusterIP)
      throw new UsageError(
        `service ${ns}/${name} has no ClusterIP (${svc.headless ? 'headless: trace to its pods instead' : svc.type})`,
      );
    const sp = resolved.ports[0];
    if (!sp && proto !== 'icmp')
      throw new UsageError(`service ${ns}/${name} has no ${protocol} port${port ? ` ${port}` : ''}`);
    const notes: string[] = [];
    if (sp) {
      const choice = proxyEndpoints(svc, sp, { external: false });
      if (choice.using === 'none')
        notes.push(
          resolved.pods.length === 0 && svc.selector
            ? `service ${ns}/${name} has no endpoints: its selector matches no pod`
            : `service ${ns}/${name} port ${sp.port} has no ready endpoint${sp.endpoints.length ? ` (${sp.endpoints.length} not ready)` : ''}`,
        );
      else
        notes.push(
          `service ${ns}/${name} port ${sp.port}/${sp.protocol}: ${choice.endpoints.length} ${choice.using} endpoint(s) ${choice.endpoints.map((e) => `${e.ip}:${e.port ?? '?'}`).join(', ')}`,
        );
    }
    return {
      kind: 'service',
      ip: svc.clusterIP,
      namespace: ns,
      name,
      ...(sp && proto !== 'icmp' ? { port: sp.port } : {}),
      notes,
    };
  }
  if (restParts.length && (kind === 'node' || kind === 'no' || kind === 'nodes')) {
    const { name, port } = splitPort(rest, '--to');
    const n = bundleNode(cluster, name);
    if (!n.ip) throw new UsageError(`node ${name} has no address in the bundle`);
    const p = portNumber(port, '--to');
    return { kind: 'node', node: n.name, ip: n.ip, ...(p !== undefined ? { port: p } : {}) };
  }
  if (restParts.length) throw new UsageError(`--to "${text}": unknown kind "${kind}" (use ${TO_FORMS})`);
  const { name, port } = splitPort(text, '--to');
  const ip = checkIp(name, '--to');
  const p = portNumber(port, '--to');
  const pod = podByIp(cluster, ip);
  if (pod)
    return {
      kind: 'pod',
      ip,
      namespace: pod.namespace,
      name: pod.name,
      ...(pod.nodeName ? { node: pod.nodeName } : {}),
      ...(p !== undefined ? { port: p } : {}),
    };
  const svc = serviceByIp(cluster, ip);
  if (svc)
    return {
      kind: 'service',
      ip,
      namespace: svc.service.namespace,
      name: svc.service.name,
      ...(p !== undefined ? { port: p } : {}),
      notes: [],
    };
  const node = cluster.nodes.find((n) => n.nodeIp === ip);
  if (node) return { kind: 'node', node: node.name, ip, ...(p !== undefined ? { port: p } : {}) };
  return { kind: 'ip', ip, ...(p !== undefined ? { port: p } : {}) };
}

export function resolveQuery(cluster: ClusterModel, from: string, to: string, proto: string): TraceQuery {
  const p = proto.toLowerCase();
  if (p !== 'tcp' && p !== 'udp' && p !== 'icmp') throw new UsageError(`--proto "${proto}": use tcp, udp or icmp`);
  const source = resolveSource(cluster, from);
  const target = resolveTarget(cluster, to, p);
  const fam = (ip: string | undefined) => (ip?.includes(':') ? 6 : 4);
  const srcIp = source.kind === 'node' ? source.ip : source.ip;
  if (srcIp && fam(srcIp) !== fam(target.ip))
    throw new UsageError(`--from ${from} (${srcIp}) and --to ${to} (${target.ip}) are of different IP families`);
  if (p !== 'icmp' && target.port === undefined)
    throw new UsageError(`--to ${to}: a ${p.toUpperCase()} trace needs a port (${to}:PORT)`);
  return { from: source, to: target, proto: p };
}
