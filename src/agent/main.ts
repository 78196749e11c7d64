#!/usr/bin/env node
import { existsSync, readdirSync, statSync } from 'node:fs';
import { NETNS_PREFIX } from '../model/names.js';
import { Command } from 'commander';
import { Datastore } from '../datastore/store.js';
import { errorMessage } from '../util/errors.js';
import { processRunner } from '../util/exec.js';
import { Agent } from './agent.js';
import { Dataplane } from './dataplane.js';

/**
 * The per-host agent daemon. The engine starts it inside the host's namespace:
 *   ip netns exec <host-ns> node dist/agent/main.js --host h1 --etcd http://198.18.0.1:2379 ...
 */
const program = new Command('calico-sim-agent')
  .description('calico-sim per-host agent (the Felix + confd role): watches etcd, converges routes, sysctls and BIRD config')
  .requiredOption('--host <name>', 'node name this agent serves')
  .requiredOption('--etcd <urls>', 'comma-separated etcd endpoints')
  .option('--netns <name>', 'drive this namespace from outside (ip -n) instead of the one the agent runs in')
  .option('--bird-config <path>', 'BIRD config file to render')
  .option('--bird-socket <path>', 'BIRD control socket to reload through')
  .option('--resync-ms <ms>', 'full resync period', (v) => Number(v), 10_000)
  .action(async (o: { host: string; etcd: string; netns?: string; birdConfig?: string; birdSocket?: string; resyncMs: number }) => {
    // Without --netns the agent programs the namespace it runs in: only ever a lab's own.
    if (!o.netns && !inLabNamespace()) {
      throw new Error("refusing to program a namespace that is not a calico-sim lab's: run me inside a host namespace (ip netns exec) or pass --netns");
    }
    const ds = new Datastore(o.etcd.split(','));
    // Every command of this agent (ip, sysctl, iptables, nft, bird, birdc) runs as a child process.
    const runner = processRunner;
    const agent = new Agent({
      host: o.host,
      ds,
      dataplane: new Dataplane(o.netns, { runner }),
      bird: o.birdConfig && o.birdSocket ? { config: o.birdConfig, socket: o.birdSocket } : undefined,
      runner,
      resyncMs: o.resyncMs,
    });
    const stop = async () => {
      await agent.stop();
      ds.close();
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop());
    process.on('SIGINT', () => void stop());
    await ds.ready(30_000);
    await agent.start();
    console.log(`${new Date().toISOString()} ${o.host} agent started (pid ${process.pid})`);
  });

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
