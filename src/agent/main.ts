#!/usr/bin/env node
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { Command } from 'commander';
import { Syncer } from '../datastore/syncer.js';
import { Datastore } from '../datastore/store.js';
import { NETNS_PREFIX } from '../model/names.js';
import { errorMessage } from '../util/errors.js';
import { processRunner, limitedRunner } from '../util/exec.js';
import { forkThroughSpawner } from '../util/spawner.js';
import { Agent } from './agent.js';
import { Dataplane } from './dataplane.js';

/** One host this process serves: which node, the namespace it drives, its BIRD. */
interface Served {
  host: string;
  netns?: string;
  birdConfig?: string;
  birdSocket?: string;
}

/**
 * The agent daemon. Per host, the engine starts it inside the host's namespace:
 *   ip netns exec <host-ns> node dist/agent/main.js --host h1 --etcd http://198.18.0.1:2379 ...
 * For a large lab, one process serves many hosts (--hosts-file): one datastore connection and
 * one Syncer (Typha's role: one watch, fanned out), an Agent per host driving that host's
 * namespace from outside with `ip -n`. The agent code is the same either way.
 */
/** Commands a shared agent process runs at once (2 cores here: more only queue in the kernel). */
const SHARED_COMMANDS = 8;

const program = new Command('calico-sim-agent')
  .description('calico-sim agent (the Felix + confd role): watches etcd, converges routes, sysctls, rules and BIRD config of one host, or of many')
  .option('--host <name>', 'node name this agent serves')
  .option('--hosts-file <path>', 'serve many hosts: a JSON list of {host, netns, birdConfig, birdSocket}')
  .requiredOption('--etcd <urls>', 'comma-separated etcd endpoints')
  .option('--netns <name>', 'drive this namespace from outside (ip -n) instead of the one the agent runs in')
  .option('--bird-config <path>', 'BIRD config file to render')
  .option('--bird-socket <path>', 'BIRD control socket to reload through')
  .option('--resync-ms <ms>', 'full resync period', (v) => Number(v), 10_000)
  .action(async (o: { host?: string; hostsFile?: string; etcd: string; netns?: string; birdConfig?: string; birdSocket?: string; resyncMs: number }) => {
    if (!o.host === !o.hostsFile) throw new Error('give --host or --hosts-file');
    const served: Served[] = o.hostsFile ? (JSON.parse(readFileSync(o.hostsFile, 'utf8')) as Served[]) : [{ host: o.host!, netns: o.netns, birdConfig: o.birdConfig, birdSocket: o.birdSocket }];
    // Without a namespace to drive, an agent programs the namespace it runs in: only ever a lab's own.
    if (served.some((s) => !s.netns) && !inLabNamespace() && !inLabContainer(served)) {
      throw new Error("refusing to program a namespace that is not a calico-sim lab's: run me inside a host namespace (ip netns exec) or container, or pass --netns");
    }
    const ds = new Datastore(o.etcd.split(','));
    const log = (l: string) => console.log(l);
    const syncer = new Syncer(ds, (l) => log(`${new Date().toISOString()} syncer ${l}`));
    // Every command of these agents (ip, sysctl, iptables, nft, bird, birdc) runs as a child
    // process; a shared process runs at most SHARED_COMMANDS at once, however many hosts it serves.
    // It forks them through a small spawner process: a fork from a heap of 150+ MB costs 10 ms
    // and more of a blocked event loop each (spawner.ts).
    if (o.hostsFile) forkThroughSpawner();
    const runner = o.hostsFile ? limitedRunner(processRunner, SHARED_COMMANDS) : processRunner;
    const agents = served.map(
      (s) =>
        new Agent({
          host: s.host,
          ds,
          syncer,
          dataplane: new Dataplane(s.netns, { runner }),
          bird: s.birdConfig && s.birdSocket ? { config: s.birdConfig, socket: s.birdSocket } : undefined,
          runner,
          resyncMs: o.resyncMs,
          log,
        }),
    );
    const stop = async () => {
      await Promise.all(agents.map((a) => a.stop()));
      await syncer.stop();
      ds.close();
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop());
    process.on('SIGINT', () => void stop());
    await ds.ready(30_000);
    await syncer.start();
    await Promise.all(agents.map((a) => a.start()));
    console.log(`${new Date().toISOString()} agent started for ${served.map((s) => s.host).join(', ')} (pid ${process.pid})`);
  });

/**
 * True if this process runs in a lab's host container (the docker backend): a container, started
 * by the backend with CALICO_SIM_NODE set, whose hostname is the one host it serves. (/.dockerenv
 * alone is not enough: a machine that is itself a container has one.)
 */
function inLabContainer(served: { host: string }[]): boolean {
  return existsSync('/.dockerenv') && !!process.env.CALICO_SIM_NODE && served.length === 1 && hostname() === served[0]!.host;
}

/** True if this process runs in one of the named namespaces a lab made. */
function inLabNamespace(): boolean {
  const mine = statSync('/proc/self/ns/net').ino;
  const named = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(NETNS_PREFIX)) : [];
  return named.some((n) => statSync(`/run/netns/${n}`).ino === mine);
}

program.parseAsync().catch((err: unknown) => {
  console.error(`calico-sim-agent: ${errorMessage(err)}`);
  process.exit(1);
});
