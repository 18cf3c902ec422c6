/**
 * IP addresses and prefixes. IPv4 addresses are unsigned 32-bit numbers, IPv6 addresses bigints, so matching a prefix
 * is one mask and compare.
 */

export type IpFamily = 4 | 6;

export interface Ip {
  family: IpFamily;
  /** uint32 for IPv4, 128-bit bigint for IPv6. */
  value: number | bigint;
}

export interface Cidr {
  family: IpFamily;
  network: number | bigint;
  prefix: number;
}

export function parseIpv4(text: string): number | undefined {
  // A hand-written scanner: dumps carry hundreds of thousands of addresses.
  const n = text.length;
  if (n < 7 || n > 15) return undefined;
  let v = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return undefined;
      v = v * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return undefined;
    } else return undefined;
  }
  if (dots !== 3 || digits === 0) return undefined;
  return v * 256 + octet;
}

export function parseIpv6(text: string): bigint | undefined {
  if (!text.includes(':')) return undefined;
  let s = text;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  // an embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    const v4 = parseIpv4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] | undefined => {
    if (part === '') return [];
    const groups = part.split(':');
    const out: number[] = [];
    for (const g of groups) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0] ?? '');
  const rest = halves.length === 2 ? parse(halves[1] ?? '') : [];
  if (!head || !rest) return undefined;
  const total = head.length + rest.length;
  let groups: number[];
  if (halves.length === 2) {
    if (total > 7) return undefined;
    groups = [...head, ...new Array(8 - total).fill(0), ...rest];
  } else {
    groups = head;
    if (groups.length !== 8) return undefined;
  }
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return v;
}

export function parseIp(text: string): Ip | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIpv6(text);
  if (v6 !== undefined) return { family: 6, value: v6 };
  return undefined;
}

export function formatIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

export function formatIpv6(v: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  // longest run of zeros (length >= 2) becomes ::
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function formatIp(ip: Ip): string {
  return ip.family === 4 ? formatIpv4(ip.value as number) : formatIpv6(ip.value as bigint);
}

/** Normalised text of an address (`10.0.0.1`, `fd00::1`), or undefined when it is not an address. */
export function normalizeIp(text: string): string | undefined {
  const ip = parseIp(text);
  return ip ? formatIp(ip) : undefined;
}

function maskV4(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}
function maskV6(prefix: number): bigint {
  return prefix === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - prefix)) - 1n);
}

/** Count the prefix length of a dotted mask (255.255.0.0 → 16); undefined when the mask is not contiguous. */
function maskToPrefix(mask: number): number | undefined {
  let prefix = 0;
  while (prefix < 32 && (mask & (0x80000000 >>> prefix)) !== 0) prefix++;
  return maskV4(prefix) === mask >>> 0 ? prefix : undefined;
}

/**
 * Parse `10.0.0.0/8`, `10.0.0.1` (a host prefix), `10.0.0.0/255.0.0.0` or IPv6 forms. The network is masked, as the
 * kernel stores it (`10.1.2.3/8` becomes `10.0.0.0/8`).
 */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIp(addr);
  if (!ip) return undefined;
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (/^\d{1,3}$/.test(p)) prefix = Number(p);
    else if (ip.family === 4) {
      const m = parseIpv4(p);
      if (m === undefined) return undefined;
      const fromMask = maskToPrefix(m);
      if (fromMask === undefined) return undefined;
      prefix = fromMask;
    } else return undefined;
    if (prefix > max) return undefined;
  }
  if (ip.family === 4) return { family: 4, network: ((ip.value as number) & maskV4(prefix)) >>> 0, prefix };
  return { family: 6, network: (ip.value as bigint) & maskV6(prefix), prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp({ family: c.family, value: c.network })}/${c.prefix}`;
}

export function cidrContains(c: Cidr, ip: Ip): boolean {
  if (c.family !== ip.family) return false;
  if (c.family === 4) return ((ip.value as number) & maskV4(c.prefix)) >>> 0 === c.network;
  return ((ip.value as bigint) & maskV6(c.prefix)) === c.network;
}

/** A fast membership test for one prefix. */
export function cidrMatcher(c: Cidr): (ip: Ip) => boolean {
  if (c.family === 4) {
    const mask = maskV4(c.prefix);
    const net = c.network as number;
    return (ip) => ip.family === 4 && ((ip.value as number) & mask) >>> 0 === net;
  }
  const mask = maskV6(c.prefix);
  const net = c.network as bigint;
  return (ip) => ip.family === 6 && ((ip.value as bigint) & mask) === net;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const shorter = a.prefix <= b.prefix ? a : b;
  const longer = shorter === a ? b : a;
  return cidrContains(shorter, { family: longer.family, value: longer.network });
}

/** Compare two addresses of one family: negative, zero or positive. */
export function compareIp(a: Ip, b: Ip): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}
