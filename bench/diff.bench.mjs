// Benchmark of `netdoctor diff` on two kube-proxy iptables-mode nodes of 10,000 services x 5 endpoints that differ in
// one endpoint: the time to diff them (parsing included) against the time to parse both files, in the same run.
// Prints times and the ratio; checks that the one difference is found (else the bench measured the wrong thing).
// Runs on the built code (`npm run build`).
//   npm run bench:diff                      # 10,000 x 5
//   BENCH_SERVICES=2000 npm run bench:diff  # smaller

import { diffNodes } from '../dist/diff/diff.js';
import { NodeModel } from '../dist/model/cluster.js';
import { parseIptablesSave } from '../dist/parse/iptables-save.js';
import { kubeProxyIptablesSave, renderKubeProxyIptables } from '../dist/synth/kube-proxy-iptables.js';

const SERVICES = Number(process.env.BENCH_SERVICES ?? 10000);
const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS ?? 5);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(0)} ms`;
const gc = () => globalThis.gc?.();

function snapshot(node, ip, rules) {
  const addr = [
    {
      ifindex: 2,
      ifname: 'eth0',
      flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
      mtu: 1500,
      operstate: 'UP',
      link_type: 'ether',
      addr_info: [{ family: 'inet', local: ip, prefixlen: 24, scope: 'global' }],
    },
  ];
  const cmd = (command, stdout) => ({ command, stdout, stderr: '', exitCode: 0 });
  return {
    schemaVersion: 1,
    kind: 'NodeSnapshot',
    node,
    collectedAt: '2026-01-01T00:00:00Z',
    collector: { version: 'bench', transport: 'import' },
    commands: {
      'iptables-nft-save': cmd('iptables-nft-save', rules),
      'ip-addr': cmd('ip -j addr', JSON.stringify(addr)),
    },
    files: {},
  };
}

const opts = {
  services: SERVICES,
  endpointsPerService: ENDPOINTS,
  nodeIP: '10.0.0.12',
  clusterCIDR: '10.244.0.0/16',
  serviceCIDR: '10.96.0.0/12',
  nodePorts: Math.min(2000, Math.floor(SERVICES / 5)),
  seed: 1,
};
process.stderr.write(`generating ${SERVICES} services x ${ENDPOINTS} endpoints, twice ...\n`);
const gen = kubeProxyIptablesSave(opts);
// Node B: the same cluster with one endpoint moved to another pod IP (new KUBE-SEP hash, new DNAT).
const changed = gen.services.findIndex((s) => s.endpoints.length > 1);
const model = structuredClone({
  nodeIP: '10.0.0.13',
  clusterCIDR: gen.clusterCIDR,
  serviceCIDR: gen.serviceCIDR,
  nodePodCIDR: gen.nodePodCIDR,
  services: gen.services,
});
const svc = model.services[changed];
const oldIp = svc.endpoints[0].ip;
svc.endpoints[0].ip = '10.244.254.254';
const textB = renderKubeProxyIptables(model, { seed: 1 }).text;
const textA = gen.text;
console.log(
  `rulesets: ${SERVICES} services x ${ENDPOINTS} endpoints, ${textA.split('\n').length} lines, ${(textA.length / 1e6).toFixed(1)} MB each; ` +
    `node B has ${svc.servicePortName}'s endpoint ${oldIp} at 10.244.254.254`,
);

const parseTimes = [];
for (let i = 0; i < RUNS; i++) {
  gc();
  const t = performance.now();
  parseIptablesSave(textA, { file: 'a' });
  parseIptablesSave(textB, { file: 'b' });
  parseTimes.push(performance.now() - t);
}
const parse = median(parseTimes);
console.log(`parse both files                 ${ms(parse)}`);

const diffTimes = [];
let result;
for (let i = 0; i < RUNS; i++) {
  gc();
  const a = new NodeModel('node-a', snapshot('node-a', '10.0.0.12', textA), 'node-a.json', undefined);
  const b = new NodeModel('node-b', snapshot('node-b', '10.0.0.13', textB), 'node-b.json', undefined);
  const t = performance.now();
  result = diffNodes(a, b);
  diffTimes.push(performance.now() - t);
}
const diff = median(diffTimes);
console.log(`diff (parsing included)          ${ms(diff)}`);
console.log(`ratio diff / parse both          ${(diff / parse).toFixed(2)}x`);
console.log(`differences: ${result.differences.length}`);
for (const d of result.differences) console.log(`  ${d.kind}  ${d.title}`);
const peak = process.resourceUsage().maxRSS / 1024;
console.log(`peak memory (max RSS)            ${peak.toFixed(0)} MB`);
const found = result.differences.some((d) => d.title.includes('10.244.254.254') && d.title.includes(oldIp));
if (!found) throw new Error('the changed endpoint was not reported: the bench measured the wrong thing');
console.log(`diff in seconds, not minutes: ${diff < 60_000 ? 'met' : 'MISSED'}`);
