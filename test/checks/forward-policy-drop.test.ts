import assert from 'node:assert/strict';
import { test } from 'node:test';
import check from '../../src/checks/forward-policy-drop.js';
import type { Bundle } from '../../src/snapshot/bundle.js';
import { findingsOnNodes } from '../support/checks.js';
import { flannelCm, kubeBundle } from '../support/flannel-bundles.js';
import type { FlannelNodeSpec } from '../support/node-state.js';

const SPECS: FlannelNodeSpec[] = [1, 2].map((k) => ({
  name: `d${k}`,
  ip: `10.50.0.${k}`,
  subnet: `172.17.${10 * k}.0/24`,
  vtepMac: `aa:bb:cc:ee:00:0${k}`,
  bridge: 'docker0',
}));

/** Docker's filter table (1.13+): FORWARD policy DROP, accepts for docker0 only. */
function docker(policy: string, extra: string[] = []): string {
  return [
    '*filter',
    ':INPUT ACCEPT [0:0]',
    `:FORWARD ${policy} [0:0]`,
    ':OUTPUT ACCEPT [0:0]',
    ':DOCKER - [0:0]',
    ':DOCKER-ISOLATION-STAGE-1 - [0:0]',
    ':DOCKER-USER - [0:0]',
    ...extra,
    '-A FORWARD -j DOCKER-USER',
    '-A FORWARD -j DOCKER-ISOLATION-STAGE-1',
    '-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    '-A FORWARD -o docker0 -j DOCKER',
    '-A FORWARD -i docker0 ! -o docker0 -j ACCEPT',
    '-A FORWARD -i docker0 -o docker0 -j ACCEPT',
    '-A DOCKER-ISOLATION-STAGE-1 -j RETURN',
    '-A DOCKER-USER -j RETURN',
    'COMMIT',
    '',
  ].join('\n');
}

function bundle(rules: (s: FlannelNodeSpec) => string | undefined): Bundle {
  return kubeBundle(
    SPECS,
    (s, st) => {
      const r = rules(s);
      if (r) st.commands = { ...st.commands, 'iptables-nft-save': r };
    },
    [flannelCm('172.17.0.0/16')],
  );
}

interface Row {
  name: string;
  bundle: () => Bundle;
  expect: { node: string; decisive: string; packets: string[]; fix: string[] }[];
}

const rows: Row[] = [
  { name: 'healthy: FORWARD ACCEPT', bundle: () => bundle(() => docker('ACCEPT')), expect: [] },
  {
    name: 'Docker’s FORWARD DROP on one node, no pod network accepts',
    bundle: () => bundle((s) => docker(s.name === 'd2' ? 'DROP' : 'ACCEPT')),
    expect: [
      {
        node: 'd2',
        decisive: 'FORWARD policy DROP',
        packets: ['tcp 172.17.10.2 → 172.17.20.2:8080 NEW, in flannel.1 out docker0: drop'],
        fix: [
          'iptables-nft -I FORWARD -s 172.17.0.0/16 -j ACCEPT',
          'iptables-nft -I FORWARD -d 172.17.0.0/16 -j ACCEPT',
        ],
      },
    ],
  },
  {
    name: 'healthy twin: flannel’s accepts for 172.17.0.0/16 before Docker’s rules',
    bundle: () =>
      bundle(() => docker('DROP', ['-A FORWARD -s 172.17.0.0/16 -j ACCEPT', '-A FORWARD -d 172.17.0.0/16 -j ACCEPT'])),
    expect: [],
  },
  {
    name: 'near miss: accepts for another network (172.18.0.0/16) do not help',
    bundle: () =>
      bundle((s) => (s.name === 'd1' ? docker('DROP', ['-A FORWARD -d 172.18.0.0/16 -j ACCEPT']) : undefined)),
    expect: [
      {
        node: 'd1',
        decisive: 'FORWARD policy DROP',
        packets: ['tcp 172.17.20.2 → 172.17.10.2:8080 NEW, in flannel.1 out docker0: drop'],
        fix: [
          'iptables-nft -I FORWARD -s 172.17.0.0/16 -j ACCEPT',
          'iptables-nft -I FORWARD -d 172.17.0.0/16 -j ACCEPT',
        ],
      },
    ],
  },
  {
    name: 'a catch-all REJECT at the end of FORWARD (RHEL 7 firewall)',
    bundle: () =>
      bundle((s) =>
        s.name === 'd1'
          ? [
              '*filter',
              ':INPUT ACCEPT [0:0]',
              ':FORWARD ACCEPT [0:0]',
              ':OUTPUT ACCEPT [0:0]',
              '-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
              '-A FORWARD -j REJECT --reject-with icmp-host-prohibited',
              'COMMIT',
              '',
            ].join('\n')
          : undefined,
      ),
    expect: [
      {
        node: 'd1',
        decisive: '-A FORWARD -j REJECT --reject-with icmp-host-prohibited',
        packets: [
          'tcp 172.17.10.2 → 172.17.20.2:8080 NEW, in docker0 out flannel.1: reject',
          'tcp 172.17.20.2 → 172.17.10.2:8080 NEW, in flannel.1 out docker0: reject',
        ],
        fix: [
          'iptables-nft -I FORWARD -s 172.17.0.0/16 -j ACCEPT',
          'iptables-nft -I FORWARD -d 172.17.0.0/16 -j ACCEPT',
        ],
      },
    ],
  },
  {
    name: 'near miss: a REJECT for one source only is not a catch-all',
    bundle: () =>
      bundle((s) =>
        s.name === 'd1'
          ? [
              '*filter',
              ':INPUT ACCEPT [0:0]',
              ':FORWARD ACCEPT [0:0]',
              ':OUTPUT ACCEPT [0:0]',
              '-A FORWARD -s 172.17.20.2/32 -j REJECT',
              'COMMIT',
              '',
            ].join('\n')
          : undefined,
      ),
    expect: [],
  },
];

for (const row of rows) {
  test(`forward-policy-drop: ${row.name}`, () => {
    const got = findingsOnNodes(
      check,
      row.bundle(),
      row.expect.map((w) => w.node),
    );
    row.expect.forEach((want, i) => {
      const f = got[i];
      assert.ok(f);
      assert.equal(f.severity, 'critical');
      assert.equal(f.evidence[0]?.text, want.decisive);
      assert.equal(f.evidence[0]?.chain, 'FORWARD');
      assert.deepEqual(
        f.evidence.filter((e) => e.kind === 'packet').map((e) => e.text),
        want.packets,
      );
      for (const e of f.evidence) assert.equal(e.node, want.node);
      assert.deepEqual(f.fix, want.fix);
    });
  });
}
