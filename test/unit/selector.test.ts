import { describe, expect, it } from 'vitest';
import { type Labels, MAX_SELECTOR_DEPTH, matches, parseSelector, SelectorError } from '../../src/model/selector.js';
import { SimError } from '../../src/util/errors.js';

const none: Labels = {};
const web: Labels = { app: 'web', tier: 'frontend', env: 'prod' };
const db: Labels = { app: 'db', tier: 'backend' };
const ns: Labels = { 'projectcalico.org/namespace': 'kube-system', 'rack.example.com/row-1.a_b': 'r1' };
const quoted: Labels = { q: 'say "hi"', s: "it's" };

/** [selector, labels, expected] */
const table: Array<[string, Labels, boolean]> = [
  // all(), global(), empty
  ['all()', none, true],
  ['all()', web, true],
  ['', none, true],
  ['   ', web, true],
  ['global()', db, true],
  ['!all()', web, false],
  // has
  ['has(app)', web, true],
  ['has(app)', none, false],
  ['!has(app)', none, true],
  ['!has(app)', web, false],
  ['has( app )', web, true],
  ['has(constructor)', none, false], // not fooled by Object.prototype
  // == and !=
  ['app == "web"', web, true],
  ["app == 'web'", web, true],
  ['app == "web"', db, false],
  ['app == "web"', none, false],
  ['app != "web"', db, true],
  ['app != "web"', web, false],
  ['app != "web"', none, true], // absent label
  ['app == ""', { app: '' }, true],
  ['has(app)', { app: '' }, true],
  // in / not in
  ['app in { "web", "db" }', db, true],
  ['app in {"web","db"}', web, true],
  ['app in { "cache" }', web, false],
  ['app in { "web" }', none, false],
  ['app in {}', web, false],
  ['app in { "a", "web", }', web, true], // trailing comma, as Calico accepts
  ['app not in { "web", "db" }', web, false],
  ['app not in { "cache" }', web, true],
  ['app not in { "web" }', none, true], // absent label
  ['app not  in {}', none, true],
  // contains / starts with / ends with
  ['tier contains "end"', web, true],
  ['tier contains "end"', db, true],
  ['tier contains "mid"', web, false],
  ['tier contains ""', none, false],
  ['tier starts with "front"', web, true],
  ['tier starts with "front"', db, false],
  ['tier starts  with "x"', none, false],
  ['tier ends with "end"', web, true],
  ['tier ends with "front"', web, false],
  ['tier ends with "end"', none, false],
  // negation of absent labels
  ['!(app == "web")', none, true],
  ['!app == "web"', none, true],
  ['!(app != "web")', none, false],
  ['!(app in {"web"})', none, true],
  ['!(app not in {"web"})', none, false],
  ['!(tier contains "x")', none, true],
  ['!!has(app)', web, true],
  ['!!!has(app)', web, false],
  // && || and precedence
  ['has(app) && app == "web"', web, true],
  ['has(app) && app == "web"', db, false],
  ['has(app) || has(x)', none, false],
  ['has(x) || has(app)', db, true],
  ['a == "1" || b == "2" && c == "3"', { a: '1' }, true],
  ['a == "1" || b == "2" && c == "3"', { b: '2' }, false],
  ['a == "1" || b == "2" && c == "3"', { b: '2', c: '3' }, true],
  ['(a == "1" || b == "2") && c == "3"', { a: '1' }, false],
  ['(a == "1" || b == "2") && c == "3"', { a: '1', c: '3' }, true],
  ['b == "2" && c == "3" || a == "1"', { a: '1' }, true],
  ['!(has(a) || has(b)) && has(c)', { c: 'x' }, true],
  ['!(has(a) || has(b)) && has(c)', { b: 'x', c: 'x' }, false],
  ['((((has(c)))))', { c: 'x' }, true],
  ['has(a) && (has(b) && has(c))', { a: '', b: '', c: '' }, true],
  // quoted strings with the other quote inside
  [`q == 'say "hi"'`, quoted, true],
  [`s == "it's"`, quoted, true],
  [`q contains '"'`, quoted, true],
  [`s in { "x", "it's" }`, quoted, true],
  [`q == "say 'hi'"`, quoted, false],
  // prefixed keys
  ['projectcalico.org/namespace == "kube-system"', ns, true],
  ['has(projectcalico.org/namespace)', ns, true],
  ['rack.example.com/row-1.a_b in {"r1", "r2"}', ns, true],
  ['has(projectcalico.org/name)', ns, false],
  // whitespace
  ['app=="web"&&tier!="backend"', web, true],
  ['\n\tapp  ==  "web"\n&&\n!has( x )\t', web, true],
  ["app=='web'||has(z)", db, false],
  // keywords are only keywords in their place
  ['has == "x"', { has: 'x' }, true],
  ['in in {"x"}', { in: 'x' }, true],
  ['contains contains "o"', { contains: 'no' }, true],
];

const labelSets: Labels[] = [
  none,
  web,
  db,
  ns,
  quoted,
  { a: '1' },
  { b: '2' },
  { b: '2', c: '3' },
  { a: '1', c: '3' },
  { a: '', b: '', c: '' },
  { c: 'x' },
  { app: '' },
  { app: 'cache', tier: 'mid' },
  { has: 'x', in: 'x', contains: 'no' },
  { x: '1', z: '2' },
];

describe('selector evaluation', () => {
  it.each(table)('%j on %j is %s', (text, labels, expected) => {
    expect(parseSelector(text).matches(labels)).toBe(expected);
    expect(matches(text, labels)).toBe(expected);
  });

  it('keeps the source text', () => {
    expect(parseSelector(' has(a) ').source).toBe(' has(a) ');
  });
});

describe('canonical form', () => {
  it.each([
    ['has(a)&&b=="c"', 'has(a) && b == "c"'],
    ["  b == 'c'  ", 'b == "c"'],
    [`q == 'say "hi"'`, `q == 'say "hi"'`],
    ['', 'all()'],
    ['global()', 'global()'],
    ['a in {"z","a","z"}', 'a in {"a", "z"}'],
    ['a not in {}', 'a not in {}'],
    ['a starts   with "x"', 'a starts with "x"'],
    ['!!has(a)', 'has(a)'],
    ['!a == "x"', '!(a == "x")'],
    ['!(has(a) && has(b))', '!(has(a) && has(b))'],
    ['(has(a) && has(b)) && has(c)', 'has(a) && has(b) && has(c)'],
    ['has(a) || (has(b) || has(c))', 'has(a) || has(b) || has(c)'],
    ['(has(a) || has(b)) && has(c)', '(has(a) || has(b)) && has(c)'],
    ['has(a) || has(b) && has(c)', 'has(a) || has(b) && has(c)'],
    ['(has(a) && has(b)) || has(c)', 'has(a) && has(b) || has(c)'],
  ])('%j prints as %j', (text, canonical) => {
    expect(parseSelector(text).toString()).toBe(canonical);
    expect(String(parseSelector(text))).toBe(canonical);
  });

  it.each([...new Set(table.map(([s]) => s))])('%j round-trips through toString()', (text) => {
    const original = parseSelector(text);
    const reparsed = parseSelector(original.toString());
    expect(reparsed.toString()).toBe(original.toString()); // stable
    for (const labels of labelSets) expect(reparsed.matches(labels), JSON.stringify(labels)).toBe(original.matches(labels));
  });
});

describe('selector errors', () => {
  it.each([
    ['a == "x', 7, 'a closing " for the string opened at column 5'],
    ["a == 'x", 7, "a closing ' for the string opened at column 5"],
    ['hass(a)', 0, 'has(), all() or global()'],
    ['has(a) &&', 9, 'an expression'],
    ['has(a) || && has(b)', 10, 'an expression'],
    ['a in { "x", "y"', 15, '"," or "}"'],
    ['a in { "x", ', 12, 'a quoted string or "}"'],
    ['a in "x"', 5, '"{"'],
    ['-a == "x"', 0, 'a label key ([prefix/]name)'],
    ['a- == "x"', 0, 'a label key ([prefix/]name)'],
    ['Example.com/a == "x"', 0, 'a label key ([prefix/]name)'],
    ['a/b/c == "x"', 0, 'a label key ([prefix/]name)'],
    ['has(_a)', 4, 'a label key ([prefix/]name)'],
    ['has()', 4, 'a label key ([prefix/]name)'],
    ['has(a', 5, '")"'],
    ['all(a)', 4, '")"'],
    ['has(a) has(b)', 7, '"&&", "||" or the end of the selector'],
    ['a == "x" )', 9, '"&&", "||" or the end of the selector'],
    ['(has(a)', 7, '"&&", "||" or ")"'],
    ['(has(a) b', 8, '"&&", "||" or ")"'],
    ['a == x', 5, 'a quoted string'],
    ['a = "x"', 2, '"=="'],
    ['has(a) & has(b)', 7, '"&&"'],
    ['has(a) | has(b)', 7, '"||"'],
    ['a starts "x"', 2, 'an operator (==, !=, in, not in, contains, starts with, ends with)'],
    ['a not "x"', 2, 'an operator (==, !=, in, not in, contains, starts with, ends with)'],
    ['a', 1, 'an operator (==, !=, in, not in, contains, starts with, ends with)'],
    ['a == "x" @', 9, 'a label key, a string, an operator or a parenthesis'],
    ['"x" == a', 0, 'an expression'],
    ['!', 1, 'an expression'],
    ['()', 1, 'an expression'],
  ])('%j fails at column %i expecting %s', (text, column, expected) => {
    let err: unknown;
    try {
      parseSelector(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SelectorError);
    expect(err).toBeInstanceOf(SimError);
    const e = err as SelectorError;
    expect(e.name).toBe('SelectorError');
    expect(e.column).toBe(column);
    expect(e.expected).toBe(expected);
    expect(e.message).toContain(`invalid selector ${JSON.stringify(text)}: expected ${expected}`);
    expect(e.message).toMatch(new RegExp(`at column ${column}$`));
  });

  it('reads well', () => {
    expect(() => parseSelector('has(a) &&')).toThrow('invalid selector "has(a) &&": expected an expression at column 9');
    expect(() => parseSelector('hass(a)')).toThrow('invalid selector "hass(a)": expected has(), all() or global() but found "hass" at column 0');
    expect(() => parseSelector('-a == "x"')).toThrow('expected a label key ([prefix/]name) but found "-a" at column 0');
    expect(() => parseSelector('a == "x" b')).toThrow('but found "b" at column 9');
    expect(() => matches('a ==', {})).toThrow(SelectorError);
  });

  it('nesting deeper than MAX_SELECTOR_DEPTH is a SelectorError, not a blown stack (found by fuzz-selector)', () => {
    // Before: 10,000 "(" (or 100,000 "!") threw RangeError: Maximum call stack size exceeded.
    for (const text of [`${'('.repeat(10_000)}a == "x"${')'.repeat(10_000)}`, `${'!'.repeat(100_000)}has(a)`, `${'!('.repeat(5_000)}has(a)${')'.repeat(5_000)}`]) {
      expect(() => parseSelector(text)).toThrow(SelectorError);
    }
    expect(() => parseSelector(`${'('.repeat(MAX_SELECTOR_DEPTH)}has(a)${')'.repeat(MAX_SELECTOR_DEPTH)}`)).toThrow(
      `expected an expression nested at most ${MAX_SELECTOR_DEPTH} levels deep but found "has" at column ${MAX_SELECTOR_DEPTH}`,
    );
    const deepest = `${'('.repeat(MAX_SELECTOR_DEPTH - 1)}has(a)${')'.repeat(MAX_SELECTOR_DEPTH - 1)}`;
    expect(parseSelector(deepest).toString()).toBe('has(a)');
    expect(parseSelector(`${'!'.repeat(MAX_SELECTOR_DEPTH - 1)}has(a)`).toString()).toBe('!has(a)');
  });
});
