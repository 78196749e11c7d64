/**
 * Arbitraries shared by the parser fuzz tests: YAML-ish text, and values that are mostly what a
 * field wants (so that generated documents get past the first check and into the deeper ones)
 * and sometimes anything at all.
 */
import fc from 'fast-check';
import { afterAll, beforeAll } from 'vitest';
import { stringify } from 'yaml';

/** Mostly `good` (`weight` in weight + 2), sometimes any JSON value, sometimes a string of anything. */
export function mostly<T>(good: fc.Arbitrary<T>, weight = 30): fc.Arbitrary<unknown> {
  return fc.oneof({ weight, arbitrary: good }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }, { weight: 1, arbitrary: fc.string({ maxLength: 20 }) });
}

/** Names: valid ones that collide, near misses, and anything. */
export const nameish = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('a', 'b', 'c', 'h1', 'h2', 'r1', 'r2', 'w1', 'w2', 'default', 'node.h1', 'x-y') },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9.-]{1,40}$/) },
  { weight: 1, arbitrary: fc.string({ maxLength: 70 }) },
);

const octet = fc.integer({ min: 0, max: 255 });
/** IPv4 addresses in and out of the lab ranges, IPv6 ones, and malformed ones. */
export const ipish = fc.oneof(
  fc.constantFrom('198.18.0.1', '198.18.0.11', '198.19.0.5', '198.18.255.1', '10.0.0.1', '0.0.0.0', '255.255.255.255', '2001:db8::1', '2001:db8:f::b', '::', '::ffff:198.18.0.1', 'fe80::1'),
  fc.tuple(fc.constantFrom(198, 10, 0, 255), fc.constantFrom(18, 19, 0, 255), octet, octet).map((o) => o.join('.')),
  fc.constantFrom('198.18.0', '198.18.0.256', '1.2.3.4.5', '01.2.3.4', '198.18.0.1:179', '[2001:db8::1]:179', '1::2::3', ':::', '2001:db8::g', ''),
);

/** CIDRs in and out of the lab ranges, of both families, with host bits, and malformed. */
export const cidrish = fc.oneof(
  fc.constantFrom('198.18.0.0/17', '198.19.0.0/16', '198.18.255.0/24', '198.18.255.0/30', '198.18.0.0/28', '198.18.0.0/15', '198.19.255.252/30', '198.18.128.0/17'),
  fc.constantFrom('2001:db8:f::/64', '2001:db8:f::/127', '2001:db8:1::/120', '2001:db8:1::/122', '2001:db8::/32', '2001:db8:2::/128', '2001:db8::/31'),
  fc.constantFrom('10.0.0.0/8', '0.0.0.0/0', '::/0', '169.254.0.0/16', 'fe80::/10', '198.18.0.1/24', '198.18.0.0/33', '198.18.0.0/-1', '198.18.0.0/017', '198.18.0.0', '/24', '2001:db8::/129', ''),
  fc.tuple(fc.constantFrom(198, 10), fc.constantFrom(18, 19), octet, fc.constantFrom(0, 128, 252), fc.integer({ min: 0, max: 33 })).map(([a, b, c, d, p]) => `${a}.${b}.${c}.${d}/${p}`),
  fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 130 })).map(([g, p]) => `2001:db8:${g.toString(16)}::/${p}`),
);

/** Selectors: valid, with a syntax error, deep, and near misses of the topology's keywords. */
export const selectorish = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('all()', '', "rack == 'a'", 'has(route-reflector)', "a in {'x', 'y'}", '!has(a) && b != "c"', "route-reflector == 'true'", 'k8s.io/role not in {}') },
  { weight: 2, arbitrary: fc.constantFrom('global()', 'a ==', 'has(', 'all', 'route-reflectors', 'all()x') },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 300 }).map((n) => `${'('.repeat(n)}has(a)${')'.repeat(n)}`) },
);

/** Label maps: valid keys and values, and invalid ones. */
export const labelsish = fc.dictionary(
  fc.oneof(fc.constantFrom('app', 'rack', 'k8s.io/role', 'Bad Key', '-x', `${'a'.repeat(64)}`), fc.string({ maxLength: 10 })),
  mostly(fc.oneof(fc.constantFrom('web', 'a', '', 'x y', '-bad'), fc.string({ maxLength: 70 }))),
  { maxKeys: 3 },
);

/** Numbers around the edges of the ranges the schemas check. */
export const numberish = fc.oneof(
  fc.constantFrom(0, 1, 3, 9, 10, 11, 20, 26, 32, 116, 122, 128, 129, 255, 256, 65535, 65536, 64512, 4294967295, 4294967296, -1, 0.5, 1e21, Number.MAX_SAFE_INTEGER),
  fc.integer({ min: -10, max: 200 }),
);

const YAML_PIECES = [
  'a',
  'b',
  'hosts',
  'name',
  'kind',
  'apiVersion',
  'projectcalico.org/v3',
  'metadata',
  'spec',
  'items',
  'List',
  'IPPool',
  'cidr',
  ':',
  ': ',
  '-',
  '- ',
  '  ',
  '    ',
  '\n',
  '\n  ',
  '\n- ',
  '[',
  ']',
  '{',
  '}',
  ',',
  '"',
  "'",
  '#',
  '&a',
  '*a',
  '&b',
  '*b',
  '!!str',
  '!!map',
  '!!binary',
  '!tag',
  '<<: *a',
  '|',
  '>',
  '|-',
  '---',
  '...',
  '%YAML 1.2',
  '%TAG ! tag:x,2000:',
  '?',
  '? ',
  '@',
  '`',
  '\t',
  '\r\n',
  '~',
  'null',
  'true',
  'no',
  '0x1f',
  '1e3',
  '.inf',
  '.nan',
  '2001-12-14',
  '\\u0000',
  '\u0000',
  '\ufeff',
  '"\\x41"',
];

/** YAML-ish text: the language's punctuation, indentation and keywords in any order. */
export const yamlish = fc.array(fc.constantFrom(...YAML_PIECES), { maxLength: 60 }).map((ps) => ps.join(''));

/** A value serialized as a file would hold it: YAML (block or flow), JSON, or JSON squeezed on one line. */
export function serialized(value: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc.tuple(value, fc.constantFrom('yaml', 'yaml-flow', 'json', 'json-compact')).map(([v, how]) => {
    switch (how) {
      case 'yaml':
        return stringify(v);
      case 'yaml-flow':
        return stringify(v, { collectionStyle: 'flow' });
      case 'json':
        return JSON.stringify(v, null, 2) ?? 'null';
      default:
        return JSON.stringify(v) ?? 'null';
    }
  });
}

/** Text that is no serialization at all: any characters, and YAML-ish fragments. */
export const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme-ascii', maxLength: 300 }), yamlish);

/**
 * The YAML library warns on stderr (process.emitWarning) about tags it does not know, and fuzzed
 * text has many: for the calling test file, YAML's warnings are dropped and the others kept.
 */
export function quietYamlWarnings(): void {
  let saved: NodeJS.WarningListener[] = [];
  const forward = (w: Error) => {
    if (w.name !== 'YAMLWarning') for (const l of saved) l(w);
  };
  beforeAll(() => {
    saved = process.listeners('warning');
    process.removeAllListeners('warning');
    process.on('warning', forward);
  });
  afterAll(async () => {
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    process.off('warning', forward);
    for (const l of saved) process.on('warning', l);
  });
}
