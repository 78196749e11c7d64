import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadTopologyFile, type LabPlan } from '../model/topology.js';
import { TopologyError } from '../util/errors.js';

/** Built-in topologies live as YAML beside this module's source. */
const DIR = fileURLToPath(new URL('../../src/topologies/', import.meta.url));

export function builtinTopologies(): string[] {
  return readdirSync(DIR).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort();
}

/** A built-in name or a path to a YAML file. */
export function resolveTopology(arg: string): LabPlan {
  if (builtinTopologies().includes(arg)) return loadTopologyFile(`${DIR}${arg}.yaml`);
  if (existsSync(arg)) return loadTopologyFile(arg);
  throw new TopologyError(`unknown topology "${arg}": not a built-in (${builtinTopologies().join(', ')}) and no such file`);
}
