/**
 * One lab node's whole iptables ruleset, stacked as the components write it on a real node: kube-proxy (iptables mode,
 * rendered from the lab's real services and endpoints), flanneld's forward and masquerade chains, then the host
 * firewall. Loaded with `iptables-restore`, it makes services work for real and reproduces seed 000 when the
 * firewall's VXLAN accept has the wrong protocol.
 */

import { addKubeProxyIptables } from '../synth/kube-proxy-iptables.js';
import type { ClusterModel, EndpointModel, ServiceModel } from '../synth/kube-services.js';
import { SaveDocument } from '../synth/save-writer.js';
import { addFlannel } from '../synth/shapes.js';
import { addLabFirewall, type FirewallLayout, type RuleRef } from './firewall.js';
import type { LabPlan, NodePlan } from './plan.js';

/** A rule with its 1-based position in its chain as `iptables-save` lists it, and the line it prints. */
export interface PlacedRule {
  table: 'filter';
  chain: string;
  index: number;
  /** The rule as iptables-save prints it: `-A CHAIN ...`. */
  text: string;
}

export interface NodeRuleset {
  text: string;
  vxlanAccept: PlacedRule;
  reject: PlacedRule;
}

function inSubnet(ip: string, cidr24: string): boolean {
  return ip.split('.').slice(0, 3).join('.') === cidr24.split('.').slice(0, 3).join('.');
}

/** The lab's services as kube-proxy on `node` sees them (one model entry per service port). */
export function kubeProxyModel(plan: LabPlan, node: NodePlan): ClusterModel {
  const services: ServiceModel[] = [];
  for (const svc of plan.services) {
    for (const port of svc.ports) {
      const protocol = port.protocol === 'UDP' ? 'udp' : 'tcp';
      const endpoints: EndpointModel[] = svc.endpoints
        .map((e) => ({
          ip: e.ip,
          port: port.targetPort,
          // The API server's endpoint has no nodeName, so kube-proxy never counts it as local.
          local: e.pod !== undefined && inSubnet(e.ip, node.podCIDR),
        }))
        .sort((a, b) => {
          const ka = `${a.ip}:${a.port}`;
          const kb = `${b.ip}:${b.port}`;
          return ka < kb ? -1 : ka > kb ? 1 : 0;
        });
      const spn = `${svc.namespace}/${svc.name}:${port.name}`;
      const model: ServiceModel = {
        namespace: svc.namespace,
        name: svc.name,
        portName: port.name,
        servicePortName: spn,
        clusterIP: svc.clusterIP,
        port: port.port,
        protocol,
        targetPort: port.targetPort,
        externalTrafficPolicy: 'Cluster',
        sessionAffinity: 'None',
        endpoints,
      };
      if (port.nodePort !== undefined) model.nodePort = port.nodePort;
      services.push(model);
    }
  }
  return {
    nodeIP: node.ip,
    clusterCIDR: plan.clusterCIDR,
    serviceCIDR: plan.serviceCIDR,
    nodePodCIDR: node.podCIDR,
    services,
  };
}

function place(doc: SaveDocument, ref: RuleRef): PlacedRule {
  const index = doc.table(ref.table).rulesOf(ref.chain).indexOf(ref.spec) + 1;
  if (index === 0) throw new Error(`rule not found in ${ref.chain}: ${ref.spec}`);
  return { table: ref.table, chain: ref.chain, index, text: `-A ${ref.chain} ${ref.spec}` };
}

export function nodeRuleset(
  plan: LabPlan,
  node: NodePlan,
  layout: FirewallLayout,
  vxlanProto: 'udp' | 'tcp',
  opts: { kubeProxy?: boolean } = {},
): NodeRuleset {
  const doc = new SaveDocument();
  // kube-proxy first: it prepends its jumps to the built-in chains. A node without kube-proxy has none of them.
  if (opts.kubeProxy !== false) addKubeProxyIptables(doc, kubeProxyModel(plan, node));
  addFlannel(doc, { network: plan.clusterCIDR, subnet: node.podCIDR });
  const refs = addLabFirewall(doc, layout, vxlanProto);
  return {
    text: doc.render({ backend: 'nft', seed: plan.seed }),
    vxlanAccept: place(doc, refs.vxlan),
    reject: place(doc, refs.reject),
  };
}
