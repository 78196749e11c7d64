import type { Command } from 'commander';
import { builtinTopologies, describeBuiltins } from '../topologies/catalog.js';
import { InputError, NoSuchLabError } from '../util/errors.js';
import { table } from '../util/table.js';
import { engine, print } from './common.js';
import { LAB_HELP, labArg, machineText, NAME_ALIAS_HELP, oneOf, outputOption, toOption, wholeNumber, type OutputFormat } from './options.js';

/** A lab as a whole: up, down, status, exec, heal. */
export function labCommands(program: Command): void {
  program
    .command('up')
    .description('build a lab from a built-in topology or a topology YAML file')
    .argument('<topology>', `built-in topology (${builtinTopologies().join(', ')}) or path to a YAML file`)
    .addHelpText('after', `\nGenerated topologies: ${describeBuiltins()}`)
    .option('--lab <lab>', "the lab's name (default: the topology's name)")
    .option('--name <lab>', NAME_ALIAS_HELP)
    .addOption(toOption({ flags: '--hosts <n>', description: 'hosts, for the generated topologies', parse: wholeNumber() }))
    .addOption(toOption({ flags: '--workloads <n>', description: 'workloads per host, for the generated topologies (default 1)', parse: wholeNumber() }))
    .option('--backend <kind>', "where the lab's nodes live: netns (network namespaces, the default) or docker (containers); default: the topology's backend:, else netns")
    .addOption(
      toOption({
        flags: '--agents <mode>',
        description: 'per-host (a process per host, as calico-node) or shared (processes serving up to 50 hosts each, one datastore watch per process); default: per-host up to 20 hosts, shared above',
        parse: oneOf(['per-host', 'shared'] as const),
      }),
    )
    .option('--ignore-limits', 'build even a lab this machine cannot hold (memory, neighbour table, processes, build time), as estimated before anything is made')
    .action(async (topology: string, o: { lab?: string; name?: string; hosts?: number; workloads?: number; backend?: string; agents?: 'per-host' | 'shared'; ignoreLimits?: boolean }) => {
      const { resolveTopology } = await import('../topologies/index.js');
      const { up } = await engine();
      // An unknown backend is bad input, refused before the topology is even read.
      if (o.backend !== undefined) (await import('../sim/backends/index.js')).backendFor(o.backend);
      const resolved = resolveTopology(topology, { hosts: o.hosts, workloads: o.workloads });
      const plan = o.agents ? { ...resolved, agents: { ...resolved.agents, mode: o.agents } } : resolved;
      const name = labArg(o) ?? defaultLabName(plan.source, topology, plan.name);
      const r = await up(plan, { name, backend: o.backend, ignoreLimits: o.ignoreLimits, log: (l) => print(`  ${l}`) });
      print(`lab "${name}" is up: ${r.state.hosts.length} hosts, ${plan.workloads.length} workloads, all blocks learned by BGP in ${r.timings.total} ms`);
    });

  program
    .command('down')
    .description('remove a lab: its namespaces, veths, processes and state directory')
    .option('--lab <lab>', LAB_HELP)
    .option('--name <lab>', NAME_ALIAS_HELP)
    .option('--all', 'remove every lab on this machine')
    .action(async (o: { lab?: string; name?: string; all?: boolean }) => {
      const lab = labArg(o);
      if (o.all && lab !== undefined) throw new InputError('give --lab or --all, not both');
      const { down, downAll, resolveLab } = await engine();
      const t0 = performance.now();
      // Idempotent: removing a lab that is not there is not an error.
      const reports = o.all ? await downAll() : lab !== undefined ? [await down(lab)] : await Promise.all((await labsOrNone(resolveLab)).map((l) => down(l)));
      // A lab named that had nothing to remove is a typo until proven otherwise: say which exist.
      const [only] = reports;
      if (lab !== undefined && only && only.namespaces.length === 0 && only.processes === 0 && !only.stateDir) {
        const { allLabs } = await import('../sim/backends/index.js');
        throw new NoSuchLabError(
          lab,
          (await allLabs()).map((l) => l.lab),
        );
      }
      const was = (p: string | undefined) => (p === 'incomplete' ? ' (it was incomplete: its builder had died)' : p === 'building' ? ' (it was still being built)' : '');
      for (const r of reports) print(`lab "${r.lab}" removed${was(r.phase)}: ${r.namespaces.length} namespaces, ${r.processes} processes${r.stateDir ? `, ${r.stateDir}` : ''}`);
      if (reports.length === 0) print('no lab to remove');
      print(`down took ${Math.round(performance.now() - t0)} ms`);
    });

  program
    .command('ls')
    .description('the labs on this machine: backend, topology, state, hosts, workloads, age')
    .addOption(outputOption())
    .action(async (o: { output: OutputFormat }) => {
      const { listLabs } = await import('../sim/status.js');
      const labs = await listLabs();
      if (o.output !== 'table') return print(await machineText(labs, o.output));
      if (labs.length === 0) return print('no lab (start one: calico-sim up two-host)');
      print(
        table(
          ['lab', 'backend', 'topology', 'state', 'hosts', 'workloads', 'age'],
          labs.map((l) => [l.lab, l.backend, l.topology, l.phase, l.hosts, l.workloads ?? '?', l.ageS === undefined ? '-' : age(l.ageS)]),
        ),
      );
    });

  program
    .command('status')
    .description(
      'daemons, workloads and BGP sessions of a lab; exit code 0 when the lab is ready and every daemon runs, 1 when a part is dead or stalled or the lab is incomplete, 2 when there is no such lab',
    )
    .option('--lab <lab>', LAB_HELP)
    .addOption(outputOption())
    .option('--json', 'the same as -o json (machine-readable, a stable contract)')
    .action(async (o: { lab?: string; output: OutputFormat; json?: boolean }) => {
      const { status, resolveLab } = await engine();
      const st = await status(await resolveLab(o.lab));
      if (!st.healthy) process.exitCode = 1;
      const format = o.json ? 'json' : o.output;
      if (format !== 'table') return print(await machineText(st, format));
      const phase = st.phase === 'ready' ? (st.healthy ? 'running' : 'degraded') : st.phase === 'building' ? `being built by process ${st.builder?.pid}` : 'INCOMPLETE, builder gone';
      print(
        `lab ${st.lab} (backend ${st.backend}, topology ${st.topology}, agents ${st.agents === 'shared' ? 'shared by groups of hosts' : 'one per host'}): ${phase}; etcd ${daemon(st.etcd.state, st.etcd.pid)} at ${st.etcd.endpoints.join(',')}`,
      );
      print(
        table(
          ['host', 'ip', 'as', 'bird', 'agent', 'last heartbeat'],
          st.hosts.map((h) => [
            h.name,
            h.ip,
            h.as,
            daemon(h.bird.state, h.bird.pid),
            daemon(h.agent.state, h.agent.pid),
            h.agent.heartbeatAgeMs !== undefined ? `${Math.round(h.agent.heartbeatAgeMs / 1000)} s ago` : '-',
          ]),
        ),
      );
      print('');
      // Grouped by host, as a network engineer reads a rack.
      const byHost = [...st.workloads].sort((a, b) => a.host.localeCompare(b.host, undefined, { numeric: true }) || a.name.localeCompare(b.name));
      print(
        table(
          ['host', 'workload', 'namespace', 'ip', 'interface', 'labels'],
          byHost.map((w) => [
            w.host,
            w.name,
            w.namespace,
            [w.ip, w.ip6].filter(Boolean).join(', '),
            w.interface,
            Object.entries(w.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(',') || '-',
          ]),
        ),
      );
      print('');
      print(
        table(
          ['host', 'peer', 'peer ip', 'state', 'since', 'info'],
          st.bgp.map((b) => [b.host, b.peer, b.peerIp, b.state, b.since, b.info]),
        ),
      );
      const established = st.bgp.filter((b) => b.state === 'Established').length;
      const daemons = [st.etcd, ...st.hosts.flatMap((h) => [h.bird, h.agent]), ...st.routers.map((r) => r.bird)];
      print(
        `\n${established}/${st.bgp.length} sessions Established; ${daemons.filter((d) => d.state === 'running').length}/${daemons.length} daemons running; ${st.workloads.length} workloads on ${st.hosts.length} hosts`,
      );
      for (const e of st.errors) print(`error: ${e}`);
    });

  program
    .command('exec')
    .description("run a command inside a host or workload namespace; the lab's hosts and workloads resolve by name there (exec w1 -- ping w3)")
    .argument('<target>', 'host or workload name')
    .argument('[command...]', 'the command (put it after --); none: a shell (bash, else sh)')
    .option('--lab <lab>', LAB_HELP)
    .action(async (target: string, command: string[], o: { lab?: string }) => {
      const { netnsOf, resolveLab } = await engine();
      const { backendOf } = await import('../sim/backends/index.js');
      const { writeEtcHosts } = await import('../sim/etc-hosts.js');
      const state = await resolveLab(o.lab);
      const netns = await netnsOf(state, target);
      // Through sh, so that a command that does not exist exits 127 as in a shell (ip netns exec says 1).
      const argv = command.length ? ['sh', '-c', 'exec "$@"', 'sh', ...command] : ['sh', '-c', 'command -v bash >/dev/null && exec bash -i || exec sh -i'];
      process.exitCode = await backendOf(state).attach(netns, argv, { etcHosts: await writeEtcHosts(state) });
    });

  program
    .command('birdc')
    .description("run birdc on a host's or router's BIRD (its control socket found for you): calico-sim birdc host1 show protocols; no command: birdc's prompt")
    .argument('<node>', 'host or router name')
    .argument('[command...]', 'the birdc command, e.g. show route (put it after -- when it has options)')
    .option('--lab <lab>', LAB_HELP)
    .action(async (node: string, command: string[], o: { lab?: string }) => {
      const { resolveLab } = await engine();
      const { backendOf } = await import('../sim/backends/index.js');
      const state = await resolveLab(o.lab);
      const speaker = [...state.hosts, ...state.routers].find((x) => x.name === node);
      if (!speaker) throw new InputError(`no host or router named "${node}" in lab ${state.lab} (BIRD runs on: ${[...state.hosts, ...state.routers].map((x) => x.name).join(', ')})`);
      process.exitCode = await backendOf(state).attach(speaker.netns, ['birdc', '-s', speaker.bird.socket, ...command]);
    });

  program
    .command('heal')
    .description('restart every daemon of a lab (etcd, BIRD, agents) that is not running')
    .option('--lab <lab>', LAB_HELP)
    .action(async (o: { lab?: string }) => {
      const { heal, resolveLab } = await engine();
      const restarted = await heal(await resolveLab(o.lab));
      print(restarted.length ? `restarted: ${restarted.join(', ')}` : 'every daemon is running');
    });
}

/** [] when no lab exists (down without --name is then a no-op), else [the single lab]. */
async function labsOrNone(resolveLab: (n: undefined) => Promise<{ lab: string }>): Promise<string[]> {
  try {
    return [(await resolveLab(undefined)).lab];
  } catch (err) {
    if (err instanceof NoSuchLabError && err.lab === undefined) return [];
    throw err;
  }
}

function daemon(state: 'running' | 'stalled' | 'dead', pid: number | undefined): string {
  return state === 'running' ? `running (${pid})` : state === 'stalled' ? `STALLED (${pid})` : `DEAD${pid ? ` (was ${pid})` : ''}`;
}

/**
 * The lab name `up` picks when none is given: the topology's `name:` when it has one (`name`),
 * else its file or built-in name, as a lab name.
 */
export function defaultLabName(source: string, arg: string, name?: string): string {
  if (name !== undefined) return name;
  const base = (source.split('/').pop() ?? arg).replace(/\.ya?ml$/, '').replace(/ \(built-in.*$/, '');
  return (
    base
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 16)
      .replace(/-+$/, '') || 'lab'
  );
}

/** An age as people say it: 45 s, 12 min, 3 h, 2 d. */
export function age(s: number): string {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}
