/**
 * The routing engine against the kernel: each scenario is built in a throw-away namespace, its routing state is read
 * back with `ip -j` and `sysctl -a` and parsed, and hundreds of `ip route get` questions are put to both. They must
 * give the same type, device, gateway and table, or the same error (and, for IPv4, the same source address). Needs
 * root (a failure under CI=true). FULL=1 asks every variant of every destination (about 11,000 questions instead of
 * about 3,000); NETDOCTOR_ROUTE_DIFFS=FILE appends every disagreement and every question not modelled to FILE.
 */
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseIpAddr } from '../../src/parse/ip-addr.js';
import { parseIpLink } from '../../src/parse/ip-link.js';
import { parseIpRoute, type Route } from '../../src/parse/ip-route.js';
import { parseIpRule } from '../../src/parse/ip-rule.js';
import { parseSysctl } from '../../src/parse/sysctl.js';
import type { RouteGetResult, RouteQuery } from '../../src/route/get.js';
import { routeGet } from '../../src/route/get.js';
import { buildRoutingState, type RoutingState } from '../../src/route/state.js';
import { needsRoot, nsRun, withNetns } from '../support/netns.js';
import { destinations, queries, queryArgs, SCENARIOS, type Scenario } from './scenarios.js';

interface Dump {
  route: string;
  route6: string;
  rule: string;
  rule6: string;
  link: string;
  addr: string;
  sysctl: string;
  routeText: string;
  ruleText: string;
  rule6Text: string;
}

function run(ns: string, cmd: string, args: string[], input?: string): string {
  const r = nsRun(ns, cmd, args, input);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed in ${ns}: ${r.stderr.trim()}`);
  return r.stdout;
}

function build(ns: string, s: Scenario): void {
  const v4 = s.ip.filter((l) => !l.startsWith('-6 '));
  const v6 = s.ip.filter((l) => l.startsWith('-6 ')).map((l) => l.slice(3));
  run(ns, 'ip', ['-batch', '-'], `${v4.join('\n')}\n`);
  if (v6.length) run(ns, 'ip', ['-6', '-batch', '-'], `${v6.join('\n')}\n`);
  if (s.bridge?.length) run(ns, 'bridge', ['-batch', '-'], `${s.bridge.join('\n')}\n`);
  for (const [k, v] of Object.entries(s.sysctl)) run(ns, 'sysctl', ['-qw', `${k}=${v}`]);
}

function dump(ns: string): Dump {
  return {
    route: run(ns, 'ip', ['-j', 'route', 'show', 'table', 'all']),
    route6: run(ns, 'ip', ['-j', '-6', 'route', 'show', 'table', 'all']),
    rule: run(ns, 'ip', ['-j', 'rule', 'show']),
    rule6: run(ns, 'ip', ['-j', '-6', 'rule', 'show']),
    link: run(ns, 'ip', ['-d', '-j', 'link', 'show']),
    addr: run(ns, 'ip', ['-j', 'addr', 'show']),
    sysctl: nsRun(ns, 'sysctl', ['-a']).stdout,
    routeText: `${run(ns, 'ip', ['route', 'show', 'table', 'all'])}${run(ns, 'ip', ['-6', 'route', 'show', 'table', 'all'])}`,
    ruleText: run(ns, 'ip', ['rule', 'show']),
    rule6Text: run(ns, 'ip', ['-6', 'rule', 'show']),
  };
}

function stateOf(d: Dump): { state: RoutingState; routes: Route[]; errors: string[] } {
  const route = parseIpRoute(d.route, 'ip-route');
  const route6 = parseIpRoute(d.route6, 'ip6-route', { family: 6 });
  const rule = parseIpRule(d.rule, 'ip-rule');
  const rule6 = parseIpRule(d.rule6, 'ip6-rule', { family: 6 });
  const link = parseIpLink(d.link, 'ip-link');
  const addr = parseIpAddr(d.addr, 'ip-addr');
  const sysctl = parseSysctl(d.sysctl, 'sysctl');
  const errors = [route, route6, rule, rule6, link, addr, sysctl]
    .flatMap((r) => r.issues)
    .filter((i) => i.severity === 'error')
    .map((i) => `${i.file}:${i.line} ${i.message}`);
  const routes = [...route.routes, ...route6.routes];
  const state = buildRoutingState({
    routes,
    rules: [...rule.rules, ...rule6.rules],
    links: link.links,
    addresses: addr.interfaces,
    sysctl: sysctl.values,
  });
  return { state, routes, errors };
}

interface KernelAnswer {
  ok: boolean;
  type?: string;
  dev?: string;
  gateway?: string;
  table?: string;
  prefsrc?: string;
  message?: string;
}

function askKernel(ns: string, qs: RouteQuery[]): KernelAnswer[] {
  const script = 'while IFS= read -r q; do echo @@@; ip -j route get $q 2>&1; done; true';
  const out = run(ns, 'sh', ['-c', script], `${qs.map(queryArgs).join('\n')}\n`);
  const parts = out.split('@@@\n').slice(1);
  assert.equal(parts.length, qs.length, 'one kernel answer per query');
  return parts.map((p) => {
    const text = p.trim();
    if (text.startsWith('[')) {
      const o = (JSON.parse(text) as Record<string, unknown>[])[0] ?? {};
      const via = o.via as { host?: string } | undefined;
      const a: KernelAnswer = {
        ok: true,
        type: (o.type as string) ?? 'unicast',
        dev: o.dev as string,
        table: (o.table as string) ?? 'main',
      };
      const gw = (o.gateway as string) ?? via?.host;
      if (gw) a.gateway = gw;
      if (o.prefsrc) a.prefsrc = o.prefsrc as string;
      return a;
    }
    return { ok: false, message: text.split('\n')[0] ?? '' };
  });
}

interface Tally {
  total: number;
  agree: number;
  prefsrcCompared: number;
  prefsrcAgree: number;
  multipath: number;
  disagreements: string[];
  /** Questions by family, path and kind of kernel answer. */
  kinds: Record<string, number>;
  /** Questions netdoctor says it does not model (not counted in total). */
  unmodelled: string[];
}

function compare(q: RouteQuery, k: KernelAnswer, ours: RouteGetResult, t: Tally): void {
  if (!ours.ok && ours.errno === 'UNMODELLED') {
    t.unmodelled.push(`ip route get ${queryArgs(q)}: ${ours.reason}`);
    return;
  }
  t.total++;
  const show = () =>
    `ip route get ${queryArgs(q)}\n    kernel: ${JSON.stringify(k)}\n    ours:   ${
      ours.ok ? `${ours.text} (table ${ours.table})` : `${ours.message} [${ours.reason}]`
    }`;
  const kind = `${q.dst.includes(':') ? 'v6' : 'v4'} ${q.iif ? 'input' : 'output'} ${k.ok ? 'route' : 'error'}`;
  t.kinds[kind] = (t.kinds[kind] ?? 0) + 1;
  if (!k.ok || !ours.ok) {
    if (!k.ok && !ours.ok && k.message === ours.message) t.agree++;
    else t.disagreements.push(show());
    return;
  }
  let same = k.type === ours.type && k.table === ours.table;
  if (ours.alternatives) {
    t.multipath++;
    same &&= ours.alternatives.some((nh) => nh.dev === k.dev && nh.gateway === k.gateway);
  } else same &&= k.dev === ours.dev && k.gateway === ours.gateway;
  if (same) t.agree++;
  else t.disagreements.push(show());
  if (k.prefsrc && ours.family === 4 && !ours.alternatives) {
    t.prefsrcCompared++;
    if (k.prefsrc === ours.prefsrc) t.prefsrcAgree++;
    else t.disagreements.push(`(source address) ${show()}`);
  }
}

/** `ip route show` prints multipath nexthops on continuation lines and pads with spaces: one line per route. */
function routeLines(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    if (/^\s/.test(line) && out.length) out[out.length - 1] += ` ${line.trim()}`;
    else out.push(line.trim());
  }
  return out.map((l) => l.replace(/\s+/g, ' '));
}

describe('routing engine against the kernel', () => {
  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: ip route get agrees`, async (t) => {
      if (!needsRoot(t)) return;
      await withNetns(`rt-${scenario.name}`, (ns) => {
        build(ns, scenario);
        const d = dump(ns);
        const { state, routes, errors } = stateOf(d);
        assert.deepEqual(errors, [], 'the parsers read the real dumps without errors');

        // The formatter prints what `ip route show table all` prints, and the text parser reads it back the same.
        const kernelLines = routeLines(d.routeText);
        const ours = [...new Set(routes.map((r) => r.text))];
        assert.deepEqual([...ours].sort(), [...new Set(kernelLines)].sort(), 'formatRoute matches `ip route show`');
        const fromText = parseIpRoute(d.routeText, 'ip-route.txt');
        assert.deepEqual(
          [...new Set(fromText.routes.map((r) => r.text))].sort(),
          [...ours].sort(),
          'text and JSON give the same routes',
        );
        assert.deepEqual(
          fromText.issues.filter((i) => i.severity === 'error'),
          [],
        );
        const rulesText = [
          ...parseIpRule(d.ruleText, 'ip-rule.txt').rules,
          ...parseIpRule(d.rule6Text, 'ip6-rule.txt', { family: 6 }).rules,
        ].map((r) => `${r.family} ${r.priority}: ${r.text}`);
        const rulesJson = [...state.v4.rules, ...state.v6.rules].map((r) => `${r.family} ${r.priority}: ${r.text}`);
        assert.deepEqual(rulesText, rulesJson, 'ip rule text and JSON give the same rules');
        for (const line of d.ruleText.split('\n').filter((l) => l.trim()))
          assert.ok(
            rulesText.some((r) => r.slice(2).replace(/\s+/g, ' ') === line.replace(/\s+/g, ' ').trim()),
            `formatRule prints "${line.trim()}"`,
          );

        const devices = [...state.devices.keys()].filter((n) => !n.endsWith('p') || n === 'lo');
        const locals = [...state.devices.values()]
          .flatMap((dev) => dev.addresses)
          .filter((a) => a.scope === 'global')
          .map((a) => a.local);
        const dsts = destinations(routes, scenario, 7 + scenario.name.length);
        const qs = queries(dsts, scenario, locals, devices, process.env.FULL === '1');
        const answers = askKernel(ns, qs);
        const tally: Tally = {
          total: 0,
          agree: 0,
          prefsrcCompared: 0,
          prefsrcAgree: 0,
          multipath: 0,
          disagreements: [],
          unmodelled: [],
          kinds: {},
        };
        for (const [i, q] of qs.entries()) compare(q, answers[i] as KernelAnswer, routeGet(state, q), tally);
        t.diagnostic(
          `${scenario.name}: ${tally.agree}/${tally.total} answers agree; source address ${tally.prefsrcAgree}/${tally.prefsrcCompared}; ${tally.multipath} multipath; ${tally.unmodelled.length} not modelled`,
        );
        t.diagnostic(
          `${scenario.name}: ${Object.entries(tally.kinds)
            .sort()
            .map(([k, n]) => `${k} ${n}`)
            .join(', ')}`,
        );
        if (process.env.NETDOCTOR_ROUTE_DIFFS)
          appendFileSync(
            process.env.NETDOCTOR_ROUTE_DIFFS,
            `## ${scenario.name}\n${tally.disagreements.join('\n')}\n### not modelled\n${tally.unmodelled.join('\n')}\n`,
          );
        assert.deepEqual(tally.disagreements.slice(0, 15), [], `${tally.disagreements.length} disagreements`);
      });
    });
  }
});
