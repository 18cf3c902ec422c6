/**
 * The analysis model of a bundle: Kubernetes objects indexed, and one NodeModel per node snapshot that parses its
 * outputs when first asked (a check that reads only routes never parses 25 MB of iptables-save).
 */
import type { ParseIssue } from '../core/errors.js';
import type { NodeEnv, Ruleset } from '../netfilter/model.js';
import { type InterfaceAddresses, parseIpAddr } from '../parse/ip-addr.js';
import { type Link, parseIpLink } from '../parse/ip-link.js';
import { parseIpRoute } from '../parse/ip-route.js';
import { parseIpRule } from '../parse/ip-rule.js';
import { loadRules, type RulesInput } from '../parse/ruleset.js';
import { parseSysctl } from '../parse/sysctl.js';
import { buildRoutingState, localAddresses, type RoutingState } from '../route/state.js';
import type { Bundle } from '../snapshot/bundle.js';
import type { NodeSnapshot } from '../snapshot/schema.js';
import { fileText, stdoutText } from '../snapshot/text.js';
import { type KubeObject, nodeInternalIp } from './kube.js';
import { detectOverlay, type OverlaySpec } from './overlay.js';

export interface InterfaceAddress {
  ifname: string;
  family: 4 | 6;
  address: string;
  prefixlen: number;
}

/** The iptables and nft dumps of a snapshot, in the order the kernel's hooks see their tables. */
const RULE_SOURCES: { id: string; backend?: RulesInput['backend']; family?: 4 | 6; kind?: RulesInput['kind'] }[] = [
  { id: 'iptables-nft-save', backend: 'iptables-nft', family: 4, kind: 'iptables-save' },
  { id: 'ip6tables-nft-save', backend: 'iptables-nft', family: 6, kind: 'iptables-save' },
  { id: 'iptables-legacy-save', backend: 'iptables-legacy', family: 4, kind: 'iptables-save' },
  { id: 'ip6tables-legacy-save', backend: 'iptables-legacy', family: 6, kind: 'iptables-save' },
  { id: 'nft-ruleset', kind: 'nft-json' },
  { id: 'ipset-save', kind: 'ipset-save' },
];

export class NodeModel {
  readonly issues: ParseIssue[] = [];
  private rules?: { ruleset: Ruleset; env: NodeEnv };
  private addrs?: InterfaceAddress[];
  private route?: RoutingState;

  constructor(
    readonly name: string,
    readonly snapshot: NodeSnapshot,
    /** The file the snapshot came from, for messages. */
    readonly file: string,
    /** The Node object of cluster.json, when there is one. */
    readonly kube: KubeObject | undefined,
  ) {}

  /** stdout of a command when it ran and succeeded; undefined otherwise. */
  output(id: string): string | undefined {
    const c = this.snapshot.commands[id];
    if (!c || c.missing || c.exitCode !== 0) return undefined;
    return stdoutText(c);
  }

  fileContent(path: string): string | undefined {
    const f = this.snapshot.files?.[path];
    return f ? fileText(f) : undefined;
  }

  /** Every netfilter table of the node (both iptables backends, both families, native nft) and its ipsets. */
  get netfilter(): { ruleset: Ruleset; env: NodeEnv } {
    if (!this.rules) {
      const inputs: RulesInput[] = [];
      for (const src of RULE_SOURCES) {
        const text = this.output(src.id);
        // An empty dump (the backend holds nothing) adds nothing.
        if (!text?.trim()) continue;
        inputs.push({
          name: `${this.file}#${src.id}`,
          text,
          ...(src.kind ? { kind: src.kind } : {}),
          ...(src.backend ? { backend: src.backend } : {}),
          ...(src.family ? { family: src.family } : {}),
        });
      }
      const loaded = loadRules(inputs);
      this.issues.push(...loaded.ruleset.issues);
      this.rules = { ruleset: loaded.ruleset, env: { local: this.localAddresses(), ipsets: loaded.ipsets } };
    }
    return this.rules;
  }

  /** Whether any netfilter dump was collected at all. */
  get hasNetfilter(): boolean {
    return RULE_SOURCES.some(
      (s) =>
        s.kind !== 'ipset-save' && this.snapshot.commands[s.id] !== undefined && !this.snapshot.commands[s.id]?.missing,
    );
  }

  get addresses(): InterfaceAddress[] {
    if (!this.addrs) {
      this.addrs = [];
      for (const i of this.interfaces)
        for (const a of i.addresses)
          this.addrs.push({ ifname: i.name, family: a.family, address: a.local, prefixlen: a.prefixlen });
    }
    return this.addrs;
  }

  /** `ip -j addr`: interfaces with their addresses. */
  get interfaces(): InterfaceAddresses[] {
    return this.parse('ip-addr', parseIpAddr)?.interfaces ?? [];
  }

  /** `ip -d -j link`: interfaces with their kind and VXLAN details. */
  get links(): Link[] {
    return this.parse('ip-link', parseIpLink)?.links ?? [];
  }

  get sysctl(): Map<string, string> {
    return this.parse('sysctl', parseSysctl)?.values ?? new Map();
  }

  /** Policy rules and routing tables, for `ip route get` questions. */
  get routing(): RoutingState {
    if (!this.route) {
      const routes = [
        ...(this.parse('ip-route', (t, f) => parseIpRoute(t, f, { family: 4 }))?.routes ?? []),
        ...(this.parse('ip6-route', (t, f) => parseIpRoute(t, f, { family: 6 }))?.routes ?? []),
      ];
      const rules = [
        ...(this.parse('ip-rule', (t, f) => parseIpRule(t, f, { family: 4 }))?.rules ?? []),
        ...(this.parse('ip6-rule', (t, f) => parseIpRule(t, f, { family: 6 }))?.rules ?? []),
      ];
      this.route = buildRoutingState({
        routes,
        rules,
        links: this.links,
        addresses: this.interfaces,
        sysctl: this.sysctl,
        file: this.file,
      });
      this.issues.push(...this.route.issues);
    }
    return this.route;
  }

  /** The node's own addresses (the `local` routing table when collected, else the interface addresses). */
  localAddresses(): Set<string> | undefined {
    if (this.output('ip-route')) return localAddresses(this.routing);
    if (!this.output('ip-addr')) return undefined;
    return new Set(this.addresses.map((a) => a.address));
  }

  private readonly results = new Map<string, unknown>();

  /** Parse a command's output once (undefined when it was not collected); its problems join the node's issues. */
  private parse<R extends { issues: ParseIssue[] }>(
    id: string,
    parser: (text: string, file: string) => R,
  ): R | undefined {
    if (this.results.has(id)) return this.results.get(id) as R | undefined;
    const text = this.output(id);
    const r = text === undefined ? undefined : parser(text, `${this.file}#${id}`);
    if (r) this.issues.push(...r.issues);
    this.results.set(id, r);
    return r;
  }

  /** The interface that holds an address of this node. */
  interfaceOf(address: string): string | undefined {
    return this.addresses.find((a) => a.address === address)?.ifname;
  }

  /** The address other nodes reach this node at: flannel's public-ip, the Node's InternalIP, or the VXLAN local. */
  get nodeIp(): string | undefined {
    const ann = this.kube?.metadata.annotations?.['flannel.alpha.coreos.com/public-ip'];
    return ann ?? (this.kube ? nodeInternalIp(this.kube) : undefined);
  }
}

export class ClusterModel {
  readonly nodes: NodeModel[];
  readonly objects: KubeObject[];
  readonly issues: ParseIssue[];
  private overlayCache?: OverlaySpec | null;

  constructor(readonly bundle: Bundle) {
    this.objects = bundle.objects;
    this.issues = bundle.issues;
    const kubeNodes = new Map(bundle.objects.filter((o) => o.kind === 'Node').map((o) => [o.metadata.name, o]));
    this.nodes = [...bundle.nodes.values()].map(
      (s) => new NodeModel(s.node, s, bundle.nodeFiles.get(s.node) ?? s.node, kubeNodes.get(s.node)),
    );
  }

  ofKind(kind: string): KubeObject[] {
    return this.objects.filter((o) => o.kind === kind);
  }

  configMap(name: string): KubeObject | undefined {
    return this.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
  }

  node(name: string): NodeModel | undefined {
    return this.nodes.find((n) => n.name === name);
  }

  /** The overlay the cluster runs (flannel, Calico, Cilium settings), or null when none is found. */
  get overlay(): OverlaySpec | null {
    if (this.overlayCache === undefined) this.overlayCache = detectOverlay(this);
    return this.overlayCache;
  }

  /** Every parse problem met so far, of the bundle and of the nodes. */
  allIssues(): ParseIssue[] {
    return [...this.issues, ...this.nodes.flatMap((n) => n.issues)];
  }
}
