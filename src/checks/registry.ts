/** Every check netdoctor runs, in the order the catalogue lists them. */
import clusterDnsUnreachable from './cluster-dns-unreachable.js';
import clusterDomainMismatch from './cluster-domain-mismatch.js';
import conntrackInsertFailed from './conntrack-insert-failed.js';
import conntrackTableFull from './conntrack-table-full.js';
import datapathNotModelled from './datapath-not-modelled.js';
import type { Check } from './define.js';
import dnsFallbackNameserver from './dns-fallback-nameserver.js';
import ipvsRealServersMismatch from './ipvs-real-servers-mismatch.js';
import kubeProxyKnownBug from './kube-proxy-known-bug.js';
import kubeProxyMissingOnNode from './kube-proxy-missing-on-node.js';
import overlayPortBlocked from './overlay-port-blocked.js';
import serviceExternalTrafficLocal from './service-external-traffic-local.js';
import serviceNoReadyEndpoints from './service-no-ready-endpoints.js';
import serviceSelectorMatchesNothing from './service-selector-matches-nothing.js';
import serviceTargetPortMismatch from './service-target-port-mismatch.js';

export const CHECKS: readonly Check[] = [
  overlayPortBlocked,
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
