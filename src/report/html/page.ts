/**
 * The one self-contained HTML page netdoctor writes (`probe --format html`, `diagnose --format html`): no request
 * leaves the page when it is opened (no fonts, scripts or images from anywhere; a Content-Security-Policy says so),
 * the data is embedded as JSON that cannot close its script element, and every name from the cluster is put on the
 * page as text (textContent), never as markup.
 */
import { checkTitles } from '../check-titles.js';
import { type Lang, messages } from '../i18n.js';
import { PAGE_SCRIPT } from './script.js';
import { PAGE_STYLE } from './style.js';

/** JSON that is safe inside a <script> element: no `<`, `>`, `&` or line separators that could end or break it. */
export function embedJson(data: unknown): string {
  return JSON.stringify(data)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeText(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface PageData {
  /** `probe` or `diagnose`: which sections the page shows. */
  view: 'probe' | 'diagnose';
  title: string;
  [key: string]: unknown;
}

export function renderPage(data: PageData, lang: Lang): string {
  const payload = { ...data, lang, messages: messages(lang), checkTitles: checkTitles(lang) };
  return `<!doctype html>
<html lang="${lang === 'zh' ? 'zh-CN' : 'en'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${escapeText(data.title)}</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<main id="app"><noscript>This report needs JavaScript to draw; its data is in the script element below.</noscript></main>
<script type="application/json" id="netdoctor-data">${embedJson(payload)}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
