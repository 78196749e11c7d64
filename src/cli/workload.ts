import type { Command } from 'commander';
import { engine, print } from './common.js';
import { labelOption, LAB_HELP } from './options.js';

/** Workloads in a running lab: add, del. */
export function workloadCommands(program: Command): void {
  const workload = program.command('workload').description('add or delete workloads in a running lab');
  workload
    .command('add')
    .description('create a workload on a host: address from IPAM, veth, routes, endpoint record')
    .argument('<name>', 'workload name')
    .requiredOption('--host <host>', 'host to place it on')
    .option('--namespace <ns>', 'its namespace (tenant): NetworkPolicy scope and profile kns.<ns>', 'default')
    .addOption(labelOption('a label policies select on'))
    .option('--lab <lab>', LAB_HELP)
    .action(async (name: string, o: { host: string; lab?: string; namespace: string; label?: Record<string, string> }) => {
      const { addLabWorkload, resolveLab } = await engine();
      const wep = await addLabWorkload(await resolveLab(o.lab), name, o.host, { namespace: o.namespace, labels: o.label ?? {} });
      print(`workload ${name} on ${o.host}: ${wep.spec.ipNetworks.join(', ')} via ${wep.spec.interfaceName}`);
    });
  workload
    .command('del')
    .description('delete a workload: namespace, veth, routes, record, address')
    .argument('<name>', 'workload name')
    .option('--lab <lab>', LAB_HELP)
    .action(async (name: string, o: { lab?: string }) => {
      const { deleteLabWorkload, resolveLab } = await engine();
      const r = await deleteLabWorkload(await resolveLab(o.lab), name);
      print(`workload ${name} deleted (released ${r.released.join(', ') || 'no address'})`);
    });
}
