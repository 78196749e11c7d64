import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ETCD_LIMIT_FLAGS } from '../datastore/limits.js';
import type { HostState, LabState, RouterState } from './state.js';
import { ETCD_CLIENT_PORT } from './state.js';

// Always the compiled agent, also when this module runs from source (tests): src/ and dist/
// sit at the same depth below the package root.
const AGENT_MAIN = fileURLToPath(new URL('../../dist/agent/main.js', import.meta.url));

/** A lab daemon: how to start it and how to recognise it in /proc. */
export interface DaemonSpec {
  what: string;
  netns: string;
  argv: string[];
  log: string;
  cwd?: string;
  /** Strings its command line contains: tells it apart from any other process with its pid. */
  marks: string[];
  /** Files a killed predecessor leaves behind that would stop it from starting (unix sockets). */
  staleFiles?: string[];
}

export function etcdSpec(s: LabState): DaemonSpec {
  const peer = 'http://127.0.0.1:2380';
  const name = `csim-${s.lab}`;
  return {
    what: 'etcd',
    netns: s.fabric.netns,
    cwd: s.dir, // the unix socket "etcd:2379" is created in the working directory
    log: s.etcd.log,
    // A kill -9 leaves the socket file: a restarted etcd would fail with "address already in use".
    staleFiles: [`${s.dir}/etcd:${ETCD_CLIENT_PORT}`],
    marks: ['etcd', s.etcd.dataDir],
    argv: [
      'etcd',
      '--name',
      name,
      '--data-dir',
      s.etcd.dataDir,
      '--listen-client-urls',
      `${s.etcd.endpoints[0]},unix://etcd:${ETCD_CLIENT_PORT}`,
      '--advertise-client-urls',
      s.etcd.endpoints[0]!,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `${name}=${peer}`,
      '--logger',
      'zap',
      '--log-outputs',
      'stderr',
      // Agents write heartbeats all the time: keep the history short so etcd never fills up.
      '--auto-compaction-mode',
      'revision',
      '--auto-compaction-retention',
      '1000',
      // A resource file is applied in one transaction: let it hold thousands of resources.
      ...ETCD_LIMIT_FLAGS,
    ],
  };
}

/**
 * BIRD on `h`. `recovery` (a restart of a BIRD that ran: `heal`) adds `-R`, as calico-node starts
 * BIRD: graceful-restart recovery, so the peers keep its routes as stale until it has sent them
 * again (End-of-RIB) and its kernel protocol leaves the kernel's routes alone until then. A first
 * start has nothing to recover and would only wait for peers that are not up yet.
 */
export function birdSpec(h: HostState | RouterState, o: { recovery?: boolean } = {}): DaemonSpec {
  return {
    what: `bird@${h.name}`,
    netns: h.netns,
    log: h.bird.log,
    marks: ['bird\0-f', h.bird.socket],
    argv: ['bird', '-f', '-c', h.bird.config, '-s', h.bird.socket, '-P', `${h.dir}/bird.pid`, ...(o.recovery ? ['-R'] : [])],
  };
}

/** The full pass of a shared agent process over its hosts' kernels. */
export const SHARED_RESYNC_MS = 90_000;

/** The agent serving `h`: its own process, or the shared process of its group. */
export function agentSpec(s: LabState, h: HostState): DaemonSpec {
  if (h.agent.group) return agentGroupSpec(s, h.agent.group);
  return {
    what: `agent@${h.name}`,
    netns: h.netns,
    log: h.agent.log,
    marks: [AGENT_MAIN, h.bird.config],
    argv: [process.execPath, AGENT_MAIN, '--host', h.name, '--etcd', s.etcd.endpoints.join(','), '--bird-config', h.bird.config, '--bird-socket', h.bird.socket],
  };
}

/**
 * A shared agent process: it runs in the fabric namespace (where etcd listens) and drives each
 * of its hosts' namespaces with `ip -n`; the hosts it serves are in its hosts file.
 */
function agentGroupSpec(s: LabState, group: string): DaemonSpec {
  const file = agentGroupFile(s, group);
  return {
    what: `agents@${group}`,
    netns: s.fabric.netns,
    log: `${s.dir}/agents/${group}.log`,
    marks: [AGENT_MAIN, file],
    // Felix's refresh period (RouteRefreshInterval, IptablesRefreshInterval: 90 s), not the 10 s
    // of a per-host agent: at 500 hosts a 10 s pass over every kernel was ~450 processes a second.
    // Deleted routes are still repaired at once (the kernel route watch).
    argv: [process.execPath, AGENT_MAIN, '--hosts-file', file, '--etcd', s.etcd.endpoints.join(','), '--resync-ms', String(SHARED_RESYNC_MS)],
  };
}

export const agentGroupFile = (s: LabState, group: string) => `${s.dir}/agents/${group}.json`;

/** Writes the hosts file of a shared agent process: the group's hosts (as the lab has them now, unless given). */
export function writeAgentGroupFile(s: LabState, group: string, members: readonly HostState[] = s.hosts.filter((h) => h.agent.group === group)): void {
  const served = members.map((h) => ({ host: h.name, netns: h.netns, birdConfig: h.bird.config, birdSocket: h.bird.socket }));
  mkdirSync(`${s.dir}/agents`, { recursive: true });
  writeFileSync(agentGroupFile(s, group), JSON.stringify(served, null, 2));
}

/** The agent processes serving `hosts` (each once, however many hosts it serves), with the hosts each serves. */
export function agentDaemons(s: LabState, hosts: readonly HostState[] = s.hosts): { spec: DaemonSpec; hosts: HostState[] }[] {
  const byWhat = new Map<string, { spec: DaemonSpec; hosts: HostState[] }>();
  for (const h of hosts) {
    const spec = agentSpec(s, h);
    const entry = byWhat.get(spec.what) ?? { spec, hosts: [] };
    entry.hosts.push(h);
    byWhat.set(spec.what, entry);
  }
  return [...byWhat.values()];
}
