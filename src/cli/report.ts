import type { Command } from 'commander';
import { InputError } from '../util/errors.js';
import { print } from './common.js';
import { percentage, toOption } from './options.js';
import { BENCHMARKS } from './registry.js';

/** `report diff` and `report schema`, over the kinds of the registry (src/report/kinds.ts). */
export function reportCommands(program: Command): void {
  const kinds = Object.keys(BENCHMARKS);
  const report = program.command('report').description('compare and render benchmark reports');
  report
    .command('diff')
    .description(
      `compare two benchmark runs of one kind (${kinds.join(', ')}) metric by metric; exit code 1 on a regression: a new median worse than the old one by more than the threshold AND outside the old run's min–max over its trials (spread the old run itself showed is noise; a figure without a trial range is judged by the threshold alone)`,
    )
    .argument('<old>', 'the reference run: its directory (reports/<run-id>) or its results.json')
    .argument('<new>', 'the run to check: its directory or its results.json')
    .addOption(
      toOption({
        flags: '--threshold <pct>',
        description: 'regression threshold in %: throughput lower, or RTT / convergence time / loss higher, than the old median by more than this (and outside the old min–max)',
        parse: percentage,
        default: '10',
      }),
    )
    .action(async (oldArg: string, newArg: string, o: { threshold: number }) => {
      const { diffResults, formatDiff, loadResults } = await import('../report/diff.js');
      const d = diffResults(loadResults(oldArg), loadResults(newArg), o.threshold);
      print(formatDiff(d));
      if (d.regressions) process.exitCode = 1;
    });
  report
    .command('schema')
    .description('print the JSON Schema of results.json (docs/results-schema.md): the common envelope, or a kind with its results')
    .argument('[kind]', `${kinds.join(', ')} (default: the envelope every kind shares)`)
    .action(async (kind?: string) => {
      const { RESULT_KIND_IDS } = await import('../report/kinds.js');
      if (kind !== undefined && !(RESULT_KIND_IDS as readonly string[]).includes(kind)) throw new InputError(`unknown results kind "${kind}" (known: ${RESULT_KIND_IDS.join(', ')})`);
      const { resultsJsonSchema } = await import('../report/results-schema.js');
      print(JSON.stringify(resultsJsonSchema(kind), null, 2));
    });
}
