import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { InputError, errorMessage } from '../util/errors.js';
import { table } from '../util/table.js';
import { engine, print } from './common.js';
import { commaList, LAB_HELP, machineText, outputOption, text, toOption, wholeNumber, wholeNumberList, type OutputFormat } from './options.js';

type Proto = 'icmp' | 'tcp' | 'udp';

/** `probe`: is a flow open or blocked, in the lab you built. */
export function probeCommands(program: Command): void {
  program
    .command('probe')
    .description(
      'probe reachability between the workloads of a running lab (echo servers are started for the run): a cell per pair, protocol, family and port, with RTT and who answered; exit 1 when a cell differs from --expect',
    )
    .option('--lab <lab>', LAB_HELP)
    .addOption(
      toOption({
        flags: '--from <workloads>',
        description:
          'who probes: workload names (w1,w2) or a Calico selector over labels and projectcalico.org/namespace ("role == \'web\'"); default all workloads; hosts by name (host endpoint policy)',
        parse: text,
      }),
    )
    .addOption(toOption({ flags: '--to <workloads>', description: 'who is probed, as --from; default all', parse: text }))
    .addOption(toOption({ flags: '--proto <list>', description: 'icmp, tcp, udp', parse: commaList<Proto>(['icmp', 'tcp', 'udp'], 'protocol'), default: 'icmp,tcp' }))
    .addOption(toOption({ flags: '--port <list>', description: 'TCP/UDP ports served and probed', parse: wholeNumberList({ min: 1, max: 65535 }), default: '7777' }))
    .addOption(
      toOption({ flags: '--family <list>', description: 'address families, 4 and/or 6 (a cell needs the family at both ends)', parse: commaList<'4' | '6'>(['4', '6'], 'family'), default: '4,6' }),
    )
    .addOption(toOption({ flags: '--sample <n>', description: 'probe this many (from, to) pairs picked at random instead of all (large labs)', parse: wholeNumber({ min: 1 }) }))
    .addOption(toOption({ flags: '--timeout <ms>', description: 'how long a probe waits for an answer', parse: wholeNumber({ min: 100, max: 60_000, unit: 'milliseconds' }), default: '2000' }))
    .addOption(
      toOption({ flags: '--expect <file>', description: 'YAML or JSON list of {from, to, expect: open|blocked} (and proto, port, family if needed): exit 1 when one does not hold', parse: text }),
    )
    .addOption(outputOption())
    .action(async (o: { lab?: string; from?: string; to?: string; proto: Proto[]; port: number[]; family: ('4' | '6')[]; sample?: number; timeout: number; expect?: string; output: OutputFormat }) => {
      const { resolveLab } = await engine();
      const { parseExpectations, cellName } = await import('../verify/probe-plan.js');
      // The file first: bad input stops the command before a server starts.
      const expectations = o.expect === undefined ? undefined : parseExpectations(await readExpectFile(o.expect), o.expect);
      const state = await resolveLab(o.lab);
      const { probeLab } = await import('../scenarios/probe.js');
      const run = await probeLab(state, {
        ...(o.from !== undefined ? { from: o.from } : {}),
        ...(o.to !== undefined ? { to: o.to } : {}),
        protos: o.proto,
        families: o.family.map((f) => (f === '4' ? 4 : 6)),
        ports: o.port,
        ...(o.sample !== undefined ? { sample: o.sample } : {}),
        timeoutMs: o.timeout,
        ...(expectations ? { expectations } : {}),
      });
      if (run.mismatches?.length) process.exitCode = 1;
      if (o.output !== 'table') return print(await machineText(run, o.output));
      print(
        table(
          ['from', 'to', 'probe', 'address', 'result', 'rtt ms', 'answered by / why'],
          run.cells.map((c) => [
            c.from,
            c.to,
            cellName(c),
            c.ip,
            c.ok ? 'open' : 'BLOCKED',
            c.rttMs === undefined ? '-' : c.rttMs.toFixed(2),
            c.ok ? (c.proto === 'icmp' ? c.to : `${c.to}, saw ${c.seenAs}`) : (c.detail ?? ''),
          ]),
        ),
      );
      const open = run.cells.filter((c) => c.ok).length;
      print(`\n${run.cells.length} cells over ${run.pairs} pairs: ${open} open, ${run.cells.length - open} blocked (${run.ms} ms)`);
      if (run.mismatches) {
        if (run.mismatches.length === 0) print(`--expect ${o.expect}: all ${expectations!.length} expectations hold`);
        for (const m of run.mismatches) print(`NOT AS EXPECTED: ${m.expectation.from} → ${m.expectation.to}: ${m.why}`);
      }
    });
}

/** The expectations file's value (YAML or JSON); unreadable or malformed is bad input naming it. */
async function readExpectFile(path: string): Promise<unknown> {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`--expect ${path}: cannot read it (${errorMessage(err)})`);
  }
  return parseYamlOrJson(raw, path);
}

/** YAML (JSON is YAML) with aliases bounded, as every user file. */
async function parseYamlOrJson(raw: string, path: string): Promise<unknown> {
  // Loaded when a command runs, not at the top: `--help` stays instant.
  const { parseDocument } = await import('yaml');
  const { yamlValue } = await import('../util/yaml.js');
  const doc = parseDocument(raw, { prettyErrors: false });
  if (doc.errors.length) throw new InputError(`${path}: not YAML or JSON: ${doc.errors[0]!.message.split('\n')[0]}`);
  try {
    return yamlValue(doc);
  } catch (err) {
    throw new InputError(`${path}: ${errorMessage(err)}`);
  }
}
