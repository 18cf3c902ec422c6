/** Every check netdoctor runs, in the order the catalogue lists them. */
import bridgeNetfilterDisabled from './bridge-netfilter-disabled.js';
import bridgeSubnetMismatch from './bridge-subnet-mismatch.js';
import clusterDnsUnreachable from './cluster-dns-unreachable.js';
import clusterDomainMismatch from './cluster-domain-mismatch.js';
import conntrackInsertFailed from './conntrack-insert-failed.js';
import conntrackTableFull from './conntrack-table-full.js';
import datapathNotModelled from './datapath-not-modelled.js';
import type { Check } from './define.js';
import dnsFallbackNameserver from './dns-fallback-nameserver.js';
import flannelLeaseMissing from './flannel-lease-missing.js';
import forwardPolicyDrop from './forward-policy-drop.js';
import ipForwardDisabled from './ip-forward-disabled.js';
import ipvsRealServersMismatch from './ipvs-real-servers-mismatch.js';
import kubeProxyKnownBug from './kube-proxy-known-bug.js';
import kubeProxyMissingOnNode from './kube-proxy-missing-on-node.js';
import mtuMismatch from './mtu-mismatch.js';
import networkmanagerManagesCni from './networkmanager-manages-cni.js';
import overlayAddressHijacked from './overlay-address-hijacked.js';
import overlayPortBlocked from './overlay-port-blocked.js';
import overlayRouteMissing from './overlay-route-missing.js';
import overlayRouteStale from './overlay-route-stale.js';
import podCidrOverlap from './pod-cidr-overlap.js';
import rpFilterStrict from './rp-filter-strict.js';
import serviceExternalTrafficLocal from './service-external-traffic-local.js';
import serviceNoReadyEndpoints from './service-no-ready-endpoints.js';
import serviceSelectorMatchesNothing from './service-selector-matches-nothing.js';
import serviceTargetPortMismatch from './service-target-port-mismatch.js';
import vxlanPeerMismatch from './vxlan-peer-mismatch.js';

export const CHECKS: readonly Check[] = [
  overlayPortBlocked,
  ipForwardDisabled,
  bridgeNetfilterDisabled,
  forwardPolicyDrop,
  podCidrOverlap,
  flannelLeaseMissing,
  bridgeSubnetMismatch,
  overlayRouteMissing,
  overlayRouteStale,
  overlayAddressHijacked,
  vxlanPeerMismatch,
  networkmanagerManagesCni,
  mtuMismatch,
  rpFilterStrict,
  ipvsRealServersMismatch,
  kubeProxyMissingOnNode,
  kubeProxyKnownBug,
  datapathNotModelled,
  clusterDnsUnreachable,
  dnsFallbackNameserver,
  clusterDomainMismatch,
  conntrackTableFull,
  conntrackInsertFailed,
  serviceSelectorMatchesNothing,
  serviceNoReadyEndpoints,
  serviceTargetPortMismatch,
  serviceExternalTrafficLocal,
];

export function checkById(id: string): Check | undefined {
  return CHECKS.find((c) => c.id === id);
}
