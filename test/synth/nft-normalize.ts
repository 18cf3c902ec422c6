/**
 * Test helper: makes two `nft list` texts comparable. The kernel lists set and map elements in its own order and
 * wraps them differently, so every `elements = { ... }` block becomes its elements sorted, one per line.
 */
export function normalizeNftListing(text: string): string {
  return text
    .replace(/elements = \{([^}]*)\}/g, (_m, body: string) => {
      const items = splitTopLevel(body.replace(/\s+/g, ' ').trim());
      return `elements = {\n${items.sort().join('\n')}\n}`;
    })
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join('\n');
}

function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = '';
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && ch === '{') depth++;
    if (!quoted && ch === '}') depth--;
    if (!quoted && depth === 0 && ch === ',') {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}
