import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  calicoShaped,
  dockerShaped,
  firewalldInputShaped,
  firewalldNft,
  flannelShaped,
  kubeProxyNftables,
} from '../../src/synth/shapes.js';

const lines = (text: string, prefix: string) => text.split('\n').filter((l) => l.startsWith(prefix));

describe('flannelShaped', () => {
  test('accepts the pod network in FORWARD and masquerades leaving traffic', () => {
    const r = flannelShaped({ seed: 3 });
    assert.equal(flannelShaped({ seed: 3 }).text, r.text);
    assert.match(r.subnet, /^10\.244\.\d+\.0\/24$/);
    assert.deepEqual(lines(r.text, '-A FLANNEL-FWD'), [
      '-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
      '-A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
    ]);
    assert.ok(r.text.includes('-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD'));
    assert.ok(
      r.text.includes(
        '-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
      ),
    );
    assert.ok(
      r.text.includes(
        `-A FLANNEL-POSTRTG -s ${r.subnet} -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN`,
      ),
    );
  });
});

describe('calicoShaped', () => {
  const r = calicoShaped({ seed: 5, workloads: 4 });

  test('is deterministic', () => {
    assert.equal(calicoShaped({ seed: 5, workloads: 4 }).text, r.text);
    assert.notEqual(calicoShaped({ seed: 6, workloads: 4 }).text, r.text);
  });

  test('has the cali- dispatch chains, gotos, interface wildcards, marks and cali: comments', () => {
    assert.ok(r.text.includes(':cali-INPUT - [0:0]'));
    assert.ok(r.text.includes(':cali-FORWARD - [0:0]'));
    assert.ok(r.text.includes(':cali-OUTPUT - [0:0]'));
    assert.ok(/-A cali-INPUT -i cali\+ -m comment --comment "cali:[A-Za-z0-9_-]{16}" -g cali-wl-to-host/.test(r.text));
    assert.ok(/-A cali-FORWARD -o cali\+ /.test(r.text));
    assert.ok(r.text.includes('-m mark --mark 0x10000/0x10000'));
    assert.ok(r.text.includes('-j MARK --set-xmark 0x0/0xf0000'));
    for (const w of r.workloads) {
      assert.match(w.iface, /^cali[0-9a-f]{11}$/);
      assert.ok(r.text.includes(`-A cali-from-wl-dispatch -i ${w.iface} `));
      assert.ok(r.text.includes(`-g cali-tw-${w.iface}`));
    }
    for (const l of lines(r.text, '-A cali-')) assert.match(l, /--comment "cali:[A-Za-z0-9_-]{16}"/);
  });

  test('every set the rules match is in the ipset save text', () => {
    const created = new Set(lines(r.ipset, 'create ').map((l) => l.split(' ')[1]));
    const used = new Set([...r.text.matchAll(/--match-set (\S+) /g)].map((m) => m[1]));
    assert.ok(used.has('cali40all-ipam-pools'));
    for (const s of used) assert.ok(created.has(s), `${s} created`);
    assert.ok(r.ipset.includes(`add cali40all-ipam-pools ${r.pool}`));
  });
});

describe('dockerShaped', () => {
  const r = dockerShaped({ seed: 2, publishedContainers: 3, userNetworks: 1 });

  test('drops forwarding by default and lets DOCKER-USER go first', () => {
    assert.ok(r.text.includes(':FORWARD DROP [0:0]'));
    const fwd = lines(r.text, '-A FORWARD ');
    assert.equal(fwd[0], '-A FORWARD -j DOCKER-USER');
    assert.equal(fwd[1], '-A FORWARD -j DOCKER-ISOLATION-STAGE-1');
    assert.ok(fwd.includes('-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'));
    assert.ok(fwd.includes('-A FORWARD -i docker0 ! -o docker0 -j ACCEPT'));
  });

  test('publishes ports with a DNAT that skips the bridge itself', () => {
    assert.equal(r.published.length, 3);
    for (const p of r.published) {
      assert.ok(
        r.text.includes(
          `-A DOCKER ! -i ${p.bridge} -p tcp -m tcp --dport ${p.hostPort} -j DNAT --to-destination ${p.containerIP}:${p.containerPort}`,
        ),
      );
      assert.ok(r.text.includes(`-A DOCKER -d ${p.containerIP}/32 ! -i ${p.bridge} -o ${p.bridge} -p tcp`));
    }
    assert.ok(r.text.includes('-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE'));
  });
});

describe('firewalldInputShaped', () => {
  test('seed 000: the 8472 rule is tcp, VXLAN falls to the final REJECT', () => {
    const bad = firewalldInputShaped({ vxlanProto: 'tcp' }).text;
    const good = firewalldInputShaped({ vxlanProto: 'udp' }).text;
    assert.ok(bad.includes('-A IN_public_allow -p tcp -m tcp --dport 8472 -m conntrack --ctstate NEW -j ACCEPT'));
    assert.ok(good.includes('-A IN_public_allow -p udp -m udp --dport 8472 -m conntrack --ctstate NEW -j ACCEPT'));
    // Same number of lines on both nodes, as the seed's author found with `iptables -L | wc -l`.
    assert.equal(bad.split('\n').length, good.split('\n').length);
    assert.equal(lines(bad, '-A INPUT ').at(-1), '-A INPUT -j REJECT --reject-with icmp-host-prohibited');
    assert.ok(bad.includes('-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'));
    assert.ok(bad.includes('-A INPUT -i lo -j ACCEPT'));
    assert.ok(bad.includes('-A IN_public -p icmp -j ACCEPT'));
  });

  test('flat style keeps everything in INPUT', () => {
    const flat = firewalldInputShaped({ style: 'flat', vxlanProto: 'tcp' }).text;
    const input = lines(flat, '-A INPUT ');
    assert.equal(input[0], '-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT');
    assert.ok(input.includes('-A INPUT -p tcp -m conntrack --ctstate NEW -m tcp --dport 8472 -j ACCEPT'));
    assert.equal(input.at(-1), '-A INPUT -j REJECT --reject-with icmp-host-prohibited');
    assert.ok(!flat.includes('IN_public'));
  });
});

describe('firewalldNft', () => {
  test('has the firewalld base chain, zone dispatch and admin-prohibited reject', () => {
    const t = firewalldNft({ vxlanProto: 'udp' }).text;
    assert.ok(t.startsWith('table inet firewalld {\n'));
    assert.ok(t.includes('\tchain filter_INPUT {\n\t\ttype filter hook input priority filter + 10; policy accept;\n'));
    assert.ok(t.includes('\t\tct state { established, related } accept\n'));
    assert.ok(t.includes('\t\tiifname "lo" accept\n'));
    assert.ok(t.includes('\t\tiifname "eth0" goto filter_IN_public\n'));
    assert.ok(t.includes('\t\tjump filter_IN_public_allow\n'));
    assert.ok(t.includes('\t\tudp dport 8472 ct state { new, untracked } accept\n'));
    assert.ok(t.includes('\t\treject with icmpx admin-prohibited\n'));
    assert.ok(firewalldNft({ vxlanProto: 'tcp' }).text.includes('tcp dport 8472 ct state'));
    assert.ok(!firewalldNft({ vxlanProto: 'none' }).text.includes('8472'));
  });
});

describe('kubeProxyNftables', () => {
  const opts = {
    services: 12,
    endpointsPerService: 3,
    nodeIP: '192.168.10.11',
    clusterCIDR: '10.244.0.0/16',
    serviceCIDR: '10.96.0.0/12',
    seed: 9,
    nodePorts: true,
    noEndpointServices: 1,
    externalTrafficPolicyLocal: 2,
    sessionAffinity: 1,
  };
  const r = kubeProxyNftables(opts);

  test('is deterministic', () => {
    assert.equal(kubeProxyNftables(opts).text, r.text);
  });

  test('dispatches through the service-ips verdict map and numgen vmaps', () => {
    assert.ok(r.text.startsWith('table ip kube-proxy {\n\tcomment "rules for kube-proxy"\n'));
    assert.ok(r.text.includes('\tmap service-ips {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n'));
    assert.ok(r.text.includes('\t\tip daddr . meta l4proto . th dport vmap @service-ips\n'));
    r.services.forEach((s, i) => {
      const c = r.chains[i];
      assert.ok(c);
      if (s.endpoints.length === 0) {
        assert.ok(
          r.text.includes(
            `${s.clusterIP} . ${s.protocol} . ${s.port} comment "${s.servicePortName}" : goto reject-chain`,
          ),
        );
        return;
      }
      assert.match(c.service, /^service-[A-Z2-7]{8}-[a-z0-9-]+\/[a-z0-9-]+\/(tcp|udp)\/[a-z0-9-]*$/);
      assert.ok(r.text.includes(`${s.clusterIP} . ${s.protocol} . ${s.port} : goto ${c.service}`));
      const vmap = c.endpoints.map((e, k) => `${k} : goto ${e}`).join(', ');
      assert.ok(r.text.includes(`numgen random mod ${s.endpoints.length} vmap { ${vmap} }`));
      s.endpoints.forEach((ep, k) => {
        assert.ok(r.text.includes(`\tchain ${c.endpoints[k]} {\n\t\tip saddr ${ep.ip} jump mark-for-masquerade\n`));
        assert.ok(r.text.includes(`meta l4proto ${s.protocol} dnat to ${ep.ip}:${ep.port}\n`));
      });
    });
  });
});

describe('all iptables shapes', () => {
  test('chain names fit the kernel limit of 28 characters', () => {
    const texts = [
      flannelShaped({ seed: 1 }).text,
      calicoShaped({ seed: 1, workloads: 5 }).text,
      calicoShaped({ seed: 2, encapsulation: 'vxlan' }).text,
      dockerShaped({ seed: 1, userNetworks: 3 }).text,
      firewalldInputShaped().text,
    ];
    for (const t of texts) for (const m of t.matchAll(/^:(\S+)/gm)) assert.ok((m[1] as string).length <= 28, m[1]);
  });
});
