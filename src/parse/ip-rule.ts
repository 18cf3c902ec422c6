/** Parser for `ip -j rule show` (and `-6`), and the plain `ip rule show` text: the policy routing rules. */
import type { ParseIssue } from '../core/errors.js';
import { type Cidr, type IpFamily, parseCidr } from '../core/ip.js';
import { FieldReader, IssueList, type JsonEntry, readJsonEntries } from './ip-link.js';
import { formatPrefix, normalizeTable } from './ip-route.js';

export type RuleAction = 'lookup' | 'goto' | 'blackhole' | 'unreachable' | 'prohibit' | 'nop';

export interface PortRange {
  start: number;
  end: number;
}

export interface Rule {
  family: IpFamily;
  priority: number;
  /** `not`: the selector as a whole is inverted (every match, interfaces and marks included). */
  not: boolean;
  /** undefined = all. */
  src?: Cidr;
  dst?: Cidr;
  /** fwmark and its mask (the mask is 0xffffffff when only a mark is given). */
  fwmark?: number;
  fwmask?: number;
  iif?: string;
  oif?: string;
  /** The named device does not exist (`[detached]`): the rule never matches. */
  iifDetached?: boolean;
  oifDetached?: boolean;
  tos?: number;
  ipproto?: string;
  sport?: PortRange;
  dport?: PortRange;
  uidrange?: PortRange;
  /** `l3mdev`: look up the VRF table of the device (VRFs are not modelled). */
  l3mdev?: boolean;
  action: RuleAction;
  /** For lookup: the table (`main`, `local`, `100`...). */
  table?: string;
  /** For goto: the priority jumped to. */
  goto?: number;
  /** Ignore lookup results with a prefix this short or shorter (`suppress_prefixlength 0` skips default routes). */
  suppressPrefixlength?: number;
  suppressIfgroup?: string;
  /** Selectors netdoctor does not evaluate (tun_id, realms...), by name. */
  unmodelled: string[];
  protocol?: string;
  line: number;
  /** The rule as `ip rule show` prints it, after the priority. */
  text: string;
}

export interface IpRuleParseResult {
  rules: Rule[];
  issues: ParseIssue[];
  format: 'json' | 'text' | 'empty';
}

export interface IpRuleParseOptions {
  /** Family when the rule can't tell (`from all lookup main`): 4 unless given (`ip -6 rule` output: give 6). */
  family?: IpFamily;
}

function range(r: FieldReader, key: string): PortRange | undefined {
  const single = r.num(key);
  if (single !== undefined) return { start: single, end: single };
  const start = r.num(`${key}_start`);
  const end = r.num(`${key}_end`);
  if (start !== undefined && end !== undefined) return { start, end };
  return undefined;
}

function prefix(
  r: FieldReader,
  key: string,
  family: IpFamily | undefined,
  bad: (m: string) => void,
): Cidr | undefined | null {
  const text = r.str(key);
  if (text === undefined || text === 'all') return undefined;
  const len = r.num(`${key}len`);
  const c = parseCidr(len === undefined ? text : `${text}/${len}`);
  if (!c || (family && c.family !== family)) {
    bad(`${key === 'src' ? 'from' : 'to'} "${text}${len === undefined ? '' : `/${len}`}" is not a prefix`);
    return null;
  }
  return c;
}

const KNOWN = new Set([
  'priority',
  'not',
  'src',
  'srclen',
  'dst',
  'dstlen',
  'fwmark',
  'fwmask',
  'iif',
  'oif',
  'iif_detached',
  'oif_detached',
  'tos',
  'dsfield',
  'ipproto',
  'sport',
  'sport_start',
  'sport_end',
  'dport',
  'dport_start',
  'dport_end',
  'uid_start',
  'uid_end',
  'l3mdev',
  'table',
  'action',
  'goto',
  'suppress_prefixlen',
  'suppress_ifgroup',
  'protocol',
  'nop',
]);

function readRule(r: FieldReader, e: JsonEntry, issues: IssueList, fallback: IpFamily): Rule | undefined {
  const { obj, line } = e;
  const raw = JSON.stringify(obj);
  const priority = r.num('priority');
  if (priority === undefined) {
    issues.add(line, 'error', 'rule without "priority"; skipped', raw);
    return undefined;
  }
  let broken = false;
  const bad = (m: string) => {
    broken = true;
    issues.add(line, 'error', `rule ${priority}: ${m}; rule skipped`, raw);
  };
  const src = prefix(r, 'src', undefined, bad);
  const dst = prefix(r, 'dst', src?.family, bad);
  if (broken || src === null || dst === null) return undefined;
  const family: IpFamily = src?.family ?? dst?.family ?? fallback;
  const rule: Rule = { family, priority, not: 'not' in obj, action: 'lookup', unmodelled: [], line, text: '' };
  if (src) rule.src = src;
  if (dst) rule.dst = dst;
  const fwmark = r.num('fwmark');
  if (fwmark !== undefined) {
    rule.fwmark = fwmark;
    rule.fwmask = r.num('fwmask') ?? 0xffffffff;
  }
  const iif = r.str('iif');
  if (iif !== undefined) rule.iif = iif;
  if ('iif_detached' in obj) rule.iifDetached = true;
  const oif = r.str('oif');
  if (oif !== undefined) rule.oif = oif;
  if ('oif_detached' in obj) rule.oifDetached = true;
  const tos = r.num('tos') ?? r.num('dsfield');
  if (tos !== undefined) rule.tos = tos;
  const ipproto = r.str('ipproto');
  if (ipproto !== undefined) rule.ipproto = ipproto;
  const sport = range(r, 'sport');
  if (sport) rule.sport = sport;
  const dport = range(r, 'dport');
  if (dport) rule.dport = dport;
  const us = r.num('uid_start');
  const ue = r.num('uid_end');
  if (us !== undefined && ue !== undefined) rule.uidrange = { start: us, end: ue };
  if ('l3mdev' in obj) rule.l3mdev = true;
  const action = r.str('action');
  const gotoTarget = r.num('goto');
  const table = r.str('table');
  if (gotoTarget !== undefined) {
    rule.action = 'goto';
    rule.goto = gotoTarget;
  } else if ('nop' in obj || action === 'nop') rule.action = 'nop';
  else if (action === 'blackhole' || action === 'unreachable' || action === 'prohibit') rule.action = action;
  else if (action !== undefined && action !== 'lookup' && action !== 'to_tbl') {
    issues.add(line, 'error', `rule ${priority}: unknown action "${action}"; rule skipped`, raw);
    return undefined;
  } else if (table !== undefined) rule.table = normalizeTable(table);
  else if (!rule.l3mdev) {
    issues.add(line, 'error', `rule ${priority}: no table and no action; rule skipped`, raw);
    return undefined;
  }
  const sp = r.num('suppress_prefixlen');
  if (sp !== undefined) rule.suppressPrefixlength = sp;
  const sg = r.str('suppress_ifgroup');
  if (sg !== undefined) rule.suppressIfgroup = sg;
  const protocol = r.str('protocol');
  if (protocol !== undefined) rule.protocol = protocol;
  for (const k of Object.keys(obj)) if (!KNOWN.has(k)) rule.unmodelled.push(k);
  if (rule.unmodelled.length)
    issues.add(
      line,
      'warning',
      `rule ${priority}: ${rule.unmodelled.join(', ')} not modelled; the rule is taken to match without it`,
      raw,
    );
  rule.text = formatRule(rule);
  return rule;
}

const hex = (n: number) => `0x${n.toString(16)}`;
const rangeText = (p: PortRange) => (p.start === p.end ? String(p.start) : `${p.start}-${p.end}`);

/** A rule as `ip rule show` prints it, after `PRIORITY:`. */
export function formatRule(r: Rule): string {
  const out: string[] = [];
  if (r.not) out.push('not');
  out.push('from', r.src ? formatPrefix(r.src) : 'all');
  if (r.dst) out.push('to', formatPrefix(r.dst));
  if (r.tos !== undefined) out.push('tos', `0x${r.tos.toString(16).padStart(2, '0')}`);
  if (r.fwmark !== undefined)
    out.push('fwmark', r.fwmask === 0xffffffff ? hex(r.fwmark) : `${hex(r.fwmark)}/${hex(r.fwmask ?? 0)}`);
  if (r.iif) out.push('iif', r.iif, ...(r.iifDetached ? ['[detached]'] : []));
  if (r.oif) out.push('oif', r.oif, ...(r.oifDetached ? ['[detached]'] : []));
  if (r.uidrange) out.push('uidrange', `${r.uidrange.start}-${r.uidrange.end}`);
  if (r.ipproto) out.push('ipproto', r.ipproto);
  if (r.sport) out.push('sport', rangeText(r.sport));
  if (r.dport) out.push('dport', rangeText(r.dport));
  if (r.action === 'lookup') out.push('lookup', r.l3mdev && !r.table ? '[l3mdev-table]' : (r.table ?? ''));
  else if (r.action === 'goto') out.push('goto', String(r.goto));
  else out.push(r.action);
  if (r.suppressPrefixlength !== undefined) out.push('suppress_prefixlength', String(r.suppressPrefixlength));
  if (r.suppressIfgroup !== undefined) out.push('suppress_ifgroup', r.suppressIfgroup);
  if (r.protocol !== undefined) out.push('proto', r.protocol);
  return out.join(' ');
}

/** `0:	from all lookup local` → the JSON shape. */
function textRuleObject(line: string, bad: (m: string) => void): Record<string, unknown> | undefined {
  const m = /^\s*(\d+):\s*(.*)$/.exec(line);
  if (!m) {
    bad('not a rule line (expected "PRIORITY: selector action")');
    return undefined;
  }
  const obj: Record<string, unknown> = { priority: Number(m[1]) };
  const t = (m[2] ?? '').trim().split(/\s+/);
  const splitPrefix = (key: string, v: string) => {
    if (v === 'all') {
      obj[key] = 'all';
      return;
    }
    const slash = v.indexOf('/');
    obj[key] = slash < 0 ? v : v.slice(0, slash);
    if (slash >= 0) obj[`${key}len`] = Number(v.slice(slash + 1));
  };
  const splitRange = (key: string, v: string) => {
    const [a, b] = v.split('-');
    if (b === undefined) obj[key] = Number(a);
    else {
      obj[`${key}_start`] = Number(a);
      obj[`${key}_end`] = Number(b);
    }
  };
  for (let i = 0; i < t.length; i++) {
    const w = t[i] as string;
    const v = t[i + 1] ?? '';
    switch (w) {
      case 'not':
        obj.not = null;
        break;
      case 'from':
        splitPrefix('src', v);
        i++;
        break;
      case 'to':
        splitPrefix('dst', v);
        i++;
        break;
      case 'tos':
      case 'dsfield':
        obj.tos = v;
        i++;
        break;
      case 'fwmark': {
        const [mark, mask] = v.split('/');
        obj.fwmark = mark;
        if (mask !== undefined) obj.fwmask = mask;
        i++;
        break;
      }
      case 'iif':
      case 'oif':
        obj[w] = v;
        i++;
        if (t[i + 1] === '[detached]') {
          obj[`${w}_detached`] = null;
          i++;
        }
        break;
      case 'lookup':
      case 'table':
        if (v === '[l3mdev-table]') obj.l3mdev = null;
        else obj.table = v;
        i++;
        break;
      case 'l3mdev':
        obj.l3mdev = null;
        break;
      case 'goto':
        obj.goto = Number(v);
        i++;
        break;
      case 'blackhole':
      case 'unreachable':
      case 'prohibit':
        obj.action = w;
        break;
      case 'nop':
        obj.nop = null;
        break;
      case 'uidrange':
        splitRange('uid', v);
        i++;
        break;
      case 'ipproto':
        obj.ipproto = v;
        i++;
        break;
      case 'sport':
      case 'dport':
        splitRange(w, v);
        i++;
        break;
      case 'suppress_prefixlength':
        obj.suppress_prefixlen = Number(v);
        i++;
        break;
      case 'suppress_ifgroup':
        obj.suppress_ifgroup = v;
        i++;
        break;
      case 'proto':
        obj.protocol = v;
        i++;
        break;
      case 'realms':
        obj.flow_to = v;
        i++;
        break;
      case 'tun_id':
        obj.tun_id = v;
        i++;
        break;
      default:
        bad(`unknown word "${w}" in rule; the rest of the line is ignored`);
        return obj;
    }
  }
  return obj;
}

export function parseIpRule(text: string, file: string, options: IpRuleParseOptions = {}): IpRuleParseResult {
  const issues = new IssueList(file);
  const trimmed = text.trimStart();
  if (trimmed === '') {
    issues.add(1, 'warning', 'empty input: expected the output of `ip -j rule show`');
    return { rules: [], issues: issues.done(), format: 'empty' };
  }
  let entries: JsonEntry[] = [];
  let format: IpRuleParseResult['format'];
  if (trimmed.startsWith('[')) {
    entries = readJsonEntries(text, 'ip -j rule show', issues) ?? [];
    format = 'json';
  } else {
    format = 'text';
    text.split('\n').forEach((raw, k) => {
      const line = raw.replace(/\r$/, '');
      if (line.trim() === '' || line.trimStart().startsWith('#')) return;
      const obj = textRuleObject(line, (m) => issues.add(k + 1, 'warning', m, line));
      if (obj) entries.push({ obj, line: k + 1 });
    });
  }
  const rules: Rule[] = [];
  for (const e of entries) {
    const rule = readRule(new FieldReader(issues, e, 'rule'), e, issues, options.family ?? 4);
    if (rule) rules.push(rule);
  }
  return { rules, issues: issues.done(), format };
}

/** The rules the kernel starts with, for when `ip rule` output is missing. */
export function defaultRules(family: IpFamily): Rule[] {
  const make = (priority: number, table: string): Rule => {
    const r: Rule = { family, priority, not: false, action: 'lookup', table, unmodelled: [], line: 0, text: '' };
    r.text = formatRule(r);
    return r;
  };
  return family === 4
    ? [make(0, 'local'), make(32766, 'main'), make(32767, 'default')]
    : [make(0, 'local'), make(32766, 'main')];
}
