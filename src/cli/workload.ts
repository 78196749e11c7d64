import { InvalidArgumentError, type Command } from 'commander';
import type { EndpointPort } from '../model/resources.js';
import { engine, print } from './common.js';
import { labelOption, LAB_HELP } from './options.js';

/** `a,b` → [a, b] (empty items dropped). */
const list = (text: string): string[] =>
  text
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** `--port http=8080` or `dns=53/udp` → an EndpointPort (checked by the engine with Calico's rules); repeated flags add up. */
function namedPort(raw: string, previous: EndpointPort[] = []): EndpointPort[] {
  const m = /^([^=]+)=(\d+)(?:\/(\w+))?$/.exec(raw.trim());
  if (!m) throw new InvalidArgumentError(`expected name=port or name=port/protocol (e.g. http=8080, dns=53/UDP), not ${JSON.stringify(raw)}`);
  const protocol = (m[3] ?? 'TCP').toUpperCase();
  if (!['TCP', 'UDP', 'SCTP'].includes(protocol)) throw new InvalidArgumentError(`protocol ${JSON.stringify(m[3])}: use TCP, UDP or SCTP`);
  return [...previous, { name: m[1]!, protocol: protocol as EndpointPort['protocol'], port: Number(m[2]) }];
}

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
    .option(
      '--port <name=port[/protocol]>',
      "a named port rules can refer to by name (Calico's WorkloadEndpoint ports), e.g. http=8080 or dns=53/UDP; protocol TCP (default), UDP or SCTP; repeat the flag for more",
      namedPort,
    )
    .option(
      '--ipv4-pools <pools>',
      "IP pools to take its IPv4 address from, by name or CIDR, comma-separated (Calico's cni.projectcalico.org/ipv4pools); default: every pool for workloads whose nodeSelector selects the host",
      list,
    )
    .option('--ipv6-pools <pools>', 'the same for its IPv6 address (dual-stack labs)', list)
    .option('--lab <lab>', LAB_HELP)
    .action(async (name: string, o: { host: string; lab?: string; namespace: string; label?: Record<string, string>; port?: EndpointPort[]; ipv4Pools?: string[]; ipv6Pools?: string[] }) => {
      const { addLabWorkload, resolveLab } = await engine();
      const wep = await addLabWorkload(await resolveLab(o.lab), name, o.host, {
        namespace: o.namespace,
        labels: o.label ?? {},
        ...(o.port ? { ports: o.port } : {}),
        ...(o.ipv4Pools ? { ipv4Pools: o.ipv4Pools } : {}),
        ...(o.ipv6Pools ? { ipv6Pools: o.ipv6Pools } : {}),
      });
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
