/** The library and the service checks on a bundle the lab made from a real cluster in namespaces (examples/seed-000). */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCheck } from '../../src/checks/define.js';
import serviceExternalTrafficLocal from '../../src/checks/service-external-traffic-local.js';
import serviceNoReadyEndpoints from '../../src/checks/service-no-ready-endpoints.js';
import serviceSelectorMatchesNothing from '../../src/checks/service-selector-matches-nothing.js';
import serviceTargetPortMismatch from '../../src/checks/service-target-port-mismatch.js';
import { evaluatePolicies, ipPeer, podPeer } from '../../src/kube/networkpolicy.js';
import { kubeIndex, podByIp } from '../../src/kube/objects.js';
import { listServices, resolveService, serviceByIp, serviceByNodePort, serviceState } from '../../src/kube/services.js';
import { ClusterModel } from '../../src/model/cluster.js';
import { loadBundle } from '../../src/snapshot/bundle.js';
import { repoRoot } from '../support/paths.js';

const cluster = new ClusterModel(loadBundle(join(repoRoot, 'examples', 'seed-000')));

test('lab bundle: every Service resolves with ready endpoints on the pods its selector matches', () => {
  const services = listServices(cluster);
  assert.ok(services.length >= 3);
  for (const svc of services) {
    const r = resolveService(cluster, svc.namespace, svc.name);
    assert.equal(serviceState(r).state, 'ok', `${svc.namespace}/${svc.name}`);
    for (const port of r.ports) {
      assert.ok(port.endpoints.length > 0, `${svc.name} ${port.port}`);
      for (const e of port.endpoints) {
        assert.ok(e.ready && e.port !== undefined, JSON.stringify(e));
        // the API server's endpoint (service kubernetes) names no pod and no node; every other one does
        assert.equal(!!e.pod, !!e.nodeName, JSON.stringify(e));
        // an endpoint that names a pod is that pod's IP on that pod's node
        if (e.pod) {
          assert.ok(e.pod.ips.includes(e.ip));
          assert.equal(e.pod.nodeName, e.nodeName);
          assert.equal(podByIp(cluster, e.ip)?.name, e.pod.name);
        }
      }
      // every selected pod is an endpoint of the port, at its resolved target port
      for (const t of port.targets)
        assert.ok(
          port.endpoints.some((e) => e.ip === t.pod.ip && e.port === t.port),
          `${svc.name}:${port.port} ${t.pod.name}`,
        );
    }
    for (const ip of svc.clusterIPs) assert.equal(serviceByIp(cluster, ip)?.service.name, svc.name);
    for (const p of svc.ports)
      if (p.nodePort !== undefined)
        assert.equal(serviceByNodePort(cluster, p.nodePort, p.protocol)?.service.name, svc.name);
  }
});

test('lab bundle: no policies, so every pod pair is allowed; node addresses are IP peers', () => {
  const pods = kubeIndex(cluster).pods.filter((p) => !p.hostNetwork && p.ip);
  assert.ok(pods.length >= 2);
  const [a, b] = pods;
  assert.ok(a && b);
  assert.equal(evaluatePolicies(cluster, podPeer(cluster, a), podPeer(cluster, b), 8080, 'TCP').allowed, true);
  const hostIP = a.hostIP;
  assert.ok(hostIP);
  const peer = ipPeer(cluster, hostIP);
  assert.equal(peer.kind, 'ip');
  assert.equal(peer.kind === 'ip' && peer.node, a.nodeName);
});

test('lab bundle: the service checks stay quiet on healthy Services', () => {
  for (const check of [
    serviceSelectorMatchesNothing,
    serviceNoReadyEndpoints,
    serviceTargetPortMismatch,
    serviceExternalTrafficLocal,
  ])
    assert.deepEqual(runCheck(check, cluster), [], check.id);
});
