/**
 * The probe reports without a lab: the HTML page embeds names from the cluster safely and fetches nothing, the
 * metrics are valid exposition text with escaped labels, the text report groups failures by their reason, and both
 * languages cover every message.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHECKS } from '../../src/checks/registry.js';
import type { AgentResult } from '../../src/probe/agent.js';
import { formatMetrics, parseListen } from '../../src/probe/metrics.js';
import { judge, type Probe, type ProbeOutcome, type ProbeReport } from '../../src/probe/model.js';
import { checkTitle } from '../../src/report/check-titles.js';
import { formatFindingsText } from '../../src/report/findings-text.js';
import { formatFindingsHtml } from '../../src/report/html/findings-page.js';
import { embedJson } from '../../src/report/html/page.js';
import { formatProbeHtml } from '../../src/report/html/probe-page.js';
import { messages } from '../../src/report/i18n.js';
import { formatProbeText } from '../../src/report/probe-text.js';

const EVIL = '</script><img src=x onerror="window.pwned=1">\u2028&amp;';

function outcome(from: string, to: string, result: Partial<AgentResult>, reason?: string): ProbeOutcome {
  const probe: Probe = {
    id: `pod-pod:${from}->${to}/tcp:8080`,
    kind: 'pod-pod',
    from: { kind: 'pod', name: `default/${from}`, node: 'n1' },
    to: { kind: 'pod', name: `default/${to}`, node: 'n2', ip: '10.244.2.5' },
    proto: 'tcp',
    port: 8080,
    expect: [to],
    agent: { id: 'x', kind: 'tcp', dst: '10.244.2.5', port: 8080, expect: [to], tries: 3, timeoutMs: 500 },
  };
  const r: AgentResult = { id: 'x', outcome: 'ok', attempts: 1, answers: [], failures: {}, ...result };
  return {
    probe,
    result: r,
    ...judge(probe, r),
    ...(reason ? { reason: { verdict: 'rejected', summary: reason } } : {}),
  };
}

function report(outcomes: ProbeOutcome[]): ProbeReport {
  return {
    schemaVersion: 1,
    kind: 'ProbeReport',
    target: `lab ${EVIL}`,
    startedAt: '2026-01-02T03:04:05.000Z',
    durationMs: 1234,
    outcomes,
    findings: [
      {
        check: 'overlay-port-blocked',
        severity: 'critical',
        node: EVIL,
        title: `title ${EVIL}`,
        detail: EVIL,
        evidence: [{ kind: 'rule', text: EVIL }],
        fix: [`iptables -I INPUT ${EVIL}`],
      },
    ],
    problems: [],
  };
}

test('embedded JSON cannot end its script element and round-trips', () => {
  const data = { name: EVIL, more: ['<!--', '-->', '\u2029'] };
  const s = embedJson(data);
  assert.ok(!/<\/?script/i.test(s));
  assert.ok(!s.includes('<') && !s.includes('>') && !s.includes('\u2028') && !s.includes('\u2029'));
  assert.deepEqual(JSON.parse(s), data);
});

test('HTML pages: names from the cluster never become markup; nothing is fetched', () => {
  const pages = [
    formatProbeHtml(
      report([
        outcome(EVIL, 'b', { outcome: 'timeout', failures: { timeout: 3 } }, `rejected: ${EVIL}`),
        outcome('a', 'b', { answers: ['b'], latencyMs: 1.5 }),
      ]),
      'en',
    ),
    formatFindingsHtml({ findings: report([]).findings, nodes: 1, checks: 1, source: EVIL }, 'zh'),
  ];
  for (const html of pages) {
    assert.ok(!html.includes('<img'), 'no markup from data');
    assert.equal((html.match(/<script/g) ?? []).length, 2, 'exactly the data and the page script');
    assert.ok(!/\b(src|href)\s*=\s*["']?https?:/i.test(html), 'no outside resource');
    assert.ok(!/https?:\/\//.test(html), 'no URL at all');
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
  }
  assert.match(pages[1] as string, /lang="zh-CN"/);
});

test('metrics: exposition format, labels escaped, success and latency per probe', () => {
  const r = report([
    outcome('a"b\\c\nd', 'b', { answers: ['b'], latencyMs: 2.5 }),
    outcome('c', 'b', { outcome: 'timeout', failures: { timeout: 3 } }),
  ]);
  const text = formatMetrics(r, { rounds: 4, failedRounds: 1 });
  assert.match(text, /^netdoctor_probe_rounds_total 4$/m);
  assert.match(text, /^netdoctor_probe_round_errors_total 1$/m);
  assert.match(text, /^# TYPE netdoctor_probe_success gauge$/m);
  assert.ok(text.includes('from="default/a\\"b\\\\c\\nd"'), 'quote, backslash and newline escaped');
  const success = text.split('\n').filter((l) => l.startsWith('netdoctor_probe_success{'));
  assert.deepEqual(
    success.map((l) => l.slice(-1)),
    ['1', '0'],
  );
  assert.match(text, /netdoctor_probe_latency_seconds\{[^}]*from="default\/a[^}]*\} 0\.002500$/m);
  for (const line of text.trim().split('\n'))
    assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{.*\})? [0-9.e+-]+)$/, `valid line: ${line}`);
  assert.doesNotMatch(formatMetrics(undefined, { rounds: 0, failedRounds: 0 }), /probe_success/);
});

test('--metrics addresses: loopback unless a host is given', () => {
  assert.deepEqual(parseListen(':9099'), { host: '127.0.0.1', port: 9099 });
  assert.deepEqual(parseListen('9099'), { host: '127.0.0.1', port: 9099 });
  assert.deepEqual(parseListen('0.0.0.0:9100'), { host: '0.0.0.0', port: 9100 });
  assert.deepEqual(parseListen('[::1]:9099'), { host: '::1', port: 9099 });
  for (const bad of ['', ':0', ':70000', 'host:', 'x:y']) assert.throws(() => parseListen(bad), /--metrics/);
});

test('text report: failures grouped by reason, most frequent first; Chinese has every message', () => {
  const r = report([
    outcome('a', 'b', { outcome: 'timeout', failures: { timeout: 3 } }, 'rejected: node2 filter/INPUT #9'),
    outcome('c', 'b', { outcome: 'timeout', failures: { timeout: 3 } }, 'rejected: node2 filter/INPUT #9'),
    outcome('d', 'e', { outcome: 'refused', failures: { refused: 2 } }, 'rejected: node3 filter/FORWARD #2'),
    outcome('f', 'g', { answers: ['g'], latencyMs: 1 }),
  ]);
  const text = formatProbeText(r, false);
  const first = text.indexOf('reason: rejected: node2 filter/INPUT #9');
  const second = text.indexOf('reason: rejected: node3 filter/FORWARD #2');
  assert.ok(first > 0 && second > first, text);
  assert.match(text, /4 probes in 1\.2 s — 1 pass, 3 fail/);
  const zh = formatProbeText(r, false, 'zh');
  assert.match(zh, /连通性矩阵/);
  const en = messages('en');
  const cn = messages('zh');
  for (const k of Object.keys(en) as (keyof typeof en)[]) {
    assert.ok(cn[k], `zh has ${k}`);
    for (const p of en[k].match(/\{\w+\}/g) ?? []) assert.ok(cn[k].includes(p), `zh ${k} keeps ${p}`);
  }
});

test('--lang zh: every check has a Chinese title, shown first, the finding in its own words after it', () => {
  for (const c of CHECKS) assert.ok(checkTitle('zh', c.id), `zh title for ${c.id}`);
  assert.equal(checkTitle('en', 'overlay-port-blocked'), undefined, 'English keeps the finding title alone');
  const finding = {
    check: 'overlay-port-blocked',
    severity: 'critical' as const,
    node: 'node2',
    title: 'node2 rejects flannel vxlan traffic (udp/8472) from every other node',
    detail: 'detail',
    evidence: [],
    fix: [],
  };
  const zh = formatFindingsText({ findings: [finding], nodes: 3, checks: 1 }, false, 'zh');
  const lines = zh.split('\n');
  const i = lines.findIndex((l) => l.includes('节点之间的覆盖网络报文被防火墙丢弃'));
  assert.ok(i >= 0, zh);
  assert.equal(lines[i + 1]?.trim(), finding.title);
  const en = formatFindingsText({ findings: [finding], nodes: 3, checks: 1 }, false, 'en');
  assert.ok(!en.includes('覆盖网络'));
});
