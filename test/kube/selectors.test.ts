import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatSelector,
  type LabelSelector,
  mapSelectorMatches,
  selectorMatches,
  selectorProblems,
  unmetRequirements,
} from '../../src/kube/selectors.js';

const L = { app: 'web', tier: 'front', env: 'prod' };

const rows: { name: string; sel: LabelSelector; labels?: Record<string, string>; match: boolean }[] = [
  { name: 'empty selector matches everything', sel: {}, match: true },
  { name: 'empty selector matches a pod without labels', sel: {}, labels: {}, match: true },
  {
    name: 'empty matchLabels and matchExpressions match all',
    sel: { matchLabels: {}, matchExpressions: [] },
    match: true,
  },
  { name: 'matchLabels equal', sel: { matchLabels: { app: 'web' } }, match: true },
  { name: 'matchLabels other value', sel: { matchLabels: { app: 'web2' } }, match: false },
  { name: 'matchLabels missing key', sel: { matchLabels: { role: 'x' } }, match: false },
  { name: 'matchLabels all must hold', sel: { matchLabels: { app: 'web', tier: 'back' } }, match: false },
  { name: 'matchLabels value case matters', sel: { matchLabels: { app: 'Web' } }, match: false },
  {
    name: 'In listed',
    sel: { matchExpressions: [{ key: 'env', operator: 'In', values: ['dev', 'prod'] }] },
    match: true,
  },
  { name: 'In unlisted', sel: { matchExpressions: [{ key: 'env', operator: 'In', values: ['dev'] }] }, match: false },
  {
    name: 'In on a missing key',
    sel: { matchExpressions: [{ key: 'x', operator: 'In', values: [''] }] },
    match: false,
  },
  {
    name: 'NotIn listed',
    sel: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] },
    match: false,
  },
  {
    name: 'NotIn unlisted',
    sel: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }] },
    match: true,
  },
  {
    name: 'NotIn matches a missing key',
    sel: { matchExpressions: [{ key: 'x', operator: 'NotIn', values: ['a'] }] },
    match: true,
  },
  { name: 'Exists present', sel: { matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, match: true },
  {
    name: 'Exists present with empty value',
    sel: { matchExpressions: [{ key: 'e', operator: 'Exists' }] },
    labels: { e: '' },
    match: true,
  },
  { name: 'Exists absent', sel: { matchExpressions: [{ key: 'x', operator: 'Exists' }] }, match: false },
  { name: 'DoesNotExist absent', sel: { matchExpressions: [{ key: 'x', operator: 'DoesNotExist' }] }, match: true },
  { name: 'DoesNotExist present', sel: { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, match: false },
  {
    name: 'matchLabels AND matchExpressions',
    sel: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'env', operator: 'In', values: ['dev'] }] },
    match: false,
  },
  {
    name: 'unknown operator selects nothing',
    sel: { matchExpressions: [{ key: 'app', operator: 'Equals', values: ['web'] }] },
    match: false,
  },
];

for (const r of rows)
  test(`selector: ${r.name}`, () => {
    assert.equal(selectorMatches(r.sel, r.labels ?? L), r.match);
  });

test('a Service-style map: empty or missing selects nothing, all pairs must be equal', () => {
  assert.equal(mapSelectorMatches(undefined, L), false);
  assert.equal(mapSelectorMatches({}, L), false);
  assert.equal(mapSelectorMatches({ app: 'web' }, L), true);
  assert.equal(mapSelectorMatches({ app: 'web', tier: 'back' }, L), false);
  assert.equal(mapSelectorMatches({ app: 'web' }, undefined), false);
});

test('formatSelector is kubectl -l syntax', () => {
  assert.equal(
    formatSelector({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'env', operator: 'In', values: ['dev', 'prod'] },
        { key: 'x', operator: 'NotIn', values: ['a'] },
        { key: 'y', operator: 'Exists' },
        { key: 'z', operator: 'DoesNotExist' },
      ],
    }),
    'app=web,env in (dev,prod),x!=a,y,!z',
  );
  assert.equal(formatSelector({}), '');
});

test('problems and unmet requirements', () => {
  assert.deepEqual(selectorProblems({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }), [
    'In on key a has no values',
  ]);
  assert.deepEqual(selectorProblems({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }), [
    'Exists on key a must not have values',
  ]);
  assert.deepEqual(
    unmetRequirements({ matchLabels: { app: 'web', tier: 'back' } }, L).map((r) => r.key),
    ['tier'],
  );
});
