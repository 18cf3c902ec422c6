/**
 * Differential test: the simulator must decide packets exactly as the Linux kernel does (issue 2, point 5).
 *
 * Rulesets (rulesets.ts): the kernel-accepted corpus (both iptables backends, IPv4 and IPv6), kube-proxy iptables and
 * nftables mode, flannel, Calico with ipsets, Docker, the seed-000 host firewall in iptables and native nft, a
 * firewalld-nft + kube-proxy-iptables node, random rulesets. Packets: boundary packets around what the rules mention
 * plus hand-aimed ones (harness.ts, packets.ts). The kernel's answers come from test/kernel/oracle.ts.
 *
 * Knobs: NETDOCTOR_DIFF_SEED (default 1), NETDOCTOR_DIFF_SCALE=N (N times the packets and random rulesets),
 * FULL=1 (scale 4, both backends for every corpus file), NETDOCTOR_DIFF_CONCURRENCY (rulesets at once, default 2),
 * NETDOCTOR_DIFF_REPORT=FILE (every disagreement, uncertain packet and oracle error as JSON).
 * Needs root and network namespaces: skipped without them, a failure under CI=true.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import { needsRoot } from '../support/netns.js';
import {
  type CaseResult,
  type DiffCase,
  gotoAsJump,
  invertNegations,
  literalWildcards,
  type Mutant,
  type PacketResult,
  rerunWithMutant,
  runAll,
} from './harness.js';
import { differentialCases } from './rulesets.js';
import { describeDisagreement, disagreementClasses, reportLines, summarize } from './summary.js';

const FULL = process.env.FULL === '1' || process.env.FULL === 'true';
const SCALE = Math.max(0.1, Number(process.env.NETDOCTOR_DIFF_SCALE ?? (FULL ? 4 : 1)) || 1);
const SEED = Number(process.env.NETDOCTOR_DIFF_SEED ?? 1) || 1;
const CONCURRENCY = Math.max(1, Number(process.env.NETDOCTOR_DIFF_CONCURRENCY ?? 2) || 2);

const MIN_RULESETS = 20;
const MIN_PACKETS = 5000;
const MIN_RULE_SHARE = 0.6;
/** Oracle errors (a packet the kernel could not be asked about) must stay rare. */
const MAX_ERROR_SHARE = 0.01;
/**
 * Uncertain answers never count as agreement; they must stay rare too (today: rpfilter/owner rules and `dnat to numgen
 * map`, about 3%), so that a regression turning decisions into "uncertain" cannot hide behind the packet count.
 */
const MAX_UNCERTAIN_SHARE = 0.1;

interface Run {
  cases: DiffCase[];
  done: CaseResult[];
  ms: number;
}

let pending: Promise<Run> | undefined;
/** One run of the kernel for both tests: the mutation check re-simulates against the same kernel answers. */
function kernelRun(): Promise<Run> {
  pending ??= (async () => {
    const t0 = Date.now();
    const cases = differentialCases({ scale: SCALE, seed: SEED, full: FULL });
    const done = await runAll(cases, { prefix: `nddiff${process.pid.toString(36)}`, concurrency: CONCURRENCY });
    return { cases, done, ms: Date.now() - t0 };
  })();
  return pending;
}

function diag(t: TestContext, lines: string[]): void {
  for (const l of lines) t.diagnostic(l);
}

describe('differential: the simulator decides as the kernel does', { timeout: 900_000 }, () => {
  it(`agrees with the kernel on every packet (seed ${SEED}, scale ${SCALE}${FULL ? ', FULL' : ''})`, async (t) => {
    if (!needsRoot(t)) return;
    const run = await kernelRun();
    const s = summarize(run.cases, run.done);
    const { lines, summary } = reportLines(s, run.ms);
    diag(t, lines);
    process.stdout.write(`${summary}\n`);
    if (process.env.NETDOCTOR_DIFF_REPORT) {
      const dump = (r: PacketResult) => ({
        ruleset: r.caseName,
        packet: r.packet,
        kernel: { key: r.kernelKey, decisive: r.kernel.decisive, error: r.kernel.error, trace: r.kernel.trace },
        simulator: r.simKeys,
        branches: r.sim?.branches.map((b) => ({
          verdict: b.verdict,
          decisive: b.decisive,
          chainEnds: b.chainEnds,
          why: b.uncertainWhy,
        })),
      });
      writeFileSync(
        process.env.NETDOCTOR_DIFF_REPORT,
        JSON.stringify(
          { summary, disagree: s.disagree.map(dump), uncertain: s.uncertain.map(dump), errors: s.errors.map(dump) },
          null,
          1,
        ),
      );
    }
    const decisions = s.byRule + s.byPolicy;
    // only real dumps may be refused (the corpus holds two the kernel rejects); a generated ruleset must load
    const refusedGenerated = s.refused.filter((r) => !r.name.startsWith('corpus/'));
    assert.deepEqual(refusedGenerated, [], 'generated rulesets the kernel refused');
    assert.ok(
      s.rulesets >= MIN_RULESETS,
      `only ${s.rulesets} rulesets were loaded by the kernel (want ${MIN_RULESETS})`,
    );
    assert.ok(s.compared >= MIN_PACKETS, `only ${s.compared} packets compared (want ${MIN_PACKETS})`);
    assert.ok(
      s.errors.length <= Math.ceil(s.sent * MAX_ERROR_SHARE),
      `${s.errors.length} of ${s.sent} packets could not be decided by the oracle`,
    );
    assert.ok(
      s.uncertain.length <= Math.ceil(s.sent * MAX_UNCERTAIN_SHARE),
      `${s.uncertain.length} of ${s.sent} packets were uncertain in the simulator (at most ${MAX_UNCERTAIN_SHARE * 100}%)`,
    );
    assert.ok(
      decisions > 0 && s.byRule / decisions >= MIN_RULE_SHARE,
      `only ${s.byRule} of ${decisions} decisions were made by rules (want ${MIN_RULE_SHARE * 100}%)`,
    );
    const classes = disagreementClasses(s.disagree);
    assert.equal(
      s.disagree.length,
      0,
      `${s.disagree.length} disagreements in ${classes.length} classes; first:\n${classes
        .slice(0, 5)
        .flatMap((c) => describeDisagreement(c.example, c.count))
        .join('\n')}`,
    );
  });

  // The harness must be able to fail: broken simulators, fed the same kernel answers, must disagree.
  const mutants: [string, Mutant, RegExp][] = [
    ['negated matches inverted (`!` handling broken)', invertNegations, /./],
    [
      '`-i/-o` wildcards taken literally (`cali+` matches no interface)',
      literalWildcards,
      /calico|docker|random|corpus/,
    ],
    ['`-g` goto behaves like `-j` jump', gotoAsJump, /calico|firewalld iptables|random|corpus/],
  ];
  for (const [name, mutant, subset] of mutants) {
    it(`mutation check: ${name} makes the harness report disagreements`, async (t) => {
      if (!needsRoot(t)) return;
      const run = await kernelRun();
      let compared = 0;
      let disagree = 0;
      const where = new Map<string, number>();
      run.cases.forEach((c, i) => {
        const done = run.done[i] as CaseResult;
        if (done.refused || !subset.test(c.name)) return;
        for (const { original, mutated } of rerunWithMutant(c, done, mutant)) {
          // only packets the real simulator gets right count: the mutant must break an agreement
          if (original.outcome !== 'agree' || mutated.outcome === 'uncertain') continue;
          compared++;
          if (mutated.outcome === 'disagree') {
            disagree++;
            where.set(c.name, (where.get(c.name) ?? 0) + 1);
          }
        }
      });
      t.diagnostic(
        `mutant "${name}": ${disagree} of ${compared} packets disagree; ${[...where].map(([k, v]) => `${k} ${v}`).join(', ')}`,
      );
      assert.ok(compared > 0, 'the subset compared no packet');
      assert.ok(disagree > 0, `the harness did not notice the mutant "${name}"`);
    });
  }
});
