/**
 * The Kubernetes objects of a bundle's `cluster.json` (a `List`, as `kubectl get ... -o json` prints it), typed as far
 * as netdoctor reads them. Everything else in the objects is kept but not typed.
 */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  ownerReferences?: { kind: string; name: string }[];
}

export interface KubeObject {
  apiVersion?: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  data?: Record<string, string>;
  [key: string]: unknown;
}

export interface KubeList {
  apiVersion: string;
  kind: 'List';
  items: KubeObject[];
}

export interface NodeAddress {
  type: string;
  address: string;
}

/** `namespace/name` of a namespaced object, `name` of a cluster-scoped one. */
export function objectRef(o: KubeObject): string {
  return o.metadata.namespace
    ? `${o.kind.toLowerCase()}/${o.metadata.namespace}/${o.metadata.name}`
    : `${o.kind.toLowerCase()}/${o.metadata.name}`;
}

/** The node's InternalIP (else the first address). */
export function nodeInternalIp(node: KubeObject): string | undefined {
  const addrs = (node.status?.addresses ?? []) as NodeAddress[];
  return (addrs.find((a) => a.type === 'InternalIP') ?? addrs[0])?.address;
}
