/**
 * kube-proxy's IPVS mode puts every ClusterIP on kube-ipvs0, a device that stays down; the kernel still answers for
 * those addresses (a host-scope local route is not marked dead with its device). A trace depends on that: asked in a
 * namespace, the kernel and routeGet must agree.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIpAddr } from '../../src/parse/ip-addr.js';
import { parseIpLink } from '../../src/parse/ip-link.js';
import { parseIpRoute } from '../../src/parse/ip-route.js';
import { parseIpRule } from '../../src/parse/ip-rule.js';
import { routeGet } from '../../src/route/get.js';
import { buildRoutingState } from '../../src/route/state.js';
import { needsRoot, nsRun, withNetns } from '../support/netns.js';

test('a local address on a down device is local, as the kernel says', async (t) => {
  if (!needsRoot(t)) return;
  await withNetns('ipvsdown', (ns) => {
    const ip = (...args: string[]) => {
      const r = nsRun(ns, 'ip', args);
      assert.equal(r.status, 0, `ip ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    ip('link', 'set', 'lo', 'up');
    ip('link', 'add', 'kube-ipvs0', 'type', 'bridge');
    ip('addr', 'add', '10.96.0.10/32', 'dev', 'kube-ipvs0');
    ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1');
    ip('addr', 'add', '192.0.2.1/24', 'dev', 'eth0');
    ip('link', 'set', 'eth0', 'up');
    ip('link', 'set', 'eth1', 'up');
    const kernel = ip('route', 'get', '10.96.0.10', 'from', '192.0.2.7', 'iif', 'eth0');
    assert.match(kernel, /^local 10\.96\.0\.10 /);
    const state = buildRoutingState({
      routes: parseIpRoute(ip('-j', 'route', 'show', 'table', 'all'), 'route', { family: 4 }).routes,
      rules: parseIpRule(ip('-j', 'rule', 'show'), 'rule', { family: 4 }).rules,
      links: parseIpLink(ip('-d', '-j', 'link', 'show'), 'link').links,
      addresses: parseIpAddr(ip('-j', 'addr', 'show'), 'addr').interfaces,
      sysctl: new Map(),
      file: 'ns',
    });
    const r = routeGet(state, { dst: '10.96.0.10', src: '192.0.2.7', iif: 'eth0' });
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.equal(r.type, 'local');
  });
});
