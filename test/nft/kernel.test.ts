/**
 * The kernel decides the same packets: the fixtures' nft rulesets are loaded into throw-away namespaces by the kernel
 * oracle, and its verdict and decisive rule must equal the simulator's on the parsed `nft -j` dump of the same ruleset.
 * Needs root and network namespaces: skipped without them, except under CI=true where that is a failure.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeEnv } from '../../src/netfilter/model.js';
import { kernelDecide, type OraclePacket } from '../kernel/oracle.js';
import { fixtureText, loadFixture, run } from './helpers.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const inCI = process.env.CI === 'true';
const skip = !isRoot && !inCI ? 'kernel oracle needs root (set CI=true to make this a failure)' : false;

/** The oracle's TCP flag letters (F S R P A U E C) as bits. */
function flagBits(f: string | number): number {
  if (typeof f === 'number') return f;
  return [...f].reduce((acc, ch) => acc | (1 << 'FSRPAUEC'.indexOf(ch)), 0);
}

/** Compare kernel and simulator packet by packet; all disagreements are reported at once. */
async function agree(fixture: string, packets: OraclePacket[], local: string[]): Promise<void> {
  if (!isRoot) assert.fail('kernel oracle tests need root and network namespaces (CI=true: not skipped)');
  const { ruleset } = loadFixture(`${fixture}.json`);
  const env: NodeEnv = { local: new Set(local) };
  const kernel = await kernelDecide(
    { backend: 'nft', nftScript: fixtureText(`${fixture}.nft`), localAddresses: local },
    packets,
    { prefix: `ndnft${process.pid}` },
  );
  const problems: string[] = [];
  packets.forEach((p, i) => {
    const k = kernel[i];
    if (!k || k.error) {
      problems.push(`#${i} ${JSON.stringify(p)}: oracle error ${k?.error}`);
      return;
    }
    const { tcpFlags, ctMark, natDst: _natDst, ...q } = p;
    const sim = run(
      ruleset,
      {
        ...q,
        ...(ctMark !== undefined ? { ctmark: ctMark } : {}),
        ...(tcpFlags !== undefined ? { tcpFlags: flagBits(tcpFlags) } : {}),
      },
      env,
    );
    const kd = k.decisive;
    const want = `${k.verdict} ${kd.family} ${kd.table} ${kd.chain} ${kd.kind === 'rule' ? `#${kd.index}` : kd.policy?.toUpperCase()}`;
    const sd = sim.decisive;
    const got = `${sim.verdict} ${sd?.table} ${sd?.chain} ${sd?.kind === 'rule' ? `#${sd.index}` : sd?.policy?.toUpperCase()}`;
    if (want !== got)
      problems.push(
        `#${i} ${p.path} ${p.proto} ${p.src} → ${p.dst}:${p.dport ?? ''} in=${p.in ?? ''} out=${p.out ?? ''}\n  kernel:    ${want}\n  simulator: ${got}\n  trace: ${k.trace.join(' | ')}`,
      );
  });
  assert.equal(problems.length, 0, problems.join('\n'));
}

const input = { path: 'input' as const, state: 'new' as const };

describe('nft fixtures against the kernel', { skip }, () => {
  it('firewalld', async () => {
    const peer = { ...input, src: '192.168.0.3', dst: '192.168.0.2', in: 'eth0' };
    await agree(
      'firewalld',
      [
        { ...peer, proto: 'udp', dport: 8472 },
        { ...peer, proto: 'tcp', dport: 8472 },
        { ...peer, proto: 'tcp', dport: 22 },
        { ...peer, proto: 'tcp', dport: 31000 },
        { ...peer, proto: 'tcp', dport: 8472, state: 'established' },
        { ...peer, src: '203.0.113.66', proto: 'tcp', dport: 22 },
        { ...peer, proto: 'icmp' },
        { ...peer, in: 'eth9', proto: 'udp', dport: 5000 },
        { ...input, src: '10.244.1.5', dst: '192.168.0.2', in: 'cni0', proto: 'udp', dport: 53 },
        {
          path: 'forward',
          state: 'new',
          src: '10.244.1.5',
          dst: '198.51.100.9',
          in: 'cni0',
          out: 'eth0',
          proto: 'tcp',
          dport: 443,
        },
        {
          path: 'forward',
          state: 'new',
          src: '198.51.100.9',
          dst: '192.168.7.7',
          in: 'eth0',
          out: 'eth0',
          proto: 'udp',
          dport: 53,
        },
        {
          path: 'output',
          state: 'new',
          src: '192.168.0.2',
          dst: '198.51.100.9',
          out: 'eth0',
          proto: 'tcp',
          dport: 443,
        },
      ],
      ['192.168.0.2'],
    );
  });

  it('sets, maps, masks and negations', async () => {
    const b = { ...input, src: '192.168.0.3', dst: '192.168.0.2', in: 'eth0' };
    await agree(
      'sets',
      [
        { ...b, proto: 'tcp', dport: 5, state: 'established' },
        { ...b, src: '198.51.100.7', proto: 'udp', dport: 5000 },
        { ...b, src: '203.0.113.15', proto: 'udp', dport: 5000 },
        { ...b, src: '203.0.113.21', proto: 'udp', dport: 5000 },
        { ...b, src: '2001:db8:bad::1', dst: '2001:db8::2', proto: 'udp', dport: 5000 },
        { ...b, src: '2001:db8:bae::1', dst: '2001:db8::2', proto: 'udp', dport: 5000 },
        { ...b, proto: 'udp', dport: 5000, mark: 0x100 },
        { ...b, proto: 'udp', dport: 5000, mark: 0x200 },
        { ...b, proto: 'tcp', dport: 8443, tcpFlags: 'S' },
        { ...b, proto: 'tcp', dport: 8443, tcpFlags: 'SP' },
        { ...b, in: 'cali12ab', src: '10.244.3.4', proto: 'tcp', dport: 8500 },
        { ...b, in: 'cali12ab', src: '10.244.3.4', proto: 'tcp', dport: 9100 },
        { ...b, in: 'cni0', src: '10.245.1.9', proto: 'tcp', dport: 9100 },
        { ...b, proto: 'tcp', dport: 22 },
        { ...b, proto: 'udp', dport: 53 },
        { ...b, proto: 'udp', dport: 22 },
        { ...b, proto: 'tcp', dport: 25 },
        { ...b, proto: 'tcp', dport: 8080 },
        { ...b, src: '10.1.2.3', proto: 'tcp', dport: 2222 },
        { ...b, src: '10.9.9.9', proto: 'tcp', dport: 2222 },
        { ...b, proto: 'udp', dport: 8472 },
        { ...b, src: '10.0.0.5', proto: 'udp', dport: 8472 },
        { ...b, proto: 'icmp' },
        { ...b, src: '192.168.5.5', proto: 'tcp', dport: 10050 },
        { ...b, in: 'ens3', proto: 'tcp', dport: 9000 },
        { ...b, proto: 'tcp', dport: 80 },
      ],
      ['192.168.0.2', '2001:db8::2'],
    );
  });

  it('kube-proxy: no endpoints, unallocated and wrong-port ClusterIPs, a single-endpoint service', async () => {
    const pod = { path: 'forward' as const, state: 'new' as const, src: '10.0.0.2', in: 'cni0', out: 'eth0' };
    await agree(
      'kube-proxy',
      [
        { ...pod, proto: 'tcp', dst: '172.30.0.46', dport: 80 },
        { ...pod, proto: 'tcp', dst: '172.30.0.99', dport: 80 },
        { ...pod, proto: 'tcp', dst: '172.30.0.41', dport: 443 },
        { ...pod, proto: 'tcp', dst: '172.30.0.41', dport: 80, natDst: '10.180.0.1' },
        { ...pod, proto: 'tcp', dst: '198.51.100.20', dport: 443 },
      ],
      ['192.168.0.2'],
    );
  });
});
