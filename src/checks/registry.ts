/** Every check netdoctor runs, in the order the catalogue lists them. */
import datapathNotModelled from './datapath-not-modelled.js';
import type { Check } from './define.js';
import ipvsRealServersMismatch from './ipvs-real-servers-mismatch.js';
import kubeProxyKnownBug from './kube-proxy-known-bug.js';
import kubeProxyMissingOnNode from './kube-proxy-missing-on-node.js';
import overlayPortBlocked from './overlay-port-blocked.js';

export const CHECKS: readonly Check[] = [
  overlayPortBlocked,
  ipvsRealServersMismatch,
  kubeProxyMissingOnNode,
  kubeProxyKnownBug,
  datapathNotModelled,
];

export function checkById(id: string): Check | undefined {
  return CHECKS.find((c) => c.id === id);
}
