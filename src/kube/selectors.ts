/**
 * Kubernetes label selectors, as the API server and controllers evaluate them (apimachinery `LabelSelectorAsSelector`
 * for `metav1.LabelSelector`, `SelectorFromSet` for a Service's plain map):
 * - an empty selector (`{}`) selects everything; a missing (null) one is the caller's decision (a NetworkPolicy peer
 *   without `namespaceSelector` means "the policy's namespace", a Service without `selector` selects no pod);
 * - `matchLabels` and `matchExpressions` are ANDed;
 * - `In`: the label is present and its value is listed; `NotIn`: absent, or present with an unlisted value; `Exists`:
 *   present (any value); `DoesNotExist`: absent. An unknown operator is invalid; the API server would have rejected
 *   the object, so it selects nothing (and `selectorProblems` says why).
 */

export type Labels = Readonly<Record<string, string>>;

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelectorRequirement {
  key: string;
  operator: SelectorOperator | string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

const OPERATORS = new Set<string>(['In', 'NotIn', 'Exists', 'DoesNotExist']);

/** One requirement, flattened: matchLabels entries become `In` with one value. */
export interface Requirement {
  key: string;
  operator: SelectorOperator;
  values: string[];
}

/** The requirements of a selector in evaluation order; undefined when the selector is invalid. */
export function requirements(selector: LabelSelector): Requirement[] | undefined {
  const out: Requirement[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}))
    out.push({ key, operator: 'In', values: [String(value)] });
  for (const e of selector.matchExpressions ?? []) {
    if (!e || typeof e.key !== 'string' || !OPERATORS.has(e.operator)) return undefined;
    out.push({ key: e.key, operator: e.operator as SelectorOperator, values: (e.values ?? []).map(String) });
  }
  return out;
}

/** Why a selector is invalid (an unknown operator, In/NotIn without values, Exists with values); [] when valid. */
export function selectorProblems(selector: LabelSelector): string[] {
  const out: string[] = [];
  for (const e of selector.matchExpressions ?? []) {
    if (!e || typeof e.key !== 'string') out.push('a matchExpressions entry has no key');
    else if (!OPERATORS.has(e.operator)) out.push(`unknown operator "${e.operator}" on key ${e.key}`);
    else if ((e.operator === 'In' || e.operator === 'NotIn') && !(e.values ?? []).length)
      out.push(`${e.operator} on key ${e.key} has no values`);
    else if ((e.operator === 'Exists' || e.operator === 'DoesNotExist') && (e.values ?? []).length)
      out.push(`${e.operator} on key ${e.key} must not have values`);
  }
  return out;
}

export function requirementMatches(r: Requirement, labels: Labels): boolean {
  const has = Object.hasOwn(labels, r.key);
  switch (r.operator) {
    case 'In':
      return has && r.values.includes(labels[r.key] as string);
    case 'NotIn':
      return !has || !r.values.includes(labels[r.key] as string);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
  }
}

/** Whether a `metav1.LabelSelector` selects these labels. Empty selects all; an invalid selector selects none. */
export function selectorMatches(selector: LabelSelector, labels: Labels | undefined): boolean {
  const reqs = requirements(selector);
  if (!reqs) return false;
  const l = labels ?? {};
  return reqs.every((r) => requirementMatches(r, l));
}

/**
 * Whether a Service-style selector (a plain map, all pairs must be equal) selects these labels. An empty or missing
 * map selects nothing: such a Service has no selector and its endpoints are managed by hand.
 */
export function mapSelectorMatches(selector: Record<string, string> | undefined, labels: Labels | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  const l = labels ?? {};
  return Object.entries(selector).every(([k, v]) => Object.hasOwn(l, k) && l[k] === v);
}

/** The requirements a set of labels fails (for "closest match" messages). */
export function unmetRequirements(selector: LabelSelector, labels: Labels | undefined): Requirement[] {
  const reqs = requirements(selector) ?? [];
  const l = labels ?? {};
  return reqs.filter((r) => !requirementMatches(r, l));
}

/** A plain-map selector as a LabelSelector. */
export function fromMap(map: Record<string, string> | undefined): LabelSelector {
  return { matchLabels: { ...(map ?? {}) } };
}

function formatRequirement(r: Requirement): string {
  switch (r.operator) {
    case 'In':
      return r.values.length === 1 ? `${r.key}=${r.values[0]}` : `${r.key} in (${r.values.join(',')})`;
    case 'NotIn':
      return r.values.length === 1 ? `${r.key}!=${r.values[0]}` : `${r.key} notin (${r.values.join(',')})`;
    case 'Exists':
      return r.key;
    case 'DoesNotExist':
      return `!${r.key}`;
  }
}

/**
 * The selector in kubectl's `-l` syntax (`app=echo,tier in (a,b),!legacy`), usable as `kubectl get pods -l '...'`.
 * An empty selector is the empty string (kubectl: everything).
 *
 * Caveat: `k!=v` in kubectl means NotIn (absent or different), exactly the Kubernetes `NotIn` semantics.
 */
export function formatSelector(selector: LabelSelector): string {
  const reqs = requirements(selector);
  if (!reqs) return `<invalid: ${selectorProblems(selector).join('; ')}>`;
  return reqs.map(formatRequirement).join(',');
}

export function formatRequirements(reqs: Requirement[]): string {
  return reqs.map(formatRequirement).join(',');
}

/** Quote a string for a POSIX shell (single quotes), only when it needs it. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `k=v,k2=v2` for a set of labels (sorted, as kubectl --show-labels prints them). */
export function formatLabels(labels: Labels | undefined): string {
  const entries = Object.entries(labels ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(',') : '<none>';
}
