/** Interface names as iptables matches them: exact, or a prefix when the name ends in `+`. */
export function ifaceMatcher(pattern: string): (name: string | undefined) => boolean {
  if (pattern.endsWith('+')) {
    const prefix = pattern.slice(0, -1);
    return (name) => (name ?? '').startsWith(prefix);
  }
  return (name) => (name ?? '') === pattern;
}
