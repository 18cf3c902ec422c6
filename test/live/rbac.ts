/** deploy/rbac.yaml as the test API server's authorizer: what a run may do with exactly those permissions. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAllYaml } from '@kubernetes/client-node';
import { repoRoot } from '../support/paths.js';
import type { FakeApiOptions } from './fake-apiserver.js';

const DOCS = loadAllYaml(readFileSync(join(repoRoot, 'deploy', 'rbac.yaml'), 'utf8')) as {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  rules?: Rule[];
}[];

/** The Namespace object deploy/rbac.yaml creates. */
export const RBAC_NAMESPACE = (() => {
  const ns = DOCS.find((d) => d.kind === 'Namespace');
  if (!ns) throw new Error('deploy/rbac.yaml has no Namespace');
  return { apiVersion: 'v1', kind: 'Namespace', metadata: ns.metadata };
})();

export interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** An authorizer from deploy/rbac.yaml: ClusterRole rules everywhere, Role rules in the Role's namespace. */
export function rbacAuthorizer(drop?: (r: Rule) => boolean): NonNullable<FakeApiOptions['authorize']> {
  const grants = DOCS.filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role').flatMap((d) =>
    (d.rules ?? [])
      .filter((r) => !drop?.(r))
      .map((r) => ({ r, ns: d.kind === 'Role' ? d.metadata.namespace : undefined })),
  );
  return (a) =>
    grants.some(
      ({ r, ns }) =>
        (ns === undefined || ns === a.namespace) &&
        r.apiGroups.includes(a.group) &&
        r.resources.includes(a.resource) &&
        r.verbs.includes(a.verb) &&
        (!r.resourceNames || (a.name !== undefined && r.resourceNames.includes(a.name))),
    );
}
