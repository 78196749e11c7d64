import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addOptions, commaList, dottedQuad, keyValue, labelOption, oneOf, percentage, text, toOption, wholeNumber, wholeNumberList } from '../../src/cli/options.js';
import { InputError } from '../../src/util/errors.js';

/** What a parser throws for `raw`, as the message (or undefined when it accepts it). */
const fails = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
};

describe('whole numbers: digits only, as typed', () => {
  const n = wholeNumber();
  it.each(['0', '1', '42', '007', '9007199254740991'])('%j is one', (raw) => {
    expect(n(raw, '--n')).toBe(Number(raw));
  });
  it.each(['', ' 1', '1 ', ' 1e0 ', '1e0', '0x2', '0b1', '0o7', '+1', '-1', '1.0', '1.5', '1_000', 'Infinity', 'NaN', '١', '9007199254740992'])('%j is not', (raw) => {
    expect(fails(() => n(raw, '--n'))).toBe(`--n takes a whole number, not ${JSON.stringify(raw)}`);
  });
  it('a range and a unit are in the message', () => {
    expect(fails(() => wholeNumber({ min: 1 })('0', '--trials'))).toBe('--trials takes a whole number ≥ 1, not "0"');
    expect(fails(() => wholeNumber({ min: 1, unit: 'seconds' })('0', '--duration'))).toBe('--duration takes a whole number of seconds ≥ 1, not "0"');
    expect(fails(() => wholeNumber({ min: 1, max: 4294967295 })('4294967296', '--as'))).toBe('--as takes a whole number in 1..4294967295, not "4294967296"');
    expect(wholeNumber({ min: 1, max: 4294967295 })('4294967295', '--as')).toBe(4294967295);
  });
});

describe('comma lists', () => {
  const events = commaList(['link-flap', 'host-crash', 'rr-fail'] as const, 'event');
  it('known names, trimmed, in the order given', () => {
    expect(events('rr-fail, link-flap', '--events')).toEqual(['rr-fail', 'link-flap']);
  });
  it('an unknown name, an empty item or a name given twice is an input error', () => {
    expect(fails(() => events('link-flap,flop', '--events'))).toBe('--events: unknown event "flop" (known: link-flap, host-crash, rr-fail)');
    expect(fails(() => events('', '--events'))).toBe('--events takes a comma-separated list of events, not ""');
    expect(fails(() => events('link-flap,', '--events'))).toBe('--events takes a comma-separated list of events, not "link-flap,"');
    expect(fails(() => events('rr-fail,rr-fail', '--events'))).toBe('--events: event "rr-fail" given twice');
  });
  it('lists of whole numbers check each item as a whole number', () => {
    const sizes = wholeNumberList({ max: 20_000 });
    expect(sizes('0,100, 1000', '--sizes')).toEqual([0, 100, 1000]);
    expect(fails(() => sizes('0,1e3', '--sizes'))).toBe('--sizes takes whole numbers in 0..20000, not "1e3"');
    expect(fails(() => sizes('0,0x10', '--sizes'))).toBe('--sizes takes whole numbers in 0..20000, not "0x10"');
    expect(fails(() => sizes('20001', '--sizes'))).toBe('--sizes takes whole numbers in 0..20000, not "20001"');
  });
});

describe('labels: key=value, one per flag, the flag repeats', () => {
  it('collects the flags into one map', () => {
    expect(keyValue('role=web', '--label', undefined)).toEqual({ role: 'web' });
    expect(keyValue('tier=a=b', '--label', { role: 'web' })).toEqual({ role: 'web', tier: 'a=b' });
    expect(keyValue('empty=', '--label', undefined)).toEqual({ empty: '' });
  });
  it('no key, no "=", or a key given twice is an input error', () => {
    expect(fails(() => keyValue('role', '--label', undefined))).toBe('--label takes key=value, not "role"');
    expect(fails(() => keyValue('=web', '--label', undefined))).toBe('--label takes key=value, not "=web"');
    expect(fails(() => keyValue('role=db', '--label', { role: 'web' }))).toBe('--label: label "role" given twice');
  });
  it('on a command: each --label takes exactly one value', () => {
    const parse = (...argv: string[]) => {
      const cmd = new Command('t')
        .exitOverride()
        .configureOutput({ writeErr: () => undefined })
        .argument('[rest...]')
        .addOption(labelOption('a label'));
      cmd.parse(argv, { from: 'user' });
      return { labels: cmd.opts().label as unknown, rest: cmd.args };
    };
    expect(parse('--label', 'a=1', '--label', 'b=2')).toEqual({ labels: { a: '1', b: '2' }, rest: [] });
    expect(parse('--label', 'a=1', 'b=2')).toEqual({ labels: { a: '1' }, rest: ['b=2'] });
    expect(parse()).toEqual({ labels: undefined, rest: [] });
  });
});

describe('other parsers', () => {
  it('one of a set', () => {
    expect(oneOf(['yaml', 'json', 'table'] as const)('json', '--output')).toBe('json');
    expect(fails(() => oneOf(['yaml', 'json', 'table'] as const)('xml', '--output'))).toBe('--output takes yaml, json or table, not "xml"');
  });
  it('percentages, text, cluster ids', () => {
    expect(percentage('7.5', '--threshold')).toBe(7.5);
    expect(fails(() => percentage('-1', '--threshold'))).toMatch(/^--threshold takes a percentage ≥ 0/);
    expect(fails(() => percentage('1e1', '--threshold'))).toMatch(/^--threshold takes a percentage ≥ 0/);
    expect(fails(() => text('', '--break'))).toBe('--break takes a value, not ""');
    expect(dottedQuad('224.0.0.1', '--route-reflector')).toBe('224.0.0.1');
    for (const bad of ['1.2.3', '1.2.3.256', '1.2.3.4.5', 'a.b.c.d', '1..2.3'])
      expect(
        fails(() => dottedQuad(bad, '--route-reflector')),
        bad,
      ).toMatch(/^--route-reflector takes four dot-separated numbers/);
  });
});

describe('options from specs', () => {
  it('parse while commander parses, with defaults parsed and shown as typed', () => {
    const cmd = new Command('t').exitOverride().configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
    addOptions(cmd, {
      trials: { flags: '--trials <n>', description: 'trials', parse: wholeNumber({ min: 1 }), default: '5' },
      sizes: { flags: '--sizes <list>', description: 'sizes', parse: wholeNumberList(), default: '0,100' },
      reportDir: { flags: '--report-dir <dir>', description: 'where', default: 'reports' },
    });
    cmd.parse(['--trials', '7'], { from: 'user' });
    expect(cmd.opts()).toEqual({ trials: 7, sizes: [0, 100], reportDir: 'reports' });
    expect(cmd.helpInformation()).toMatch(/--trials <n>\s+trials \(default: 5\)/);
    expect(cmd.helpInformation()).toMatch(/--sizes <list>\s+sizes \(default: "0,100"\)/);
    expect(() =>
      new Command('u')
        .exitOverride()
        .addOption(toOption({ flags: '--trials <n>', description: 't', parse: wholeNumber() }))
        .parse(['--trials', '0x2'], { from: 'user' }),
    ).toThrow(new InputError('--trials takes a whole number, not "0x2"'));
  });
  it('a spec stored under another name than its key is a programming error', () => {
    expect(() => addOptions(new Command('t'), { dir: { flags: '--report-dir <dir>', description: 'where' } })).toThrow(/stored as reportDir, not dir/);
  });
});
