import { existsSync } from 'node:fs';
import { loadTopologyFile, planTopology, type LabPlan } from '../model/topology.js';
import { TopologyError } from '../util/errors.js';
import { builtinTopologies, DIR, generators, type GeneratorOptions } from './catalog.js';

export { builtinTopologies, describeBuiltins, type GeneratorOptions } from './catalog.js';

/** A built-in name (with sizes for the generated ones) or a path to a YAML file. */
export function resolveTopology(arg: string, opts: GeneratorOptions = {}): LabPlan {
  const gen = generators[arg];
  const sized = opts.hosts !== undefined || opts.workloads !== undefined;
  if (gen) {
    const hosts = opts.hosts ?? gen.defaultHosts;
    const workloads = opts.workloads ?? 1;
    if (!Number.isInteger(hosts) || hosts < gen.minHosts) throw new TopologyError(`${arg}: --hosts must be a whole number ≥ ${gen.minHosts}, got ${opts.hosts}`);
    if (!Number.isInteger(workloads) || workloads < 0) throw new TopologyError(`${arg}: --workloads must be a whole number ≥ 0, got ${opts.workloads}`);
    return planTopology(gen.make(hosts, workloads), `${arg} (built-in, ${hosts} hosts)`);
  }
  if (sized) throw new TopologyError(`--hosts and --workloads size the generated topologies only (${Object.keys(generators).join(', ')}), not "${arg}"`);
  if (builtinTopologies().includes(arg)) return loadTopologyFile(`${DIR}${arg}.yaml`);
  if (existsSync(arg)) return loadTopologyFile(arg);
  throw new TopologyError(`unknown topology "${arg}": not a built-in (${builtinTopologies().join(', ')}) and no such file`);
}
