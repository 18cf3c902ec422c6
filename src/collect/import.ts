/**
 * `bundle import`: a node snapshot from plain files a user pasted into a bug report, recognised by name
 * (`iptables-save.txt`, `ip-route.txt`, `subnet.env`, ...). The content is kept verbatim, as the collector would
 * have recorded it; the only changes are Windows line ends (CRLF, from pasting) turned into LF, and `ip route` text
 * converted to the `ip -j` form when that can be done exactly.
 */
import { isUtf8 } from 'node:buffer';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { VERSION } from '../cli/version.js';
import { InputError } from '../core/errors.js';
import { parseIpRoute } from '../parse/ip-route.js';
import { type CommandRecord, type FileRecord, NODE_SNAPSHOT_SCHEMA, type NodeSnapshot } from '../snapshot/schema.js';
import { COMMAND_LINES } from './commands.js';

/** How a pasted command output is checked: kept as text, must be JSON, or JSON or convertible `ip route` text. */
type Form = 'text' | 'json' | 'route';

interface PastedCommand {
  /** The snapshot id, or a family resolved by content. */
  id: string | 'iptables-save' | 'ip6tables-save' | 'ipvsadm';
  /** Accepted names without extension (lower case; `_` and spaces count as `-`). */
  names: string[];
  form: Form;
  /** What to run to produce it, for the help text and messages. */
  run: string;
}

/** The recognised names. Each also answers to its snapshot id, with any of the extensions in `EXTENSIONS`. */
export const PASTED_COMMANDS: readonly PastedCommand[] = [
  { id: 'iptables-save', names: ['iptables-save', 'iptables'], form: 'text', run: 'iptables-save' },
  { id: 'iptables-nft-save', names: ['iptables-nft-save', 'iptables-nft'], form: 'text', run: 'iptables-nft-save' },
  {
    id: 'iptables-legacy-save',
    names: ['iptables-legacy-save', 'iptables-legacy'],
    form: 'text',
    run: 'iptables-legacy-save',
  },
  { id: 'ip6tables-save', names: ['ip6tables-save', 'ip6tables'], form: 'text', run: 'ip6tables-save' },
  { id: 'ip6tables-nft-save', names: ['ip6tables-nft-save', 'ip6tables-nft'], form: 'text', run: 'ip6tables-nft-save' },
  {
    id: 'ip6tables-legacy-save',
    names: ['ip6tables-legacy-save', 'ip6tables-legacy'],
    form: 'text',
    run: 'ip6tables-legacy-save',
  },
  { id: 'nft-ruleset', names: ['nft', 'nftables', 'nft-ruleset'], form: 'json', run: 'nft -j list ruleset' },
  { id: 'ip-link', names: ['ip-link', 'ip-d-link', 'links'], form: 'json', run: 'ip -d -j link show' },
  { id: 'ip-addr', names: ['ip-addr', 'ip-address', 'ip-a', 'addresses'], form: 'json', run: 'ip -j addr show' },
  {
    id: 'ip-route',
    names: ['ip-route', 'ip-r', 'routes', 'ip-route-table-all'],
    form: 'route',
    run: 'ip -j route show table all',
  },
  {
    id: 'ip6-route',
    names: ['ip6-route', 'ip-6-route', 'ip-route-6', 'ip-route6'],
    form: 'route',
    run: 'ip -j -6 route show table all',
  },
  { id: 'ip-rule', names: ['ip-rule', 'ip-rules'], form: 'json', run: 'ip -j rule show' },
  { id: 'ip6-rule', names: ['ip6-rule', 'ip-6-rule', 'ip-rule-6'], form: 'json', run: 'ip -j -6 rule show' },
  { id: 'ip-neigh', names: ['ip-neigh', 'ip-neighbour', 'ip-neighbor'], form: 'json', run: 'ip -j neigh show' },
  { id: 'bridge-fdb', names: ['bridge-fdb', 'fdb'], form: 'json', run: 'bridge -j fdb show' },
  { id: 'ipvsadm', names: ['ipvsadm'], form: 'text', run: 'ipvsadm -Sn or ipvsadm -Ln' },
  { id: 'ipvsadm-save', names: ['ipvsadm-save', 'ipvsadm-sn'], form: 'text', run: 'ipvsadm -Sn' },
  { id: 'ipvsadm-list', names: ['ipvsadm-list', 'ipvsadm-ln'], form: 'text', run: 'ipvsadm -Ln' },
  { id: 'ipset-save', names: ['ipset', 'ipset-save'], form: 'text', run: 'ipset save' },
  { id: 'sysctl', names: ['sysctl', 'sysctl-a'], form: 'text', run: 'sysctl -a' },
  { id: 'conntrack-stats', names: ['conntrack', 'conntrack-stats', 'conntrack-s'], form: 'text', run: 'conntrack -S' },
  { id: 'nmcli-dev', names: ['nmcli', 'nmcli-dev'], form: 'text', run: 'nmcli -t dev' },
  {
    id: 'firewalld-state',
    names: ['firewalld', 'firewalld-state', 'firewall-cmd'],
    form: 'text',
    run: 'firewall-cmd --state',
  },
  {
    id: 'processes',
    names: ['ps', 'processes'],
    form: 'text',
    run: 'ps -o pid,args -C kube-proxy,kubelet,flanneld,calico-node,cilium-agent,NetworkManager,firewalld,containerd,dockerd',
  },
  { id: 'uname', names: ['uname'], form: 'text', run: 'uname -a' },
];

/** Pasted files that stand for a file on the node (these names, in any case). */
export const PASTED_FILES: Readonly<Record<string, string>> = {
  'subnet.env': '/run/flannel/subnet.env',
  'resolv.conf': '/etc/resolv.conf',
  'NetworkManager.conf': '/etc/NetworkManager/NetworkManager.conf',
  'kubelet-config.yaml': '/var/lib/kubelet/config.yaml',
  nf_conntrack_count: '/proc/sys/net/netfilter/nf_conntrack_count',
  nf_conntrack_max: '/proc/sys/net/netfilter/nf_conntrack_max',
};

const FILES_BY_NAME = new Map(Object.entries(PASTED_FILES).map(([n, p]) => [n.toLowerCase(), p]));

const EXTENSIONS = ['.txt', '.log', '.out', '.json'];

export interface ImportedFile {
  file: string;
  /** The command id or node path it became. */
  as: string;
}

export interface ImportResult {
  snapshot: NodeSnapshot;
  used: ImportedFile[];
  /** Files kept out, with the reason. */
  skipped: { file: string; reason: string }[];
  /** Things worth saying about files that were used. */
  notes: { file: string; message: string }[];
}

function stemOf(name: string): string {
  let stem = name.toLowerCase();
  for (const ext of EXTENSIONS)
    if (stem.endsWith(ext)) {
      stem = stem.slice(0, -ext.length);
      break;
    }
  return stem.replace(/[_\s]+/g, '-');
}

const BY_NAME = new Map<string, PastedCommand>();
for (const c of PASTED_COMMANDS) for (const n of [c.id, ...c.names]) BY_NAME.set(n, c);

/** Which iptables backend printed this `iptables-save` text. */
function iptablesBackend(text: string): { backend: 'nft' | 'legacy'; guessed: boolean } {
  const header = /^# Generated by (\S+) v[\d.]+(.*)$/m.exec(text);
  if (!header) return { backend: 'nft', guessed: true };
  const [, program, rest] = header;
  if (/nft|xtables/.test(program) || rest.includes('(nf_tables)')) return { backend: 'nft', guessed: false };
  if (program.includes('legacy') || rest.includes('(legacy)')) return { backend: 'legacy', guessed: false };
  // iptables before 1.8 had only the legacy backend; from 1.8 on, a plain "iptables-save" header is the legacy one.
  return { backend: 'legacy', guessed: false };
}

function looksLikeIptablesList(text: string): boolean {
  return /^Chain \S+ \((policy \w+|\d+ references)/m.test(text);
}

function decode(buf: Buffer): { text?: string; base64?: string } {
  if (!isUtf8(buf)) return { base64: buf.toString('base64') };
  return { text: buf.toString('utf8') };
}

/** Reads the directory and makes the snapshot. Throws an InputError when the directory is missing or holds nothing. */
export function importPastedFiles(dir: string, nodeName: string): ImportResult {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory())
      throw new InputError(
        'not a directory (to import the output of the collector script, use `netdoctor bundle import-raw`)',
        dir,
      );
    entries = readdirSync(dir).sort();
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(
      code === 'ENOENT' ? 'no such directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message,
      dir,
    );
  }
  const commands: Record<string, CommandRecord> = {};
  const files: Record<string, FileRecord> = {};
  const used: ImportedFile[] = [];
  const skipped: ImportResult['skipped'] = [];
  const notes: ImportResult['notes'] = [];
  const from = new Map<string, string>();

  for (const name of entries) {
    const path = join(dir, name);
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(path);
    } catch (e) {
      skipped.push({ file: name, reason: `cannot read: ${(e as Error).message}` });
      continue;
    }
    if (st.isDirectory()) {
      skipped.push({ file: name, reason: 'a directory (folders are not searched)' });
      continue;
    }
    if (!st.isFile()) {
      skipped.push({ file: name, reason: 'not a regular file' });
      continue;
    }
    let buf: Buffer;
    try {
      buf = readFileSync(path);
    } catch (e) {
      skipped.push({ file: name, reason: `cannot read: ${(e as Error).message}` });
      continue;
    }
    if (buf.subarray(0, 12).toString('latin1') === '@@netdoctor ') {
      skipped.push({
        file: name,
        reason: 'the output of the collector script: import it with `netdoctor bundle import-raw`',
      });
      continue;
    }
    const { text: rawText, base64 } = decode(buf);
    const crlf = rawText?.includes('\r\n') ?? false;
    const text = crlf ? rawText?.replace(/\r\n/g, '\n') : rawText;
    const keep = (as: string) => {
      const earlier = from.get(as);
      if (earlier) {
        skipped.push({ file: name, reason: `${as} already comes from ${earlier}` });
        return false;
      }
      from.set(as, name);
      used.push({ file: name, as });
      if (crlf) notes.push({ file: name, message: 'Windows line ends (CRLF) turned into LF' });
      return true;
    };

    // Files from the node.
    const lower = name.toLowerCase();
    let nodePath = FILES_BY_NAME.get(lower);
    if (!nodePath && /\.conflist$/.test(lower)) nodePath = `/etc/cni/net.d/${name}`;
    else if (!nodePath && /\.conf$/.test(lower) && text !== undefined) {
      const body = text.trimStart();
      if (body.startsWith('{')) nodePath = `/etc/cni/net.d/${name}`;
      else if (body.startsWith('[') || body.startsWith('#')) nodePath = `/etc/NetworkManager/conf.d/${name}`;
    }
    if (nodePath) {
      if (keep(nodePath)) files[nodePath] = text !== undefined ? { content: text } : { contentBase64: base64 };
      continue;
    }

    // Command outputs.
    const pasted = BY_NAME.get(stemOf(name));
    if (!pasted) {
      skipped.push({ file: name, reason: 'not a name netdoctor knows (see `netdoctor bundle import --help`)' });
      continue;
    }
    let id = pasted.id;
    const body = text ?? '';
    if (id === 'iptables-save' || id === 'ip6tables-save' || id.includes('tables-')) {
      if (text !== undefined && looksLikeIptablesList(text)) {
        skipped.push({
          file: name,
          reason: 'this is `iptables -L` output, which loses matches; netdoctor reads `iptables-save` output',
        });
        continue;
      }
      if (id === 'iptables-save' || id === 'ip6tables-save') {
        const { backend, guessed } = iptablesBackend(body);
        id = id.replace('-save', `-${backend}-save`);
        if (guessed && body.trim())
          notes.push({
            file: name,
            message: `no "# Generated by" header: taken as the ${backend} backend (name it ${id.replace(backend, 'legacy')}.txt if it came from iptables-legacy)`,
          });
      }
    } else if (id === 'ipvsadm') {
      id = /^IP Virtual Server version/m.test(body) ? 'ipvsadm-list' : 'ipvsadm-save';
    }
    if (pasted.form !== 'text' && text === undefined) {
      skipped.push({ file: name, reason: `not UTF-8 text, so not the JSON of \`${pasted.run}\`` });
      continue;
    }
    const stdout = body;
    let command = `${COMMAND_LINES.get(id) ?? pasted.run} # from ${name}`;
    if (pasted.form === 'json' || pasted.form === 'route') {
      if (!body.trim()) {
        skipped.push({ file: name, reason: `empty; expected the JSON of \`${pasted.run}\`` });
        continue;
      }
      let json = true;
      try {
        JSON.parse(body);
      } catch {
        json = false;
      }
      if (!json && pasted.form === 'route') {
        // Kept as pasted: the route parser reads `ip route` text as it reads the JSON form. What it cannot read
        // exactly is refused rather than half-understood.
        const problem = parseIpRoute(body, name).issues.find((i) => i.severity === 'error');
        if (problem) {
          skipped.push({
            file: name,
            reason: `neither JSON nor \`ip route\` text netdoctor reads exactly (line ${problem.line}: ${problem.message}); attach the output of \`${pasted.run}\``,
          });
          continue;
        }
        command = `ip route show table all # the text pasted in ${name}`;
        notes.push({ file: name, message: 'ip route text kept as it is (netdoctor reads it like the `ip -j` form)' });
      } else if (!json) {
        skipped.push({
          file: name,
          reason: `not JSON: netdoctor reads the JSON form, attach the output of \`${pasted.run}\``,
        });
        continue;
      }
    } else if (text !== undefined && !body.trim()) {
      notes.push({ file: name, message: 'empty: kept as a command that printed nothing' });
    }
    if (!keep(id)) continue;
    const record: CommandRecord = { command, stdout: text === undefined ? '' : stdout, stderr: '', exitCode: 0 };
    if (text === undefined) record.stdoutBase64 = base64;
    commands[id] = record;
  }

  if (used.length === 0)
    throw new InputError(
      `no file netdoctor can use${skipped.length ? ` (${skipped.length} left out)` : ' (the directory is empty)'}; see \`netdoctor bundle import --help\` for the names it reads`,
      dir,
    );
  return {
    snapshot: {
      schemaVersion: NODE_SNAPSHOT_SCHEMA,
      kind: 'NodeSnapshot',
      node: nodeName,
      collectedAt: new Date().toISOString(),
      collector: { version: VERSION, transport: 'import' },
      commands,
      files,
    },
    used,
    skipped,
    notes,
  };
}

/** The recognised names, for `--help`. */
export function pastedNamesHelp(): string {
  const row = (names: string, what: string) => `  ${names.padEnd(56)}${what}`;
  return [
    ...PASTED_COMMANDS.map((c) => row([c.id, ...c.names.filter((n) => n !== c.id)].join(', '), c.run)),
    ...Object.entries(PASTED_FILES).map(([n, p]) => row(n, p)),
    row('*.conflist, *.conf holding JSON', '/etc/cni/net.d/<name>'),
    row('*.conf holding [sections]', '/etc/NetworkManager/conf.d/<name>'),
  ].join('\n');
}
