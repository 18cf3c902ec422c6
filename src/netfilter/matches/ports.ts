/** Port values and ranges as iptables writes them: `80`, `http`, `1024:65535`, `:1023`, `8000:`. */
import { MatchError } from './define.js';

/** The service names iptables and nft resolve through /etc/services that appear in real rulesets. */
export const SERVICES: Record<string, number> = {
  ftp: 21,
  'ftp-data': 20,
  ssh: 22,
  telnet: 23,
  smtp: 25,
  domain: 53,
  bootps: 67,
  bootpc: 68,
  tftp: 69,
  http: 80,
  www: 80,
  kerberos: 88,
  pop3: 110,
  sunrpc: 111,
  auth: 113,
  ident: 113,
  ntp: 123,
  'netbios-ns': 137,
  'netbios-dgm': 138,
  'netbios-ssn': 139,
  imap: 143,
  imap2: 143,
  snmp: 161,
  'snmp-trap': 162,
  bgp: 179,
  ldap: 389,
  https: 443,
  'microsoft-ds': 445,
  isakmp: 500,
  syslog: 514,
  submission: 587,
  ldaps: 636,
  imaps: 993,
  pop3s: 995,
  openvpn: 1194,
  'ms-sql-s': 1433,
  mysql: 3306,
  'ipsec-nat-t': 4500,
  postgresql: 5432,
  x11: 6000,
  'http-alt': 8080,
  webcache: 8080,
};

export function parsePort(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n <= 65535) return n;
  } else if (text.toLowerCase() in SERVICES) return SERVICES[text.toLowerCase()] as number;
  throw new MatchError(`"${text}" is not a port`);
}

/** `a:b`, `a`, `:b`, `a:` → [lo, hi]. A range written backwards is swapped, as iptables does. */
export function parsePortRange(text: string, sep = ':'): [number, number] {
  const i = text.indexOf(sep);
  if (i < 0) {
    const p = parsePort(text);
    return [p, p];
  }
  const lo = i === 0 ? 0 : parsePort(text.slice(0, i));
  const hi = i === text.length - 1 ? 65535 : parsePort(text.slice(i + 1));
  return lo <= hi ? [lo, hi] : [hi, lo];
}

export function rangeText([lo, hi]: [number, number]): string {
  return lo === hi ? String(lo) : `${lo}:${hi}`;
}

export function inRange(port: number | undefined, [lo, hi]: [number, number]): boolean {
  return port !== undefined && port >= lo && port <= hi;
}
