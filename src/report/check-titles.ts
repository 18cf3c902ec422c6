/**
 * Each check's title in the report's language. A finding's own title and detail name this cluster's nodes, rules and
 * addresses and stay as the check wrote them (English); under `--lang zh` the check's title comes first in Chinese,
 * so the reader knows what kind of fault it is before the specifics.
 */
import type { Lang } from './i18n.js';

const ZH: Record<string, string> = {
  'overlay-port-blocked': '节点之间的覆盖网络报文被防火墙丢弃',
  'ip-forward-disabled': '节点未开启 IPv4 转发',
  'bridge-netfilter-disabled': '网桥上的 Pod 流量绕过了 iptables（bridge-nf-call-iptables 未开启）',
  'forward-policy-drop': 'FORWARD 链丢弃了节点间的 Pod 流量',
  'pod-cidr-overlap': 'Pod 网段与主机网络、Service 网段或其他节点重叠',
  'flannel-lease-missing': '节点运行 flannel 但没有租约',
  'bridge-subnet-mismatch': 'Pod 网桥不在节点的 flannel 子网上',
  'overlay-route-missing': '节点缺少到其他节点 Pod 的路由',
  'overlay-route-stale': '节点把 Pod 地址路由到了错误的方向，或路由到无人拥有的 Pod 子网',
  'overlay-address-hijacked': '覆盖网络设备的地址或 Pod 地址被外来的路由占用',
  'vxlan-peer-mismatch': 'flannel.1 的邻居或 fdb 表项与对端的 VTEP 不一致',
  'networkmanager-manages-cni': 'NetworkManager 接管了 CNI 的网络设备',
  'mtu-mismatch': '覆盖网络的 MTU 在底层网络上放不下封装头',
  'rp-filter-strict': '严格的反向路径过滤（rp_filter）丢弃了非对称的覆盖网络流量',
  'ipvs-real-servers-mismatch': 'IPVS 的真实服务器与 Service 的 endpoints 不一致',
  'kube-proxy-missing-on-node': '节点上没有运行 kube-proxy：从该节点访问 ClusterIP 不通',
  'kube-proxy-known-bug': 'kube-proxy 的版本有已知的网络缺陷',
  'datapath-not-modelled': '部分数据路径运行在 eBPF（或其他代理）中，netdoctor 未建模',
  'cluster-dns-unreachable': 'Pod 无法访问集群 DNS',
  'dns-fallback-nameserver': '集群 DNS 失败时 Pod 回退到外部域名服务器',
  'cluster-domain-mismatch': '域名使用的集群域与集群 DNS 所服务的不一致',
  'conntrack-table-full': '节点的 conntrack 表已满：新连接被丢弃',
  'conntrack-insert-failed': 'conntrack 插入竞争导致丢包（DNS 解析耗时 5 秒）',
  'service-selector-matches-nothing': 'Service 的选择器没有匹配到任何 Pod',
  'service-no-ready-endpoints': 'Service 的 endpoints 全部未就绪',
  'service-target-port-mismatch': 'Service 的 targetPort 不是其 Pod 声明的端口',
  'service-external-traffic-local': 'externalTrafficPolicy: Local 的 NodePort/LoadBalancer Service 只在部分节点上应答',
};

const TITLES: Record<Lang, Record<string, string>> = { en: {}, zh: ZH };

/** The check's title in `lang` when the report's language is not the checks' own; undefined in English. */
export function checkTitle(lang: Lang, check: string): string | undefined {
  return TITLES[lang][check];
}

/** Every check title of a language, for the HTML report's script. */
export function checkTitles(lang: Lang): Record<string, string> {
  return TITLES[lang];
}
