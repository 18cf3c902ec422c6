/**
 * Makes the lab's example bundles again, with the command line a user would type (needs root):
 *
 *   sudo node --import tsx scripts/make-examples.ts [scenario ...]
 *
 * For each example in `src/lab/examples.ts`:
 *   netdoctor lab up <scenario> --seed <seed> --nodes <n>
 *   netdoctor lab collect -o examples/<scenario>
 *   netdoctor lab heal
 *   netdoctor lab collect -o examples/<scenario>-healthy
 *   netdoctor lab down
 * Old bundles are replaced. The lab is always taken down, also on failure.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exampleDir, LAB_EXAMPLES } from '../src/lab/examples.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'src', 'cli', 'main.ts');
const scratch = mkdtempSync(join(tmpdir(), 'netdoctor-examples-'));
const state = join(scratch, 'lab.json');

function netdoctor(...args: string[]): void {
  process.stderr.write(`$ netdoctor ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', cli, ...args, '--state', state], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 180_000,
  });
  if (r.status !== 0) throw new Error(`netdoctor ${args.join(' ')} exited ${r.status}`);
}

const only = process.argv.slice(2);
const unknown = only.filter((s) => !LAB_EXAMPLES.some((e) => e.scenario === s));
if (unknown.length) {
  process.stderr.write(`unknown example(s): ${unknown.join(', ')}; known: ${LAB_EXAMPLES.map((e) => e.scenario).join(', ')}\n`);
  process.exit(2);
}
try {
  for (const e of LAB_EXAMPLES.filter((x) => only.length === 0 || only.includes(x.scenario))) {
    const broken = join(root, exampleDir(e));
    const healed = join(root, exampleDir(e, true));
    rmSync(broken, { recursive: true, force: true });
    rmSync(healed, { recursive: true, force: true });
    try {
      netdoctor('lab', 'up', e.scenario, '--seed', String(e.seed), '--nodes', String(e.nodes));
      netdoctor('lab', 'collect', '-o', exampleDir(e));
      netdoctor('lab', 'heal');
      netdoctor('lab', 'collect', '-o', exampleDir(e, true));
    } finally {
      netdoctor('lab', 'down');
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
