/**
 * Parsers for IPVS state (kube-proxy in ipvs mode): `ipvsadm -Sn` (the save format, `-A`/`-a` lines) and
 * `ipvsadm -Ln` (the table people paste, as in seed 003). Both give the same model: virtual services with their real
 * servers. A virtual service with no real servers drops its traffic.
 */
import type { ParseIssue } from '../core/errors.js';
import { type IpFamily, normalizeIp } from '../core/ip.js';
import { IssueList } from './ip-link.js';

export type IpvsProtocol = 'tcp' | 'udp' | 'sctp' | 'fwmark';
/** Masq = NAT (kube-proxy's), route = direct routing (`-g`), tunnel = IPIP (`-i`), local = a masq server on this host. */
export type IpvsForward = 'masq' | 'route' | 'tunnel' | 'local' | 'bypass';

export interface RealServer {
  address: string;
  port: number;
  forward: IpvsForward;
  /** 0 means no new connections (kube-proxy sets it while an endpoint terminates). */
  weight: number;
  /** From `-Ln` only. */
  activeConns?: number;
  inactiveConns?: number;
  upperThreshold?: number;
  lowerThreshold?: number;
  line: number;
}

export interface VirtualService {
  protocol: IpvsProtocol;
  family: IpFamily;
  /** Unset for fwmark services. */
  address?: string;
  port?: number;
  fwmark?: number;
  scheduler: string;
  /** Persistence timeout in seconds (`-p` / `persistent N`); kube-proxy uses it for sessionAffinity: ClientIP. */
  persistent?: number;
  netmask?: string;
  /** ops (one-packet scheduling), scheduler flags (sh-fallback, mh-port...). */
  flags: string[];
  realServers: RealServer[];
  line: number;
  /** `TCP 10.96.0.1:443 rr` (as `ipvsadm -Ln` names it). */
  text: string;
}

export interface IpvsadmParseResult {
  services: VirtualService[];
  issues: ParseIssue[];
  format: 'save' | 'list' | 'empty';
}

/** `10.0.0.1:80` or `[2001:db8::1]:80` → address and port; undefined when either is not numeric. */
function splitEndpoint(text: string): { address: string; port: number; family: IpFamily } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (!m) return undefined;
  const address = normalizeIp(m[1] as string);
  const port = Number(m[2]);
  if (address === undefined || port > 65535) return undefined;
  return { address, port, family: address.includes(':') ? 6 : 4 };
}

function endpointText(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The service's name as `ipvsadm -Ln` prints it (`TCP  10.96.0.1:443`, `FWM  100`). */
export function serviceKey(s: Pick<VirtualService, 'protocol' | 'address' | 'port' | 'fwmark'>): string {
  if (s.protocol === 'fwmark') return `FWM ${s.fwmark}`;
  return `${s.protocol.toUpperCase()} ${endpointText(s.address ?? '', s.port ?? 0)}`;
}

function finish(s: VirtualService): VirtualService {
  const parts = [serviceKey(s), s.scheduler, ...s.flags];
  if (s.persistent !== undefined) parts.push('persistent', String(s.persistent));
  if (s.netmask) parts.push('mask', s.netmask);
  s.text = parts.join(' ');
  return s;
}

const NOT_NUMERIC = 'is not numeric: give the output of `ipvsadm -Sn` / `-Ln` (with -n)';

/** `ipvsadm -Sn`: `-A -t VIP:PORT -s rr [-p T]` and `-a -t VIP:PORT -r RIP:PORT -m -w 1`. */
export function parseIpvsadmSave(text: string, file: string): IpvsadmParseResult {
  const issues = new IssueList(file);
  const services = new Map<string, VirtualService>();
  if (text.trim() === '') return { services: [], issues: issues.done(), format: 'empty' };
  text.split('\n').forEach((raw, k) => {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) return;
    const t = line.split(/\s+/);
    const verb = t[0];
    if (verb !== '-A' && verb !== '-a' && verb !== '--add-service' && verb !== '--add-server') {
      issues.add(k + 1, 'warning', 'not an ipvsadm save line (-A / -a); skipped', line);
      return;
    }
    const isService = verb === '-A' || verb === '--add-service';
    let protocol: IpvsProtocol | undefined;
    let target: string | undefined;
    let real: string | undefined;
    let scheduler = 'wlc';
    let persistent: number | undefined;
    let netmask: string | undefined;
    const flags: string[] = [];
    let forward: IpvsForward = 'route';
    let weight = 1;
    let upper: number | undefined;
    let lower: number | undefined;
    for (let i = 1; i < t.length; i++) {
      const o = t[i] as string;
      const v = t[i + 1];
      const take = () => {
        i++;
        return v ?? '';
      };
      if (o === '-t' || o === '--tcp-service') [protocol, target] = ['tcp', take()];
      else if (o === '-u' || o === '--udp-service') [protocol, target] = ['udp', take()];
      else if (o === '--sctp-service') [protocol, target] = ['sctp', take()];
      else if (o === '-f' || o === '--fwmark-service') [protocol, target] = ['fwmark', take()];
      else if (o === '-s' || o === '--scheduler') scheduler = take();
      else if (o === '-p' || o === '--persistent') {
        // The timeout is optional (default 300 s).
        persistent = v !== undefined && /^\d+$/.test(v) ? Number(take()) : 300;
      } else if (o === '-M' || o === '--netmask') netmask = take();
      else if (o === '-b' || o === '--sched-flags') flags.push(...take().split(','));
      else if (o === '-o' || o === '--ops') flags.push('ops');
      else if (o === '-r' || o === '--real-server') real = take();
      else if (o === '-m' || o === '--masquerading') forward = 'masq';
      else if (o === '-g' || o === '--gatewaying') forward = 'route';
      else if (o === '-i' || o === '--ipip') forward = 'tunnel';
      else if (o === '-w' || o === '--weight') weight = Number(take());
      else if (o === '-x' || o === '--u-threshold') upper = Number(take());
      else if (o === '-y' || o === '--l-threshold') lower = Number(take());
      else if (o === '--pe') flags.push(`pe ${take()}`);
      else if (o.startsWith('--tun-')) flags.push(`${o.slice(2)} ${take()}`);
      else issues.add(k + 1, 'warning', `option ${o} not understood; ignored`, line);
    }
    if (!protocol || target === undefined || target === '') {
      issues.add(k + 1, 'error', 'no -t, -u, --sctp-service or -f service; line skipped', line);
      return;
    }
    let key: string;
    let ep: ReturnType<typeof splitEndpoint>;
    if (protocol === 'fwmark') {
      if (!/^\d+$/.test(target)) {
        issues.add(k + 1, 'error', `fwmark "${target}" is not a number; line skipped`, line);
        return;
      }
      key = `FWM ${Number(target)}`;
    } else {
      ep = splitEndpoint(target);
      if (!ep) {
        issues.add(k + 1, 'error', `service "${target}" ${NOT_NUMERIC}; line skipped`, line);
        return;
      }
      key = serviceKey({ protocol, address: ep.address, port: ep.port });
    }
    if (isService) {
      if (services.has(key)) issues.add(k + 1, 'warning', `${key} is added twice; the later line wins`, line);
      const s: VirtualService = {
        protocol,
        family: ep?.family ?? 4,
        scheduler,
        flags,
        realServers: [],
        line: k + 1,
        text: '',
      };
      if (ep) {
        s.address = ep.address;
        s.port = ep.port;
      } else s.fwmark = Number(target);
      if (persistent !== undefined) s.persistent = persistent;
      if (netmask !== undefined) s.netmask = netmask;
      services.set(key, finish(s));
      return;
    }
    const service = services.get(key);
    if (!service) {
      issues.add(k + 1, 'error', `real server for ${key}, which was not added (-A) before; skipped`, line);
      return;
    }
    const rep = real === undefined ? undefined : splitEndpoint(real);
    // A real server of a fwmark service may be written without a port.
    const rip = rep ?? (real && normalizeIp(real) ? { address: normalizeIp(real) as string, port: 0 } : undefined);
    if (!rip) {
      issues.add(k + 1, 'error', `real server "${real ?? ''}" ${NOT_NUMERIC}; skipped`, line);
      return;
    }
    if (!Number.isInteger(weight) || weight < 0) {
      issues.add(k + 1, 'error', `weight "${weight}" is not a number; real server skipped`, line);
      return;
    }
    const rs: RealServer = { address: rip.address, port: rip.port, forward, weight, line: k + 1 };
    if (upper !== undefined) rs.upperThreshold = upper;
    if (lower !== undefined) rs.lowerThreshold = lower;
    service.realServers.push(rs);
  });
  return { services: [...services.values()], issues: issues.done(), format: 'save' };
}

const FORWARDS: Record<string, IpvsForward> = {
  masq: 'masq',
  route: 'route',
  tunnel: 'tunnel',
  local: 'local',
  bypass: 'bypass',
};

/** `ipvsadm -Ln`: a header, then `TCP  VIP:PORT sched [flags]` lines each followed by `  -> RIP:PORT Masq 1 0 0`. */
export function parseIpvsadmList(text: string, file: string): IpvsadmParseResult {
  const issues = new IssueList(file);
  const services: VirtualService[] = [];
  if (text.trim() === '') return { services, issues: issues.done(), format: 'empty' };
  let current: VirtualService | undefined;
  let sawHeader = false;
  text.split('\n').forEach((raw, k) => {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '') return;
    if (/^IP Virtual Server version/.test(line)) {
      sawHeader = true;
      return;
    }
    if (/^Prot\s+LocalAddress:Port/.test(line)) {
      sawHeader = true;
      if (/\b(Conns|InPkts|CPS)\b/.test(line))
        issues.add(k + 1, 'warning', 'a --stats/--rate listing: the counters are not read as connection counts', line);
      return;
    }
    if (/^->\s+RemoteAddress:Port/.test(line)) return;
    const t = line.split(/\s+/);
    if (t[0] === '->') {
      if (!current) {
        issues.add(k + 1, 'error', 'real server line before any virtual service; skipped', line);
        return;
      }
      const ep = splitEndpoint(t[1] ?? '');
      const forward = FORWARDS[(t[2] ?? '').toLowerCase()];
      const nums = t.slice(3, 6);
      if (!ep || !forward || nums.length < 1 || !nums.every((n) => /^\d+$/.test(n))) {
        issues.add(
          k + 1,
          'error',
          ep
            ? 'real server line not understood (expected "-> ADDR:PORT Forward Weight ActiveConn InActConn")'
            : `real server "${t[1] ?? ''}" ${NOT_NUMERIC}`,
          line,
        );
        return;
      }
      const rs: RealServer = { address: ep.address, port: ep.port, forward, weight: Number(nums[0]), line: k + 1 };
      if (nums[1] !== undefined) rs.activeConns = Number(nums[1]);
      if (nums[2] !== undefined) rs.inactiveConns = Number(nums[2]);
      current.realServers.push(rs);
      return;
    }
    const proto = (t[0] ?? '').toUpperCase();
    if (proto === 'TCP' || proto === 'UDP' || proto === 'SCTP' || proto === 'FWM') {
      current = undefined;
      const target = t[1] ?? '';
      const scheduler = t[2];
      if (scheduler === undefined) {
        issues.add(k + 1, 'error', 'virtual service without a scheduler; skipped', line);
        return;
      }
      const s: VirtualService = {
        protocol: proto === 'FWM' ? 'fwmark' : (proto.toLowerCase() as IpvsProtocol),
        family: 4,
        scheduler,
        flags: [],
        realServers: [],
        line: k + 1,
        text: '',
      };
      if (proto === 'FWM') {
        if (!/^\d+$/.test(target)) {
          issues.add(k + 1, 'error', `fwmark "${target}" is not a number; skipped`, line);
          return;
        }
        s.fwmark = Number(target);
        if (t.includes('IPv6')) s.family = 6;
      } else {
        const ep = splitEndpoint(target);
        if (!ep) {
          issues.add(k + 1, 'error', `service "${target}" ${NOT_NUMERIC}; skipped`, line);
          return;
        }
        s.address = ep.address;
        s.port = ep.port;
        s.family = ep.family;
      }
      for (let i = 3; i < t.length; i++) {
        const w = t[i] as string;
        if (w === 'persistent' && /^\d+$/.test(t[i + 1] ?? '')) s.persistent = Number(t[++i]);
        else if (w === 'mask' && t[i + 1]) s.netmask = t[++i] as string;
        else if (w === 'ops') s.flags.push('ops');
        else if (/^\(.*\)$/.test(w)) s.flags.push(...w.slice(1, -1).split(','));
        else if (w === 'IPv6' || w === 'IPv4') continue;
        else if (w === 'pe' && t[i + 1]) s.flags.push(`pe ${t[++i]}`);
        else issues.add(k + 1, 'warning', `service flag "${w}" not understood; ignored`, line);
      }
      current = finish(s);
      services.push(current);
      return;
    }
    issues.add(k + 1, 'warning', 'line not understood; skipped', line);
  });
  if (!sawHeader && services.length === 0)
    issues.add(1, 'error', 'not `ipvsadm -Ln` output (no header and no virtual services)');
  return { services, issues: issues.done(), format: 'list' };
}

/** Either format, told apart by its first line. */
export function parseIpvsadm(text: string, file: string): IpvsadmParseResult {
  const first = text.trimStart().slice(0, 40);
  return first.startsWith('-A') || first.startsWith('-a') || first.startsWith('--add')
    ? parseIpvsadmSave(text, file)
    : parseIpvsadmList(text, file);
}
