/**
 * Reading a bundle directory (DESIGN §2): cluster.json, nodes/<node>.json, etcd/subnets.json. A missing or corrupt
 * part is reported and the rest is still read, so the analysis of everything else runs.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, type ParseIssue } from '../core/errors.js';
import type { KubeList, KubeObject } from '../model/kube.js';
import { type EtcdSubnets, NODE_SNAPSHOT_SCHEMA, type NodeSnapshot } from './schema.js';

export interface Bundle {
  dir: string;
  /** Objects of cluster.json; empty when it is missing or unreadable (see issues). */
  objects: KubeObject[];
  hasCluster: boolean;
  /** Node snapshots by node name. */
  nodes: Map<string, NodeSnapshot>;
  /** Which file each node snapshot came from. */
  nodeFiles: Map<string, string>;
  etcd?: EtcdSubnets;
  issues: ParseIssue[];
}

function readJson(file: string, issues: ParseIssue[]): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    issues.push({ file, line: 0, severity: 'error', message: `cannot read: ${(e as Error).message}` });
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    const line = m ? text.slice(0, Number(m[1])).split('\n').length : 1;
    issues.push({ file, line, severity: 'error', message: `not valid JSON (${(e as Error).message}); file skipped` });
    return undefined;
  }
}

function isNodeSnapshot(v: unknown): v is NodeSnapshot {
  const o = v as NodeSnapshot;
  return (
    typeof o === 'object' &&
    o !== null &&
    o.kind === 'NodeSnapshot' &&
    typeof o.node === 'string' &&
    typeof o.commands === 'object'
  );
}

export function loadBundle(dir: string): Bundle {
  if (!existsSync(dir)) throw new InputError('no such bundle directory', dir);
  if (!statSync(dir).isDirectory())
    throw new InputError('a bundle is a directory (cluster.json, nodes/<node>.json)', dir);
  const issues: ParseIssue[] = [];
  const bundle: Bundle = { dir, objects: [], hasCluster: false, nodes: new Map(), nodeFiles: new Map(), issues };

  const clusterFile = join(dir, 'cluster.json');
  if (!existsSync(clusterFile)) {
    issues.push({
      file: clusterFile,
      line: 0,
      severity: 'warning',
      message: 'no cluster.json: only the nodes are analysed, without Kubernetes objects',
    });
  } else {
    const list = readJson(clusterFile, issues) as KubeList | undefined;
    if (list !== undefined) {
      if (typeof list !== 'object' || list === null || !Array.isArray((list as KubeList).items)) {
        issues.push({
          file: clusterFile,
          line: 1,
          severity: 'error',
          message: `not a Kubernetes List (kind: ${(list as { kind?: string })?.kind ?? 'none'}, no "items" array); skipped`,
        });
      } else {
        bundle.hasCluster = true;
        list.items.forEach((o, i) => {
          if (!o || typeof o !== 'object' || typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string')
            issues.push({
              file: clusterFile,
              line: 0,
              severity: 'warning',
              message: `items[${i}] is not a Kubernetes object (kind and metadata.name); skipped`,
            });
          else bundle.objects.push(o);
        });
      }
    }
  }

  const nodesDir = join(dir, 'nodes');
  const files = existsSync(nodesDir)
    ? readdirSync(nodesDir)
        .filter((f) => f.endsWith('.json'))
        .sort()
    : [];
  if (files.length === 0)
    issues.push({ file: nodesDir, line: 0, severity: 'warning', message: 'no node snapshots (nodes/<node>.json)' });
  for (const f of files) {
    const file = join(nodesDir, f);
    const snap = readJson(file, issues);
    if (snap === undefined) continue;
    if (!isNodeSnapshot(snap)) {
      issues.push({
        file,
        line: 1,
        severity: 'error',
        message: 'not a node snapshot (kind NodeSnapshot with node and commands); skipped',
      });
      continue;
    }
    if (snap.schemaVersion !== NODE_SNAPSHOT_SCHEMA) {
      issues.push({
        file,
        line: 1,
        severity: 'error',
        message: `schema version ${snap.schemaVersion} is not one this netdoctor reads (${NODE_SNAPSHOT_SCHEMA}); skipped — a newer netdoctor may read it`,
      });
      continue;
    }
    if (bundle.nodes.has(snap.node)) {
      issues.push({
        file,
        line: 1,
        severity: 'error',
        message: `a second snapshot of node ${snap.node} (first: ${bundle.nodeFiles.get(snap.node)}); skipped`,
      });
      continue;
    }
    bundle.nodes.set(snap.node, snap);
    bundle.nodeFiles.set(snap.node, file);
  }

  for (const o of bundle.objects)
    if (o.kind === 'Node' && !bundle.nodes.has(o.metadata.name))
      issues.push({
        file: clusterFile,
        line: 0,
        severity: 'warning',
        message: `node ${o.metadata.name} is in cluster.json but has no snapshot (nodes/${o.metadata.name}.json): checks that need its state skip it`,
      });

  const etcdFile = join(dir, 'etcd', 'subnets.json');
  if (existsSync(etcdFile)) {
    const e = readJson(etcdFile, issues) as EtcdSubnets | undefined;
    if (e && e.kind === 'FlannelSubnets' && typeof e.subnets === 'object') bundle.etcd = e;
    else if (e)
      issues.push({ file: etcdFile, line: 1, severity: 'error', message: 'not a FlannelSubnets file; skipped' });
  }
  return bundle;
}
