/**
 * A scenario's setting applied to what the collector and `cluster.json` show: NetworkManager's files and `nmcli`
 * output, a kubelet cluster domain, flannel with an etcd backend (no kube-subnet-manager annotations, no node pod
 * CIDRs, flanneld's etcd flags) and nodes without kube-proxy (no pod, no process). Pure.
 */

import { FLANNEL_ETCD_PREFIX } from './faults.js';
import type { LabPlan, NodePlan } from './plan.js';
import type { ScenarioSetting } from './scenarios.js';

// biome-ignore lint/suspicious/noExplicitAny: walking untyped Kubernetes JSON
type Item = Record<string, any>;

/** The etcd endpoint flanneld uses in the lab: the control-plane node's address. */
export function etcdEndpoint(plan: LabPlan): string {
  const master = plan.nodes.find((n) => n.controlPlane) ?? plan.nodes[0];
  return `http://${master?.ip ?? '127.0.0.1'}:2379`;
}

/** flanneld's arguments under the setting. */
export function flannelArgs(plan: LabPlan, setting: ScenarioSetting | undefined): string[] {
  return setting?.flannelEtcd
    ? ['--ip-masq', `--etcd-endpoints=${etcdEndpoint(plan)}`, `--etcd-prefix=${FLANNEL_ETCD_PREFIX}`]
    : ['--ip-masq', '--kube-subnet-mgr'];
}

/** The lab's cluster List with the setting applied (a new object; the input is not changed). */
export function applySettingToCluster(list: Item, plan: LabPlan, setting: ScenarioSetting | undefined): Item {
  if (!setting) return list;
  const out = structuredClone(list) as Item;
  const items = out.items as Item[];
  const noProxy = new Set(setting.noKubeProxy);
  if (setting.flannelEtcd) {
    for (const node of items.filter((i) => i.kind === 'Node')) {
      const a = node.metadata.annotations as Record<string, string>;
      for (const k of Object.keys(a)) if (k.startsWith('flannel.alpha.coreos.com/')) delete a[k];
      // With flannel's etcd backend the controller manager allocates no node CIDRs.
      delete node.spec.podCIDR;
      delete node.spec.podCIDRs;
    }
    const args = flannelArgs(plan, setting);
    for (const i of items) {
      const spec = i.kind === 'Pod' ? i.spec : i.kind === 'DaemonSet' ? i.spec?.template?.spec : undefined;
      for (const c of (spec?.containers ?? []) as Item[]) if (c.name === 'kube-flannel') c.args = [...args];
    }
    out.items = items.filter((i) => !(i.kind === 'ConfigMap' && i.metadata.name === 'kube-flannel-cfg'));
  }
  if (noProxy.size) {
    out.items = (out.items as Item[]).filter(
      (i) => !(i.kind === 'Pod' && i.metadata.labels?.['k8s-app'] === 'kube-proxy' && noProxy.has(i.spec.nodeName)),
    );
    const ds = (out.items as Item[]).find((i) => i.kind === 'DaemonSet' && i.metadata.name === 'kube-proxy');
    if (ds) {
      // kube-proxy's DaemonSet keeps off the control plane, as in clusters whose masters never ran it.
      ds.spec.template.spec.affinity = {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'DoesNotExist' }] },
            ],
          },
        },
      };
      const n = plan.nodes.length - noProxy.size;
      for (const k of [
        'currentNumberScheduled',
        'desiredNumberScheduled',
        'numberAvailable',
        'numberReady',
        'updatedNumberScheduled',
      ])
        ds.status[k] = n;
    }
  }
  return out;
}

/** The daemons of a lab node as `ps -o pid,args -C ...` prints them, under the setting. */
export function labProcesses(plan: LabPlan, node: NodePlan, setting: ScenarioSetting | undefined): string {
  const lines = [
    '    PID COMMAND',
    '      1 /usr/lib/systemd/systemd --switched-root --system --deserialize 31',
    ...(setting?.daemons[node.name] ?? []),
    '    911 /usr/bin/containerd',
    '   1032 /usr/bin/kubelet --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf --config=/var/lib/kubelet/config.yaml --container-runtime-endpoint=unix:///var/run/containerd/containerd.sock --pod-infra-container-image=registry.k8s.io/pause:3.9',
  ];
  if (!setting?.noKubeProxy.includes(node.name))
    lines.push(
      `   1544 /usr/local/bin/kube-proxy --config=/var/lib/kube-proxy/config.conf --hostname-override=${node.name}`,
    );
  lines.push(`   1687 /opt/bin/flanneld ${flannelArgs(plan, setting).join(' ')}`);
  return `${lines.join('\n')}\n`;
}
