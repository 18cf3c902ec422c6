/**
 * Reading the few top-level settings netdoctor needs from Kubernetes component config files (KubeProxyConfiguration,
 * KubeletConfiguration), which are YAML: `key: value` and `key:` followed by `- item` lines. Only top-level keys, no
 * anchors or flow collections beyond `[a, b]`; anything else reads as absent rather than guessed.
 */

function unquote(v: string): string {
  const t = v.replace(/\s+#.*$/, '').trim();
  if ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'"))) return t.slice(1, -1);
  return t;
}

export interface ConfigValue {
  value: string;
  /** 1-based line of the key. */
  line: number;
}

/** A top-level scalar (`mode: ipvs`, `clusterDomain: cluster.local`); a JSON config is read too. */
export function topLevelScalar(text: string, key: string): ConfigValue | undefined {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = new RegExp(`^${key}:\\s*(.*)$`).exec((lines[i] as string).replace(/\r$/, ''));
    if (m) return { value: unquote(m[1] as string), line: i + 1 };
  }
  const json = /^\s*\{/.test(text) ? tryJson(text) : undefined;
  const v = json?.[key];
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return { value: String(v), line: 1 };
  return undefined;
}

/** A top-level list (`clusterDNS:` then `- 10.96.0.10`, or `clusterDNS: [10.96.0.10]`). */
export function topLevelList(text: string, key: string): { values: string[]; line: number } | undefined {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = new RegExp(`^${key}:\\s*(.*)$`).exec((lines[i] as string).replace(/\r$/, ''));
    if (!m) continue;
    const inline = (m[1] as string).replace(/\s+#.*$/, '').trim();
    if (inline.startsWith('['))
      return {
        values: inline
          .replace(/^\[|\]$/g, '')
          .split(',')
          .map(unquote)
          .filter(Boolean),
        line: i + 1,
      };
    if (inline !== '') return { values: [unquote(inline)], line: i + 1 };
    const values: string[] = [];
    for (let j = i + 1; j < lines.length; j++) {
      const item = /^\s*-\s+(.*)$/.exec(lines[j] as string);
      if (!item) break;
      values.push(unquote(item[1] as string));
    }
    return { values, line: i + 1 };
  }
  const json = /^\s*\{/.test(text) ? tryJson(text) : undefined;
  const v = json?.[key];
  if (Array.isArray(v)) return { values: v.map(String), line: 1 };
  return undefined;
}

function tryJson(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** `--flag=value` or `--flag value` in a command line; the last one wins, as with Go's flag package. */
export function flagValue(argv: readonly string[], flag: string): string | undefined {
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === `--${flag}` || a === `-${flag}`) {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('-')) out = next;
    } else if (a.startsWith(`--${flag}=`) || a.startsWith(`-${flag}=`)) out = a.slice(a.indexOf('=') + 1);
  }
  return out;
}
