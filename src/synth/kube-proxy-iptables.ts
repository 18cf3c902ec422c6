/**
 * kube-proxy (iptables mode, v1.28+) rules as `iptables-save` prints them on a node after a full sync: the filter
 * and nat chains kube-proxy writes (pkg/proxy/iptables/proxier.go syncProxyRules), the jump rules it prepends to the
 * built-in chains, kubelet's KUBE-FIREWALL and the canary chains. Text is in iptables-save's canonical form (matches
 * reordered after -s/-d/-p, MARK printed as --set-xmark, the statistic probability as stored), so loading it and
 * saving it again gives the same rules back.
 */

import { endpointChainName, serviceChainName, statisticProbability } from './kube-hash.js';
import { buildCluster, type ClusterModel, type ClusterOptions, type ServiceModel } from './kube-services.js';
import { type Backend, comment, SaveDocument, type SaveTable } from './save-writer.js';

export type { ClusterModel, EndpointModel, ServiceModel } from './kube-services.js';

export interface KubeProxyIptablesOptions extends ClusterOptions {
  /**
   * Drop the per-endpoint comments as kube-proxy does above 1000 endpoints. `false` (default) keeps them, as on
   * smaller clusters and older versions; `'auto'` follows kube-proxy's threshold.
   */
  largeClusterMode?: boolean | 'auto';
  /** nf_conntrack_tcp_be_liberal set: kube-proxy then omits the INVALID drop in KUBE-FORWARD. Default false. */
  conntrackTCPLiberal?: boolean;
  /** --iptables-localhost-nodeports (default true); false adds `! -d 127.0.0.0/8` to the nodeports jump. */
  localhostNodePorts?: boolean;
  /** MASQUERADE --random-fully (default true, iptables >= 1.6.2). */
  randomFully?: boolean;
  /** --iptables-masquerade-bit, default 14 (mark 0x4000). */
  masqueradeBit?: number;
  /** Which iptables-save wrote the text (header comment and table order). Default 'nft'. */
  backend?: Backend;
}

export interface KubeProxyIptablesResult extends ClusterModel {
  text: string;
  /** Chain names per service, same order as `services`. */
  chains: ServiceChains[];
}

export interface ServiceChains {
  svc: string;
  svl: string;
  ext: string;
  /** KUBE-SEP chain per endpoint, same order as the service's endpoints. */
  sep: string[];
}

const LARGE_CLUSTER_ENDPOINTS = 1000;

export function kubeProxyIptablesSave(opts: KubeProxyIptablesOptions): KubeProxyIptablesResult {
  const model = buildCluster(opts);
  const { text, chains } = renderKubeProxyIptables(model, opts);
  return { ...model, text, chains };
}

export type KubeProxyRenderOptions = Omit<KubeProxyIptablesOptions, keyof ClusterOptions> & { seed?: number };

/** Renders an existing cluster model (e.g. one shared with the nftables-mode generator). */
export function renderKubeProxyIptables(
  model: ClusterModel,
  opts: KubeProxyRenderOptions = {},
): { text: string; chains: ServiceChains[] } {
  const doc = new SaveDocument();
  const chains = addKubeProxyIptables(doc, model, opts);
  return { text: doc.render({ backend: opts.backend, seed: opts.seed }), chains };
}

/**
 * Writes kube-proxy's rules into `doc`, so they can be stacked with other shapes (flannel, a host firewall) into one
 * node's ruleset. Call it first: kube-proxy's jumps sit at the top of the built-in chains.
 */
export function addKubeProxyIptables(
  doc: SaveDocument,
  model: ClusterModel,
  opts: KubeProxyRenderOptions = {},
): ServiceChains[] {
  const mark = (1 << (opts.masqueradeBit ?? 14)) >>> 0;
  const markHex = `0x${mark.toString(16)}`;
  const markMask = `${markHex}/${markHex}`;
  const localhostNodePorts = opts.localhostNodePorts ?? true;
  const totalEndpoints = model.services.reduce((n, s) => n + s.endpoints.length, 0);
  const largeCluster =
    opts.largeClusterMode === 'auto' ? totalEndpoints > LARGE_CLUSTER_ENDPOINTS : opts.largeClusterMode === true;

  const mangle = doc.table('mangle');
  const filter = doc.table('filter');
  const nat = doc.table('nat');

  // Chains kubelet and kube-proxy create for themselves.
  for (const c of ['KUBE-IPTABLES-HINT', 'KUBE-KUBELET-CANARY', 'KUBE-PROXY-CANARY']) mangle.chain(c);
  for (const c of ['KUBE-KUBELET-CANARY', 'KUBE-PROXY-CANARY']) {
    filter.chain(c);
    nat.chain(c);
  }
  for (const c of ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FORWARD', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL'])
    filter.chain(c);
  for (const c of ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ']) nat.chain(c);

  // Jump rules: kubelet appended KUBE-FIREWALL first; kube-proxy then prepends its jumps one by one (so they end up
  // in reverse order of its list, above kubelet's).
  const ctNew = '-m conntrack --ctstate NEW';
  const lbFirewall = `${ctNew} ${comment('kubernetes load balancer firewall')} -j KUBE-PROXY-FIREWALL`;
  const extPortals = `${ctNew} ${comment('kubernetes externally-visible service portals')} -j KUBE-EXTERNAL-SERVICES`;
  const portals = `${ctNew} ${comment('kubernetes service portals')} -j KUBE-SERVICES`;
  filter.add('INPUT', lbFirewall);
  filter.add('INPUT', `${comment('kubernetes health check service ports')} -j KUBE-NODEPORTS`);
  filter.add('INPUT', extPortals);
  filter.add('INPUT', '-j KUBE-FIREWALL');
  filter.add('FORWARD', lbFirewall);
  filter.add('FORWARD', `${comment('kubernetes forwarding rules')} -j KUBE-FORWARD`);
  filter.add('FORWARD', portals);
  filter.add('FORWARD', extPortals);
  filter.add('OUTPUT', lbFirewall);
  filter.add('OUTPUT', portals);
  filter.add('OUTPUT', '-j KUBE-FIREWALL');
  filter.add(
    'KUBE-FIREWALL',
    `! -s 127.0.0.0/8 -d 127.0.0.0/8 ${comment('block incoming localnet connections')} -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`,
  );
  nat.add('PREROUTING', `${comment('kubernetes service portals')} -j KUBE-SERVICES`);
  nat.add('OUTPUT', `${comment('kubernetes service portals')} -j KUBE-SERVICES`);
  nat.add('POSTROUTING', `${comment('kubernetes postrouting rules')} -j KUBE-POSTROUTING`);

  nat.add('KUBE-POSTROUTING', `-m mark ! --mark ${markMask} -j RETURN`);
  nat.add('KUBE-POSTROUTING', `-j MARK --set-xmark ${markHex}/0x0`);
  nat.add(
    'KUBE-POSTROUTING',
    `${comment('kubernetes service traffic requiring SNAT')} -j MASQUERADE${opts.randomFully === false ? '' : ' --random-fully'}`,
  );
  nat.add('KUBE-MARK-MASQ', `-j MARK --set-xmark ${markMask}`);

  const chains: ServiceChains[] = [];
  for (const svc of model.services) chains.push(writeService(svc, model, filter, nat, largeCluster));

  const nodePortsDst = localhostNodePorts ? '' : ' ! -d 127.0.0.0/8';
  nat.add(
    'KUBE-SERVICES',
    `${nodePortsDst ? `${nodePortsDst.trim()} ` : ''}${comment('kubernetes service nodeports; NOTE: this must be the last rule in this chain')} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`,
  );

  if (!opts.conntrackTCPLiberal) filter.add('KUBE-FORWARD', '-m conntrack --ctstate INVALID -j DROP');
  filter.add('KUBE-FORWARD', `${comment('kubernetes forwarding rules')} -m mark --mark ${markMask} -j ACCEPT`);
  filter.add(
    'KUBE-FORWARD',
    `${comment('kubernetes forwarding conntrack rule')} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
  );

  return chains;
}

function writeService(
  svc: ServiceModel,
  model: ClusterModel,
  filter: SaveTable,
  nat: SaveTable,
  largeCluster: boolean,
): ServiceChains {
  const proto = svc.protocol;
  const spn = svc.servicePortName;
  const svcChain = serviceChainName('KUBE-SVC-', spn, proto);
  const svlChain = serviceChainName('KUBE-SVL-', spn, proto);
  const extChain = serviceChainName('KUBE-EXT-', spn, proto);
  const sepChains = svc.endpoints.map((e) => endpointChainName(spn, proto, `${e.ip}:${e.port}`));
  const result: ServiceChains = { svc: svcChain, svl: svlChain, ext: extChain, sep: sepChains };

  const hasEndpoints = svc.endpoints.length > 0;
  const etpLocal = svc.externalTrafficPolicy === 'Local';
  const localIdx = svc.endpoints.flatMap((e, i) => (e.local ? [i] : []));
  const hasExternalEndpoints = hasEndpoints && (!etpLocal || localIdx.length > 0);
  const usesExt = hasEndpoints && svc.nodePort !== undefined;
  const usesSvl = etpLocal && localIdx.length > 0;
  const dportMatch = (port: number) => `-m ${proto} --dport ${port}`;
  const dst = `-d ${svc.clusterIP}/32 -p ${proto}`;
  const clusterIPComment = comment(`${spn} cluster IP`);

  let externalFilter: { target: string; comment: string } | undefined;
  if (!hasEndpoints) {
    const c = `${spn} has no endpoints`;
    filter.add(
      'KUBE-SERVICES',
      `${dst} ${comment(c)} ${dportMatch(svc.port)} -j REJECT --reject-with icmp-port-unreachable`,
    );
    externalFilter = { target: 'REJECT --reject-with icmp-port-unreachable', comment: c };
  } else {
    nat.add('KUBE-SERVICES', `${dst} ${clusterIPComment} ${dportMatch(svc.port)} -j ${svcChain}`);
    if (!hasExternalEndpoints) externalFilter = { target: 'DROP', comment: `${spn} has no local endpoints` };
  }

  if (svc.nodePort !== undefined) {
    if (hasEndpoints) {
      nat.add('KUBE-NODEPORTS', `-p ${proto} ${comment(spn)} ${dportMatch(svc.nodePort)} -j ${extChain}`);
    }
    if (externalFilter) {
      filter.add(
        'KUBE-EXTERNAL-SERVICES',
        `-p ${proto} ${comment(externalFilter.comment)} -m addrtype --dst-type LOCAL ${dportMatch(svc.nodePort)} -j ${externalFilter.target}`,
      );
    }
  }
  if (svc.healthCheckNodePort !== undefined) {
    filter.add(
      'KUBE-NODEPORTS',
      `-p tcp ${comment(`${spn} health check node port`)} -m tcp --dport ${svc.healthCheckNodePort} -j ACCEPT`,
    );
  }
  if (!hasEndpoints) return result;

  // Internal traffic: masquerade what does not come from a pod, then pick an endpoint.
  nat.add(svcChain, `! -s ${model.clusterCIDR} ${dst} ${clusterIPComment} ${dportMatch(svc.port)} -j KUBE-MARK-MASQ`);

  if (usesExt) {
    nat.chain(extChain);
    if (!etpLocal) {
      nat.add(extChain, `${comment(`masquerade traffic for ${spn} external destinations`)} -j KUBE-MARK-MASQ`);
    } else {
      nat.add(
        extChain,
        `-s ${model.clusterCIDR} ${comment(`pod traffic for ${spn} external destinations`)} -j ${svcChain}`,
      );
      nat.add(
        extChain,
        `${comment(`masquerade LOCAL traffic for ${spn} external destinations`)} -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
      );
      nat.add(
        extChain,
        `${comment(`route LOCAL traffic for ${spn} external destinations`)} -m addrtype --src-type LOCAL -j ${svcChain}`,
      );
    }
    if (hasExternalEndpoints) nat.add(extChain, `-j ${etpLocal ? svlChain : svcChain}`);
  }

  const allIdx = svc.endpoints.map((_, i) => i);
  writeEndpointDispatch(nat, svcChain, svc, sepChains, allIdx, largeCluster);
  if (usesSvl) writeEndpointDispatch(nat, svlChain, svc, sepChains, localIdx, largeCluster);

  const c = largeCluster ? '' : `${comment(spn)} `;
  svc.endpoints.forEach((ep, i) => {
    const sep = sepChains[i] as string;
    nat.add(sep, `-s ${ep.ip}/32 ${c}-j KUBE-MARK-MASQ`);
    const recent =
      svc.sessionAffinity === 'ClientIP' ? `-m recent --set --name ${sep} --mask 255.255.255.255 --rsource ` : '';
    nat.add(sep, `-p ${proto} ${c}${recent}-m ${proto} -j DNAT --to-destination ${ep.ip}:${ep.port}`);
  });
  return result;
}

function writeEndpointDispatch(
  nat: SaveTable,
  chain: string,
  svc: ServiceModel,
  sepChains: readonly string[],
  indexes: readonly number[],
  largeCluster: boolean,
): void {
  nat.chain(chain);
  const epComment = (i: number) => {
    const ep = svc.endpoints[i];
    return largeCluster || !ep ? '' : `${comment(`${svc.servicePortName} -> ${ep.ip}:${ep.port}`)} `;
  };
  if (svc.sessionAffinity === 'ClientIP') {
    for (const i of indexes) {
      const sep = sepChains[i] as string;
      nat.add(
        chain,
        `${epComment(i)}-m recent --rcheck --seconds 10800 --reap --name ${sep} --mask 255.255.255.255 --rsource -j ${sep}`,
      );
    }
  }
  const n = indexes.length;
  indexes.forEach((i, k) => {
    const stat = k < n - 1 ? `-m statistic --mode random --probability ${statisticProbability(n - k)} ` : '';
    nat.add(chain, `${epComment(i)}${stat}-j ${sepChains[i]}`);
  });
}
