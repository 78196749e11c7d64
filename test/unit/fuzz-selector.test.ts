/**
 * Property-based: any text given to parseSelector gives a selector or a SelectorError, never
 * another exception, and in bounded time. A parsed selector's canonical form parses back to itself.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSelector, SelectorError } from '../../src/model/selector.js';
import { fuzzParams, fuzzTimeout, resultOrTypedError } from '../helpers/fuzz.js';

const TOKENS = [
  'a',
  'app',
  'k8s.io/role',
  'x/y',
  'in',
  'not',
  'contains',
  'starts',
  'ends',
  'with',
  'has',
  'all',
  'global',
  '(',
  ')',
  '{',
  '}',
  ',',
  '==',
  '!=',
  '!',
  '&&',
  '||',
  '=',
  '&',
  '|',
  '"v"',
  "'w'",
  '""',
  '"a\'b"',
  "'",
  '"',
  ' ',
  '\t',
  '\n',
  '-',
  '.',
  '/',
  '0',
  'é',
  '\u0000',
];

/** Selector-like text: tokens of the language (and near misses) in any order. */
const tokenSoup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 40 }).chain((ts) => fc.constantFrom(ts.join(' '), ts.join('')));

/** Deep nesting: parentheses or negations around a term, thousands of levels deep. */
const deep = fc
  .record({ open: fc.constantFrom('(', '!', '!(', '( '), depth: fc.integer({ min: 0, max: 20_000 }), term: fc.constantFrom('a == "x"', 'has(a)', 'all()', '', 'a in {"x",}'), close: fc.boolean() })
  .map(({ open, depth, term, close }) => `${open.repeat(depth)}${term}${close && open.includes('(') ? ')'.repeat(depth) : ''}`);

const selectorText = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ unit: 'grapheme-ascii', maxLength: 200 }), tokenSoup, deep);

describe('parseSelector on any text', () => {
  it(
    'returns a selector or throws a SelectorError; what parses prints a canonical form that parses to itself',
    () => {
      fc.assert(
        fc.property(selectorText, (text) => {
          const r = resultOrTypedError(() => parseSelector(text), [SelectorError]);
          if ('value' in r) {
            const canonical = r.value.toString();
            expect(parseSelector(canonical).toString()).toBe(canonical);
            expect(typeof r.value.matches({ a: 'x', app: 'web' })).toBe('boolean');
          }
        }),
        fuzzParams(1000),
      );
    },
    fuzzTimeout(),
  );
});
