import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCheck } from '../../src/checks/define.js';
import check from '../../src/checks/networkmanager-manages-cni.js';
import { ClusterModel } from '../../src/model/cluster.js';
import { configUnmanages, nmConfig } from '../../src/model/networkmanager.js';
import { kubeBundle, SEED002 } from '../support/flannel-bundles.js';

const NODE = SEED002[0]?.name as string;
const NM_PROCESS =
  '    PID COMMAND\n    801 /usr/sbin/NetworkManager --no-daemon\n   1687 /opt/bin/flanneld --ip-masq --kube-subnet-mgr\n';
const SEED_CONF =
  '[keyfile]\nunmanaged-devices=interface-name:cali*;interface-name:tunl*;interface-name:vxlan.calico;interface-name:flannel*;interface-name:veth*;interface-name:cni0;interface-name:docker0\n';
const SEED_FIX =
  "printf '[keyfile]\\nunmanaged-devices=interface-name:cali*;interface-name:tunl*;interface-name:vxlan.calico;interface-name:flannel*;interface-name:veth*;interface-name:cni0;interface-name:docker0\\n' > /etc/NetworkManager/conf.d/k8s.conf";

interface Row {
  name: string;
  processes?: string;
  nmcli?: string;
  files?: Record<string, string>;
  /** The devices named managed, the severity and the first fix; undefined = no finding. */
  expect?: { devices: string[]; severity: string; fix0: string };
}

const rows: Row[] = [
  {
    name: 'seed 002: nmcli shows flannel.1 and cni0 connected (externally)',
    processes: NM_PROCESS,
    nmcli:
      'eno1:ethernet:connected:eno1\ncni0:bridge:connected (externally):cni0\nflannel.1:vxlan:connected (externally):flannel.1\nveth1723a0b1:ethernet:unmanaged:\nlo:loopback:unmanaged:\n',
    files: { '/etc/NetworkManager/NetworkManager.conf': '[main]\nplugins=ifcfg-rh\n' },
    expect: { devices: ['cni0', 'flannel.1'], severity: 'error', fix0: SEED_FIX },
  },
  {
    name: 'the seed’s conf.d file in place (no nmcli)',
    processes: NM_PROCESS,
    files: { '/etc/NetworkManager/conf.d/k8s.conf': SEED_CONF },
  },
  {
    name: 'nmcli says unmanaged',
    processes: NM_PROCESS,
    nmcli: 'eno1:ethernet:connected:eno1\ncni0:bridge:unmanaged:\nflannel.1:vxlan:unmanaged:\n',
  },
  { name: 'NetworkManager does not run', processes: '    PID COMMAND\n   1687 /opt/bin/flanneld\n' },
  {
    name: 'near miss: globs that cover cni0 but not flannel.1',
    processes: NM_PROCESS,
    files: {
      '/etc/NetworkManager/conf.d/cni.conf':
        '[keyfile]\nunmanaged-devices=interface-name:cni*;interface-name:flannel.2\n',
    },
    expect: {
      devices: ['flannel.1'],
      severity: 'warning',
      fix0: SEED_FIX.replace('unmanaged-devices=', 'unmanaged-devices=interface-name:cni*;interface-name:flannel.2;'),
    },
  },
  {
    name: 'everything but ethernet unmanaged (* with except:)',
    processes: NM_PROCESS,
    files: { '/etc/NetworkManager/conf.d/10-managed.conf': '[keyfile]\nunmanaged-devices=*,except:type:ethernet\n' },
  },
  {
    name: 'except: the flannel devices',
    processes: NM_PROCESS,
    files: {
      '/etc/NetworkManager/conf.d/10-managed.conf':
        '[keyfile]\nunmanaged-devices=interface-name:*;except:interface-name:flannel*\n',
    },
    expect: { devices: ['flannel.1'], severity: 'warning', fix0: SEED_FIX },
  },
  {
    name: 'a later /etc conf.d file overrides the packaged one',
    processes: NM_PROCESS,
    files: {
      '/usr/lib/NetworkManager/conf.d/k8s.conf': SEED_CONF.replace('k8s', 'x'),
      '/usr/lib/NetworkManager/conf.d/zz.conf': SEED_CONF,
      '/etc/NetworkManager/conf.d/50-eth.conf': '[keyfile]\nunmanaged-devices=interface-name:eth9\n',
    },
    expect: {
      devices: ['cni0', 'flannel.1'],
      severity: 'warning',
      fix0: SEED_FIX.replace('unmanaged-devices=', 'unmanaged-devices=interface-name:eth9;'),
    },
  },
  {
    name: 'a [device] section with managed=false',
    processes: NM_PROCESS,
    files: {
      '/etc/NetworkManager/conf.d/cni.conf':
        '[device-cni]\nmatch-device=interface-name:cni0;interface-name:flannel*\nmanaged=0\n',
    },
  },
];

function bundleFor(row: Row) {
  const b = kubeBundle(SEED002.slice(0, 2));
  const snap = b.nodes.get(NODE);
  assert.ok(snap);
  if (row.processes !== undefined)
    snap.commands.processes = { command: 'ps', stdout: row.processes, stderr: '', exitCode: 0 };
  snap.commands['nmcli-dev'] =
    row.nmcli !== undefined
      ? { command: 'nmcli -t dev', stdout: row.nmcli, stderr: '', exitCode: 0 }
      : { command: 'nmcli -t dev', stdout: '', stderr: '', exitCode: 127, missing: true };
  for (const [p, content] of Object.entries(row.files ?? {})) snap.files[p] = { content };
  return b;
}

for (const row of rows) {
  test(`networkmanager-manages-cni: ${row.name}`, () => {
    const got = runCheck(check, new ClusterModel(bundleFor(row)));
    if (!row.expect) {
      assert.deepEqual(
        got.map((f) => f.title),
        [],
      );
      return;
    }
    assert.equal(got.length, 1, JSON.stringify(got.map((f) => f.title)));
    const f = got[0];
    assert.ok(f);
    assert.equal(f.node, NODE);
    assert.equal(f.severity, row.expect.severity);
    assert.deepEqual(
      f.evidence.filter((e) => e.device).map((e) => e.device),
      row.expect.devices,
    );
    for (const e of f.evidence) assert.equal(e.node, NODE);
    assert.equal(f.fix[0], row.expect.fix0);
    assert.equal(f.fix[1], 'systemctl reload NetworkManager');
  });
}

test('networkmanager-manages-cni: the fix, run, writes a file that unmanages every CNI device', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nd-nm-'));
  try {
    const file = join(dir, 'k8s.conf');
    execFileSync('sh', ['-c', SEED_FIX.replace('/etc/NetworkManager/conf.d/k8s.conf', file)]);
    const text = readFileSync(file, 'utf8');
    assert.equal(text, SEED_CONF);
    const cfg = nmConfig([{ path: file, text }]);
    for (const name of ['cni0', 'flannel.1', 'cali12ab', 'tunl0', 'vxlan.calico', 'veth9f8e', 'docker0'])
      assert.ok(configUnmanages(cfg, { name }), name);
    assert.equal(configUnmanages(cfg, { name: 'eth0', type: 'ethernet' }), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
