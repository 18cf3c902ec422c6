/**
 * The test API server on top of a running lab, as `--live` commands see a cluster: its nodes are the lab's node
 * namespaces, each node's files are the lab's (a root directory the collector pod's hostPath mount of `/` maps to),
 * its daemons are in `ps`, pods of the pod network get namespaces of their own on the lab's cni0 (the fake kubelet),
 * and the permissions are exactly deploy/rbac.yaml's.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { adaptSnapshot, type Lab, labNodeFiles } from '../../src/lab/lab.js';
import type { NodeSnapshot } from '../../src/snapshot/schema.js';
import { type FakeApiOptions, FakeApiServer, kubeconfigFor } from './fake-apiserver.js';
import { RBAC_NAMESPACE, rbacAuthorizer } from './rbac.js';

const TOKEN = 'lab-token';

/** Options for a fake server on the lab; files go under `dir`. */
export function labFakeOptions(lab: Lab, dir: string): FakeApiOptions {
  const setting = lab.state.setting;
  const nodeRoots = new Map<string, string>();
  const nodePath = new Map<string, string>();
  for (const node of lab.plan.nodes) {
    const root = join(dir, 'roots', node.name);
    for (const [path, f] of Object.entries(labNodeFiles(lab.plan, node, setting))) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), f.content);
    }
    nodeRoots.set(node.name, root);
    const stub: NodeSnapshot = {
      schemaVersion: 1,
      kind: 'NodeSnapshot',
      node: node.name,
      collectedAt: '',
      collector: { version: '', transport: 'pod' },
      commands: { processes: { command: 'ps', stdout: '', stderr: '', exitCode: 0 } },
      files: {},
    };
    const ps = adaptSnapshot(lab.plan, node, stub, setting).commands.processes?.stdout ?? '';
    const bin = join(dir, 'bin', node.name);
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'ps'), `#!/bin/sh\ncat <<'EOF'\n${ps}EOF\n`);
    chmodSync(join(bin, 'ps'), 0o755);
    nodePath.set(node.name, bin);
  }
  return {
    objects: [...(lab.clusterList() as { items: FakeApiOptions['objects'] }).items, RBAC_NAMESPACE],
    authorize: rbacAuthorizer(),
    nodeNetns: new Map(lab.plan.nodes.map((n) => [n.name, n.netns])),
    nodeRoots,
    nodePath,
    token: TOKEN,
    labPlan: lab.plan,
  };
}

/** Starts the server; its kubeconfig is written to `dir`/kubeconfig. */
export async function startLabFake(
  opts: FakeApiOptions,
  dir: string,
  name = 'kubeconfig',
): Promise<{ fake: FakeApiServer; kubeconfig: string }> {
  const fake = new FakeApiServer(opts);
  const url = await fake.start();
  const kubeconfig = join(dir, name);
  writeFileSync(kubeconfig, kubeconfigFor(url, opts.token ?? TOKEN, fake.tls.cert));
  return { fake, kubeconfig };
}
