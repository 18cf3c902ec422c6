/**
 * The cluster objects of a bundle, read from the API server (DESIGN §2): nodes, pods, services, endpoints,
 * endpointslices, networkpolicies, daemonsets and only the named networking ConfigMaps (each one read by name, never a
 * list of all ConfigMaps, which would pull users' data into bug reports). Lists are paginated (`limit`/`continue`);
 * an expired continue token (410) restarts that list once. A server without EndpointSlices (before 1.17; v1beta1
 * until 1.21) is fine: Endpoints are enough. One resource that cannot be read is an issue; the others are still read.
 */
import type { KubeObject } from '../model/kube.js';
import { NETWORKING_CONFIGMAPS } from '../snapshot/schema.js';
import { ApiError, type KubeApi } from './api.js';

interface ListAnswer {
  kind?: string;
  apiVersion?: string;
  metadata?: { continue?: string; resourceVersion?: string };
  items?: KubeObject[];
}

export interface ResourceKind {
  /** Plural resource name, as RBAC names it. */
  resource: string;
  kind: string;
  /** `v1` or `group/version`. */
  apiVersion: string;
}

/** What a bundle lists, in the order `kubectl get nodes,pods,services,...` prints. */
export const LISTED: readonly ResourceKind[] = [
  { resource: 'nodes', kind: 'Node', apiVersion: 'v1' },
  { resource: 'pods', kind: 'Pod', apiVersion: 'v1' },
  { resource: 'services', kind: 'Service', apiVersion: 'v1' },
  { resource: 'endpoints', kind: 'Endpoints', apiVersion: 'v1' },
  { resource: 'endpointslices', kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1' },
  { resource: 'networkpolicies', kind: 'NetworkPolicy', apiVersion: 'networking.k8s.io/v1' },
  { resource: 'daemonsets', kind: 'DaemonSet', apiVersion: 'apps/v1' },
];

/** Older API versions tried when the current one is not served. */
const FALLBACK_VERSIONS: Record<string, string[]> = {
  endpointslices: ['discovery.k8s.io/v1beta1'],
  daemonsets: ['extensions/v1beta1'],
};

/** Namespaces where the networking ConfigMaps live on common installs (plus every namespace with a DaemonSet). */
const CONFIGMAP_NAMESPACES = ['kube-system', 'kube-flannel', 'calico-system', 'cilium'];

export const PAGE_SIZE = 500;

function basePath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Only this namespace (default: all namespaces). */
  namespace?: string;
  pageSize?: number;
}

/**
 * Every object of one resource across all namespaces, page by page, each with its `kind` and `apiVersion` (the API
 * server leaves them out of list items; `kubectl get -o json` puts them back). Rejects with an ApiError.
 */
export async function listAll(api: KubeApi, rk: ResourceKind, opts: ListOptions = {}): Promise<KubeObject[]> {
  const limit = opts.pageSize ?? PAGE_SIZE;
  let restarted = false;
  for (;;) {
    const items: KubeObject[] = [];
    let token: string | undefined;
    let expired = false;
    do {
      const q = new URLSearchParams({ limit: String(limit) });
      if (token) q.set('continue', token);
      if (opts.labelSelector) q.set('labelSelector', opts.labelSelector);
      if (opts.fieldSelector) q.set('fieldSelector', opts.fieldSelector);
      let page: ListAnswer;
      try {
        const ns = opts.namespace ? `/namespaces/${encodeURIComponent(opts.namespace)}` : '';
        page = await api.request<ListAnswer>('GET', `${basePath(rk.apiVersion)}${ns}/${rk.resource}?${q}`, {
          what: { verb: 'list', resource: rk.resource },
        });
      } catch (e) {
        // 410 Gone: the continue token expired (the list took longer than etcd's compaction window). Start over once.
        if (e instanceof ApiError && e.code === 410 && token && !restarted) {
          expired = true;
          break;
        }
        throw e;
      }
      for (const o of page.items ?? []) items.push({ ...o, apiVersion: rk.apiVersion, kind: rk.kind });
      token = page.metadata?.continue || undefined;
    } while (token);
    if (!expired) return items;
    restarted = true;
  }
}

export interface ClusterObjects {
  /** The `List` written as cluster.json. */
  list: { apiVersion: 'v1'; kind: 'List'; metadata: { resourceVersion: '' }; items: KubeObject[] };
  /** What could not be read, one line each (RBAC, a resource not served). */
  problems: string[];
  /** Informational notes (an old server without EndpointSlices). */
  notes: string[];
}

/** Reads the objects of a bundle. `log` gets one line per resource. */
export async function readClusterObjects(
  api: KubeApi,
  log: (line: string) => void = () => {},
): Promise<ClusterObjects> {
  const items: KubeObject[] = [];
  const problems: string[] = [];
  const notes: string[] = [];
  const byResource = new Map<string, KubeObject[]>();
  await Promise.all(
    LISTED.map(async (rk) => {
      const versions = [rk.apiVersion, ...(FALLBACK_VERSIONS[rk.resource] ?? [])];
      for (const apiVersion of versions) {
        try {
          const got = await listAll(api, { ...rk, apiVersion });
          byResource.set(rk.resource, got);
          return;
        } catch (e) {
          if (e instanceof ApiError && e.code === 404) continue;
          if (e instanceof ApiError) {
            problems.push(`${rk.resource}: ${e.message}`);
            return;
          }
          throw e;
        }
      }
      if (rk.resource === 'endpointslices')
        notes.push('the API server serves no EndpointSlices (Kubernetes before 1.17): Endpoints are used');
      else problems.push(`${rk.resource}: the API server serves no ${versions.join(' or ')}`);
    }),
  );
  for (const rk of LISTED) {
    const got = byResource.get(rk.resource);
    if (!got) continue;
    items.push(...got);
    log(`${rk.resource}: ${got.length}`);
  }

  // The networking ConfigMaps, each read by name (RBAC can grant exactly these names).
  const namespaces = new Set(CONFIGMAP_NAMESPACES);
  for (const ds of byResource.get('daemonsets') ?? []) if (ds.metadata.namespace) namespaces.add(ds.metadata.namespace);
  const found: KubeObject[] = [];
  const denied = new Set<string>();
  await Promise.all(
    [...namespaces].flatMap((ns) =>
      NETWORKING_CONFIGMAPS.map(async (name) => {
        try {
          const cm = await api.request<KubeObject>(
            'GET',
            `/api/v1/namespaces/${encodeURIComponent(ns)}/configmaps/${encodeURIComponent(name)}`,
            { what: { verb: 'get', resource: 'configmaps' } },
          );
          found.push({ ...cm, apiVersion: 'v1', kind: 'ConfigMap' });
        } catch (e) {
          if (e instanceof ApiError && e.code === 404) return;
          if (e instanceof ApiError && e.code === 403) {
            denied.add(name);
            return;
          }
          if (e instanceof ApiError) problems.push(`configmap ${ns}/${name}: ${e.message}`);
          else throw e;
        }
      }),
    ),
  );
  found.sort((a, b) =>
    `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`),
  );
  items.push(...found);
  if (denied.size)
    problems.push(
      `configmaps: RBAC denied "get" on the networking ConfigMaps ${[...denied].sort().join(', ')} (see deploy/rbac.yaml); checks that read them are blind`,
    );
  log(`networking configmaps: ${found.map((c) => `${c.metadata.namespace}/${c.metadata.name}`).join(', ') || 'none'}`);
  return { list: { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items }, problems, notes };
}
