/**
 * Synthetic rulesets and packets for tests and benchmarks: every generator is a pure function of its options and a
 * numeric seed, and writes text in the form the real tools print (`iptables-save`, `nft list ruleset`, `ipset save`).
 */

export {
  endpointChainName,
  nftEndpointChainBase,
  nftServiceChainBase,
  serviceChainName,
  servicePortName,
  sha256Base32,
  statisticProbability,
} from './kube-hash.js';
export {
  addKubeProxyIptables,
  type KubeProxyIptablesOptions,
  type KubeProxyIptablesResult,
  kubeProxyIptablesSave,
  renderKubeProxyIptables,
  type ServiceChains,
} from './kube-proxy-iptables.js';
export {
  buildCluster,
  type ClusterModel,
  type ClusterOptions,
  type EndpointModel,
  type ServiceModel,
} from './kube-services.js';
export {
  type FirewalldNftOptions,
  firewalldNft,
  type KubeProxyNftOptions,
  type KubeProxyNftResult,
  kubeProxyNftables,
  NftTable,
  renderKubeProxyNft,
} from './nft-shapes.js';
export {
  type BoundaryPacketsOptions,
  type BoundaryPacketsResult,
  boundaryPackets,
  extractRuleFacts,
  type Packet,
  type PacketBatch,
  type PacketPath,
  type PacketProto,
  tokenizeRule,
} from './packets.js';
export { Random } from './random.js';
export {
  type RandomRulesetOptions,
  type RandomRulesetResult,
  randomRuleset,
  SYNTH_INTERFACES,
  SYNTH_NETWORKS,
} from './random-ruleset.js';
export { type Backend, comment, SaveDocument, SaveTable, saveString, type TableName } from './save-writer.js';
export {
  addCalico,
  addDocker,
  addFirewalldInput,
  addFlannel,
  type CalicoOptions,
  type CalicoResult,
  calicoShaped,
  type DockerOptions,
  dockerShaped,
  type FirewalldInputOptions,
  type FlannelOptions,
  firewalldInputShaped,
  flannelShaped,
} from './shapes.js';
