/**
 * The analysis model of a bundle: Kubernetes objects indexed, and one NodeModel per node snapshot that parses its
 * outputs when first asked (a check that reads only routes never parses 25 MB of iptables-save).
 */
import type { ParseIssue } from '../core/errors.js';
import { normalizeIp } from '../core/ip.js';
import type { NodeEnv, Ruleset } from '../netfilter/model.js';
import { loadRules, type RulesInput } from '../parse/ruleset.js';
import type { Bundle } from '../snapshot/bundle.js';
import type { NodeSnapshot } from '../snapshot/schema.js';
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
    return c.stdout;
  }

  fileContent(path: string): string | undefined {
    return this.snapshot.files?.[path]?.content;
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
      const text = this.output('ip-addr');
      if (text) {
        try {
          for (const link of JSON.parse(text) as {
            ifname: string;
            addr_info?: { family: string; local: string; prefixlen: number }[];
          }[])
            for (const a of link.addr_info ?? [])
              if (a.family === 'inet' || a.family === 'inet6')
                this.addrs.push({
                  ifname: link.ifname,
                  family: a.family === 'inet' ? 4 : 6,
                  address: normalizeIp(a.local) ?? a.local,
                  prefixlen: a.prefixlen,
                });
        } catch (e) {
          this.issues.push({
            file: `${this.file}#ip-addr`,
            line: 1,
            severity: 'error',
            message: `ip -j addr output is not JSON: ${(e as Error).message}`,
          });
        }
      }
    }
    return this.addrs;
  }

  localAddresses(): Set<string> | undefined {
    if (!this.output('ip-addr')) return undefined;
    return new Set(this.addresses.map((a) => a.address));
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
