import { mkdirSync, writeFileSync } from 'node:fs';
import { birdc } from '../bgp/bird.js';
import { backendOf } from '../sim/backends/index.js';
import { withDatastore } from '../sim/lab.js';
import type { LabState } from '../sim/state.js';
import { tryRun } from '../util/exec.js';
import { errorMessage } from '../util/errors.js';

/**
 * Everything needed to read a failure without rerunning it: every host's and router's routes and
 * BIRD protocol states, the datastore (agent heartbeats included), the daemons' logs' tails.
 * Best effort: a dead part is noted, never fatal.
 */
export async function sysdump(state: LabState, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const nodes = [...state.hosts, ...state.routers];
  const backend = backendOf(state);
  await Promise.all(
    nodes.map(async (n) => {
      const out: string[] = [];
      for (const args of [['-4', 'route', 'show', 'table', 'all'], ['-6', 'route'], ['neigh'], ['-br', 'addr']]) {
        const r = await backend.exec(n.netns, ['ip', ...args]);
        out.push(`$ ip ${args.join(' ')}\n${r.stdout}${r.stderr}`);
      }
      for (const cmd of ['show protocols all', 'show route all']) {
        out.push(`$ birdc ${cmd}\n${await birdc(n.bird.socket, cmd).catch((e: unknown) => `(unavailable: ${errorMessage(e)})`)}`);
      }
      for (const log of ['bird' in n ? n.bird.log : undefined, 'agent' in n ? n.agent.log : undefined]) {
        if (log) out.push(`$ tail ${log}\n${(await tryRun('tail', ['-n', '50', log])).stdout}`);
      }
      writeFileSync(`${dir}/${n.name}.txt`, out.join('\n\n'));
    }),
  );
  try {
    const dump = await withDatastore(state, async (ds) => (await ds.list<unknown>('/calico/')).items.map((i) => ({ key: i.key, value: i.value })));
    writeFileSync(`${dir}/etcd.json`, JSON.stringify(dump, null, 2));
  } catch (err) {
    writeFileSync(`${dir}/etcd.json`, JSON.stringify({ error: errorMessage(err) }));
  }
  return dir;
}
