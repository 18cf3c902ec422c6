/** The frame parser and snapshot assembly, on outputs built byte by byte (no shell needed). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Frame, FrameReader, parseHeader } from '../../src/collect/frames.js';
import { parseCollectorOutput, SnapshotAssembler } from '../../src/collect/output.js';
import { InputError, type ParseIssue } from '../../src/core/errors.js';
import { fileText, stdoutText } from '../../src/snapshot/text.js';

function frame(kind: string, id: string, exit: number, payload: Buffer | string): Buffer {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  return Buffer.concat([Buffer.from(`@@netdoctor ${kind} ${id} ${exit} ${body.length}\n`), body, Buffer.from('\n')]);
}

function commandFrames(id: string, command: string, stdout: Buffer | string, stderr: string, exit = 0): Buffer[] {
  return [frame('cmd', id, 0, command), frame('stdout', id, exit, stdout), frame('stderr', id, exit, stderr)];
}

function output(...parts: Buffer[]): Buffer {
  return Buffer.concat([
    frame('meta', 'format', 0, '1'),
    frame('meta', 'version', 0, '9.9.9'),
    frame('meta', 'hostname', 0, 'worker-7'),
    frame('meta', 'date', 0, '2026-01-02T03:04:05Z'),
    ...parts,
    frame('end', '-', 0, ''),
  ]);
}

/** A payload that tries to break delimiter-based framing. */
const HOSTILE = Buffer.concat([
  Buffer.from('line one\n@@netdoctor stdout fake 0 5\nabcde\n@@netdoctor end - 0 0\n\n'),
  Buffer.from([0, 1, 2, 0x0a, 0x0a]),
  Buffer.from('no newline at the end'),
]);

describe('frame headers', () => {
  it('reads kind, id, exit and length; ids may hold spaces', () => {
    assert.deepEqual(parseHeader('@@netdoctor stdout ip-route 0 12'), {
      kind: 'stdout',
      id: 'ip-route',
      exit: 0,
      bytes: 12,
    });
    assert.deepEqual(parseHeader('@@netdoctor file /etc/cni/net.d/my file.conf 0 3'), {
      kind: 'file',
      id: '/etc/cni/net.d/my file.conf',
      exit: 0,
      bytes: 3,
    });
    assert.equal(parseHeader('@@netdoctor stdout ip-route 0'), undefined);
    assert.equal(parseHeader('@@netdoctor stdout ip-route x 12'), undefined);
    assert.equal(parseHeader('netdoctor stdout ip-route 0 12'), undefined);
  });
});

describe('parseCollectorOutput', () => {
  it('takes payloads by length, whatever they hold', () => {
    const buf = output(...commandFrames('iptables-nft-save', 'iptables-nft-save', HOSTILE, 'warn\n', 0));
    const snap = parseCollectorOutput(buf, { transport: 'ssh', target: 'worker-7' });
    assert.equal(snap.node, 'worker-7');
    assert.equal(snap.kind, 'NodeSnapshot');
    assert.equal(snap.schemaVersion, 1);
    assert.equal(snap.collectedAt, '2026-01-02T03:04:05Z');
    assert.deepEqual(snap.collector, { version: '9.9.9', transport: 'ssh', target: 'worker-7' });
    assert.deepEqual(Object.keys(snap.commands), ['iptables-nft-save']);
    const r = snap.commands['iptables-nft-save'];
    assert.equal(r.stdout, HOSTILE.toString('utf8'));
    assert.equal(r.stderr, 'warn\n');
    assert.equal(r.exitCode, 0);
  });

  it('gives the same snapshot whatever the chunking (one byte at a time, odd sizes)', () => {
    const buf = output(
      ...commandFrames('ip-route', 'ip -j route show table all', '[{"dst":"default"}]', '', 0),
      ...commandFrames('sysctl', 'sysctl -a', HOSTILE, 'sysctl: permission denied on key x\n', 255),
      frame('missing', 'ipvsadm-save', 127, ''),
      frame('file', '/etc/resolv.conf', 0, 'nameserver 10.96.0.10\n'),
    );
    const whole = parseCollectorOutput(buf, { transport: 'local' });
    for (const size of [1, 2, 3, 7, 64, 4096]) {
      const a = new SnapshotAssembler({ transport: 'local' });
      for (let i = 0; i < buf.length; i += size) a.push(buf.subarray(i, i + size));
      const s = a.finish();
      s.collectedAt = whole.collectedAt;
      assert.deepEqual(s, whole, `chunks of ${size}`);
    }
  });

  it('records missing tools, failures and file errors as facts', () => {
    const snap = parseCollectorOutput(
      output(
        frame('cmd', 'ipvsadm-save', 0, 'ipvsadm -Sn'),
        frame('missing', 'ipvsadm-save', 127, ''),
        ...commandFrames('conntrack-stats', 'conntrack -S', '', 'conntrack v1.4.7: Operation failed\n', 1),
        frame('file-error', '/run/flannel/subnet.env', 1, 'missing'),
        frame('file', '/etc/cni/net.d/10 flannel.conflist', 0, '{}'),
      ),
      { transport: 'local' },
    );
    assert.deepEqual(snap.commands['ipvsadm-save'], {
      command: 'ipvsadm -Sn',
      stdout: '',
      stderr: '',
      exitCode: 127,
      missing: true,
    });
    assert.equal(snap.commands['conntrack-stats'].exitCode, 1);
    assert.equal(snap.commands['conntrack-stats'].stderr, 'conntrack v1.4.7: Operation failed\n');
    assert.deepEqual(snap.files['/run/flannel/subnet.env'], { error: 'missing' });
    assert.deepEqual(snap.files['/etc/cni/net.d/10 flannel.conflist'], { content: '{}' });
  });

  it('keeps invalid UTF-8 as base64, byte for byte (stdout and files)', () => {
    const bytes = Buffer.from([0x66, 0x6c, 0xff, 0xfe, 0x00, 0xc3, 0x28, 0x0a]);
    const snap = parseCollectorOutput(
      output(...commandFrames('ip-link', 'ip -d -j link show', bytes, ''), frame('file', '/etc/resolv.conf', 0, bytes)),
      { transport: 'local' },
    );
    const r = snap.commands['ip-link'];
    assert.equal(r.stdout, '');
    assert.ok(r.stdoutBase64);
    assert.deepEqual(Buffer.from(r.stdoutBase64, 'base64'), bytes);
    const f = snap.files['/etc/resolv.conf'];
    assert.equal(f.content, undefined);
    assert.deepEqual(Buffer.from(f.contentBase64 ?? '', 'base64'), bytes);
    // Parsers get text with U+FFFD where the bytes were invalid, never an empty output.
    assert.equal(stdoutText(r), 'fl\ufffd\ufffd\0\ufffd(\n');
    assert.equal(fileText(f), 'fl\ufffd\ufffd\0\ufffd(\n');
    // Valid multi-byte UTF-8 stays text.
    const utf = parseCollectorOutput(output(...commandFrames('uname', 'uname -a', 'nœud ✓\n', '')), {
      transport: 'local',
    });
    assert.equal(utf.commands.uname.stdout, 'nœud ✓\n');
    assert.equal(utf.commands.uname.stdoutBase64, undefined);
  });

  it('uses the given node name over the hostname', () => {
    const snap = parseCollectorOutput(output(), { transport: 'pod', nodeName: 'node-a', target: 'netdoctor-x' });
    assert.equal(snap.node, 'node-a');
    assert.equal(snap.collector.target, 'netdoctor-x');
  });

  it('skips text around the frames (an ssh banner) and says so', () => {
    const issues: ParseIssue[] = [];
    const buf = Buffer.concat([
      Buffer.from('Welcome to worker-7\nLast login: yesterday\n'),
      output(...commandFrames('uname', 'uname -a', 'Linux\n', '')),
      Buffer.from('logout\n'),
    ]);
    const snap = parseCollectorOutput(buf, { transport: 'ssh', source: 'node.out', onIssue: (i) => issues.push(i) });
    assert.equal(snap.commands.uname.stdout, 'Linux\n');
    assert.equal(issues.length, 2);
    assert.match(issues[0].message, /skipped \d+ bytes/);
    assert.equal(issues[0].line, 1);
    assert.equal(issues[0].file, 'node.out');
  });

  it('reports a cut-off output and keeps every complete record', () => {
    const full = output(
      ...commandFrames('uname', 'uname -a', 'Linux\n', ''),
      ...commandFrames('sysctl', 'sysctl -a', 'x'.repeat(1000), ''),
    );
    const cut = full.subarray(0, full.indexOf('xxxxx') + 500);
    const issues: ParseIssue[] = [];
    const snap = parseCollectorOutput(cut, { transport: 'ssh', onIssue: (i) => issues.push(i) });
    assert.deepEqual(Object.keys(snap.commands), ['uname']);
    const messages = issues.map((i) => i.message).join('\n');
    assert.match(messages, /ends inside frame "stdout sysctl" \(500 of 1000 bytes\)/);
    assert.match(messages, /ends before "sysctl" finished/);
    assert.match(messages, /no end frame/);
  });

  it('says what is wrong with input that is not collector output', () => {
    assert.throws(
      () =>
        parseCollectorOutput(Buffer.from('*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n'), {
          transport: 'ssh',
          source: 'x.txt',
        }),
      (e: unknown) => e instanceof InputError && /x\.txt: not the output of the netdoctor collector/.test(e.message),
    );
    assert.throws(() => parseCollectorOutput(Buffer.alloc(0), { transport: 'ssh' }), InputError);
    // Frames but no hostname and no --node: a clear message.
    assert.throws(
      () => parseCollectorOutput(frame('end', '-', 0, ''), { transport: 'ssh' }),
      (e: unknown) => e instanceof InputError && /names no host/.test(e.message),
    );
  });

  it('ignores frame kinds it does not know, with a warning', () => {
    const issues: ParseIssue[] = [];
    const snap = parseCollectorOutput(output(frame('future-thing', 'x', 0, 'data')), {
      transport: 'local',
      onIssue: (i) => issues.push(i),
    });
    assert.deepEqual(snap.commands, {});
    assert.match(issues[0].message, /unknown frame kind "future-thing"/);
  });

  it('hands out a large payload whole (50 MB)', () => {
    const big = Buffer.alloc(50 * 1024 * 1024, 'a');
    for (let i = 4095; i < big.length; i += 4096) big[i] = 0x0a;
    const frames: Frame[] = [];
    const reader = new FrameReader(
      (f) => frames.push(f),
      (p) => assert.fail(p.message),
    );
    const buf = frame('stdout', 'iptables-nft-save', 0, big);
    for (let i = 0; i < buf.length; i += 65536) reader.push(buf.subarray(i, i + 65536));
    reader.end();
    assert.equal(frames.length, 1);
    assert.equal(frames[0].payload.length, big.length);
    assert.ok(frames[0].payload.equals(big));
  });
});
