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
  constructor(
    readonly lab: string | undefined,
    readonly known: string[],
    options?: { cause?: unknown },
  ) {
    super(
      lab === undefined
        ? 'no lab is running (start one: calico-sim up two-host)'
        : `no lab named "${lab}" (${known.length ? `labs here: ${known.join(', ')}` : 'no lab exists: start one with calico-sim up two-host'})`,
      options,
    );
  }
}

/** A signal stopped the command; what it had made is removed. CLI exit code 128 + signal number. */
export class InterruptedError extends SimError {
  constructor(
    readonly signal: NodeJS.Signals,
    options?: { cause?: unknown },
  ) {
    super(`interrupted by ${signal}`, options);
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

/** What is known of a command that failed: the fields of a CommandError. */
export interface CommandFailure {
  /** The whole command line, program first, as it was run (no shell). */
  argv: readonly string[];
  /** undefined when it did not exit on its own: killed, timed out, or never started. */
  exitCode: number | undefined;
  /** The signal that ended it, if one did. */
  signal?: NodeJS.Signals | undefined;
  stderr: string;
  stdout?: string | undefined;
  /** Why it did not run to an exit code, when that is known: `timed out after 30000 ms`, `spawn ip ENOENT`. */
  reason?: string | undefined;
}

/**
 * A command ran and failed (non-zero exit, a signal, a timeout, or it could not start). The
 * fields keep everything the caller may want to act on; the message is commandFailureMessage().
 */
export class CommandError extends BackendError {
  readonly argv: string[];
  readonly exitCode: number | undefined;
  readonly signal: NodeJS.Signals | undefined;
  readonly stderr: string;
  readonly stdout: string;
  readonly reason: string | undefined;

  constructor(failure: CommandFailure, options?: { cause?: unknown }) {
    super(commandFailureMessage(failure), options);
    this.argv = [...failure.argv];
    this.exitCode = failure.exitCode;
    this.signal = failure.signal;
    this.stderr = failure.stderr;
    this.stdout = failure.stdout ?? '';
    this.reason = failure.reason;
  }
}

/** Longest command line and output excerpt a CommandError message shows (the fields keep all). */
const MAX_COMMAND_CHARS = 200;
const MAX_DETAIL_CHARS = 300;
const DETAIL_LINES = 3;

/**
 * Pure: the one-line message of a failed command, e.g.
 * `command failed: sh -c 'echo boom >&2; exit 3' (exit code 3): boom`. What it said is the first
 * non-blank lines of stderr (of stdout when stderr is empty), joined with ` | `.
 */
export function commandFailureMessage(f: CommandFailure): string {
  const status = f.reason ?? (f.signal ? `killed by ${f.signal}` : f.exitCode !== undefined ? `exit code ${f.exitCode}` : 'did not exit');
  const said = firstLines(f.stderr) || firstLines(f.stdout ?? '');
  return `command failed: ${clip(formatArgv(f.argv), MAX_COMMAND_CHARS)} (${status})${said ? `: ${clip(said, MAX_DETAIL_CHARS)}` : ''}`;
}

/** Pure: a command line as one would type it in a shell (arguments quoted only when needed). */
export function formatArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

function firstLines(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(0, DETAIL_LINES)
    .join(' | ');
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
