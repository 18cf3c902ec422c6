/**
 * The collector script itself, run for real by dash and bash in POSIX mode: framing, missing and hung tools, hostile
 * output, clean-up. These run in the current namespace and need no root (commands that need it record "permission
 * denied", which is a fact like any other).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { COLLECTOR_COMMANDS, COLLECTOR_FILES } from '../../src/collect/commands.js';
import { parseCollectorOutput } from '../../src/collect/output.js';
import { collectNode } from '../../src/collect/run.js';
import { COLLECTOR_SCRIPT } from '../../src/collect/script.js';
import type { ParseIssue } from '../../src/core/errors.js';
import { fakeTool, run, SCRIPT_BASICS, tempDir, toolDir, which } from './helpers.js';

/** The command ids and command lines the snapshot schema names. */
const SCHEMA_COMMANDS: Record<string, string> = {
  'iptables-nft-save': 'iptables-nft-save',
  'ip6tables-nft-save': 'ip6tables-nft-save',
  'iptables-legacy-save': 'iptables-legacy-save',
  'ip6tables-legacy-save': 'ip6tables-legacy-save',
  'nft-ruleset': 'nft -j list ruleset',
  'ip-link': 'ip -d -j link show',
  'ip-addr': 'ip -j addr show',
  'ip-route': 'ip -j route show table all',
  'ip6-route': 'ip -j -6 route show table all',
  'ip-rule': 'ip -j rule show',
  'ip6-rule': 'ip -j -6 rule show',
  'ip-neigh': 'ip -j neigh show',
  'bridge-fdb': 'bridge -j fdb show',
  'ipvsadm-save': 'ipvsadm -Sn',
  'ipvsadm-list': 'ipvsadm -Ln',
  'ipset-save': 'ipset save',
  sysctl: 'sysctl -a',
  'conntrack-stats': 'conntrack -S',
  'nmcli-dev': 'nmcli -t dev',
  'firewalld-state': 'firewall-cmd --state',
  processes:
    'ps -o pid,args -C kube-proxy,kubelet,flanneld,calico-node,cilium-agent,NetworkManager,firewalld,containerd,dockerd',
  uname: 'uname -a',
};

const SHELLS = [
  { name: 'dash', args: ['-s'] },
  { name: 'bash', args: ['--posix', '-s'] },
].filter((s) => which(s.name));

function runScript(shell: string, args: string[], env: NodeJS.ProcessEnv) {
  return run(shell, args, { input: COLLECTOR_SCRIPT, env });
}

describe('the collector script', () => {
  it('runs every command the snapshot schema names, with the same command line', () => {
    const table = Object.fromEntries(COLLECTOR_COMMANDS.map((c) => [c.id, c.argv.join(' ')]));
    assert.deepEqual(table, SCHEMA_COMMANDS);
    for (const [id, line] of Object.entries(SCHEMA_COMMANDS))
      assert.ok(COLLECTOR_SCRIPT.includes(`nd_run ${id} ${line}\n`));
    for (const f of COLLECTOR_FILES) assert.ok(COLLECTOR_SCRIPT.includes(f), f);
  });

  it('is POSIX sh: dash and bash --posix parse it, and it holds no common bashism', () => {
    assert.ok(which('dash'), 'dash is needed for this test (Debian: package dash)');
    for (const s of SHELLS) {
      const r = run(s.name, s.name === 'bash' ? ['--posix', '-n'] : ['-n'], { input: COLLECTOR_SCRIPT });
      assert.equal(r.status, 0, `${s.name} -n: ${r.stderr}`);
    }
    const code = COLLECTOR_SCRIPT.split('\n')
      .filter((l) => !/^\s*#/.test(l))
      .join('\n');
    for (const [re, what] of [
      [/\[\[/, '[['],
      [/\blocal\s/, 'local'],
      [/\bfunction\s/, 'function'],
      [/\$'/, "$'...'"],
      [/<<</, '<<<'],
      [/&>/, '&>'],
      [/\becho\s+-[ne]/, 'echo -n/-e'],
      [/\$\{[^}]*\/\//, 'pattern substitution'],
      [/\bsource\s/, 'source'],
      [/\$\{[^}]*:\d/, 'substrings'],
      [/\bdeclare\b|\btypeset\b/, 'declare'],
      [/\$RANDOM|\$BASH/, 'bash variables'],
      [/`/, 'backquotes'],
    ] as const)
      assert.doesNotMatch(code, re, `bashism: ${what}`);
  });

  for (const s of SHELLS) {
    it(`under ${s.name}: frames every command and file, ends cleanly, and leaves nothing in its temp folder`, () => {
      const tmp = tempDir(`tmp-${s.name}`);
      const r = runScript(s.name, s.args, { ...process.env, TMPDIR: tmp });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.deepEqual(readdirSync(tmp), [], 'the temp folder is removed');
      const issues: ParseIssue[] = [];
      const snap = parseCollectorOutput(r.stdout, { transport: 'local', onIssue: (i) => issues.push(i) });
      assert.deepEqual(issues, []);
      assert.deepEqual(Object.keys(snap.commands).sort(), Object.keys(SCHEMA_COMMANDS).sort());
      for (const [id, rec] of Object.entries(snap.commands)) {
        assert.equal(rec.command, SCHEMA_COMMANDS[id]);
        if (rec.missing) assert.equal(rec.exitCode, 127, id);
        else assert.equal(rec.missing, undefined, id);
      }
      assert.match(snap.commands.uname.stdout, /^Linux /);
      // Plain paths are always recorded, read or not.
      for (const f of COLLECTOR_FILES.filter((p) => !p.includes('*'))) {
        const rec = snap.files[f];
        assert.ok(rec, f);
        assert.ok((rec.content !== undefined || rec.contentBase64 !== undefined) !== (rec.error !== undefined), f);
        if (!existsSync(f)) assert.equal(rec.error, 'missing', f);
      }
      assert.equal(snap.node, run('uname', ['-n']).stdout.toString().trim());
      assert.ok(!Number.isNaN(Date.parse(snap.collectedAt)));
    });
  }

  it('records a tool that is not installed (exit 127, missing) and goes on', async () => {
    // A PATH with only what the script needs to frame its output, and `ip`: no iptables, nft, sysctl, ps...
    const path = toolDir(SCRIPT_BASICS);
    const snap = await collectNode({ shell: 'dash', env: { PATH: path } });
    for (const id of [
      'iptables-nft-save',
      'iptables-legacy-save',
      'nft-ruleset',
      'sysctl',
      'ipvsadm-save',
      'processes',
    ])
      assert.deepEqual(
        { ...snap.commands[id], command: '' },
        { command: '', stdout: '', stderr: '', exitCode: 127, missing: true },
        id,
      );
    assert.equal(snap.commands['ip-route'].missing, undefined);
    assert.equal(snap.commands['ip-route'].exitCode, 0);
    assert.ok(Array.isArray(JSON.parse(snap.commands['ip-route'].stdout)));
    assert.match(snap.commands.uname.stdout, /^Linux /);
  });

  it('bounds a hung tool with timeout(1) and goes on', async () => {
    assert.ok(which('timeout'), 'timeout(1) is needed for this test (coreutils)');
    const fakes = tempDir('fake-hung');
    fakeTool(fakes, 'ipvsadm', 'echo started; exec sleep 60');
    const started = Date.now();
    const snap = await collectNode({
      shell: 'dash',
      env: { ...process.env, PATH: `${fakes}:${process.env.PATH}` },
      commandTimeoutMs: 1000,
    });
    assert.ok(Date.now() - started < 30_000, 'two hung commands took 1 s each, not 60');
    for (const id of ['ipvsadm-save', 'ipvsadm-list']) {
      assert.equal(snap.commands[id].exitCode, 124, id);
      assert.equal(snap.commands[id].stdout, 'started\n');
    }
    assert.equal(snap.commands.uname.exitCode, 0);
  });

  it('frames hostile output exactly: fake headers, NUL bytes, no final newline, invalid UTF-8', async () => {
    const hostile = Buffer.concat([
      Buffer.from('-A 1\n@@netdoctor end - 0 0\n\n@@netdoctor stdout uname 0 3\nxyz\n'),
      Buffer.from([0x00, 0xff, 0x0a, 0x0a, 0x40, 0x40]),
    ]);
    const fakes = tempDir('fake-hostile');
    const payload = tempDir('payload');
    writeFileSync(`${payload}/out`, hostile);
    fakeTool(fakes, 'ipvsadm', `cat '${payload}/out'; printf 'err\\0or' >&2; exit 3`);
    const snap = await collectNode({ shell: 'dash', env: { ...process.env, PATH: `${fakes}:${process.env.PATH}` } });
    const r = snap.commands['ipvsadm-save'];
    assert.equal(r.exitCode, 3);
    assert.equal(r.stdout, '');
    assert.deepEqual(Buffer.from(r.stdoutBase64 ?? '', 'base64'), hostile);
    assert.equal(r.stderr, 'err\0or');
    assert.match(snap.commands.uname.stdout, /^Linux /, 'the fake uname frame inside the payload was not taken');
  });

  it('removes its temp folder when stopped by a signal in the middle of a command', async () => {
    const fakes = tempDir('fake-slow');
    const tmp = tempDir('tmp-signal');
    fakeTool(fakes, 'ipvsadm', 'exec sleep 30');
    const child = spawn('dash', ['-s'], {
      env: { ...process.env, PATH: `${fakes}:${process.env.PATH}`, TMPDIR: tmp },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('latin1');
    });
    child.stdin.end(COLLECTOR_SCRIPT);
    const started = Date.now();
    // Wait (bounded) until the script is inside the slow command.
    for (let i = 0; i < 200 && !out.includes('@@netdoctor cmd ipvsadm-save'); i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok(out.includes('@@netdoctor cmd ipvsadm-save'), 'the script reached ipvsadm');
    assert.equal(readdirSync(tmp).length, 1, 'the temp folder exists while it runs');
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    assert.equal(code, 143);
    assert.ok(Date.now() - started < 20_000, 'the signal stopped the slow command at once');
    assert.deepEqual(readdirSync(tmp), [], 'the temp folder is removed');
  });

  it('fails with a clear message when the shell cannot be run', async () => {
    await assert.rejects(collectNode({ shell: 'no-such-shell-here' }), /"no-such-shell-here" is not installed/);
  });
});
