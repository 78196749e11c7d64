import { InputError } from '../util/errors.js';

/**
 * A resource file, or a set of resources, is invalid, conflicts with the datastore, or names a
 * resource that does not exist. Nothing was written. `problems` holds every problem found, one
 * line each (`<source>: document <n> (<Kind> <name>): <field path>: <reason>`); the message is
 * the first one, with a count of the others.
 */
export class ResourceError extends InputError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options?: { cause?: unknown }) {
    const more = problems.length - 1;
    super(more > 0 ? `${problems[0]} (and ${more} more problem${more > 1 ? 's' : ''})` : (problems[0] ?? 'invalid resources'), options);
    this.problems = problems;
  }
}
