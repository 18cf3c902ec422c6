/** Table-driven check tests: run a check on a row's bundle and assert the nodes it names, in order. */
import assert from 'node:assert/strict';
import { type Check, runCheck } from '../../src/checks/define.js';
import type { Finding } from '../../src/core/vocabulary.js';
import { ClusterModel } from '../../src/model/cluster.js';
import type { Bundle } from '../../src/snapshot/bundle.js';

/** The check's findings on the bundle, after asserting they name exactly these nodes in this order. */
export function findingsOnNodes(check: Check, bundle: Bundle, nodes: readonly (string | undefined)[]): Finding[] {
  const got = runCheck(check, new ClusterModel(bundle));
  assert.deepEqual(
    got.map((f) => f.node),
    [...nodes],
    JSON.stringify(got.map((f) => f.title)),
  );
  return got;
}
