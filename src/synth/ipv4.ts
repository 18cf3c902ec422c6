/** Minimal IPv4 arithmetic for the generators (addresses as unsigned 32-bit numbers). */

export interface Prefix {
  /** Network address (host bits cleared). */
  network: number;
  prefix: number;
}

export function ipToInt(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${text}`);
  let v = 0;
  for (const p of parts) {
    const n = Number(p);
    if (!/^\d{1,3}$/.test(p) || n > 255) throw new Error(`not an IPv4 address: ${text}`);
    v = v * 256 + n;
  }
  return v;
}

export function intToIp(v: number): string {
  const u = v >>> 0;
  return `${u >>> 24}.${(u >>> 16) & 255}.${(u >>> 8) & 255}.${u & 255}`;
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/n` (or a bare address, /32); host bits are cleared. */
export function parsePrefix(text: string): Prefix {
  const [addr, len] = text.split('/');
  const prefix = len === undefined ? 32 : Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new Error(`bad prefix length: ${text}`);
  return { network: (ipToInt(addr as string) & maskOf(prefix)) >>> 0, prefix };
}

export function formatPrefix(p: Prefix): string {
  return `${intToIp(p.network)}/${p.prefix}`;
}

export function prefixSize(p: Prefix): number {
  return 2 ** (32 - p.prefix);
}

export function lastAddress(p: Prefix): number {
  return (p.network + prefixSize(p) - 1) >>> 0;
}

export function contains(p: Prefix, ip: number): boolean {
  return (ip & maskOf(p.prefix)) >>> 0 === p.network;
}

/** The n-th sub-prefix of length `len` inside `p`. */
export function subPrefix(p: Prefix, len: number, n: number): Prefix {
  if (len < p.prefix) throw new Error(`/${len} does not fit in ${formatPrefix(p)}`);
  return { network: (p.network + n * 2 ** (32 - len)) >>> 0, prefix: len };
}
