/** Base of every error calico-sim raises on purpose: the CLI prints `message` as one line. */
export class SimError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The user's input is wrong (a file, a name, an option): nothing was done. CLI exit code 2. */
export class InputError extends SimError {}

/** The named lab does not exist: an input error (exit 2), with the labs that do exist. */
export class NoSuchLabError extends InputError {
  /** `lab` undefined: none was named and none exists. */
  constructor(readonly lab: string | undefined, readonly known: string[]) {
    super(lab === undefined ? 'no lab is running (start one: calico-sim up two-host)'
      : `no lab named "${lab}" (${known.length ? `labs here: ${known.join(', ')}` : 'no lab exists: start one with calico-sim up two-host'})`);
  }
}

/** A signal stopped the command; what it had made is removed. CLI exit code 128 + signal number. */
export class InterruptedError extends SimError {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}

/** A topology or resource file (or built-in name) is malformed or invalid. Nothing was created. */
export class TopologyError extends InputError {}

/** A datastore rule was broken (duplicate node name, CAS conflict that cannot be retried...). */
export class DatastoreError extends SimError {}

/** IPAM could not satisfy a request (pool exhausted, unknown address...). */
export class IpamError extends SimError {}

/** The kernel, a namespace or a daemon did not do what was asked. */
export class BackendError extends SimError {}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
