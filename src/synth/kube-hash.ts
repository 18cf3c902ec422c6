/**
 * kube-proxy's chain names. iptables mode: prefix + the first 16 characters of base32(sha256(servicePortName +
 * protocol [+ endpoint])); nftables mode: base32(sha256(name))[:8] + "-" + a readable name. Computing them exactly lets
 * the generated rules be compared with real nodes and lets diff code test its normalisation of hashed names.
 */

import { createHash } from 'node:crypto';

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** The first `chars` characters of the standard (RFC 4648, padded) base32 encoding of sha256(text). */
export function sha256Base32(text: string, chars: number): string {
  const bytes = createHash('sha256').update(text, 'utf8').digest();
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < bytes.length && out.length < chars; i++) {
    buffer = ((buffer << 8) | (bytes[i] as number)) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += B32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

/** `ns/name:port` or `ns/name` when the port is unnamed (proxy.ServicePortName.String()). */
export function servicePortName(namespace: string, name: string, portName: string): string {
  return portName ? `${namespace}/${name}:${portName}` : `${namespace}/${name}`;
}

export type ChainKind = 'KUBE-SVC-' | 'KUBE-SVL-' | 'KUBE-EXT-' | 'KUBE-FW-';

/** KUBE-SVC-/KUBE-SVL-/KUBE-EXT-/KUBE-FW- chain of a service port (`protocol` in lower case). */
export function serviceChainName(kind: ChainKind, svcPortName: string, protocol: string): string {
  return kind + sha256Base32(svcPortName + protocol, 16);
}

/** KUBE-SEP- chain of one endpoint (`endpoint` is `ip:port`). */
export function endpointChainName(svcPortName: string, protocol: string, endpoint: string): string {
  return `KUBE-SEP-${sha256Base32(svcPortName + protocol + endpoint, 16)}`;
}

/** nftables mode: `HASH8-ns/name/proto/port` (servicePortChainNameBase). */
export function nftServiceChainBase(namespace: string, name: string, protocol: string, portName: string): string {
  return hashAndTruncate(`${namespace}/${name}/${protocol}/${portName}`);
}

/** nftables mode: `HASH8-ns/name/proto/port__ip/port` (servicePortEndpointChainNameBase). */
export function nftEndpointChainBase(
  namespace: string,
  name: string,
  protocol: string,
  portName: string,
  ip: string,
  port: number,
): string {
  return hashAndTruncate(`${namespace}/${name}/${protocol}/${portName}__${ip.replaceAll(':', '.')}/${port}`);
}

// knftables.NameLengthMax (256) minus the longest prefix (16).
const NFT_BASE_MAX = 256 - 16;

function hashAndTruncate(name: string): string {
  const full = `${sha256Base32(name, 8)}-${name}`;
  return full.length > NFT_BASE_MAX ? `${full.slice(0, NFT_BASE_MAX - 3)}...` : full;
}

/**
 * The probability kube-proxy writes for the i-th of n remaining endpoints (`%0.10f` of 1/n), as iptables-save prints
 * it back: the statistic match stores lround(p * 2^31) and prints that over 2^31 with `%.11f`.
 */
export function statisticProbability(remaining: number): string {
  const written = Number((1 / remaining).toFixed(10));
  const stored = Math.round(written * 0x80000000);
  return (stored / 0x80000000).toFixed(11);
}
