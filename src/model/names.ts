import { InputError } from '../util/errors.js';

/**
 * Every kernel object and file a lab makes carries its lab name, so that `down` can find them
 * from the system alone. Names use [a-z0-9-]; the `_` separator (sim/names.ts) therefore never
 * appears inside a name and a namespace name parses back without ambiguity.
 */
export const NETNS_PREFIX = 'csim_';
export const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
export const LAB_RE = /^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$/;

export function checkLabName(lab: string): string {
  if (!LAB_RE.test(lab)) {
    throw new InputError(`invalid lab name "${lab}": use 1-16 characters of a-z, 0-9 and "-" (not at either end)`);
  }
  return lab;
}
