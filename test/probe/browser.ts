/**
 * Opens a report page in Debian's Chromium, headless, through playwright-core: records console errors and every
 * request that is not the page's own file, clicks, reads elements, and saves a screenshot. Chromium runs with
 * background networking off, so the only requests are the page's. Under CI=true a missing Chromium is a failure.
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.NETDOCTOR_CHROMIUM ?? '/usr/bin/chromium';

export interface BrowserVisit {
  consoleErrors: string[];
  outsideRequests: string[];
  read: { text?: string; title?: string }[];
}

export async function openInBrowser(
  file: string,
  screenshot: string,
  opts: { click?: string; read?: string[] } = {},
): Promise<BrowserVisit> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const consoleErrors: string[] = [];
    const outsideRequests: string[] = [];
    const url = pathToFileURL(file).href;
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    await page.route('**/*', (route) => {
      const u = route.request().url();
      if (u === url) return route.continue();
      outsideRequests.push(u);
      return route.abort();
    });
    await page.goto(url, { waitUntil: 'load' });
    if (opts.click) await page.click(opts.click);
    const read: BrowserVisit['read'] = [];
    for (const sel of opts.read ?? []) {
      const el = await page.$(sel);
      read.push({
        ...(el ? { text: (await el.textContent()) ?? '' } : {}),
        ...(el ? { title: (await el.getAttribute('title')) ?? '' } : {}),
      });
    }
    // What an operator sees first: the top of the page, then the whole page beside it.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: screenshot });
    await page.screenshot({ path: screenshot.replace(/\.png$/, '-full.png'), fullPage: true });
    return { consoleErrors, outsideRequests, read };
  } finally {
    await browser.close();
  }
}
