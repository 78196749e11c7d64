import type { Command } from 'commander';
import { print } from './common.js';
import { addOptions } from './options.js';
import { BENCHMARKS, type AnyBenchmark } from './registry.js';

/** `bench <command>`, one per benchmark of the registry (src/cli/registry.ts). */
export function benchCommands(program: Command): void {
  const bench = program.command('bench').description('benchmarks that print figures and write reports');
  for (const b of Object.values(BENCHMARKS) as AnyBenchmark[]) {
    addOptions(bench.command(b.command).description(b.description), b.options).action(async (o: Record<string, unknown>) => {
      await b.run(o as never, print);
    });
  }
}
