import { Command } from 'commander';
import { table } from '../util/table.js';
import { constants } from 'node:os';
import { InputError, InterruptedError, NoSuchLabError, errorMessage } from '../util/errors.js';

// The engine (etcd client, gRPC, execa...) loads only when a command runs: --help stays instant.
const engine = () => import('../sim/lab.js');

const print = (s: string) => console.log(s);
// A reader that goes away (`up … | head`) must not crash a command halfway through what it builds.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});
const program = new Command('calico-sim')
  .description('Calico\'s pure layer-3 network from real parts (etcd, BIRD, kernel routes) in network namespaces')
  .option('--debug', 'print stack traces on errors')
  .showHelpAfterError();

const { builtinTopologies, describeBuiltins } = await import('../topologies/catalog.js');
program.command('up')
  .description('build a lab from a built-in topology or a topology YAML file')
  .argument('<topology>', `built-in topology (${builtinTopologies().join(', ')}) or path to a YAML file`)
  .addHelpText('after', `\nGenerated topologies: ${describeBuiltins()}`)
  .option('--name <lab>', 'lab name (default: the topology\'s name)')
  .option('--hosts <n>', 'hosts, for the generated topologies', Number)
  .option('--workloads <n>', 'workloads per host, for the generated topologies (default 1)', Number)
  .option('--ignore-limits', 'build even a lab this machine cannot hold (memory, neighbour table, processes, build time), as estimated before anything is made')
  .action(async (topology: string, o: { name?: string; hosts?: number; workloads?: number; ignoreLimits?: boolean }) => {
    const { resolveTopology } = await import('../topologies/index.js');
    const { up } = await engine();
    for (const [flag, v] of [['--hosts', o.hosts], ['--workloads', o.workloads]] as const) {
      if (v !== undefined && !Number.isInteger(v)) throw new InputError(`${flag} takes a whole number`);
    }
    const plan = resolveTopology(topology, { hosts: o.hosts, workloads: o.workloads });
    const name = o.name ?? defaultLabName(plan.source, topology);
    const r = await up(plan, { name, ignoreLimits: o.ignoreLimits, log: (l) => print(`  ${l}`) });
    r.notes.forEach((n) => print(`preflight: ${n}`));
    print(`lab "${name}" is up: ${r.state.hosts.length} hosts, ${plan.workloads.length} workloads, all blocks learned by BGP in ${r.timings.total} ms`);
  });

program.command('down')
  .description('remove a lab: its namespaces, veths, processes and state directory')
  .option('--name <lab>', 'lab name (may be left out when only one lab exists)')
  .option('--all', 'remove every lab on this machine')
  .action(async (o: { name?: string; all?: boolean }) => {
    const { down, downAll, resolveLab } = await engine();
    if (o.all && o.name !== undefined) throw new InputError('give --name or --all, not both');
    const t0 = performance.now();
    // Idempotent: removing a lab that is not there is not an error.
    const reports = o.all ? await downAll()
      : o.name !== undefined ? [await down(o.name)]
      : await Promise.all((await labsOrNone(resolveLab)).map((l) => down(l)));
    const was = (p: string | undefined) => (p === 'incomplete' ? ' (it was incomplete: its builder had died)' : p === 'building' ? ' (it was still being built)' : '');
    for (const r of reports) print(`lab "${r.lab}" removed${was(r.phase)}: ${r.namespaces.length} namespaces, ${r.processes} processes${r.stateDir ? `, ${r.stateDir}` : ''}`);
    if (reports.length === 0) print('no lab to remove');
    print(`down took ${Math.round(performance.now() - t0)} ms`);
  });

program.command('status')
  .description('daemons, workloads and BGP sessions of a lab; exit code 0 when the lab is ready and every daemon runs, 1 when a part is dead or stalled or the lab is incomplete, 2 when there is no such lab')
  .option('--name <lab>', 'lab name')
  .option('--json', 'machine-readable output (a stable contract)')
  .action(async (o: { name?: string; json?: boolean }) => {
    const { status, resolveLab } = await engine();
    const st = await status(await resolveLab(o.name));
    if (!st.healthy) process.exitCode = 1;
    if (o.json) return print(JSON.stringify(st, null, 2));
    const phase = st.phase === 'ready' ? (st.healthy ? 'running' : 'degraded') : st.phase === 'building' ? `being built by process ${st.builder?.pid}` : 'INCOMPLETE, builder gone';
    print(`lab ${st.lab} (backend ${st.backend}, topology ${st.topology}): ${phase}; etcd ${daemon(st.etcd.state, st.etcd.pid)} at ${st.etcd.endpoints.join(',')}`);
    print(table(['host', 'ip', 'as', 'bird', 'agent', 'last heartbeat'], st.hosts.map((h) => [
      h.name, h.ip, h.as, daemon(h.bird.state, h.bird.pid), daemon(h.agent.state, h.agent.pid),
      h.agent.heartbeatAgeMs !== undefined ? `${Math.round(h.agent.heartbeatAgeMs / 1000)} s ago` : '-'])));
    print('');
    print(table(['workload', 'host', 'ip', 'interface'], st.workloads.map((w) => [w.name, w.host, w.ip, w.interface])));
    print('');
    print(table(['host', 'peer', 'peer ip', 'state', 'since', 'info'], st.bgp.map((b) => [b.host, b.peer, b.peerIp, b.state, b.since, b.info])));
    st.errors.forEach((e) => print(`error: ${e}`));
  });

program.command('exec')
  .description('run a command inside a host or workload namespace')
  .argument('<target>', 'host or workload name')
  .argument('<command...>', 'the command (put it after --)')
  .option('--name <lab>', 'lab name')
  .action(async (target: string, command: string[], o: { name?: string }) => {
    const { netnsOf, resolveLab } = await engine();
    const { execa } = await import('execa');
    const ns = await netnsOf(await resolveLab(o.name), target);
    const r = await execa('ip', ['netns', 'exec', ns, ...command], { stdio: 'inherit', reject: false });
    process.exitCode = r.exitCode ?? 1;
  });

const workload = program.command('workload').description('add or delete workloads in a running lab');
workload.command('add')
  .description('create a workload on a host: address from IPAM, veth, routes, endpoint record')
  .argument('<name>', 'workload name')
  .requiredOption('--host <host>', 'host to place it on')
  .option('--namespace <ns>', 'its namespace (tenant): NetworkPolicy scope and profile kns.<ns>', 'default')
  .option('--label <key=value>', 'a label policies select on (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
  .option('--name <lab>', 'lab name')
  .action(async (name: string, o: { host: string; name?: string; namespace: string; label: string[] }) => {
    const { addLabWorkload, resolveLab } = await engine();
    const labels = Object.fromEntries(o.label.map((l) => {
      const i = l.indexOf('=');
      if (i < 1) throw new InputError(`--label ${JSON.stringify(l)}: expected key=value`);
      return [l.slice(0, i), l.slice(i + 1)];
    }));
    const wep = await addLabWorkload(await resolveLab(o.name), name, o.host, { namespace: o.namespace, labels });
    print(`workload ${name} on ${o.host}: ${wep.spec.ipNetworks.join(', ')} via ${wep.spec.interfaceName}`);
  });
workload.command('del')
  .description('delete a workload: namespace, veth, routes, record, address')
  .argument('<name>', 'workload name')
  .option('--name <lab>', 'lab name')
  .action(async (name: string, o: { name?: string }) => {
    const { deleteLabWorkload, resolveLab } = await engine();
    const r = await deleteLabWorkload(await resolveLab(o.name), name);
    print(`workload ${name} deleted (released ${r.released.join(', ') || 'no address'})`);
  });

const host = program.command('host').description('add or delete hosts in a running lab');
host.command('add')
  .description('add a host: namespace on the fabric, Node resource, BIRD and agent; every peer reloads its BGP config')
  .argument('<name>', 'host name')
  .option('--name <lab>', 'lab name')
  .option('--as <n>', 'the host\'s own AS number (default: the cluster\'s)', Number)
  .option('--route-reflector <clusterId>', 'make it a route reflector with this cluster id (e.g. 224.0.0.1)')
  .option('--label <key=value...>', 'labels of the Node resource')
  .action(async (name: string, o: { name?: string; as?: number; routeReflector?: string; label?: string[] }) => {
    const { resolveLab } = await engine();
    const { addHost } = await import('../sim/hosts.js');
    const labels = Object.fromEntries((o.label ?? []).map((l) => {
      const i = l.indexOf('=');
      if (i < 1) throw new InputError(`--label ${l}: expected key=value`);
      return [l.slice(0, i), l.slice(i + 1)];
    }));
    if (o.as !== undefined && (!Number.isInteger(o.as) || o.as < 1 || o.as > 4294967295)) throw new InputError(`--as ${o.as}: an AS number is a whole number in 1..4294967295`);
    if (o.routeReflector !== undefined && !/^\d{1,3}(\.\d{1,3}){3}$/.test(o.routeReflector)) throw new InputError(`--route-reflector ${o.routeReflector}: a cluster id looks like an IPv4 address (224.0.0.1)`);
    const t0 = performance.now();
    const h = await addHost(await resolveLab(o.name), name, { asNumber: o.as, routeReflector: o.routeReflector, labels });
    print(`host ${name} added at ${h.ip}; every host has every block again after ${Math.round(performance.now() - t0)} ms`);
  });
host.command('del')
  .description('delete a host with its workloads, blocks, Node resource, daemons and namespace')
  .argument('<name>', 'host name')
  .option('--name <lab>', 'lab name')
  .action(async (name: string, o: { name?: string }) => {
    const { resolveLab } = await engine();
    const { deleteHost } = await import('../sim/hosts.js');
    const r = await deleteHost(await resolveLab(o.name), name);
    print(`host ${name} deleted (workloads: ${r.workloads.join(', ') || 'none'}; blocks released: ${r.blocks.join(', ') || 'none'})`);
  });

const ctl = program.command('ctl').description('the calicoctl role: resources, node status and IPAM of a lab');
const readResources = async (file: string) => {
  const { readFileSync } = await import('node:fs');
  const { parseResourceFile } = await import('../ctl/resources.js');
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`${file}: cannot read: ${errorMessage(err)}`);
  }
  return parseResourceFile(text, file);
};
for (const [verb, done, what] of [
  ['apply', 'applied', 'create or update Calico v3 resources (IPPool, Node, BGPPeer, BGPConfiguration) from a YAML/JSON file; all or nothing'],
  ['delete', 'deleted', 'delete the resources named in a file; all or nothing'],
] as const) {
  ctl.command(verb)
    .description(what)
    .requiredOption('-f, --filename <file>', 'resource file (- for standard input)')
    .option('--name <lab>', 'lab name')
    .action(async (o: { filename: string; name?: string }) => {
      const { resolveLab, withDatastore } = await engine();
      const { Ctl, summary } = await import('../ctl/resources.js');
      const resources = await readResources(o.filename);
      const results = await withDatastore(await resolveLab(o.name), (ds) => (verb === 'apply' ? new Ctl(ds).apply(resources) : new Ctl(ds).delete(resources)));
      print(summary(done, results));
    });
}
ctl.command('get')
  .description('show resources of a kind (ippool, node, bgppeer, bgpconfig, workloadendpoint...)')
  .argument('<kind>', 'resource kind, singular, plural or short')
  .argument('[name]', 'one resource')
  .option('-o, --output <format>', 'yaml, json or table', 'table')
  .option('--name <lab>', 'lab name')
  .action(async (kind: string, name: string | undefined, o: { output: string; name?: string }) => {
    if (!['yaml', 'json', 'table'].includes(o.output)) throw new InputError(`-o ${o.output}: use yaml, json or table`);
    const { resolveLab, withDatastore } = await engine();
    const { Ctl, formatResources, resolveKind } = await import('../ctl/resources.js');
    const out = await withDatastore(await resolveLab(o.name), async (ds) => {
      const c = new Ctl(ds);
      const list = await c.get(kind, name);
      return formatResources(list, o.output as 'yaml' | 'json' | 'table', { kind: resolveKind(kind), defaultAsNumber: await c.defaultAsNumber() });
    });
    print(out);
  });
const ctlNode = ctl.command('node').description('node commands');
ctlNode.command('status')
  .description('BGP sessions of a host, from its BIRD control socket (like calicoctl node status)')
  .requiredOption('--host <host>', 'host (or router) name')
  .option('--name <lab>', 'lab name')
  .action(async (o: { host: string; name?: string }) => {
    const { resolveLab } = await engine();
    const { bgpSessions } = await import('../bgp/bird.js');
    const { birdSpec, daemonAlive } = await import('../sim/daemons.js');
    const { formatNodeStatus } = await import('../ctl/reports.js');
    const state = await resolveLab(o.name);
    const h = [...state.hosts, ...state.routers].find((x) => x.name === o.host);
    if (!h) throw new InputError(`unknown host "${o.host}" in lab ${state.lab}`);
    const alive = daemonAlive(birdSpec(h), h.bird.pid);
    print(formatNodeStatus(h.name, alive, alive ? await bgpSessions(h.bird.socket) : []));
    if (!alive) process.exitCode = 1;
  });
const ctlIpam = ctl.command('ipam').description('IPAM commands');
ctlIpam.command('show')
  .description('blocks per host and their usage')
  .option('--name <lab>', 'lab name')
  .action(async (o: { name?: string }) => {
    const { resolveLab, withDatastore } = await engine();
    const { Ipam } = await import('../ipam/ipam.js');
    const { formatIpamShow } = await import('../ctl/reports.js');
    print(formatIpamShow(await withDatastore(await resolveLab(o.name), (ds) => new Ipam(ds).allBlocks())));
  });
ctlIpam.command('check')
  .description('find leaked, double-used or unrecorded addresses and inconsistent blocks')
  .option('--name <lab>', 'lab name')
  .action(async (o: { name?: string }) => {
    const { resolveLab, withDatastore } = await engine();
    const { Ipam } = await import('../ipam/ipam.js');
    const problems = await withDatastore(await resolveLab(o.name), (ds) => new Ipam(ds).check());
    for (const p of problems) print(`${p.kind}: ${p.detail}`);
    print(problems.length === 0 ? 'IPAM is consistent: no problem found' : `${problems.length} problem(s) found`);
    if (problems.length) process.exitCode = 1;
  });

program.command('heal')
  .description('restart every daemon of a lab (etcd, BIRD, agents) that is not running')
  .option('--name <lab>', 'lab name')
  .action(async (o: { name?: string }) => {
    const { heal, resolveLab } = await engine();
    const restarted = await heal(await resolveLab(o.name));
    print(restarted.length ? `restarted: ${restarted.join(', ')}` : 'every daemon is running');
  });

program.command('conformance')
  .description('the conformance suite: builds each lab, probes every pair (ICMP/TCP/UDP, IPv4/IPv6) while capturing the fabric, proves no NAT and no encapsulation, tears down')
  .argument('[labs...]', 'which labs of the suite (default: two-host, mesh, route-reflector, gateway, dual-stack)')
  .option('--report-dir <dir>', 'captures, flow reports and sysdumps of failures', 'reports/conformance')
  .option('--junit <file>', 'write JUnit XML (one testcase per check)')
  .option('--json <file>', 'write the results as JSON')
  .action(async (labs: string[], o: { reportDir: string; junit?: string; json?: string }) => {
    const { conformance, DEFAULT_SUITE, writeReports } = await import('../scenarios/conformance.js');
    const unknown = labs.filter((l) => !DEFAULT_SUITE.some((s) => s.id === l));
    if (unknown.length) throw new InputError(`unknown suite lab(s) ${unknown.join(', ')} (known: ${DEFAULT_SUITE.map((s) => s.id).join(', ')})`);
    const suite = labs.length ? DEFAULT_SUITE.filter((s) => labs.includes(s.id)) : DEFAULT_SUITE;
    const r = await conformance({ suite, reportDir: o.reportDir, log: print });
    writeReports(r, o);
    const failed = r.checks.filter((c) => !c.ok).length;
    print(`\nconformance: ${r.checks.length - failed} passed, ${failed} failed, in ${(r.durationMs / 1000).toFixed(1)} s${o.junit ? ` (JUnit: ${o.junit})` : ''}`);
    if (!r.passed) process.exitCode = 1;
  });

const bench = program.command('bench').description('benchmarks that print figures and write reports');
bench.command('throughput')
  .description('iperf3 (TCP 1 and 4 streams, UDP) and ping RTT on four paths side by side: host↔host, L3 workloads across hosts, the same over VXLAN, one host')
  .option('--trials <n>', 'trials per path and mode (at least 5 for figures worth quoting)', Number, 5)
  .option('--duration <s>', 'seconds per iperf3 run', Number, 3)
  .option('--report-dir <dir>', 'where reports/<run-id>/ goes', 'reports')
  .action(async (o: { trials: number; duration: number; reportDir: string }) => {
    if (!Number.isInteger(o.trials) || o.trials < 1) throw new InputError('--trials takes a whole number ≥ 1');
    if (!Number.isInteger(o.duration) || o.duration < 1) throw new InputError('--duration takes a whole number of seconds ≥ 1');
    const { benchThroughput } = await import('../scenarios/bench-throughput.js');
    await benchThroughput({ trials: o.trials, durationS: o.duration, reportDir: o.reportDir, log: print });
  });

bench.command('policy')
  .description('network policy cost on iptables and nftables: apply → enforced on every host, throughput of an allowed flow, new-connection and ping latency, at 0…5,000 rules per endpoint (or set members)')
  .option('--dataplane <list>', 'comma-separated: iptables,nftables', 'iptables,nftables')
  .option('--sizes <list>', 'rules per endpoint (or members of one rule\'s set), comma-separated', '0,100,1000,5000')
  .option('--variants <list>', 'rules (N rules walked by every new flow), members (one rule, a set of N addresses)', 'rules,members')
  .option('--trials <n>', 'trials per size', Number, 3)
  .option('--duration <s>', 'seconds per iperf3 run', Number, 3)
  .option('--report-dir <dir>', 'where reports/<run-id>/ goes', 'reports')
  .action(async (o: { dataplane: string; sizes: string; variants: string; trials: number; duration: number; reportDir: string }) => {
    const list = (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean);
    const dataplanes = list(o.dataplane);
    for (const d of dataplanes) if (d !== 'iptables' && d !== 'nftables') throw new InputError(`--dataplane: "${d}" is not iptables or nftables`);
    const sizes = list(o.sizes).map((x) => { const n = Number(x); if (!Number.isInteger(n) || n < 0 || n > 20000) throw new InputError(`--sizes: "${x}" is not a whole number 0–20000`); return n; });
    const variants = list(o.variants);
    for (const v of variants) if (v !== 'rules' && v !== 'members') throw new InputError(`--variants: "${v}" is not rules or members`);
    if (!Number.isInteger(o.trials) || o.trials < 1) throw new InputError('--trials takes a whole number ≥ 1');
    if (!Number.isInteger(o.duration) || o.duration < 1) throw new InputError('--duration takes a whole number of seconds ≥ 1');
    const { benchPolicyRun } = await import('../scenarios/bench-policy.js');
    await benchPolicyRun({ dataplanes: dataplanes as ('iptables' | 'nftables')[], sizes, variants: variants as ('rules' | 'members')[], trials: o.trials, durationS: o.duration, reportDir: o.reportDir, log: print });
  });

const report = program.command('report').description('compare and render benchmark reports');
report.command('diff')
  .description("compare two benchmark runs (throughput, convergence or policy) metric by metric; exit code 1 on a regression: a new median worse than the old one by more than the threshold AND outside the old run's min–max over its trials (spread the old run itself showed is noise; a figure without a trial range is judged by the threshold alone)")
  .argument('<old>', 'the reference run: its directory (reports/<run-id>) or its results.json')
  .argument('<new>', 'the run to check: its directory or its results.json')
  .option('--threshold <pct>', 'regression threshold in %: throughput lower, or RTT / convergence time / loss higher, than the old median by more than this (and outside the old min–max)', Number, 10)
  .action(async (oldArg: string, newArg: string, o: { threshold: number }) => {
    const { diffResults, formatDiff, loadResults } = await import('../report/diff.js');
    const d = diffResults(loadResults(oldArg), loadResults(newArg), o.threshold);
    print(formatDiff(d));
    if (d.regressions) process.exitCode = 1;
  });
report.command('schema')
  .description('print the JSON Schema of results.json (docs/results-schema.md): the common envelope, or a kind with its results')
  .argument('[kind]', 'bench-throughput, bench-convergence or bench-policy (default: the envelope every kind shares)')
  .action(async (kind?: string) => {
    const { resultsJsonSchema } = await import('../report/results-schema.js');
    print(JSON.stringify(resultsJsonSchema(kind), null, 2));
  });

bench.command('convergence')
  .description('control-plane (ip monitor route) and data-plane (1,000 pkt/s stream loss) convergence per event, with default, tuned and BFD timers')
  .option('--trials <n>', 'trials per event and timer setting', Number, 5)
  .option('--events <list>', 'comma-separated events (default: all): workload-existing-block, workload-new-block, host-join, host-crash, rr-fail, link-flap, agent-restart, etcd-restart')
  .option('--timers <list>', 'comma-separated timer settings (default: tuned,bfd,default): default is slow, a host crash waits out a 240 s hold time')
  .option('--report-dir <dir>', 'where reports/<run-id>/ goes', 'reports')
  .action(async (o: { trials: number; events?: string; timers?: string; reportDir: string }) => {
    const { benchConvergence, EVENTS, TIMER_SETTINGS } = await import('../scenarios/bench-convergence.js');
    if (!Number.isInteger(o.trials) || o.trials < 1) throw new InputError('--trials takes a whole number ≥ 1');
    const pick = <T extends string>(list: string | undefined, known: readonly T[], what: string, dflt: readonly T[]): T[] => {
      const items = list ? list.split(',').map((x) => x.trim()) : [...dflt];
      const bad = items.filter((x) => !known.includes(x as T));
      if (bad.length) throw new InputError(`unknown ${what}: ${bad.join(', ')} (known: ${known.join(', ')})`);
      return items as T[];
    };
    const events = pick(o.events, Object.keys(EVENTS) as (keyof typeof EVENTS)[], 'event', Object.keys(EVENTS) as (keyof typeof EVENTS)[]);
    const settings = pick(o.timers, Object.keys(TIMER_SETTINGS) as (keyof typeof TIMER_SETTINGS)[], 'timer setting', ['tuned', 'bfd', 'default']);
    await benchConvergence({ trials: o.trials, events, settings, reportDir: o.reportDir, log: print });
  });

program.command('run')
  .description('run a scenario: up, checks, report, down. Scenarios: quickstart; the policy scenarios tenant-isolation, security-groups, default-deny (policies in examples/policy/, checked against an expected matrix of allowed and blocked cells)')
  .argument('<scenario>', 'scenario name')
  .option('--name <lab>', 'lab name')
  .option('--dataplane <kind>', 'policy scenarios: the ruleset the agents program, iptables or nftables', 'iptables')
  .option('--break <policy>', 'policy scenarios, a negative control: flip the first Allow rule of this policy to Deny (the run must then fail at the cells that rule allowed)')
  .option('--report-dir <dir>', 'write the results as JSON here')
  .action(async (scenario: string, o: { name?: string; reportDir?: string; dataplane: string; break?: string }) => {
    if (scenario === 'quickstart') {
      const { quickstart } = await import('../scenarios/quickstart.js');
      const r = await quickstart({ name: o.name, reportDir: o.reportDir, print });
      if (!r.passed) process.exitCode = 1;
      return;
    }
    if (o.dataplane !== 'iptables' && o.dataplane !== 'nftables') throw new InputError(`--dataplane ${o.dataplane}: use iptables or nftables`);
    const { runPolicyScenario, policyScenario, printPolicyRun } = await import('../scenarios/policy.js');
    policyScenario(scenario); // unknown names fail before anything is built
    const r = await runPolicyScenario({ scenario, dataplane: o.dataplane, name: o.name, breakPolicy: o.break, log: print });
    printPolicyRun(r, print, o.reportDir);
    if (!r.passed) process.exitCode = 1;
  });

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

function defaultLabName(source: string, arg: string): string {
  const base = (source.split('/').pop() ?? arg).replace(/\.ya?ml$/, '').replace(/ \(built-in.*$/, '');
  return base.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 16).replace(/-+$/, '') || 'lab';
}

program.parseAsync().catch((err: unknown) => {
  if (program.opts().debug && err instanceof Error) console.error(err.stack);
  const problems = (err as { problems?: unknown }).problems;
  if (Array.isArray(problems) && problems.length > 1) problems.forEach((p) => console.error(`calico-sim: ${String(p)}`));
  else console.error(`calico-sim: ${errorMessage(err)}`);
  // 2: the input was wrong (topology, resource file, names, options); 1: something failed;
  // 128 + n: signal n interrupted it (what it had made is removed).
  process.exitCode = err instanceof InputError ? 2 : err instanceof InterruptedError ? 128 + (constants.signals[err.signal] ?? 0) : 1;
});
