/**
 * Aligning two sequences (a chain's rules on two nodes, by normalised text): the pairs of equal elements of a longest
 * common subsequence, as `diff` finds them. Common head and tail are cut first (nodes share most rules, so what is
 * left is small); a small middle gets the exact dynamic programme; a large one is cut at elements unique on both sides
 * (patience diff) and each piece is aligned the same way, so a 20,000-rule KUBE-SERVICES chain costs little.
 */

/** Pairs [i, j] with a[i] === b[j], increasing in both i and j. */
export function align(a: readonly number[], b: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  alignRange(a, 0, a.length, b, 0, b.length, out);
  return out;
}

const DP_LIMIT = 4_000_000;

function alignRange(
  a: readonly number[],
  a0: number,
  a1: number,
  b: readonly number[],
  b0: number,
  b1: number,
  out: [number, number][],
): void {
  const head: [number, number][] = [];
  while (a0 < a1 && b0 < b1 && a[a0] === b[b0]) head.push([a0++, b0++]);
  const tail: [number, number][] = [];
  while (a0 < a1 && b0 < b1 && a[a1 - 1] === b[b1 - 1]) tail.push([--a1, --b1]);
  out.push(...head);
  const n = a1 - a0;
  const m = b1 - b0;
  if (n > 0 && m > 0) {
    if (n * m <= DP_LIMIT) lcsDp(a, a0, a1, b, b0, b1, out);
    else patience(a, a0, a1, b, b0, b1, out);
  }
  for (let k = tail.length - 1; k >= 0; k--) out.push(tail[k] as [number, number]);
}

function lcsDp(
  a: readonly number[],
  a0: number,
  a1: number,
  b: readonly number[],
  b0: number,
  b1: number,
  out: [number, number][],
): void {
  const n = a1 - a0;
  const m = b1 - b0;
  const w = m + 1;
  const t = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      t[i * w + j] =
        a[a0 + i] === b[b0 + j]
          ? (t[(i + 1) * w + j + 1] as number) + 1
          : Math.max(t[(i + 1) * w + j] as number, t[i * w + j + 1] as number);
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[a0 + i] === b[b0 + j]) {
      out.push([a0 + i, b0 + j]);
      i++;
      j++;
    } else if ((t[(i + 1) * w + j] as number) >= (t[i * w + j + 1] as number)) i++;
    else j++;
  }
}

function patience(
  a: readonly number[],
  a0: number,
  a1: number,
  b: readonly number[],
  b0: number,
  b1: number,
  out: [number, number][],
): void {
  const countA = new Map<number, number>();
  const posA = new Map<number, number>();
  for (let i = a0; i < a1; i++) {
    const v = a[i] as number;
    countA.set(v, (countA.get(v) ?? 0) + 1);
    posA.set(v, i);
  }
  const countB = new Map<number, number>();
  const posB = new Map<number, number>();
  for (let j = b0; j < b1; j++) {
    const v = b[j] as number;
    countB.set(v, (countB.get(v) ?? 0) + 1);
    posB.set(v, j);
  }
  // Elements unique on both sides, in b's order, with their position in a.
  const cands: [number, number][] = [];
  for (let j = b0; j < b1; j++) {
    const v = b[j] as number;
    if (countB.get(v) === 1 && countA.get(v) === 1) cands.push([posA.get(v) as number, j]);
  }
  if (cands.length === 0) {
    greedy(a, a0, a1, b, b0, b1, out);
    return;
  }
  // Longest increasing subsequence of the a-positions (patience sorting).
  const tops: number[] = [];
  const prev = new Int32Array(cands.length).fill(-1);
  for (let k = 0; k < cands.length; k++) {
    const x = (cands[k] as [number, number])[0];
    let lo = 0;
    let hi = tops.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cands[tops[mid] as number] as [number, number])[0] < x) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[k] = tops[lo - 1] as number;
    tops[lo] = k;
  }
  const anchors: [number, number][] = [];
  for (let k = tops[tops.length - 1] as number; k >= 0; k = prev[k] as number)
    anchors.push(cands[k] as [number, number]);
  anchors.reverse();
  let pa = a0;
  let pb = b0;
  for (const [i, j] of anchors) {
    alignRange(a, pa, i, b, pb, j, out);
    out.push([i, j]);
    pa = i + 1;
    pb = j + 1;
  }
  alignRange(a, pa, a1, b, pb, b1, out);
}

/** Last resort for a large piece without unique elements: pair equal elements in order. */
function greedy(
  a: readonly number[],
  a0: number,
  a1: number,
  b: readonly number[],
  b0: number,
  b1: number,
  out: [number, number][],
): void {
  let j = b0;
  for (let i = a0; i < a1 && j < b1; i++) {
    let k = j;
    while (k < b1 && k - j < 64 && b[k] !== a[i]) k++;
    if (k < b1 && b[k] === a[i]) {
      out.push([i, k]);
      j = k + 1;
    }
  }
}
