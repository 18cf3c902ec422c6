/**
 * Parser for `ip -d -j link show`, and the JSON reading shared by the other `ip -j` / `bridge -j` parsers.
 *
 * The JSON is read element by element, so a truncated dump (a collector cut off at a size limit) keeps every complete
 * entry, and several arrays in a row (`ip -j -4 ...; ip -j -6 ...` in one file) are read as one list.
 *
 * Lines: when the JSON spans several lines (`ip -j -p`), `line` is the line where the entry starts; in iproute2's
 * own one-line output it is the 1-based position of the entry in the array (as in the nft parser).
 */
import type { ParseIssue } from '../core/errors.js';

export interface JsonEntry {
  obj: Record<string, unknown>;
  /** Line of the entry (see the file header). */
  line: number;
}

const MAX_ISSUES = 1000;

/** Collects issues for one file, capped so a damaged multi-megabyte dump cannot flood the report. */
export class IssueList {
  readonly issues: ParseIssue[] = [];
  private dropped = 0;
  constructor(readonly file: string) {}

  add(line: number, severity: 'error' | 'warning', message: string, text?: string): void {
    if (this.issues.length >= MAX_ISSUES) {
      this.dropped++;
      return;
    }
    this.issues.push({ file: this.file, line, severity, message, ...(text ? { text: text.slice(0, 160) } : {}) });
  }

  /** The issues, with a closing note when some were left out. */
  done(): ParseIssue[] {
    if (this.dropped)
      this.issues.push({
        file: this.file,
        line: 0,
        severity: 'warning',
        message: `${this.dropped} more issues not listed`,
      });
    return this.issues;
  }
}

function isWhite(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

interface Span {
  start: number;
  end: number;
}

/** Find the top-level elements of one or more JSON arrays; stop at the first thing that is not one. */
function scanArrays(text: string): { spans: Span[]; arrays: number; stop?: { offset: number; reason: string } } {
  const spans: Span[] = [];
  const n = text.length;
  let i = 0;
  let arrays = 0;
  for (;;) {
    while (i < n && isWhite(text.charCodeAt(i))) i++;
    if (i >= n) return { spans, arrays };
    if (text.charCodeAt(i) !== 91 /* [ */)
      return {
        spans,
        arrays,
        stop: { offset: i, reason: arrays ? 'text after the JSON array' : 'not JSON (expected a JSON array)' },
      };
    arrays++;
    i++;
    for (;;) {
      while (i < n && (isWhite(text.charCodeAt(i)) || text.charCodeAt(i) === 44)) i++;
      if (i >= n) return { spans, arrays, stop: { offset: n, reason: 'truncated: the JSON array is not closed' } };
      if (text.charCodeAt(i) === 93 /* ] */) {
        i++;
        break;
      }
      const start = i;
      let depth = 0;
      let inString = false;
      let closed = false;
      while (i < n) {
        const c = text.charCodeAt(i);
        if (inString) {
          if (c === 92) i++;
          else if (c === 34) inString = false;
        } else if (c === 34) inString = true;
        else if (c === 123 || c === 91) depth++;
        else if (c === 125 || c === 93) {
          if (depth === 0) {
            closed = true;
            break;
          }
          depth--;
          if (depth === 0) {
            i++;
            closed = true;
            break;
          }
        } else if (depth === 0 && (c === 44 || isWhite(c))) {
          closed = true;
          break;
        }
        i++;
      }
      if (!closed) return { spans, arrays, stop: { offset: start, reason: 'truncated inside an entry' } };
      spans.push({ start, end: i });
    }
  }
}

/** 1-based line of each offset (offsets ascending). */
function linesOf(text: string, offsets: number[]): number[] {
  const out: number[] = [];
  let line = 1;
  let pos = 0;
  for (const off of offsets) {
    for (; pos < off && pos < text.length; pos++) if (text.charCodeAt(pos) === 10) line++;
    out.push(line);
  }
  return out;
}

/**
 * The objects of a JSON array as `ip -j` prints it. Entries that are not objects or not JSON are reported and skipped;
 * returns undefined (with an error) when the text is not a JSON array at all, so a caller can try the text format.
 */
export function readJsonEntries(text: string, what: string, issues: IssueList): JsonEntry[] | undefined {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === '') {
    issues.add(1, 'warning', `empty input: expected the output of \`${what}\``);
    return [];
  }
  const scan = scanArrays(body);
  const firstNl = body.indexOf('\n');
  const multiline = firstNl >= 0 && body.slice(firstNl).trim() !== '';
  const lineOf = linesOf(body, [...scan.spans.map((s) => s.start), scan.stop?.offset ?? body.length]);
  if (scan.arrays === 0 && scan.stop) {
    issues.add(1, 'error', `${scan.stop.reason}: expected the output of \`${what}\``, body.slice(0, 80));
    return undefined;
  }
  const out: JsonEntry[] = [];
  scan.spans.forEach((span, k) => {
    const line = multiline ? (lineOf[k] ?? 1) : k + 1;
    const src = body.slice(span.start, span.end);
    let value: unknown;
    try {
      value = JSON.parse(src);
    } catch (e) {
      issues.add(line, 'error', `entry ${k + 1} is not valid JSON (${(e as Error).message}); skipped`, src);
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.add(line, 'error', `entry ${k + 1} is not an object; skipped`, src);
      return;
    }
    out.push({ obj: value as Record<string, unknown>, line });
  });
  if (scan.stop) {
    const line = multiline ? (lineOf[scan.spans.length] ?? 1) : scan.spans.length + 1;
    issues.add(line, 'error', `${scan.stop.reason}; the ${out.length} complete entries before it are kept`);
  }
  return out;
}

/** Typed reads of one JSON entry; a field of the wrong type is reported once and read as absent. */
export class FieldReader {
  constructor(
    private readonly issues: IssueList,
    private readonly entry: JsonEntry,
    private readonly what: string,
  ) {}

  private wrong(key: string, expected: string): undefined {
    const v = JSON.stringify(this.entry.obj[key]) ?? 'undefined';
    this.issues.add(
      this.entry.line,
      'warning',
      `${this.what}: "${key}" should be ${expected}, found ${v.slice(0, 40)}`,
    );
    return undefined;
  }

  has(key: string): boolean {
    return key in this.entry.obj;
  }

  str(key: string): string | undefined {
    const v = this.entry.obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    return this.wrong(key, 'a string');
  }

  num(key: string): number | undefined {
    const v = this.entry.obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (typeof v === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(v)) return Number(v);
    return this.wrong(key, 'a number');
  }

  bool(key: string): boolean | undefined {
    const v = this.entry.obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'boolean') return v;
    if (v === 0 || v === 1) return v === 1;
    return this.wrong(key, 'true or false');
  }

  strings(key: string): string[] {
    const v = this.entry.obj[key];
    if (v === undefined || v === null) return [];
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    if (typeof v === 'string') return [v];
    this.wrong(key, 'a list of strings');
    return [];
  }

  object(key: string): Record<string, unknown> | undefined {
    const v = this.entry.obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    return this.wrong(key, 'an object');
  }

  objects(key: string): Record<string, unknown>[] {
    const v = this.entry.obj[key];
    if (v === undefined || v === null) return [];
    if (Array.isArray(v) && v.every((x) => typeof x === 'object' && x !== null && !Array.isArray(x)))
      return v as Record<string, unknown>[];
    this.wrong(key, 'a list of objects');
    return [];
  }

  /** A reader for a nested object, reporting at the same line. */
  nested(obj: Record<string, unknown>, what: string): FieldReader {
    return new FieldReader(this.issues, { obj, line: this.entry.line }, `${this.what} ${what}`);
  }
}

/** VXLAN details (`linkinfo.info_data` of a vxlan device). */
export interface VxlanInfo {
  /** The VNI. */
  id?: number;
  /** UDP destination port (8472 for flannel on Linux, 4789 the IANA port). */
  port?: number;
  /** Source address of the outer packets. */
  local?: string;
  /** Multicast group or fixed remote peer. */
  group?: string;
  remote?: string;
  /** The underlay device (`dev eth0`). */
  dev?: string;
  learning?: boolean;
  ttl?: number;
  /** Source port range; 0..0 means the kernel's default range. */
  portRange?: { low: number; high: number };
  /** Everything else in `info_data`, verbatim. */
  other: Record<string, unknown>;
}

export interface Link {
  ifindex: number;
  name: string;
  mtu?: number;
  /** UP, DOWN, UNKNOWN (normal for loopback, bridges without ports, vxlan), LOWERLAYERDOWN... */
  operstate?: string;
  /** BROADCAST, MULTICAST, UP, LOWER_UP, NO-CARRIER... */
  flags: string[];
  /** Administratively up (`UP` flag). */
  up: boolean;
  /** Carrier present (`LOWER_UP` flag). */
  lowerUp: boolean;
  mac?: string;
  /** The bridge or bond this device is a port of. */
  master?: string;
  /** The peer or parent device (`eth0@if12`): a name, or `if12` when it lives in another namespace. */
  link?: string;
  /** The namespace id of the peer of a veth (set when the peer is in another namespace). */
  linkNetnsid?: number;
  linkType?: string;
  /** `linkinfo.info_kind`: vxlan, bridge, veth, ipip, wireguard, dummy, bond, vlan, geneve...; undefined for plain NICs. */
  kind?: string;
  /** `linkinfo.info_slave_kind` (bridge, bond) for ports. */
  slaveKind?: string;
  vxlan?: VxlanInfo;
  /** `linkinfo.info_data` for other kinds, verbatim. */
  info?: Record<string, unknown>;
  /** Line of the entry in the input (see the file header). */
  line: number;
}

export interface IpLinkParseResult {
  links: Link[];
  issues: ParseIssue[];
}

/** Read the fields `ip -j link` and `ip -j addr` share. */
export function readLinkFields(r: FieldReader, line: number): Omit<Link, 'kind' | 'vxlan' | 'info'> | undefined {
  const ifindex = r.num('ifindex');
  const name = r.str('ifname');
  if (ifindex === undefined || name === undefined) return undefined;
  const flags = r.strings('flags');
  const link: Omit<Link, 'kind' | 'vxlan' | 'info'> = {
    ifindex,
    name,
    flags,
    up: flags.includes('UP'),
    lowerUp: flags.includes('LOWER_UP'),
    line,
  };
  const set = <K extends keyof Link>(k: K, v: Link[K] | undefined) => {
    if (v !== undefined) (link as Link)[k] = v;
  };
  set('mtu', r.num('mtu'));
  set('operstate', r.str('operstate'));
  set('mac', r.str('address'));
  set('master', r.str('master'));
  set('link', r.str('link') ?? (r.has('link_index') ? `if${r.num('link_index')}` : undefined));
  set('linkNetnsid', r.num('link_netnsid'));
  set('linkType', r.str('link_type'));
  return link;
}

function readVxlan(r: FieldReader, data: Record<string, unknown>): VxlanInfo {
  const known = ['id', 'port', 'local', 'local6', 'group', 'group6', 'remote', 'remote6', 'link', 'learning', 'ttl'];
  const other: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) if (!known.includes(k) && k !== 'port_range') other[k] = v;
  const info: VxlanInfo = { other };
  const id = r.num('id');
  if (id !== undefined) info.id = id;
  const port = r.num('port');
  if (port !== undefined) info.port = port;
  const local = r.str('local') ?? r.str('local6');
  if (local !== undefined) info.local = local;
  const group = r.str('group') ?? r.str('group6');
  if (group !== undefined) info.group = group;
  const remote = r.str('remote') ?? r.str('remote6');
  if (remote !== undefined) info.remote = remote;
  const dev = r.str('link');
  if (dev !== undefined) info.dev = dev;
  const learning = r.bool('learning');
  if (learning !== undefined) info.learning = learning;
  const ttl = r.num('ttl');
  if (ttl !== undefined) info.ttl = ttl;
  const range = r.object('port_range');
  if (range) {
    const rr = r.nested(range, 'port_range');
    const low = rr.num('low');
    const high = rr.num('high');
    if (low !== undefined && high !== undefined) info.portRange = { low, high };
  }
  return info;
}

export function parseIpLink(text: string, file: string): IpLinkParseResult {
  const issues = new IssueList(file);
  const entries = readJsonEntries(text, 'ip -d -j link show', issues) ?? [];
  const links: Link[] = [];
  for (const e of entries) {
    const r = new FieldReader(issues, e, 'link');
    const base = readLinkFields(r, e.line);
    if (!base) {
      issues.add(e.line, 'error', 'link without "ifindex" and "ifname"; skipped', JSON.stringify(e.obj));
      continue;
    }
    const link: Link = base;
    const linkinfo = r.object('linkinfo');
    if (linkinfo) {
      const li = r.nested(linkinfo, `${link.name} linkinfo`);
      const kind = li.str('info_kind');
      if (kind !== undefined) link.kind = kind;
      const slaveKind = li.str('info_slave_kind');
      if (slaveKind !== undefined) link.slaveKind = slaveKind;
      const data = li.object('info_data');
      if (data) {
        if (kind === 'vxlan') link.vxlan = readVxlan(li.nested(data, 'info_data'), data);
        else link.info = data;
      } else if (kind === 'vxlan')
        issues.add(e.line, 'warning', `vxlan device ${link.name} has no details: was \`ip -d\` (details) used?`);
    }
    links.push(link);
  }
  return { links, issues: issues.done() };
}
