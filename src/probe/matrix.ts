/**
 * The connectivity matrix of a probe run: sources down, destinations across, one cell per pair holding every probe of
 * the pair (TCP, UDP, ICMP...) and the worst status among them. Text, JSON and HTML reports all read this one shape.
 */
import { type ProbeOutcome, type ProbeReport, type ProbeStatus, statusRank } from './model.js';

export interface MatrixAxis {
  /** `pod/NS/NAME`, `node/NAME`, `outside`, `service/NS/NAME`, `nodeport/NODE`. */
  key: string;
  label: string;
  /** Node the pod runs on, for grouping. */
  node?: string;
  kind: string;
}

export interface MatrixCell {
  row: string;
  col: string;
  status: ProbeStatus;
  /** Indexes into the report's outcomes. */
  outcomes: number[];
}

export interface Matrix {
  rows: MatrixAxis[];
  cols: MatrixAxis[];
  cells: MatrixCell[];
}

/** The probe kinds the matrix shows; DNS, overlay and MTU have their own tables. */
const MATRIX_KINDS = new Set(['pod-pod', 'node-pod', 'pod-service', 'node-service', 'nodeport']);

function rowOf(o: ProbeOutcome): MatrixAxis {
  const f = o.probe.from;
  if (f.kind === 'outside') return { key: 'outside', label: 'outside', kind: 'outside' };
  return {
    key: `${f.kind}/${f.name}`,
    label: f.kind === 'pod' ? (f.name.split('/')[1] ?? f.name) : f.name,
    ...(f.node ? { node: f.node } : f.kind === 'node' ? { node: f.name } : {}),
    kind: f.kind,
  };
}

function colOf(o: ProbeOutcome): MatrixAxis {
  const t = o.probe.to;
  if (o.probe.kind === 'nodeport')
    return { key: `nodeport/${t.name}`, label: `${t.name}:NodePort`, node: t.name, kind: 'nodeport' };
  if (t.kind === 'service') return { key: `service/${t.name}`, label: t.name, kind: 'service' };
  return {
    key: `${t.kind}/${t.name}`,
    label: t.kind === 'pod' ? (t.name.split('/')[1] ?? t.name) : t.name,
    ...(t.node ? { node: t.node } : {}),
    kind: t.kind,
  };
}

const KIND_ORDER = ['pod', 'node', 'outside', 'service', 'nodeport'];

function sortAxis(a: MatrixAxis, b: MatrixAxis): number {
  return (
    KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
    (a.node ?? '').localeCompare(b.node ?? '') ||
    a.label.localeCompare(b.label)
  );
}

export function buildMatrix(report: Pick<ProbeReport, 'outcomes'>): Matrix {
  const rows = new Map<string, MatrixAxis>();
  const cols = new Map<string, MatrixAxis>();
  const cells = new Map<string, MatrixCell>();
  report.outcomes.forEach((o, i) => {
    if (!MATRIX_KINDS.has(o.probe.kind)) return;
    const r = rowOf(o);
    const c = colOf(o);
    rows.set(r.key, r);
    cols.set(c.key, c);
    const k = `${r.key}\u0000${c.key}`;
    const cell = cells.get(k);
    if (!cell) cells.set(k, { row: r.key, col: c.key, status: o.status, outcomes: [i] });
    else {
      cell.outcomes.push(i);
      if (statusRank(o.status) > statusRank(cell.status)) cell.status = o.status;
    }
  });
  return {
    rows: [...rows.values()].sort(sortAxis),
    cols: [...cols.values()].sort(sortAxis),
    cells: [...cells.values()],
  };
}

export interface ProbeSummary {
  total: number;
  byStatus: Record<ProbeStatus, number>;
  byKind: Record<string, { total: number; failed: number }>;
}

export function summarize(outcomes: readonly ProbeOutcome[]): ProbeSummary {
  const byStatus: Record<ProbeStatus, number> = { pass: 0, partial: 0, slow: 0, fail: 0, error: 0 };
  const byKind: Record<string, { total: number; failed: number }> = {};
  for (const o of outcomes) {
    byStatus[o.status]++;
    const k = byKind[o.probe.kind] ?? { total: 0, failed: 0 };
    byKind[o.probe.kind] = k;
    k.total++;
    if (o.status !== 'pass') k.failed++;
  }
  return { total: outcomes.length, byStatus, byKind };
}
