/** Parser for `ipset save` output: `create NAME TYPE ...` and `add NAME MEMBER` lines. */
import type { ParseIssue } from '../core/errors.js';
import { type Cidr, cidrContains, parseCidr } from '../core/ip.js';
import type { IpSet, Packet } from '../netfilter/model.js';
import { parseProtocol } from '../netfilter/model.js';

interface Member {
  cidr?: Cidr;
  proto?: number;
  port?: number;
  cidr2?: Cidr;
  iface?: string;
  setName?: string;
  nomatch: boolean;
}

const PORT_PROTOS = new Set([6, 17, 132, 136]);

class SavedSet implements IpSet {
  readonly members: Member[] = [];
  constructor(
    readonly name: string,
    readonly type: string,
    readonly family: 4 | 6 | undefined,
    private readonly lookup: (name: string) => SavedSet | undefined,
  ) {}

  test(pkt: Packet, dims: ('src' | 'dst')[]): boolean | undefined {
    const [method, kinds] = this.type.split(':') as [string, string];
    const parts = (kinds ?? '').split(',');
    if (method === 'list') {
      let any = false;
      for (const m of this.members) {
        const inner = m.setName ? this.lookup(m.setName) : undefined;
        if (!inner) return undefined;
        const r = inner.test(pkt, dims);
        if (r === undefined) return undefined;
        any ||= r;
      }
      return any;
    }
    if (this.family && this.family !== pkt.family) return false;
    const value = (i: number) => {
      const d = dims[i] ?? dims[dims.length - 1] ?? 'src';
      return d;
    };
    let hit = false;
    let nomatch = false;
    for (const m of this.members) {
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const kind = parts[i];
        const d = value(i);
        if (kind === 'ip' || kind === 'net') {
          const c = i === 0 ? m.cidr : m.cidr2;
          ok = !!c && cidrContains(c, pkt[d]);
        } else if (kind === 'port') {
          const p = d === 'src' ? pkt.sport : pkt.dport;
          ok = (m.proto === undefined || (m.proto === pkt.proto && PORT_PROTOS.has(pkt.proto))) && p === m.port;
        } else if (kind === 'iface') {
          const name = d === 'src' ? pkt.in : pkt.out;
          ok = name === m.iface;
        } else if (kind === 'mac' || kind === 'mark') return undefined;
      }
      if (ok) {
        if (m.nomatch) nomatch = true;
        else hit = true;
      }
    }
    // hash:net nomatch entries carve holes (the most specific entry wins; approximated: any nomatch hit wins).
    return hit && !nomatch;
  }
}

export interface IpsetParseResult {
  sets: Map<string, IpSet>;
  issues: ParseIssue[];
}

export function parseIpsetSave(text: string, file: string): IpsetParseResult {
  const sets = new Map<string, SavedSet>();
  const issues: ParseIssue[] = [];
  const lookup = (n: string) => sets.get(n);
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').trim();
    if (!line || line.startsWith('#')) return;
    const parts = line.split(/\s+/);
    const [verb, name] = parts;
    if (verb === 'create' && name) {
      const type = parts[2] ?? '';
      const famIdx = parts.indexOf('family');
      const fam = famIdx > 0 ? parts[famIdx + 1] : undefined;
      sets.set(
        name,
        new SavedSet(
          name,
          type,
          fam === 'inet6' ? 6 : type.startsWith('hash') || type.startsWith('bitmap:ip') ? 4 : undefined,
          lookup,
        ),
      );
    } else if (verb === 'add' && name) {
      const set = sets.get(name);
      if (!set) {
        issues.push({
          file,
          line: i + 1,
          severity: 'error',
          message: `add to set ${name}, which was not created`,
          text: line,
        });
        return;
      }
      const member = parseMember(set.type, parts[2] ?? '', parts.includes('nomatch'));
      if (!member)
        issues.push({
          file,
          line: i + 1,
          severity: 'warning',
          message: `member "${parts[2]}" of ${set.type} set ${name} not understood`,
          text: line,
        });
      else set.members.push(member);
    } else issues.push({ file, line: i + 1, severity: 'warning', message: `unknown ipset line`, text: line });
  });
  return { sets: new Map([...sets].map(([k, v]) => [k, v as IpSet])), issues };
}

function parseMember(type: string, text: string, nomatch: boolean): Member | undefined {
  const kinds = (type.split(':')[1] ?? '').split(',');
  if (type.startsWith('list:')) return { setName: text, nomatch };
  const fields = text.split(',');
  const m: Member = { nomatch };
  for (let i = 0; i < kinds.length; i++) {
    const kind = kinds[i];
    const f = fields[i] ?? '';
    if (kind === 'ip' || kind === 'net') {
      const c = parseCidr(f);
      if (!c) return undefined;
      if (i === 0) m.cidr = c;
      else m.cidr2 = c;
    } else if (kind === 'port') {
      const [p, port] = f.includes(':') ? (f.split(':') as [string, string]) : [undefined, f];
      const proto = p ? parseProtocol(p) : 6;
      if (proto === undefined || !/^\d+$/.test(port)) return undefined;
      m.proto = proto;
      m.port = Number(port);
    } else if (kind === 'iface') m.iface = f;
  }
  return m;
}
