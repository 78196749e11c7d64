import { Command } from 'commander';
import { constants } from 'node:os';
import { InputError, InterruptedError, errorMessage } from '../util/errors.js';
import { benchCommands } from './bench.js';
import { ctlCommands } from './ctl.js';
import { hostCommands } from './host.js';
import { labCommands } from './lab.js';
import { reportCommands } from './report.js';
import { runCommands } from './run.js';
import { workloadCommands } from './workload.js';

// A reader that goes away (`up … | head`) must not crash a command halfway through what it builds.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

const program = new Command('calico-sim')
  .description('Calico\'s pure layer-3 network from real parts (etcd, BIRD, kernel routes) in network namespaces')
  .option('--debug', 'print stack traces on errors')
  .showHelpAfterError();

labCommands(program);
workloadCommands(program);
hostCommands(program);
ctlCommands(program);
runCommands(program);
benchCommands(program);
reportCommands(program);

program.parseAsync().catch((err: unknown) => {
  if (program.opts().debug && err instanceof Error) console.error(err.stack);
  const problems = (err as { problems?: unknown }).problems;
  if (Array.isArray(problems) && problems.length > 1) problems.forEach((p) => console.error(`calico-sim: ${String(p)}`));
  else console.error(`calico-sim: ${errorMessage(err)}`);
  // 2: the input was wrong (topology, resource file, names, options); 1: something failed;
  // 128 + n: signal n interrupted it (what it had made is removed).
  process.exitCode = err instanceof InputError ? 2 : err instanceof InterruptedError ? 128 + (constants.signals[err.signal] ?? 0) : 1;
});
