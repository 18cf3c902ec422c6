/** Writing a node snapshot: to a file (parent folders made, so `-o bundle/nodes/NODE.json` works) or to stdout. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InputError } from '../core/errors.js';
import type { NodeSnapshot } from '../snapshot/schema.js';

export function snapshotJson(snapshot: NodeSnapshot): string {
  return `${JSON.stringify(snapshot, null, 2)}\n`;
}

/** Writes the snapshot to `file`, or to stdout when `file` is undefined or `-`. */
export function writeSnapshot(snapshot: NodeSnapshot, file?: string): void {
  const json = snapshotJson(snapshot);
  if (file === undefined || file === '-') {
    process.stdout.write(json);
    return;
  }
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, json);
  } catch (e) {
    throw new InputError(`cannot write: ${(e as Error).message}`, file);
  }
}

/** One line about what a snapshot holds, for stderr. */
export function snapshotSummary(snapshot: NodeSnapshot): string {
  const records = Object.entries(snapshot.commands);
  const missing = records.filter(([, r]) => r.missing).map(([, r]) => r.command.split(' ')[0]);
  const failed = records
    .filter(([, r]) => !r.missing && r.exitCode !== 0)
    .map(([id, r]) => `${id} (exit ${r.exitCode})`);
  const files = Object.values(snapshot.files);
  const read = files.filter((f) => f.error === undefined).length;
  const parts = [`${records.length} commands`];
  if (missing.length) parts.push(`not installed: ${[...new Set(missing)].join(', ')}`);
  if (failed.length) parts.push(`failed: ${failed.join(', ')}`);
  parts.push(`${read} files read${files.length > read ? ` (${files.length - read} absent or unreadable)` : ''}`);
  return `node ${snapshot.node}: ${parts.join('; ')}`;
}
