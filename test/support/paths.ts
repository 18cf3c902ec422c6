/** Where the tests find shared inputs: the corpus of real dumps and the seeds live beside the repository. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function shared(): string {
  const fromEnv = process.env.NETDOCTOR_SHARED;
  if (fromEnv) return fromEnv;
  const beside = join(repoRoot, '..', 'shared');
  if (existsSync(beside)) return beside;
  throw new Error('the shared folder (corpus and seeds) was not found beside the repository; set NETDOCTOR_SHARED');
}

export const sharedDir = shared();
export const corpusDir = join(sharedDir, 'corpus', 'iptables');
export const seedsDir = join(sharedDir, 'seeds');
export const fixturesDir = join(repoRoot, 'test', 'fixtures');
