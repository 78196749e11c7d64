import type { Command } from 'commander';
import { InputError } from '../util/errors.js';
import { print } from './common.js';
import { addOptions, toOption, wholeNumber } from './options.js';
import { backendOption, RUN_COMMON_OPTIONS, RUN_OPTIONS, SCENARIOS, type RunOptions } from './registry.js';

/** The checks: `run <scenario>` (the scenarios of src/cli/registry.ts) and the conformance suite. */
export function runCommands(program: Command): void {
  const names = Object.keys(SCENARIOS);
  const run = program
    .command('run')
    .description('run a scenario: up, checks, report, down; exit code 1 when a check fails')
    .argument('<scenario>', `the scenario: ${names.join(', ')}`)
    .addHelpText(
      'after',
      [
        '\nScenarios:',
        ...names.map((n) => `  ${n.padEnd(18)}${SCENARIOS[n]!.description}`),
        '\nThe policy scenarios apply examples/policy/<scenario>.yaml and judge every cell against an expected matrix of allowed and blocked cells.',
      ].join('\n'),
    );
  addOptions(run, RUN_OPTIONS).action(async (name: string, o: RunOptions, cmd: Command) => {
    const scenario = SCENARIOS[name];
    if (!scenario) throw new InputError(`unknown scenario "${name}" (known: ${names.join(', ')})`);
    const takes: string[] = [...RUN_COMMON_OPTIONS, ...scenario.takes];
    for (const [key, spec] of Object.entries(RUN_OPTIONS)) {
      if (cmd.getOptionValueSource(key) === 'cli' && !takes.includes(key)) throw new InputError(`${name} does not take ${toOption(spec).long}`);
    }
    const r = await scenario.run(o, print);
    if (!r.passed) process.exitCode = 1;
  });

  program
    .command('conformance')
    .description(
      'the conformance suite: builds each lab, probes every pair (ICMP/TCP/UDP, IPv4/IPv6) while capturing the fabric, proves no NAT and no encapsulation, tears down; exit code 1 when a check fails',
    )
    .argument('[labs...]', 'which labs of the suite (default: two-host, mesh, route-reflector, gateway, dual-stack)')
    .option('--lab <lab>', "check a lab you built instead (nothing is built or removed): the suite's control-plane checks, every pair (or --sample), the captures")
    .addOption(toOption({ flags: '--sample <n>', description: 'with --lab: probe this many random pairs of each matrix, and leave the captures out (large labs)', parse: wholeNumber({ min: 1 }) }))
    .option('--report-dir <dir>', 'captures, flow reports and sysdumps of failures', 'reports/conformance')
    .addOption(toOption(backendOption))
    .option('--junit <file>', 'write JUnit XML (one testcase per check)')
    .option('--json <file>', 'write the results as JSON')
    .action(async (labs: string[], o: { lab?: string; sample?: number; reportDir: string; backend: string; junit?: string; json?: string }, cmd: Command) => {
      const { conformance, conformanceOfLab, checkCategory, DEFAULT_SUITE, writeReports } = await import('../scenarios/conformance.js');
      if (o.lab !== undefined && labs.length) throw new InputError('give suite labs or --lab, not both');
      if (o.lab !== undefined && cmd.getOptionValueSource('backend') === 'cli') throw new InputError("--backend builds the suite's labs; a lab given with --lab is checked where it is");
      if (o.sample !== undefined && o.lab === undefined) throw new InputError('--sample goes with --lab (the suite probes every pair of its small labs)');
      const unknown = labs.filter((l) => !DEFAULT_SUITE.some((s) => s.id === l));
      if (unknown.length) throw new InputError(`unknown suite lab(s) ${unknown.join(', ')} (known: ${DEFAULT_SUITE.map((s) => s.id).join(', ')})`);
      const suite = labs.length ? DEFAULT_SUITE.filter((s) => labs.includes(s.id)) : DEFAULT_SUITE;
      let r: Awaited<ReturnType<typeof conformance>>;
      if (o.lab !== undefined) {
        const { resolveLab } = await import('../sim/lab.js');
        const state = await resolveLab(o.lab);
        const reportDir = `${o.reportDir}/${state.lab}`;
        r = await conformanceOfLab(state, { reportDir, ...(o.sample !== undefined ? { sample: o.sample } : {}) });
        for (const cat of ['control plane', 'reachability', 'captures'] as const) {
          const of = r.checks.filter((c) => checkCategory(c) === cat);
          const bad = of.filter((c) => !c.ok);
          print(`${cat.padEnd(14)} ${of.length ? `${of.length - bad.length}/${of.length} passed` : o.sample !== undefined && cat === 'captures' ? 'left out (--sample)' : 'none'}`);
          for (const f of bad.slice(0, 10)) print(`   FAIL ${f.name}: expected ${f.expected}, got ${f.actual}`);
        }
        print(`report: ${reportDir}`);
      } else r = await conformance({ suite, reportDir: o.reportDir, backend: o.backend, log: print });
      writeReports(r, o);
      const failed = r.checks.filter((c) => !c.ok).length;
      print(`\nconformance: ${r.checks.length - failed} passed, ${failed} failed, in ${(r.durationMs / 1000).toFixed(1)} s${o.junit ? ` (JUnit: ${o.junit})` : ''}`);
      if (!r.passed) process.exitCode = 1;
    });
}
