/** Reading the files a command names, with errors that say which file and why. */
import { readFileSync, statSync } from 'node:fs';
import type { ParseIssue } from '../core/errors.js';
import { InputError } from '../core/errors.js';

export function readText(path: string): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message,
      path,
    );
  }
  // V8 strings stop at about 512 MiB; larger dumps are not node state anyone produces.
  if (size > 512 * 1024 * 1024)
    throw new InputError(`file is ${Math.round(size / 1048576)} MiB, more than netdoctor reads (512 MiB)`, path);
  const buf = readFileSync(path);
  return buf.toString('utf8');
}

/** Print parse problems on stderr, kubectl-style, at most `limit` of them. */
export function reportIssues(issues: ParseIssue[], limit = 20): void {
  for (const i of issues.slice(0, limit)) {
    process.stderr.write(`${i.severity}: ${i.file}:${i.line}: ${i.message}${i.text ? `\n    ${i.text}` : ''}\n`);
  }
  if (issues.length > limit) process.stderr.write(`... and ${issues.length - limit} more problems\n`);
}
