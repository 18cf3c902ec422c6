/**
 * `diagnose --format html` of the seed-000 example in a real headless Chromium, in English and Chinese: the page
 * draws without console errors, fetches nothing, and shows the cause first with its fix. Needs Chromium (Debian's
 * `chromium`); under CI=true its absence is a failure.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CHECKS } from '../../src/checks/registry.js';
import { runChecks } from '../../src/checks/run.js';
import { ClusterModel } from '../../src/model/cluster.js';
import { formatFindingsHtml } from '../../src/report/html/findings-page.js';
import { loadBundle } from '../../src/snapshot/bundle.js';
import { repoRoot } from '../support/paths.js';
import { CHROMIUM, openInBrowser } from './browser.js';

for (const lang of ['en', 'zh'] as const) {
  test(`diagnose --format html --lang ${lang}: the cause first, no errors, nothing fetched`, async (t) => {
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI === 'true') throw new Error(`no Chromium at ${CHROMIUM}: CI must install it`);
      t.skip('needs Chromium');
      return;
    }
    const cluster = new ClusterModel(loadBundle(join(repoRoot, 'examples', 'seed-000')));
    const { findings } = runChecks(cluster, CHECKS);
    const top = findings[0];
    assert.ok(top && top.severity === 'critical');
    const out = join(repoRoot, 'artifacts');
    mkdirSync(out, { recursive: true });
    const page = join(out, `diagnose-seed-000-${lang}.html`);
    writeFileSync(
      page,
      formatFindingsHtml(
        { findings, nodes: cluster.nodes.length, checks: CHECKS.length, source: 'examples/seed-000' },
        lang,
      ),
    );
    const seen = await openInBrowser(page, join(out, `diagnose-seed-000-${lang}.png`), { read: ['.cause', 'h1'] });
    assert.deepEqual(seen.consoleErrors, []);
    assert.deepEqual(seen.outsideRequests, []);
    const [cause, h1] = seen.read;
    assert.ok(cause?.text?.includes(top.title), `the cause box shows the first finding: ${cause?.text}`);
    assert.ok(cause?.text?.includes(top.fix[0] as string), 'and its fix');
    assert.match(h1?.text ?? '', lang === 'zh' ? /诊断/ : /diagnose/);
  });
}
