/** The page's stylesheet: system fonts only (nothing is fetched), readable in light and dark mode, printable. */
export const PAGE_STYLE = `
:root { --fg:#1d2330; --muted:#5d6678; --bg:#ffffff; --panel:#f4f6fa; --line:#d9dee8;
  --pass:#2e9d55; --fail:#d2342f; --partial:#e58a17; --slow:#c9a100; --error:#7b8190; --none:#eef0f4; }
@media (prefers-color-scheme: dark) { :root { --fg:#e6e9ef; --muted:#9aa3b5; --bg:#14171d; --panel:#1d2129; --line:#343a46; --none:#262b35; } }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "Noto Sans", "PingFang SC", "Microsoft YaHei", sans-serif; color:var(--fg); background:var(--bg); }
main { max-width: 1400px; margin: 0 auto; padding: 20px 24px 60px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.muted { color: var(--muted); }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
pre { background: var(--panel); padding: 8px 10px; border-radius: 6px; overflow-x: auto; margin: 4px 0; white-space: pre-wrap; word-break: break-all; }
.chips { display:flex; flex-wrap:wrap; gap:8px; margin: 12px 0; }
.chip { padding: 3px 10px; border-radius: 999px; background: var(--panel); border:1px solid var(--line); }
.chip b { margin-right: 4px; }
.s-pass { background: var(--pass); } .s-fail { background: var(--fail); } .s-partial { background: var(--partial); }
.s-slow { background: var(--slow); } .s-error { background: var(--error); }
.t-pass { color: var(--pass); } .t-fail { color: var(--fail); } .t-partial { color: var(--partial); } .t-slow { color: var(--slow); } .t-error { color: var(--error); }
.cause { border-left: 5px solid var(--fail); background: var(--panel); padding: 10px 14px; border-radius: 6px; margin: 14px 0; }
.cause .big { font-size: 16px; font-weight: 600; }
.matrix-wrap { overflow: auto; max-height: 75vh; border: 1px solid var(--line); border-radius: 6px; }
table.matrix { border-collapse: separate; border-spacing: 0; }
table.matrix th, table.matrix td { padding: 0; }
table.matrix thead th { position: sticky; top: 0; background: var(--bg); z-index: 2; height: 150px; vertical-align: bottom; }
table.matrix thead th div { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; padding: 6px 2px; font-weight: 500; }
table.matrix tbody th { position: sticky; left: 0; background: var(--bg); z-index: 1; text-align: left; padding: 2px 10px 2px 6px; white-space: nowrap; font-weight: 500; }
table.matrix th .node { color: var(--muted); font-weight: 400; margin-left: 6px; }
table.matrix thead th.corner { left: 0; z-index: 3; text-align: left; vertical-align: bottom; padding: 6px; }
td.cell { width: 26px; height: 26px; border: 2px solid var(--bg); border-radius: 5px; cursor: pointer; text-align:center; color:#fff; font-size: 12px; }
td.cell.none { background: var(--none); cursor: default; }
td.cell.sel { outline: 3px solid var(--fg); }
tr.group-start th, tr.group-start td { border-top: 2px solid var(--line); }
.legend { display:flex; gap:14px; flex-wrap:wrap; margin: 8px 0; color: var(--muted); }
.legend span.sw { display:inline-block; width:14px; height:14px; border-radius:3px; vertical-align:-2px; margin-right:5px; }
#detail { margin-top: 14px; background: var(--panel); border-radius: 8px; padding: 12px 16px; display:none; }
#detail.open { display:block; }
.probe { margin: 6px 0; }
.probe .st { display:inline-block; min-width: 58px; font-weight:600; }
.path { display:flex; flex-direction: column; gap: 0; margin: 8px 0 4px; }
.hop { display:grid; grid-template-columns: 110px 1fr; gap: 10px; padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); }
.hop.decisive { border: 2px solid var(--fail); box-shadow: 0 0 0 3px rgba(210,52,47,.15); }
.hop.ok-decisive { border: 2px solid var(--pass); }
.hop .where { font-weight: 600; }
.hop .tag { display:inline-block; background: var(--fail); color:#fff; border-radius: 4px; padding: 0 6px; font-size: 11px; margin-left: 6px; }
.arrow { text-align: left; padding-left: 50px; color: var(--muted); line-height: 1.1; }
.reason-group { margin: 10px 0 16px; }
.reason-group .why { font-weight: 600; }
table.list { border-collapse: collapse; width: 100%; }
table.list td, table.list th { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
.finding { border: 1px solid var(--line); border-left-width: 5px; border-radius: 6px; padding: 10px 14px; margin: 10px 0; }
.finding.sev-critical, .finding.sev-error { border-left-color: var(--fail); }
.finding.sev-warning { border-left-color: var(--partial); } .finding.sev-info { border-left-color: var(--error); }
.finding .title { font-weight: 600; font-size: 15px; }
.finding ul { margin: 6px 0; padding-left: 20px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print { .matrix-wrap { max-height: none; overflow: visible; } #detail { display:block; } }
`;
