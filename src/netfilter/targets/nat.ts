/** DNAT, SNAT, MASQUERADE, REDIRECT and NETMAP: address rewrites on a connection's first packet; they end the nat chain. */
import { formatIp, parseIp } from '../../core/ip.js';
import type { Flow } from '../model.js';
import { defineTarget, optionsText, TargetError, type TargetModule } from './define.js';

const ACCEPT: Flow = { kind: 'accept' };

/** Parse `10.0.0.1`, `10.0.0.1:80`, `10.0.0.1-10.0.0.9:80-90`, `[fd00::1]:80`. */
export function parseNatRange(text: string): { ip?: string; ipTo?: string; port?: number; portTo?: number } {
  let addr = text;
  let ports: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(.+))?$/.exec(text);
  if (bracket) {
    addr = bracket[1] as string;
    ports = bracket[2];
  } else if ((text.match(/:/g) ?? []).length === 1) {
    [addr, ports] = text.split(':') as [string, string];
  }
  const out: { ip?: string; ipTo?: string; port?: number; portTo?: number } = {};
  if (addr) {
    const [a, b] = addr.split('-');
    const ip = parseIp(a ?? '');
    if (!ip) throw new TargetError(`bad NAT address "${text}"`);
    out.ip = formatIp(ip);
    if (b) {
      const ipTo = parseIp(b);
      if (!ipTo) throw new TargetError(`bad NAT address "${text}"`);
      out.ipTo = formatIp(ipTo);
    }
  }
  if (ports) {
    const [p, q] = ports.split('-').map(Number);
    out.port = p;
    if (q !== undefined && q !== p) out.portTo = q;
  }
  return out;
}

function rangeText(r: ReturnType<typeof parseNatRange>): string {
  const ip = r.ip ? `${r.ip}${r.ipTo ? `-${r.ipTo}` : ''}` : '';
  const port = r.port !== undefined ? `:${r.port}${r.portTo ? `-${r.portTo}` : ''}` : '';
  return ip.includes(':') && port ? `[${ip}]${port}` : `${ip}${port}`;
}

const dnat = defineTarget({
  name: 'DNAT',
  options: ['to-destination', 'random', 'persistent'],
  compile(opts) {
    const to = opts.find((o) => o.name === 'to-destination');
    if (!to?.values[0]) throw new TargetError('DNAT needs --to-destination');
    const r = parseNatRange(to.values[0]);
    const ip = r.ip ? parseIp(r.ip) : undefined;
    const flags = opts.filter((o) => o.name !== 'to-destination');
    const toText = rangeText(r);
    const port = r.port;
    return {
      apply(pkt, _env, rewrites) {
        const before = `${formatIp(pkt.dst)}${pkt.dport !== undefined ? `:${pkt.dport}` : ''}`;
        pkt.origDst ??= pkt.dst;
        pkt.origDport ??= pkt.dport;
        if (ip) pkt.dst = ip;
        if (port !== undefined) pkt.dport = port;
        pkt.ctDnat = true;
        rewrites.push({ kind: 'dnat', detail: `${before} → ${toText}` });
        return ACCEPT;
      },
      canonical: `-j DNAT --to-destination ${toText} ${optionsText(flags)}`.trim(),
    };
  },
});

const snat = defineTarget({
  name: 'SNAT',
  options: ['to-source', 'random', 'random-fully', 'persistent'],
  compile(opts) {
    const to = opts.find((o) => o.name === 'to-source');
    if (!to?.values[0]) throw new TargetError('SNAT needs --to-source');
    const r = parseNatRange(to.values[0]);
    const ip = r.ip ? parseIp(r.ip) : undefined;
    const flags = opts.filter((o) => o.name !== 'to-source');
    const toText = rangeText(r);
    return {
      apply(pkt, _env, rewrites) {
        const before = formatIp(pkt.src);
        if (ip) pkt.src = ip;
        if (r.port !== undefined) pkt.sport = r.port;
        pkt.ctSnat = true;
        rewrites.push({ kind: 'snat', detail: `${before} → ${toText}` });
        return ACCEPT;
      },
      canonical: `-j SNAT --to-source ${toText} ${optionsText(flags)}`.trim(),
    };
  },
});

const masquerade = defineTarget({
  name: 'MASQUERADE',
  options: ['to-ports', 'random', 'random-fully'],
  compile(opts) {
    return {
      apply(pkt, _env, rewrites) {
        pkt.ctSnat = true;
        rewrites.push({
          kind: 'masquerade',
          detail: `${formatIp(pkt.src)} → the address of ${pkt.out ?? 'the outgoing interface'}`,
        });
        return ACCEPT;
      },
      canonical: `-j MASQUERADE ${optionsText(opts)}`.trim(),
    };
  },
});

const redirect = defineTarget({
  name: 'REDIRECT',
  options: ['to-ports', 'random'],
  compile(opts) {
    const to = opts.find((o) => o.name === 'to-ports')?.values[0];
    const port = to ? Number(to.split('-')[0]) : undefined;
    return {
      apply(pkt, env, rewrites) {
        pkt.origDst ??= pkt.dst;
        pkt.origDport ??= pkt.dport;
        // The packet goes to the node itself: the incoming interface's primary address (or loopback for output).
        const local = pkt.in ? [...(env.local ?? [])][0] : pkt.family === 4 ? '127.0.0.1' : '::1';
        const ip = local ? parseIp(local) : undefined;
        if (ip) pkt.dst = ip;
        if (port !== undefined) pkt.dport = port;
        pkt.ctDnat = true;
        rewrites.push({ kind: 'redirect', detail: `to the node itself${port !== undefined ? ` port ${port}` : ''}` });
        return ACCEPT;
      },
      canonical: `-j REDIRECT ${optionsText(opts)}`.trim(),
    };
  },
});

const netmap = defineTarget({
  name: 'NETMAP',
  options: ['to'],
  compile(opts) {
    return {
      apply(_pkt, _env, rewrites) {
        rewrites.push({ kind: 'other', detail: `NETMAP ${optionsText(opts)}` });
        return { kind: 'unknown', why: 'NETMAP rewrites are not modelled' };
      },
      canonical: `-j NETMAP ${optionsText(opts)}`.trim(),
    };
  },
});

export const natTargets: TargetModule[] = [dnat, snat, masquerade, redirect, netmap];
