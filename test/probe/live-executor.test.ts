/**
 * The live executor's ping script (what a probe pod's tools container runs) with a stand-in `ping` on PATH that
 * prints what iputils prints for each case: every attempt is reported, tries stop at the first answer, and the
 * output is judged by the same rules as the agent's own pings (RTT, too big with the MTU, prohibited, timeout, ping
 * missing). The script runs in this machine's sh, as the container's would.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AgentProbe } from '../../src/probe/agent.js';
import { pingScript, readPingOutput } from '../../src/probe/live-executor.js';

const FAKE_PING = `#!/bin/sh
for last; do :; done
case "$last" in
  10.0.0.1) echo "64 bytes from 10.0.0.1: icmp_seq=1 ttl=63 time=0.412 ms"; exit 0 ;;
  10.0.0.2) echo "ping: local error: message too long, mtu=1400"; exit 1 ;;
  10.0.0.3) echo "From 10.0.0.254 icmp_seq=1 Packet filtered"; exit 1 ;;
  10.0.0.4) exit 1 ;;
  10.0.0.6) echo "ping: socket: Operation not permitted"; exit 2 ;;
  10.0.0.5) n=$(cat "$COUNTER" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$COUNTER"
            if [ "$n" -ge 2 ]; then echo "64 bytes from 10.0.0.5: icmp_seq=1 ttl=63 time=1.5 ms"; exit 0; fi; exit 1 ;;
esac
exit 2
`;

const probe = (dst: string, extra: Partial<AgentProbe> = {}): AgentProbe => ({
  id: `icmp:${dst}`,
  kind: 'icmp',
  dst,
  tries: 2,
  timeoutMs: 1000,
  ...extra,
});

test('ping script: attempts, early stop, and the agent’s reading of each outcome', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netdoctor-ping-'));
  try {
    writeFileSync(join(dir, 'ping'), FAKE_PING);
    chmodSync(join(dir, 'ping'), 0o755);
    const probes = [
      probe('10.0.0.1', { tries: 3 }),
      probe('10.0.0.2', { kind: 'mtu', size: 1422 }),
      probe('10.0.0.3'),
      probe('10.0.0.4'),
      probe('10.0.0.5', { tries: 3 }),
      probe('10.0.0.6'),
    ];
    const script = pingScript(probes);
    assert.match(script, /'-M' 'do' '-s' '1422' '10\.0\.0\.2'/, 'DF and size for the mtu probe');
    const r = spawnSync('sh', ['-c', script], {
      encoding: 'utf8',
      env: { PATH: `${dir}:/usr/bin:/bin`, COUNTER: join(dir, 'n') },
      timeout: 20_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const results = readPingOutput(probes, r.stdout);
    const byDst = new Map(results.map((x, i) => [probes[i]?.dst, x]));
    assert.deepEqual(byDst.get('10.0.0.1'), {
      id: 'icmp:10.0.0.1',
      outcome: 'ok',
      attempts: 1,
      answers: ['10.0.0.1'],
      latencyMs: 0.412,
      slowestMs: 0.412,
      failures: {},
    });
    assert.equal(byDst.get('10.0.0.2')?.outcome, 'too big');
    assert.equal(byDst.get('10.0.0.2')?.detail, 'mtu 1400');
    assert.equal(byDst.get('10.0.0.2')?.attempts, 2);
    assert.equal(byDst.get('10.0.0.3')?.outcome, 'admin prohibited');
    assert.deepEqual(byDst.get('10.0.0.4')?.failures, { timeout: 2 });
    const flaky = byDst.get('10.0.0.5');
    assert.equal(flaky?.outcome, 'ok');
    assert.equal(flaky?.attempts, 2, 'stops at the first answer');
    assert.deepEqual(flaky?.failures, { timeout: 1 });
    // No raw socket (a runtime without NET_RAW): the probe could not run, which is not a network timeout.
    assert.equal(byDst.get('10.0.0.6')?.outcome, 'error');
    assert.match(byDst.get('10.0.0.6')?.detail ?? '', /Operation not permitted/);

    // No ping in the image: exit 127 from the shell, said as such.
    const none = spawnSync('/bin/sh', ['-c', pingScript([probe('10.0.0.1')])], {
      encoding: 'utf8',
      env: { PATH: dir.replace(/$/, '-none') },
    });
    const [missing] = readPingOutput([probe('10.0.0.1')], none.stdout);
    assert.equal(missing?.outcome, 'error');
    assert.match(missing?.detail ?? '', /ping is not installed in the tools image/);
    // Output that never came: an error, never a pass.
    const [silent] = readPingOutput([probe('10.0.0.1')], '');
    assert.equal(silent?.outcome, 'error');
    assert.equal(silent?.detail, 'ping printed nothing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
