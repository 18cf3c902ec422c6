/**
 * Split one iptables-restore line into arguments the way iptables-restore does: white space separates, double quotes
 * group (a backslash escapes a quote or a backslash inside them). Quoted arguments are flagged so that a comment such as
 * "--foo" is never taken for an option.
 */
export interface Arg {
  text: string;
  quoted: boolean;
}

export function splitArgs(line: string): Arg[] | { error: string } {
  const out: Arg[] = [];
  const n = line.length;
  let i = 0;
  while (i < n) {
    let c = line.charCodeAt(i);
    if (c === 32 || c === 9) {
      i++;
      continue;
    }
    if (c === 34 /* " */) {
      let text = '';
      i++;
      let closed = false;
      while (i < n) {
        c = line.charCodeAt(i);
        if (c === 92 /* \ */ && i + 1 < n) {
          const next = line[i + 1];
          if (next === '"' || next === '\\') {
            text += next;
            i += 2;
            continue;
          }
        }
        if (c === 34) {
          closed = true;
          i++;
          break;
        }
        text += line[i];
        i++;
      }
      if (!closed) return { error: 'unterminated quoted string' };
      // A quote may be glued to more text ("a"b); iptables-restore joins them into one argument.
      const start = i;
      while (i < n && line.charCodeAt(i) !== 32 && line.charCodeAt(i) !== 9) i++;
      out.push({ text: text + line.slice(start, i), quoted: true });
      continue;
    }
    const start = i;
    while (i < n) {
      c = line.charCodeAt(i);
      if (c === 32 || c === 9) break;
      i++;
    }
    out.push({ text: line.slice(start, i), quoted: false });
  }
  return out;
}
