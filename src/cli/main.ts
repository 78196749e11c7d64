import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { benchCommands } from './bench.js';
import { ctlCommands } from './ctl.js';
import { errorLines, exitCodeFor, throwInsteadOfExit } from './exit.js';
import { hostCommands } from './host.js';
import { labCommands } from './lab.js';
import { probeCommands } from './probe.js';
import { reportCommands } from './report.js';
import { runCommands } from './run.js';
import { workloadCommands } from './workload.js';
import { forkThroughSpawner } from '../util/spawner.js';

// A reader that goes away (`up … | head`) must not crash a command halfway through what it builds.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

// A large lab's build and checks fork thousands of commands from a heap of hundreds of MB.
forkThroughSpawner();

const program = new Command('calico-sim')
  .description("Calico's pure layer-3 network from real parts (etcd, BIRD, kernel routes) in network namespaces")
  .version(version(), '--version', 'print the version of calico-sim')
  .option('--debug', 'print stack traces on errors')
  .addHelpText('after', '\nExit codes: 0 done or passed, 1 checks ran and something failed, 2 bad input, 3 could not run, 128+n stopped by signal n.');

labCommands(program);
probeCommands(program);
workloadCommands(program);
hostCommands(program);
ctlCommands(program);
runCommands(program);
benchCommands(program);
reportCommands(program);
throwInsteadOfExit(program);

program.parseAsync().catch((err: unknown) => {
  if (program.opts().debug && err instanceof Error) console.error(err.stack);
  for (const l of errorLines(err)) console.error(l);
  process.exitCode = exitCodeFor(err);
});

/** The version in package.json (read once, when asked). */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
