import type { Command } from 'commander';
import { engine, print } from './common.js';
import { dottedQuad, labelOption, toOption, wholeNumber, LAB_HELP } from './options.js';

/** Hosts in a running lab: add, del. */
export function hostCommands(program: Command): void {
  const host = program.command('host').description('add or delete hosts in a running lab');
  host
    .command('add')
    .description('add a host: namespace on the fabric, Node resource, BIRD and agent; every peer reloads its BGP config')
    .argument('<name>', 'host name')
    .option('--lab <lab>', LAB_HELP)
    .addOption(toOption({ flags: '--as <n>', description: "the host's own AS number (default: the cluster's)", parse: wholeNumber({ min: 1, max: 4294967295 }) }))
    .addOption(toOption({ flags: '--route-reflector <clusterId>', description: 'make it a route reflector with this cluster id (e.g. 224.0.0.1)', parse: dottedQuad }))
    .addOption(labelOption('a label of the Node resource'))
    .action(async (name: string, o: { lab?: string; as?: number; routeReflector?: string; label?: Record<string, string> }) => {
      const { resolveLab } = await engine();
      const { addHost } = await import('../sim/hosts.js');
      const t0 = performance.now();
      const h = await addHost(await resolveLab(o.lab), name, { asNumber: o.as, routeReflector: o.routeReflector, labels: o.label ?? {} });
      print(`host ${name} added at ${h.ip}${h.ip6 ? ` and ${h.ip6}` : ''}; every host has every block again after ${Math.round(performance.now() - t0)} ms`);
    });
  host
    .command('del')
    .description('delete a host with its workloads, blocks, Node resource, daemons and namespace')
    .argument('<name>', 'host name')
    .option('--lab <lab>', LAB_HELP)
    .action(async (name: string, o: { lab?: string }) => {
      const { resolveLab } = await engine();
      const { deleteHost } = await import('../sim/hosts.js');
      const r = await deleteHost(await resolveLab(o.lab), name);
      print(`host ${name} deleted (workloads: ${r.workloads.join(', ') || 'none'}; blocks released: ${r.blocks.join(', ') || 'none'})`);
    });
}
