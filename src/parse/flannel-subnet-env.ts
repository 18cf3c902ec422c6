/** Parser for flannel's `/run/flannel/subnet.env` (`FLANNEL_NETWORK=10.244.0.0/16` ... one per line). */
import type { ParseIssue } from '../core/errors.js';
import { type Cidr, cidrContains, normalizeIp, parseCidr } from '../core/ip.js';
import { IssueList } from './ip-link.js';

export interface FlannelSubnetEnv {
  /** The cluster's pod network (FLANNEL_NETWORK). */
  network?: Cidr;
  /** This node's pod subnet, masked (FLANNEL_SUBNET `10.244.1.1/24` → 10.244.1.0/24). */
  subnet?: Cidr;
  /** The address FLANNEL_SUBNET names: the bridge's (cni0 / docker0) own address. */
  subnetAddress?: string;
  mtu?: number;
  ipmasq?: boolean;
  ipv6Network?: Cidr;
  ipv6Subnet?: Cidr;
  ipv6SubnetAddress?: string;
  /** Every variable, verbatim. */
  vars: Record<string, string>;
}

export interface FlannelSubnetEnvParseResult {
  env: FlannelSubnetEnv;
  issues: ParseIssue[];
}

export function parseFlannelSubnetEnv(text: string, file: string): FlannelSubnetEnvParseResult {
  const issues = new IssueList(file);
  const env: FlannelSubnetEnv = { vars: {} };
  if (text.trim() === '') issues.add(1, 'warning', 'empty file: flannel has not written its subnet yet');
  text.split('\n').forEach((raw, k) => {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) {
      issues.add(k + 1, 'warning', 'not a NAME=value line; skipped', line);
      return;
    }
    const name = m[1] as string;
    const value = (m[2] as string).trim().replace(/^(["'])(.*)\1$/, '$2');
    env.vars[name] = value;
    const cidr = (family: 4 | 6) => {
      const c = parseCidr(value);
      if (!c || c.family !== family || !value.includes('/')) {
        issues.add(k + 1, 'error', `${name}: "${value}" is not an IPv${family} prefix`, line);
        return undefined;
      }
      return c;
    };
    switch (name) {
      case 'FLANNEL_NETWORK': {
        const c = cidr(4);
        if (c) env.network = c;
        break;
      }
      case 'FLANNEL_SUBNET': {
        const c = cidr(4);
        if (c) {
          env.subnet = c;
          env.subnetAddress = normalizeIp(value.slice(0, value.indexOf('/'))) as string;
        }
        break;
      }
      case 'FLANNEL_IPV6_NETWORK': {
        const c = cidr(6);
        if (c) env.ipv6Network = c;
        break;
      }
      case 'FLANNEL_IPV6_SUBNET': {
        const c = cidr(6);
        if (c) {
          env.ipv6Subnet = c;
          env.ipv6SubnetAddress = normalizeIp(value.slice(0, value.indexOf('/'))) as string;
        }
        break;
      }
      case 'FLANNEL_MTU':
        if (/^\d+$/.test(value)) env.mtu = Number(value);
        else issues.add(k + 1, 'error', `FLANNEL_MTU: "${value}" is not a number`, line);
        break;
      case 'FLANNEL_IPMASQ':
        if (value === 'true' || value === 'false') env.ipmasq = value === 'true';
        else issues.add(k + 1, 'error', `FLANNEL_IPMASQ: "${value}" is not true or false`, line);
        break;
      default:
        if (!name.startsWith('FLANNEL_')) issues.add(k + 1, 'warning', `${name} is not a flannel variable`, line);
    }
  });
  if (env.network && env.subnet && !cidrContainsPrefix(env.network, env.subnet))
    issues.add(0, 'warning', 'FLANNEL_SUBNET is not inside FLANNEL_NETWORK');
  return { env, issues: issues.done() };
}

function cidrContainsPrefix(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && cidrContains(outer, { family: inner.family, value: inner.network });
}
