// Benchmark of the netfilter engine on a kube-proxy iptables-mode ruleset of 10,000 services x 5 endpoints, against
// the kernel tools' own parser (`iptables-nft-restore --test`) on the same file in the same run. Prints times and
// ratios; it asserts nothing (targets are printed as met or missed). Runs on the built code (`npm run build`).
//   npm run bench                      # 10,000 x 5
//   BENCH_SERVICES=2000 npm run bench  # smaller
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makePacket } from '../dist/netfilter/packet.js';
import { compileRuleset, simulate } from '../dist/netfilter/simulate.js';
import { parseIptablesSave } from '../dist/parse/iptables-save.js';
import { kubeProxyIptablesSave } from '../dist/synth/kube-proxy-iptables.js';

const SERVICES = Number(process.env.BENCH_SERVICES ?? 10000);
const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS ?? 5);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(0)} ms`;
const gc = () => globalThis.gc?.();

function timeRestore(file) {
  if (process.getuid?.() !== 0) return undefined;
  const ns = `ndbench${process.pid}`;
  if (spawnSync('ip', ['netns', 'add', ns]).status !== 0) return undefined;
  try {
    const times = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      // `--test` parses and builds the ruleset without committing it; run in a throw-away namespace all the same.
      const r = spawnSync('sh', ['-c', `ip netns exec ${ns} iptables-nft-restore --test < "${file}"`], {
        encoding: 'utf8',
      });
      times.push(performance.now() - t);
      if (r.status !== 0) throw new Error(`iptables-nft-restore --test refused the file: ${r.stderr}`);
    }
    return median(times);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'netdoctor-bench-'));
try {
  process.stderr.write(`generating ${SERVICES} services x ${ENDPOINTS} endpoints ...\n`);
  const gen = kubeProxyIptablesSave({
    services: SERVICES,
    endpointsPerService: ENDPOINTS,
    nodeIP: '10.0.0.12',
    clusterCIDR: '10.244.0.0/16',
    serviceCIDR: '10.96.0.0/12',
    nodePorts: Math.min(2000, Math.floor(SERVICES / 5)),
    seed: 1,
  });
  const file = join(dir, 'kube-proxy.iptables-save');
  writeFileSync(file, gen.text);
  const lines = gen.text.split('\n').length;
  console.log(
    `ruleset: ${SERVICES} services x ${ENDPOINTS} endpoints, ${lines} lines, ${(gen.text.length / 1e6).toFixed(1)} MB`,
  );

  const restore = timeRestore(file);
  console.log(
    `iptables-nft-restore --test      ${restore === undefined ? 'not measured (needs root and ip netns)' : ms(restore)}`,
  );

  // parse: the text into tables, chains and rules (a rule's matches compile when it is first evaluated);
  // compile: the destination indexes of large chains. Then evaluation, first with rules compiling as they are met
  // (cold), then again (warm). Last, for comparison, everything compiled up front.
  const parseTimes = [];
  const compileTimes = [];
  let parsed;
  for (let i = 0; i < RUNS; i++) {
    parsed = undefined;
    gc();
    const t0 = performance.now();
    const r = parseIptablesSave(gen.text, { file });
    const t1 = performance.now();
    const ruleset = { tables: r.tables, issues: r.issues, files: [file] };
    compileRuleset(ruleset);
    const t2 = performance.now();
    parseTimes.push(t1 - t0);
    compileTimes.push(t2 - t0);
    parsed = ruleset;
  }
  const parse = median(parseTimes);
  const parseCompile = median(compileTimes);
  console.log(`netdoctor parse                  ${ms(parse)}`);
  console.log(`netdoctor parse + compile        ${ms(parseCompile)}   (rules compile when first evaluated)`);

  // One packet to each ClusterIP, from a pod on this node, forwarded: every endpoint is a branch.
  const packets = gen.services.map((s, i) =>
    makePacket({
      proto: s.protocol,
      src: `10.244.${(i >> 8) & 255}.${i & 255 || 1}`,
      dst: s.clusterIP,
      dport: s.port,
      in: 'cni0',
      out: 'eth0',
    }),
  );
  const env = { local: new Set(['10.0.0.12']) };
  const evaluate = () => {
    let branches = 0;
    let accepted = 0;
    const t = performance.now();
    for (const p of packets) {
      const r = simulate(parsed, p, 'forward', env);
      branches += r.branches.length;
      if (r.verdict === 'accept') accepted++;
    }
    return { ms: performance.now() - t, branches, accepted };
  };
  const cold = evaluate();
  const warm = evaluate();
  const perPacketUs = (warm.ms * 1000) / packets.length;
  console.log(
    `evaluate ${packets.length} packets, cold  ${ms(cold.ms)} (${((cold.ms * 1000) / packets.length).toFixed(1)} µs per packet, compiling the rules they meet)`,
  );
  console.log(
    `evaluate ${packets.length} packets, warm  ${ms(warm.ms)} (${perPacketUs.toFixed(1)} µs per packet; ${warm.accepted} accepted, ${warm.branches} branches)`,
  );
  if (warm.accepted !== packets.length || warm.branches < packets.length)
    throw new Error('the packets were not all delivered to their endpoints: the bench measured the wrong thing');

  parsed = undefined;
  gc();
  const e0 = performance.now();
  const eager = parseIptablesSave(gen.text, { file, eager: true });
  compileRuleset({ tables: eager.tables, issues: eager.issues, files: [file] });
  const eagerMs = performance.now() - e0;
  console.log(`netdoctor parse + compile, every rule up front   ${ms(eagerMs)}`);
  if (eager.issues.length) throw new Error(`parse problems: ${JSON.stringify(eager.issues.slice(0, 3))}`);
  const peak = process.resourceUsage().maxRSS / 1024;
  console.log(`peak memory (max RSS)            ${peak.toFixed(0)} MB`);

  if (restore !== undefined) {
    const r1 = parse / restore;
    const r2 = parseCompile / restore;
    console.log('ratios to iptables-nft-restore --test:');
    console.log(`  parse             ${r1.toFixed(2)}x`);
    console.log(`  parse + compile   ${r2.toFixed(2)}x   target <= 0.25x: ${r2 <= 0.25 ? 'met' : 'MISSED'}`);
    console.log(`  every rule up front   ${(eagerMs / restore).toFixed(2)}x`);
  }
  console.log(`one packet: ${perPacketUs.toFixed(1)} µs   target < 50 µs: ${perPacketUs < 50 ? 'met' : 'MISSED'}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
