import type { CommanderError, Command } from 'commander';
import { constants } from 'node:os';
import { InputError, InterruptedError, errorMessage } from '../util/errors.js';

/**
 * Exit codes (README, "Exit codes"): 0 done or passed; 1 the checks ran and something failed
 * (a command sets process.exitCode itself); 2 bad input, nothing done; 3 could not run; 128 + n
 * stopped by signal n.
 */
export const EXIT = { ok: 0, failed: 1, input: 2, couldNotRun: 3 } as const;

/** Commander stopped parsing in `command`: help was shown, or the command line is wrong. */
export class CommanderExit extends Error {
  constructor(
    readonly error: CommanderError,
    readonly command: Command,
  ) {
    super(error.message);
  }
}

/** Pure: the exit code of an error that ended a command. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderExit) return HELP_SHOWN.includes(err.error.code) && err.error.exitCode === 0 ? EXIT.ok : EXIT.input;
  if (err instanceof InputError) return EXIT.input;
  if (err instanceof InterruptedError) return 128 + (constants.signals[err.signal] ?? 0);
  return EXIT.couldNotRun;
}

const HELP_SHOWN = ['commander.helpDisplayed', 'commander.help', 'commander.version'];

const pathOf = (cmd: Command): string[] => (cmd.parent ? [...pathOf(cmd.parent), cmd.name()] : [cmd.name()]);

/**
 * Pure: what to print on standard error for an error that ended a command: one line
 * `calico-sim: <what>` (one per problem of a file with several), and for a usage error a hint
 * naming the command's --help. Nothing when commander showed help as asked.
 */
export function errorLines(err: unknown): string[] {
  if (err instanceof CommanderExit) {
    if (exitCodeFor(err) === EXIT.ok) return [];
    const path = pathOf(err.command);
    const what =
      err.error.code === 'commander.help'
        ? // A command group given no command (commander would print the whole help).
          `missing command${path.length > 1 ? ` after "${path.slice(1).join(' ')}"` : ''}: ${err.command.commands
            .map((c) => c.name())
            .filter((n) => n !== 'help')
            .join(', ')}`
        : err.error.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
    // `--name` meant the lab everywhere before `--lab`; only up, down and run still take it.
    const hint = err.error.code === 'commander.unknownOption' && /'--name'/.test(what) ? ' (the lab is --lab)' : '';
    return [`${path[0]}: ${what}${hint}`, `(see ${path.join(' ')} --help)`];
  }
  const problems = (err as { problems?: unknown } | null)?.problems;
  if (Array.isArray(problems) && problems.length > 1) return problems.map((p) => `calico-sim: ${String(p)}`);
  return [`calico-sim: ${errorMessage(err)}`];
}

/**
 * Makes every command of the tree throw a CommanderExit instead of exiting, and print nothing of
 * its own on a usage error (errorLines says it in one line); help asked for still prints.
 */
export function throwInsteadOfExit(cmd: Command): void {
  cmd.exitOverride((e) => {
    throw new CommanderExit(e, cmd);
  });
  cmd.configureOutput({ outputError: () => undefined, writeErr: () => undefined });
  cmd.commands.forEach(throwInsteadOfExit);
}
