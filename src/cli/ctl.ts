import type { Command } from 'commander';
import { InputError, errorMessage } from '../util/errors.js';
import type { GetFormat } from '../ctl/format.js';
import { engine, print } from './common.js';
import { LAB_HELP, machineText, oneOf, outputOption, toOption, type OutputFormat } from './options.js';

/** How long `ctl apply --wait` waits at most: this, plus WAIT_PER_HOST_MS per host. */
const WAIT_BASE_S = 60;
const WAIT_PER_HOST_MS = 100;

/** The calicoctl role: apply, delete, get, node status, ipam show, ipam check. */
export function ctlCommands(program: Command): void {
  const ctl = program.command('ctl').description('the calicoctl role: resources, node status and IPAM of a lab');
  for (const [verb, done, what] of [
    [
      'apply',
      'applied',
      'create or update Calico v3 resources (IPPool, Node, BGPPeer, BGPConfiguration, BGPFilter, policies, Tier, Profile, HostEndpoint, FelixConfiguration) and Secrets from a YAML/JSON file; all or nothing',
    ],
    ['delete', 'deleted', 'delete the resources named in a file (apiVersion, kind and metadata suffice: no spec needed); all or nothing'],
  ] as const) {
    ctl
      .command(verb)
      .description(what)
      .requiredOption('-f, --filename <file>', 'resource file (- for standard input)')
      .option('--lab <lab>', LAB_HELP)
      .option(
        '--wait',
        `return once every agent has programmed the change and BGP has settled (every session Established, every block learned everywhere), saying how long each took; gives up after ${WAIT_BASE_S} s + ${WAIT_PER_HOST_MS} ms per host`,
      )
      .action(async (o: { filename: string; lab?: string; wait?: boolean }) => {
        const { resolveLab, withDatastore } = await engine();
        const { Ctl } = await import('../ctl/ctl.js');
        const { summary } = await import('../ctl/format.js');
        // A delete needs only each resource's kind and name: no spec.
        const resources = await readResources(o.filename, verb);
        const state = await resolveLab(o.lab);
        const { labNetworks } = await import('../model/address-plan.js');
        await withDatastore(state, async (ds) => {
          // The lab's own networks, which no pool may overlap (the rule of topology files).
          const ctl = new Ctl(ds, { labNetworks: labNetworks(state.plan) });
          const results: { kind: string; name: string; releasedBlocks?: string[]; note?: string }[] = verb === 'apply' ? await ctl.apply(resources) : await ctl.delete(resources);
          const t0 = performance.now();
          print(summary(done, results));
          for (const r of results) if (r.note) print(`note: ${r.note}`);
          for (const r of results) {
            if (r.releasedBlocks) print(`released the empty IPAM block${r.releasedBlocks.length > 1 ? 's' : ''} of ${r.kind} ${r.name}: ${r.releasedBlocks.join(', ')}`);
          }
          if (!o.wait) return;
          const { waitForAgents, waitForBgpSettled } = await import('../sim/readiness.js');
          const deadline = t0 + 1000 * WAIT_BASE_S + WAIT_PER_HOST_MS * state.hosts.length;
          await waitForAgents(ds, state, ctl.lastRevision!, Math.max(0, deadline - performance.now()));
          const agentsMs = Math.round(performance.now() - t0);
          print(`every agent (${state.hosts.length}) programmed it ${agentsMs} ms after the write`);
          const { sessions } = await waitForBgpSettled(ds, state, Math.max(0, deadline - performance.now()));
          print(`BGP settled ${Math.round(performance.now() - t0)} ms after the write: ${sessions}/${sessions} sessions Established, every block learned everywhere`);
        });
      });
  }
  ctl
    .command('get')
    .description('show resources of a kind (ippool, node, bgppeer, bgpconfig, networkpolicy, workloadendpoint...), or one by name')
    .argument('<kind>', 'resource kind, singular, plural or short')
    .argument('[name]', 'one resource: yaml and json print the object itself, not a List')
    .addOption(
      toOption({ flags: '-o, --output <format>', description: 'table, wide (a table with the labels), yaml or json', parse: oneOf(['table', 'wide', 'yaml', 'json'] as const), default: 'table' }),
    )
    .option('-n, --namespace <namespace>', 'namespace of a namespaced kind (workload endpoints, network policies); default "default"')
    .option('-A, --all-namespaces', 'list a namespaced kind across every namespace')
    .option('--lab <lab>', LAB_HELP)
    .action(async (kind: string, name: string | undefined, o: { output: GetFormat; namespace?: string; allNamespaces?: boolean; lab?: string }) => {
      if (o.allNamespaces && o.namespace !== undefined) throw new InputError('give -n NAMESPACE or -A, not both');
      if (o.allNamespaces && name !== undefined) throw new InputError(`-A lists every namespace; a named resource is looked up in one (-n NAMESPACE, default "default")`);
      const { resolveLab, withDatastore } = await engine();
      const { Ctl } = await import('../ctl/ctl.js');
      const { formatResources } = await import('../ctl/format.js');
      const { resolveKind } = await import('../ctl/kinds.js');
      const out = await withDatastore(await resolveLab(o.lab), async (ds) => {
        const c = new Ctl(ds);
        const list = await c.get(kind, name, { namespace: o.namespace, all: o.allNamespaces });
        return formatResources(list, o.output, { kind: resolveKind(kind), single: name !== undefined, defaultAsNumber: await c.defaultAsNumber() });
      });
      print(out);
    });

  const ctlNode = ctl.command('node').description('node commands');
  ctlNode
    .command('status')
    .description('BGP sessions of a host (or of every host), from its BIRD control socket (like calicoctl node status); exit code 1 when a BIRD is not running')
    .option('--host <host>', 'host (or router) name; default every host and router')
    .option('--lab <lab>', LAB_HELP)
    .addOption(outputOption())
    .action(async (o: { host?: string; lab?: string; output: OutputFormat }) => {
      const { nodeSessions, resolveLab } = await engine();
      const { formatNodeStatus, nodeStatusJson } = await import('../ctl/reports.js');
      const state = await resolveLab(o.lab);
      const nodes = o.host !== undefined ? [o.host] : [...state.hosts, ...state.routers].map((n) => n.name);
      const { pool } = await import('../util/pool.js');
      // A few birdc at a time: a lab may have a thousand hosts.
      const all = await pool(
        nodes.map((node) => async () => ({ node, ...(await nodeSessions(state, node)) })),
        16,
      );
      if (all.some((n) => !n.alive)) process.exitCode = 1;
      if (o.output !== 'table')
        return print(
          await machineText(
            all.map((n) => nodeStatusJson(n.node, n.alive, n.sessions)),
            o.output,
          ),
        );
      for (const [i, { node, alive, sessions }] of all.entries()) print(`${i ? '\n' : ''}${nodes.length > 1 ? `== ${node}\n` : ''}${formatNodeStatus(node, alive, sessions)}`);
    });

  const ctlIpam = ctl.command('ipam').description('IPAM commands');
  ctlIpam
    .command('show')
    .description('blocks per host and their usage')
    .option('--lab <lab>', LAB_HELP)
    .addOption(outputOption())
    .action(async (o: { lab?: string; output: OutputFormat }) => {
      const { resolveLab, withDatastore } = await engine();
      const { Ipam } = await import('../ipam/ipam.js');
      const { formatIpamShow, ipamShowJson } = await import('../ctl/reports.js');
      const blocks = await withDatastore(await resolveLab(o.lab), (ds) => new Ipam(ds).allBlocks());
      print(o.output === 'table' ? formatIpamShow(blocks) : await machineText(ipamShowJson(blocks), o.output));
    });
  ctlIpam
    .command('release')
    .description("free an allocated address, as calicoctl ipam release (its block and its handle's record in one transaction); for a leak that ipam check found")
    .requiredOption('--ip <address>', 'the address to free')
    .option('--lab <lab>', LAB_HELP)
    .action(async (o: { ip: string; lab?: string }) => {
      const { resolveLab, withDatastore } = await engine();
      const { Ipam } = await import('../ipam/ipam.js');
      const { IpamError } = await import('../util/errors.js');
      // An address that is not allocated (or in no pool) is the user's input, not a failure.
      await withDatastore(await resolveLab(o.lab), (ds) => new Ipam(ds).release(o.ip)).catch((err: unknown) => {
        throw err instanceof IpamError ? new InputError(err.message) : err;
      });
      print(`released ${o.ip}`);
    });
  ctlIpam
    .command('check')
    .description('find leaked, double-used or unrecorded addresses and inconsistent blocks; exit code 1 when it finds any')
    .option('--lab <lab>', LAB_HELP)
    .action(async (o: { lab?: string }) => {
      const { resolveLab, withDatastore } = await engine();
      const { Ipam } = await import('../ipam/ipam.js');
      const problems = await withDatastore(await resolveLab(o.lab), (ds) => new Ipam(ds).check());
      for (const p of problems) print(`${p.kind}: ${p.detail}`);
      print(problems.length === 0 ? 'IPAM is consistent: no problem found' : `${problems.length} problem(s) found`);
      if (problems.length) process.exitCode = 1;
    });
}

/** The resources of a file (- for standard input), for an apply or a delete; a file that cannot be read is an input error. */
async function readResources(file: string, verb: 'apply' | 'delete') {
  const { readFileSync } = await import('node:fs');
  const { parseDeleteTargets, parseResourceFile } = await import('../ctl/parse.js');
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`${file}: cannot read: ${errorMessage(err)}`);
  }
  return verb === 'apply' ? parseResourceFile(text, file) : parseDeleteTargets(text, file);
}
