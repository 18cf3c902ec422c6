/**
 * `netdoctor trace examples/seed-000` from a pod on a healthy node to a pod on the broken node shows the REJECT on the
 * receiving node's INPUT as decisive. Which node is broken is read from the bundle (diagnose's overlay-port-blocked
 * finding names it and its rejecting rule), never assumed.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { CHECKS } from '../../src/checks/registry.js';
import { runChecks } from '../../src/checks/run.js';
import { ClusterModel } from '../../src/model/cluster.js';
import { loadBundle } from '../../src/snapshot/bundle.js';
import { netdoctor } from '../support/cli.js';
import { repoRoot } from '../support/paths.js';

const bundle = join(repoRoot, 'examples', 'seed-000');

function brokenNodeAndReject() {
  const cluster = new ClusterModel(loadBundle(bundle));
  const f = runChecks(cluster, CHECKS).findings.find((x) => x.check === 'overlay-port-blocked');
  assert.ok(f?.node, 'the example has an overlay-port-blocked finding');
  const reject = f.evidence.find((e) => e.kind === 'rule' && e.node === f.node && /REJECT/.test(e.text));
  assert.ok(reject, 'the finding names the rejecting rule');
  const pods = cluster.ofKind('Pod').filter((p) => !(p.spec as { hostNetwork?: boolean }).hostNetwork);
  const on = (node: string, yes: boolean) =>
    pods.find(
      (p) => ((p.spec as { nodeName?: string }).nodeName === node) === yes && p.metadata.labels?.app === 'echo',
    );
  const to = on(f.node, true);
  const from = on(f.node, false);
  assert.ok(to && from);
  return { node: f.node, reject, from: `pod/default/${from.metadata.name}`, to: `pod/default/${to.metadata.name}` };
}

test('trace examples/seed-000: the REJECT on the broken node INPUT is decisive (JSON)', () => {
  const ex = brokenNodeAndReject();
  const r = netdoctor(['trace', bundle, '--from', ex.from, '--to', `${ex.to}:8080`, '--format', 'json']);
  assert.equal(r.status, 1, r.stderr);
  const out = JSON.parse(r.stdout) as {
    verdict: string;
    decisive: Record<string, unknown>;
    branches: { clientSees?: string }[];
    hops: { kind: string; node: string; decisive?: boolean; packet: string }[];
  };
  assert.deepEqual(Object.keys(out), ['verdict', 'decisive', 'branches', 'hops']);
  assert.equal(out.verdict, 'rejected');
  assert.deepEqual(out.decisive, {
    node: ex.node,
    kind: 'rule',
    table: ex.reject.table ?? 'filter',
    chain: ex.reject.chain,
    index: ex.reject.index,
    text: ex.reject.text,
  });
  const decisive = out.hops.filter((h) => h.decisive);
  assert.equal(decisive.length, 1);
  assert.equal(decisive[0]?.kind, 'input');
  assert.equal(decisive[0]?.node, ex.node);
  assert.match(decisive[0]?.packet ?? '', /^udp .* > .*:8472 NEW$/, 'the outer VXLAN packet is what dies');
  assert.equal(out.branches[0]?.clientSees, 'timeout');
});

test('trace examples/seed-000: text output marks the decisive hop and gives the fix', () => {
  const ex = brokenNodeAndReject();
  const r = netdoctor(['trace', bundle, '--from', ex.from, '--to', `${ex.to}:8080`]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /^VERDICT\s+REJECTED \(the client sees: timeout\)$/m);
  assert.match(r.stdout, new RegExp(`^DECISIVE\\s+${ex.node}\\s+filter/${ex.reject.chain} #${ex.reject.index}`, 'm'));
  assert.match(r.stdout, new RegExp(`^\\s+>\\s+request\\s+${ex.node}\\s+input\\s`, 'm'));
  assert.match(r.stdout, /Fix:\n\s+\$ .*8472/);
});

test('trace examples/seed-000: same-node traffic on the broken node is delivered (exit 0)', () => {
  const ex = brokenNodeAndReject();
  const cluster = new ClusterModel(loadBundle(bundle));
  const other = cluster
    .ofKind('Pod')
    .find(
      (p) =>
        (p.spec as { nodeName?: string }).nodeName === ex.node &&
        p.metadata.labels?.app === 'echo' &&
        `pod/default/${p.metadata.name}` !== ex.to,
    );
  assert.ok(other);
  const r = netdoctor(['trace', bundle, '--from', ex.to, '--to', `pod/default/${other.metadata.name}:8080`]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^VERDICT\s+DELIVERED/m);
});

test('trace: unknown names exit 2 with close matches', () => {
  const ex = brokenNodeAndReject();
  const r = netdoctor(['trace', bundle, '--from', `${ex.from}x`, '--to', `${ex.to}:8080`]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /not found in the bundle; did you mean/);
});

test('trace: --size must be an IP packet size (exit 2)', () => {
  const ex = brokenNodeAndReject();
  const r = netdoctor(['trace', bundle, '--from', ex.from, '--to', ex.to, '--proto', 'icmp', '--size', '10']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--size "10" is not an IP packet size/);
});

test('trace examples/seed-003-ipvs: the empty IPVS virtual server rejects; the healthy twin forwards to the real server', () => {
  const dir = join(repoRoot, 'examples', 'seed-003-ipvs');
  const cluster = new ClusterModel(loadBundle(dir));
  const client = cluster
    .ofKind('Pod')
    .find((p) => !(p.spec as { hostNetwork?: boolean }).hostNetwork && p.metadata.name.startsWith('coredns'));
  const ipvs = runChecks(cluster, CHECKS).findings.find((f) => /ipvs/.test(f.check));
  assert.ok(client && ipvs?.node, 'the example has a pod-network client and an IPVS finding naming the node');
  const args = [
    '--from',
    `pod/${client.metadata.namespace}/${client.metadata.name}`,
    '--to',
    'svc/kube-system/calico-typha:5473',
  ];
  const r = netdoctor(['trace', dir, ...args, '--format', 'json']);
  assert.equal(r.status, 1, r.stderr);
  const out = JSON.parse(r.stdout) as { verdict: string; decisive: { node: string; kind: string; text: string } };
  assert.equal(out.verdict, 'rejected');
  assert.equal(out.decisive.kind, 'ipvs');
  assert.equal(out.decisive.node, ipvs.node);
  assert.match(out.decisive.text, /^TCP 10\.108\.62\.55:5473/);
  const healthy = netdoctor(['trace', `${dir}-healthy`, ...args, '--format', 'json']);
  const h = JSON.parse(healthy.stdout) as { verdict: string; hops: { kind: string; detail: string }[] };
  assert.notEqual(h.verdict, 'rejected');
  assert.ok(h.hops.some((x) => x.kind === 'ipvs' && /-> 10\.130\.29\.81:5473/.test(x.detail)));
});

test('trace examples/seed-001-ip-forward: the sysctl is decisive and the check gives its fix', () => {
  const dir = join(repoRoot, 'examples', 'seed-001-ip-forward');
  const cluster = new ClusterModel(loadBundle(dir));
  const finding = runChecks(cluster, CHECKS).findings.find((f) => f.check === 'ip-forward-disabled');
  assert.ok(finding?.node, 'the example has an ip-forward-disabled finding');
  const echo = cluster.ofKind('Pod').filter((p) => p.metadata.labels?.app === 'echo');
  const node = (p: (typeof echo)[number]) => (p.spec as { nodeName?: string }).nodeName;
  const from = echo.find((p) => node(p) !== finding.node);
  const to = echo.find((p) => node(p) === finding.node);
  assert.ok(from && to);
  const r = netdoctor([
    'trace',
    dir,
    '--from',
    `pod/default/${from.metadata.name}`,
    '--to',
    `pod/default/${to.metadata.name}:8080`,
    '--format',
    'json',
  ]);
  assert.equal(r.status, 1, r.stderr);
  const out = JSON.parse(r.stdout) as {
    verdict: string;
    decisive: { node: string; kind: string };
    branches: { fix?: string[] }[];
  };
  assert.equal(out.verdict, 'dropped');
  assert.deepEqual({ node: out.decisive.node, kind: out.decisive.kind }, { node: finding.node, kind: 'sysctl' });
  assert.deepEqual(out.branches[0]?.fix, finding.fix);
});

test('trace --rules: every matched rule under its hop, and the route', () => {
  const ex = brokenNodeAndReject();
  const plain = netdoctor(['trace', bundle, '--from', ex.from, '--to', `${ex.to}:8080`]);
  const r = netdoctor(['trace', bundle, '--from', ex.from, '--to', `${ex.to}:8080`, '--rules']);
  assert.equal(r.status, 1);
  const line = `${ex.reject.table ?? 'filter'}/${ex.reject.chain} #${ex.reject.index}  ${ex.reject.text}`;
  assert.ok(r.stdout.includes(line), 'the rejecting rule is listed under its hop');
  assert.match(r.stdout, /^\s+route: /m);
  assert.doesNotMatch(plain.stdout, /^\s+route: /m);
});
