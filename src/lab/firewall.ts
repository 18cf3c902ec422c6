/**
 * The host firewall every lab node gets: a RHEL/CentOS-style INPUT chain like the one in seed 000 (accept
 * established, loopback and ICMP, a list of NEW ports the cluster needs, REJECT the rest), either as firewalld 0.6
 * writes it on iptables (zone chains, the ports in `IN_public_allow`) or flat as iptables-services keeps it. The layout
 * (style, where the VXLAN accept sits among the ports, the reject type) is a parameter so scenarios can vary it; the
 * VXLAN accept's protocol is seed 000's one-word difference. Text is in iptables-save's canonical form.
 */

import type { SaveDocument } from '../synth/save-writer.js';
import { VXLAN_PORT } from './plan.js';

export const REJECT_TYPES = ['icmp-host-prohibited', 'icmp-port-unreachable', 'icmp-admin-prohibited'] as const;
export type RejectWith = (typeof REJECT_TYPES)[number];
export type FirewallStyle = 'firewalld' | 'flat';

export interface FirewallLayout {
  style: FirewallStyle;
  /** How many of the TCP port accepts come before the VXLAN accept (0 = first). */
  vxlanPosition: number;
  rejectWith: RejectWith;
}

/** The TCP ports a Kubernetes node opens: ssh, etcd, API server, kubelet, controller-manager, scheduler, NodePorts. */
export const NODE_TCP_PORTS: readonly (number | readonly [number, number])[] = [
  22,
  [2379, 2380],
  6443,
  10250,
  10257,
  10259,
  [30000, 32767],
];

export const DEFAULT_LAYOUT: FirewallLayout = {
  style: 'firewalld',
  vxlanPosition: NODE_TCP_PORTS.length,
  rejectWith: 'icmp-host-prohibited',
};

/** A rule the firewall wrote: its chain and its text after `-A CHAIN `. */
export interface RuleRef {
  table: 'filter';
  chain: string;
  spec: string;
}

export interface FirewallRefs {
  /** The accept meant for flannel's VXLAN traffic (right or wrong protocol). */
  vxlan: RuleRef;
  /** The final REJECT of INPUT. */
  reject: RuleRef;
}

function portSpec(p: number | readonly [number, number]): string {
  return typeof p === 'number' ? String(p) : `${p[0]}:${p[1]}`;
}

/** Appends the firewall to `doc` (after kube-proxy's and flannel's rules, as they sit on a node). */
export function addLabFirewall(
  doc: SaveDocument,
  layout: FirewallLayout,
  vxlanProto: 'udp' | 'tcp',
  iface = 'eth0',
): FirewallRefs {
  const f = doc.table('filter');
  const reject = `-j REJECT --reject-with ${layout.rejectWith}`;
  const position = Math.max(0, Math.min(layout.vxlanPosition, NODE_TCP_PORTS.length));

  if (layout.style === 'flat') {
    f.add('INPUT', '-m state --state RELATED,ESTABLISHED -j ACCEPT');
    f.add('INPUT', '-p icmp -j ACCEPT');
    f.add('INPUT', '-i lo -j ACCEPT');
    const vxlan = `-p ${vxlanProto} -m conntrack --ctstate NEW -m ${vxlanProto} --dport ${VXLAN_PORT} -j ACCEPT`;
    NODE_TCP_PORTS.forEach((p, i) => {
      if (i === position) f.add('INPUT', vxlan);
      f.add('INPUT', `-p tcp -m conntrack --ctstate NEW -m tcp --dport ${portSpec(p)} -j ACCEPT`);
    });
    if (position >= NODE_TCP_PORTS.length) f.add('INPUT', vxlan);
    f.add('INPUT', reject);
    f.add('FORWARD', reject);
    return {
      vxlan: { table: 'filter', chain: 'INPUT', spec: vxlan },
      reject: { table: 'filter', chain: 'INPUT', spec: reject },
    };
  }

  // firewalld 0.6 on iptables (CentOS 7): the public zone bound to the node's interface.
  f.add('INPUT', '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT');
  f.add('INPUT', '-i lo -j ACCEPT');
  f.add('INPUT', '-j INPUT_direct');
  f.add('INPUT', '-j INPUT_ZONES_SOURCE');
  f.add('INPUT', '-j INPUT_ZONES');
  f.add('INPUT', '-m conntrack --ctstate INVALID -j DROP');
  f.add('INPUT', reject);
  f.add('FORWARD', '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT');
  f.add('FORWARD', '-i lo -j ACCEPT');
  f.add('FORWARD', '-j FORWARD_direct');
  f.add('FORWARD', '-j FORWARD_IN_ZONES_SOURCE');
  f.add('FORWARD', '-j FORWARD_IN_ZONES');
  f.add('FORWARD', '-j FORWARD_OUT_ZONES_SOURCE');
  f.add('FORWARD', '-j FORWARD_OUT_ZONES');
  f.add('FORWARD', '-m conntrack --ctstate INVALID -j DROP');
  f.add('FORWARD', reject);
  f.add('OUTPUT', '-o lo -j ACCEPT');
  f.add('OUTPUT', '-j OUTPUT_direct');
  for (const c of ['INPUT_direct', 'INPUT_ZONES_SOURCE', 'FORWARD_direct', 'FORWARD_IN_ZONES_SOURCE']) f.chain(c);
  for (const c of ['FORWARD_OUT_ZONES_SOURCE', 'OUTPUT_direct', 'IN_public_log', 'IN_public_deny']) f.chain(c);
  for (const c of ['FWDI_public_log', 'FWDI_public_deny', 'FWDI_public_allow']) f.chain(c);
  for (const c of ['FWDO_public_log', 'FWDO_public_deny', 'FWDO_public_allow']) f.chain(c);
  f.add('INPUT_ZONES', `-i ${iface} -g IN_public`);
  f.add('INPUT_ZONES', '-g IN_public');
  f.add('FORWARD_IN_ZONES', `-i ${iface} -g FWDI_public`);
  f.add('FORWARD_IN_ZONES', '-g FWDI_public');
  f.add('FORWARD_OUT_ZONES', `-o ${iface} -g FWDO_public`);
  f.add('FORWARD_OUT_ZONES', '-g FWDO_public');
  for (const zone of ['IN_public', 'FWDI_public', 'FWDO_public']) {
    f.add(zone, `-j ${zone}_log`);
    f.add(zone, `-j ${zone}_deny`);
    f.add(zone, `-j ${zone}_allow`);
    if (zone !== 'FWDO_public') f.add(zone, '-p icmp -j ACCEPT');
  }
  const vxlan = `-p ${vxlanProto} -m ${vxlanProto} --dport ${VXLAN_PORT} -m conntrack --ctstate NEW -j ACCEPT`;
  NODE_TCP_PORTS.forEach((p, i) => {
    if (i === position) f.add('IN_public_allow', vxlan);
    f.add('IN_public_allow', `-p tcp -m tcp --dport ${portSpec(p)} -m conntrack --ctstate NEW -j ACCEPT`);
  });
  if (position >= NODE_TCP_PORTS.length) f.add('IN_public_allow', vxlan);
  return {
    vxlan: { table: 'filter', chain: 'IN_public_allow', spec: vxlan },
    reject: { table: 'filter', chain: 'INPUT', spec: reject },
  };
}
