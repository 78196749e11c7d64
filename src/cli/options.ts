import { Option, type Command } from 'commander';
import { InputError } from '../util/errors.js';

/**
 * The option parsers every command shares. A parser turns what the user typed into a value, or
 * throws an InputError naming the flag (exit code 2, one line). Commander calls them while it
 * parses, so a bad value stops the command before it does anything.
 */

/** `-o`: how a listing command prints (one set of formats for every command that lists). */
export const outputOption = (dflt: 'table' | 'json' = 'table') =>
  toOption({ flags: '-o, --output <format>', description: 'table, json or yaml', parse: oneOf(['table', 'json', 'yaml'] as const), default: dflt });
export type OutputFormat = 'table' | 'json' | 'yaml';

/** A listing as `-o json` (2-space indent) or `-o yaml` prints it. */
export async function machineText(value: unknown, format: 'json' | 'yaml'): Promise<string> {
  if (format === 'json') return JSON.stringify(value, null, 2);
  const { stringify } = await import('yaml');
  return stringify(value).trimEnd();
}

/** The help of `--lab`, the lab every command works on. */
export const LAB_HELP = 'the lab (may be left out when only one lab exists)';
/** The help of `--name`, the lab flag's older spelling, kept where it always meant the lab. */
export const NAME_ALIAS_HELP = 'the same as --lab';

/** The lab of a command that takes `--lab` and its alias `--name` (up, down, run). */
export function labArg(o: { lab?: string; name?: string }): string | undefined {
  if (o.lab !== undefined && o.name !== undefined && o.lab !== o.name) throw new InputError(`--lab ${quote(o.lab)} and --name ${quote(o.name)}: --name is --lab's other spelling, give one`);
  return o.lab ?? o.name;
}

/** Turns one raw value of `flag` into a T, or throws an InputError that names `flag`. */
export type Parser<T> = (raw: string, flag: string) => T;

const quote = (s: string) => JSON.stringify(s);
const orList = (xs: readonly string[]) => (xs.length < 2 ? xs.join('') : `${xs.slice(0, -1).join(', ')} or ${xs.at(-1)}`);

/** Digits only, as typed: "0x2", "1e0", " 1", "+1", "1.0" and "" are not whole numbers. */
const WHOLE = /^\d+$/;

function rangeText(min: number, max: number): string {
  if (max !== Number.MAX_SAFE_INTEGER) return ` in ${min}..${max}`;
  return min > 0 ? ` ≥ ${min}` : '';
}

/** A whole number in min..max (default 0..2^53−1); `unit` names it in the message ("seconds"). */
export function wholeNumber(o: { min?: number; max?: number; unit?: string } = {}): Parser<number> {
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = o;
  return (raw, flag) => {
    const n = WHOLE.test(raw) ? Number(raw) : NaN;
    if (!(n >= min && n <= max)) throw new InputError(`${flag} takes a whole number${o.unit ? ` of ${o.unit}` : ''}${rangeText(min, max)}, not ${quote(raw)}`);
    return n;
  };
}

/** A percentage ≥ 0 as typed digits, with an optional fraction: "10", "7.5". */
export const percentage: Parser<number> = (raw, flag) => {
  if (!/^\d+(\.\d+)?$/.test(raw)) throw new InputError(`${flag} takes a percentage ≥ 0 (e.g. 10 or 7.5), not ${quote(raw)}`);
  return Number(raw);
};

/** The items of a comma-separated list, trimmed; an empty list or item, or one given twice, is an error. */
function items(raw: string, flag: string, what: string): string[] {
  const xs = raw.split(',').map((x) => x.trim());
  if (xs.some((x) => x === '')) throw new InputError(`${flag} takes a comma-separated list of ${what}s, not ${quote(raw)}`);
  const twice = xs.find((x, i) => xs.indexOf(x) !== i);
  if (twice !== undefined) throw new InputError(`${flag}: ${what} ${quote(twice)} given twice`);
  return xs;
}

/** A comma-separated list of names out of a known set, in the order given. */
export function commaList<T extends string>(known: readonly T[], what: string): Parser<T[]> {
  return (raw, flag) =>
    items(raw, flag, what).map((x) => {
      if (!known.includes(x as T)) throw new InputError(`${flag}: unknown ${what} ${quote(x)} (known: ${known.join(', ')})`);
      return x as T;
    });
}

/** A comma-separated list of whole numbers in min..max. */
export function wholeNumberList(o: { min?: number; max?: number } = {}): Parser<number[]> {
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = o;
  return (raw, flag) =>
    items(raw, flag, 'number').map((x) => {
      const n = WHOLE.test(x) ? Number(x) : NaN;
      if (!(n >= min && n <= max)) throw new InputError(`${flag} takes whole numbers${rangeText(min, max)}, not ${quote(x)}`);
      return n;
    });
}

/** One name out of a known set. */
export function oneOf<T extends string>(known: readonly T[]): Parser<T> {
  return (raw, flag) => {
    if (!known.includes(raw as T)) throw new InputError(`${flag} takes ${orList(known)}, not ${quote(raw)}`);
    return raw as T;
  };
}

/** Any text but the empty string. */
export const text: Parser<string> = (raw, flag) => {
  if (raw === '') throw new InputError(`${flag} takes a value, not ""`);
  return raw;
};

/** Four dot-separated numbers 0–255, as a BGP cluster id is written (224.0.0.1). */
export const dottedQuad: Parser<string> = (raw, flag) => {
  const parts = raw.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    throw new InputError(`${flag} takes four dot-separated numbers 0–255 (like 224.0.0.1), not ${quote(raw)}`);
  }
  return raw;
};

/**
 * One `key=value` label, added to those of the flags before it: each `--label` takes exactly one
 * label and the flag repeats. A label key given twice is an error.
 */
export function keyValue(raw: string, flag: string, previous: Record<string, string> | undefined): Record<string, string> {
  const i = raw.indexOf('=');
  if (i < 1) throw new InputError(`${flag} takes key=value, not ${quote(raw)}`);
  const [key, value] = [raw.slice(0, i), raw.slice(i + 1)];
  if (previous && key in previous) throw new InputError(`${flag}: label ${quote(key)} given twice`);
  return { ...previous, [key]: value };
}

/** An option as a command (or a registry entry) declares it. */
export interface OptionSpec<T = unknown> {
  /** Commander flags, `--trials <n>`: the option's value is at the camel-cased long name (`trials`). */
  flags: string;
  description: string;
  /** Parses each value given; without one, the option's value is the raw string. */
  parse?: Parser<T>;
  /** The default as a user would type it: parsed like their input, shown in --help. */
  default?: string;
}

/** The value an option spec gives an action: the parsed type, undefined when it has no default and was not given. */
export type OptionValue<S> = S extends OptionSpec<infer T> ? (unknown extends T ? string : T) | (S extends { default: string } ? never : undefined) : never;
export type OptionValues<O> = { [K in keyof O]: OptionValue<O[K]> };

/** A commander Option from a spec: its parser wired in, its default parsed and shown as typed. */
export function toOption(spec: OptionSpec): Option {
  const option = new Option(spec.flags, spec.description);
  const flag = option.long ?? option.short ?? spec.flags;
  const parse = spec.parse;
  if (parse) option.argParser((raw: string) => parse(raw, flag));
  if (spec.default !== undefined) {
    const value = parse ? parse(spec.default, flag) : spec.default;
    // As commander shows a default itself: numbers bare, text quoted.
    option.default(value, typeof value === 'number' ? spec.default : quote(spec.default));
  }
  return option;
}

/** Adds each spec as an option; its key must be the name commander stores the value under. */
export function addOptions(cmd: Command, specs: Record<string, OptionSpec>): Command {
  for (const [key, spec] of Object.entries(specs)) {
    const option = toOption(spec);
    if (option.attributeName() !== key) throw new Error(`option ${spec.flags} is stored as ${option.attributeName()}, not ${key}`);
    cmd.addOption(option);
  }
  return cmd;
}

/** `--label key=value`, repeatable (workload and host labels). */
export const labelOption = (description: string): Option =>
  new Option('--label <key=value>', `${description} (repeat the flag for more)`).argParser((raw: string, previous: Record<string, string> | undefined) => keyValue(raw, '--label', previous));
