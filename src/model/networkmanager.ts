/**
 * NetworkManager as a node snapshot shows it: whether it runs (its process, `nmcli -t dev`), which devices it says it
 * manages, and its configuration merged as NetworkManager merges it (/usr/lib/NetworkManager/conf.d, then
 * /run/NetworkManager/conf.d, then NetworkManager.conf, then /etc/NetworkManager/conf.d, each in name order, a later
 * key overriding an earlier one; a file in /etc/.../conf.d shadows one of the same name in /run or /usr/lib).
 * Device specs follow NetworkManager.conf(5) "Device List Format": interface-name: with globs, interface-name:= exact,
 * type:, mac:, `*`, and except: negations.
 */
import type { NodeModel } from './cluster.js';

const MAIN = '/etc/NetworkManager/NetworkManager.conf';
const DIRS = ['/usr/lib/NetworkManager/conf.d/', '/run/NetworkManager/conf.d/', '/etc/NetworkManager/conf.d/'];

export interface NmConfigFile {
  path: string;
  text: string;
}

/** The node's NetworkManager config files in the order NetworkManager reads them. */
export function nmConfigFiles(node: NodeModel): NmConfigFile[] {
  const paths = Object.keys(node.snapshot.files);
  const inDir = (dir: string) =>
    paths
      .filter((p) => p.startsWith(dir) && p.endsWith('.conf') && !p.slice(dir.length).includes('/'))
      .sort((a, b) => a.slice(dir.length).localeCompare(b.slice(dir.length)));
  const base = (p: string) => p.slice(p.lastIndexOf('/') + 1);
  const etc = inDir(DIRS[2] as string);
  const run = inDir(DIRS[1] as string).filter((p) => !etc.some((e) => base(e) === base(p)));
  const usr = inDir(DIRS[0] as string).filter((p) => ![...etc, ...run].some((e) => base(e) === base(p)));
  const out: NmConfigFile[] = [];
  for (const p of [...usr, ...run, MAIN, ...etc]) {
    const text = node.fileContent(p);
    if (text !== undefined) out.push({ path: p, text });
  }
  return out;
}

export interface NmSetting {
  value: string;
  /** Where the effective value was set (file:line). */
  where: string;
  line: string;
}

export interface NmDeviceSection {
  name: string;
  matchDevice?: string;
  managed?: string;
  where: string;
}

export interface NmConfig {
  /** `[keyfile] unmanaged-devices` as merged (`+=` appends, `-=` removes). */
  unmanaged?: NmSetting;
  /** `[device*]` sections with a `managed` key, in the order read. */
  devices: NmDeviceSection[];
  files: string[];
}

/** Merge the config files' `[keyfile] unmanaged-devices` and `[device*] managed` settings. */
export function nmConfig(files: NmConfigFile[]): NmConfig {
  const cfg: NmConfig = { devices: [], files: files.map((f) => f.path) };
  for (const f of files) {
    let section = '';
    let dev: NmDeviceSection | undefined;
    f.text.split('\n').forEach((raw, k) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
      const sec = /^\[([^\]]+)\]$/.exec(line);
      if (sec) {
        section = (sec[1] as string).trim();
        dev = undefined;
        if (section === 'device' || section.startsWith('device-')) {
          dev = { name: section, where: `${f.path}:${k + 1}` };
          cfg.devices.push(dev);
        }
        return;
      }
      const kv = /^([A-Za-z0-9._-]+)\s*([+-]?=)\s*(.*)$/.exec(line);
      if (!kv) return;
      const [, key, op, value] = kv as unknown as [string, string, string, string];
      if (section === 'keyfile' && key === 'unmanaged-devices') {
        const where = `${f.path}:${k + 1}`;
        const prev = cfg.unmanaged ? splitSpecs(cfg.unmanaged.value) : [];
        const next = splitSpecs(value);
        const merged = op === '+=' ? [...prev, ...next] : op === '-=' ? prev.filter((s) => !next.includes(s)) : next;
        cfg.unmanaged = { value: merged.join(';'), where, line };
      } else if (dev && key === 'match-device') dev.matchDevice = value;
      else if (dev && key === 'managed') dev.managed = value;
    });
  }
  cfg.devices = cfg.devices.filter((d) => d.managed !== undefined);
  return cfg;
}

export function splitSpecs(value: string): string[] {
  return value
    .split(/[;,]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function glob(pattern: string, name: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(name);
}

export interface DeviceFacts {
  name: string;
  /** NetworkManager's type name: bridge, vxlan, veth, iptunnel, ethernet... */
  type?: string;
  mac?: string;
}

function specMatches(spec: string, d: DeviceFacts): boolean {
  if (spec === '*') return true;
  const colon = spec.indexOf(':');
  const tag = colon < 0 ? '' : spec.slice(0, colon);
  const arg = colon < 0 ? spec : spec.slice(colon + 1);
  switch (tag) {
    case 'interface-name':
      if (arg.startsWith('=')) return arg.slice(1) === d.name;
      if (arg.startsWith('~')) return glob(arg.slice(1).toLowerCase(), d.name.toLowerCase());
      return glob(arg, d.name);
    case 'type':
      return d.type !== undefined && glob(arg, d.type);
    case 'mac':
      return d.mac !== undefined && arg.toLowerCase() === d.mac.toLowerCase();
    default:
      // A bare spec is a MAC address (the legacy form); other tags (driver:, s390-subchannels:) are not known here.
      return tag === '' && d.mac !== undefined && arg.toLowerCase() === d.mac.toLowerCase();
  }
}

/** NetworkManager's match of a device list: an except: match wins; only except: specs match everything else. */
export function deviceListMatches(specs: string[], d: DeviceFacts): boolean {
  let positive = false;
  let onlyExcept = true;
  for (const s of specs) {
    if (s.startsWith('except:')) {
      if (specMatches(s.slice('except:'.length), d)) return false;
    } else {
      onlyExcept = false;
      if (specMatches(s, d)) positive = true;
    }
  }
  return positive || (onlyExcept && specs.length > 0);
}

/** Whether the config leaves a device unmanaged, and by which setting. */
export function configUnmanages(cfg: NmConfig, d: DeviceFacts): string | undefined {
  if (cfg.unmanaged && deviceListMatches(splitSpecs(cfg.unmanaged.value), d))
    return `${cfg.unmanaged.where}: ${cfg.unmanaged.line}`;
  for (const s of cfg.devices) {
    if (s.matchDevice !== undefined && !deviceListMatches(splitSpecs(s.matchDevice), d)) continue;
    return /^(0|false|no|off)$/i.test(s.managed ?? '') ? `${s.where}: [${s.name}] managed=${s.managed}` : undefined;
  }
  return undefined;
}

/** NetworkManager's type name for a link kind. */
export function nmType(kind: string | undefined): string | undefined {
  const map: Record<string, string> = {
    bridge: 'bridge',
    vxlan: 'vxlan',
    veth: 'veth',
    ipip: 'iptunnel',
    dummy: 'dummy',
  };
  return kind ? (map[kind] ?? kind) : 'ethernet';
}

export interface NmcliDevice {
  device: string;
  type: string;
  state: string;
  connection: string;
  line: string;
}

/** `nmcli -t dev` lines: DEVICE:TYPE:STATE:CONNECTION, with `\:` for a colon inside a field. */
export function parseNmcliDev(text: string): NmcliDevice[] {
  const out: NmcliDevice[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const fields: string[] = [];
    let cur = '';
    for (let i = 0; i < line.length; i++) {
      const c = line[i] as string;
      if (c === '\\' && i + 1 < line.length) cur += line[++i];
      else if (c === ':') {
        fields.push(cur);
        cur = '';
      } else cur += c;
    }
    fields.push(cur);
    if (fields.length < 3) continue;
    out.push({
      device: fields[0] as string,
      type: fields[1] as string,
      state: fields[2] as string,
      connection: fields[3] ?? '',
      line,
    });
  }
  return out;
}

/** Whether NetworkManager runs on the node: true, false, or undefined when the snapshot cannot tell. */
export function nmRunning(node: NodeModel): { running: boolean; evidence: string } | undefined {
  const ps = node.output('processes');
  const proc = ps?.split('\n').find((l) => /(^|\/|\s)NetworkManager(\s|$)/.test(l));
  if (proc) return { running: true, evidence: `process: ${proc.trim()}` };
  const rec = node.snapshot.commands['nmcli-dev'];
  if (rec && !rec.missing && rec.exitCode === 0 && rec.stdout.trim())
    return { running: true, evidence: '`nmcli -t dev` answers' };
  if (ps !== undefined) return { running: false, evidence: 'no NetworkManager process' };
  if (rec && !rec.missing && /not running/i.test(rec.stderr)) return { running: false, evidence: rec.stderr.trim() };
  return undefined;
}
