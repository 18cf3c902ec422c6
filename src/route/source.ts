/** Which source address the kernel puts on a packet it routes (when the route names none with `src`). */
import { type Cidr, cidrContains, type Ip, parseCidr, parseIp } from '../core/ip.js';
import type { Address } from '../parse/ip-addr.js';
import { scopeValue } from '../parse/ip-route.js';
import { devConf, type RoutingState } from './state.js';

const LINK = 253;
const HOST = 254;

function subnetOf(a: Address): Cidr | undefined {
  return parseCidr(`${a.local}/${a.prefixlen}`);
}

/** The device's IPv4 addresses in the kernel's order, primaries only. */
function primaries4(state: RoutingState, dev: string): Address[] {
  return (state.devices.get(dev)?.addresses ?? []).filter((a) => a.family === 4 && !a.secondary);
}

/**
 * `inet_select_addr`: the first primary address of the device whose scope fits (preferring one in the same subnet as
 * `near`); failing that, the first fitting address of any device (loopback first), link-scoped ones excluded.
 */
export function selectSource4(
  state: RoutingState,
  dev: string,
  near: Ip | undefined,
  scope: number,
): string | undefined {
  // Host-scoped addresses (127.0.0.1) count as link-scoped only where route_localnet is on.
  const localnet = devConf(state, 4, dev, 'route_localnet', 'or') ? LINK : HOST;
  let addr: string | undefined;
  for (const a of primaries4(state, dev)) {
    if (Math.min(scopeValue(a.scope), localnet) > scope) continue;
    const net = subnetOf(a);
    if (!near || (net && cidrContains(net, near))) return a.local;
    addr ??= a.local;
  }
  if (addr) return addr;
  const devices = [...state.devices.values()].sort((x, y) => (x.ifindex ?? 1e9) - (y.ifindex ?? 1e9));
  for (const d of devices)
    for (const a of primaries4(state, d.name)) {
      const s = scopeValue(a.scope);
      if (s !== LINK && s <= scope) return a.local;
    }
  return undefined;
}

/** Is the address one of the node's own (on any device, or a local route when addresses are not known)? */
export function isLocalAddress(state: RoutingState, ip: Ip, localTableHit: boolean): boolean {
  if (!state.addressesKnown) return localTableHit;
  for (const d of state.devices.values())
    for (const a of d.addresses) {
      const own = parseIp(a.local);
      if (own && own.family === ip.family && own.value === ip.value) return true;
    }
  return false;
}

/** Does the device have any IPv4 address? (A device without one takes any source, even with rp_filter.) */
export function hasIpv4(state: RoutingState, dev: string): boolean {
  return (state.devices.get(dev)?.addresses ?? []).some((a) => a.family === 4);
}

function commonPrefix(a: bigint, b: bigint): number {
  let x = a ^ b;
  let n = 128;
  while (x > 0n) {
    x >>= 1n;
    n--;
  }
  return n;
}

function v6Scope(v: bigint): number {
  if (v === 1n) return 0x1;
  if (v >> 118n === 0x3fan) return 0x2; // fe80::/10
  if (v >> 120n === 0xffn) return Number((v >> 112n) & 0xfn);
  return 0xe;
}

/**
 * A simplified RFC 6724 choice for IPv6 (scope, then the outgoing device, then the longest matching prefix); the
 * kernel's full rules (preferred lifetimes, temporary addresses, labels) are not modelled.
 */
export function selectSource6(state: RoutingState, dev: string | undefined, dst: Ip): string | undefined {
  const want = v6Scope(dst.value as bigint);
  let best: { addr: string; score: number[] } | undefined;
  for (const d of state.devices.values())
    for (const a of d.addresses) {
      if (a.family !== 6 || a.flags.includes('tentative') || a.flags.includes('dadfailed')) continue;
      const ip = parseIp(a.local);
      if (!ip) continue;
      const v = ip.value as bigint;
      const scope = v6Scope(v);
      if (v === (dst.value as bigint)) return a.local;
      if (scope < want && !(want === 0x2 && scope === 0x2)) continue;
      const score = [-(scope - want), d.name === dev ? 1 : 0, commonPrefix(v, dst.value as bigint)];
      if (!best || compareScores(score, best.score) > 0) best = { addr: a.local, score };
    }
  return best?.addr;
}

function compareScores(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++)
    if ((a[i] as number) !== (b[i] as number)) return (a[i] as number) - (b[i] as number);
  return 0;
}
