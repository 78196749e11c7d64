import { execa } from 'execa';
import { existsSync, readdirSync } from 'node:fs';
import { down, up, type UpResult } from '../../src/sim/lab.js';
import { resolveTopology } from '../../src/topologies/index.js';
import { NETNS_PREFIX } from '../../src/model/names.js';
import { backendFor } from '../../src/sim/backends/index.js';

/** The backend the test labs are built with: how tests reach their nodes. */
export const runner = backendFor('netns');

/** Builds a lab for a test file; pair with `downLab` in afterAll. */
export async function upLab(topology: string, name: string): Promise<UpResult> {
  await down(name); // a previous crashed run must not get in the way
  return up(resolveTopology(topology), { name });
}

export async function downLab(name: string): Promise<void> {
  await down(name);
}

/** Runs the CLI as a user would; never throws. */
export async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await execa(process.execPath, ['bin/calico-sim.js', ...args], { reject: false, timeout: 120_000 });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Namespaces of any calico-sim lab on the machine. */
export function labNamespaces(lab?: string): string[] {
  if (!existsSync('/run/netns')) return [];
  return readdirSync('/run/netns').filter((n) => n.startsWith(lab ? `${NETNS_PREFIX}${lab}_` : NETNS_PREFIX));
}

/** One ping from a namespace; true if answered. */
export async function ping(netns: string, ip: string, timeoutS = 1): Promise<boolean> {
  const r = await execa('ip', ['netns', 'exec', netns, 'ping', '-n', '-q', '-c', '1', '-W', String(timeoutS), ip], { reject: false });
  return r.exitCode === 0;
}

export async function ipRoutes(netns: string, ...filter: string[]): Promise<{ dst: string; dev?: string; gateway?: string; protocol?: string; type?: string }[]> {
  const isFamily = (f: string) => f === '-4' || f === '-6';
  const r = await execa('ip', ['-n', netns, '-j', ...filter.filter(isFamily), 'route', 'show', ...filter.filter((f) => !isFamily(f))]);
  return JSON.parse(String(r.stdout) || '[]');
}

/** The routes, rules, links, addresses and firewall rules of a namespace (default: the root one), to compare before and after. */
export async function netSnapshot(netns?: string): Promise<string> {
  const cmds = [
    ['ip', '-4', 'route', 'show', 'table', 'all'],
    ['ip', '-6', 'route', 'show', 'table', 'all'],
    ['ip', '-4', 'rule'],
    ['ip', '-6', 'rule'],
    ['ip', '-br', 'link'],
    ['ip', '-br', 'addr'],
    ['iptables-save'],
    ['ip6tables-save'],
    ['nft', 'list', 'ruleset'],
  ];
  const outs = await Promise.all(
    cmds.map(async (argv) => {
      const [c, ...a] = netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv;
      const r = await execa(c!, a);
      // iptables-save stamps the time in comments; that is not a rule.
      return `$ ${argv.join(' ')}\n${String(r.stdout)
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .join('\n')}`;
    }),
  );
  return outs.join('\n');
}
