import { spawn, type ChildProcess } from 'node:child_process';
import { parseRouteMonitor, type RouteEvent } from './convergence.js';

/**
 * `ip -ts monitor route` in every given namespace: each kernel's route changes, stamped to the
 * microsecond as they happen. Stop to get them all as events.
 */
export class RouteMonitor {
  private readonly out = new Map<string, string>();
  private readonly procs: ChildProcess[] = [];

  constructor(hosts: { name: string; netns: string }[]) {
    for (const h of hosts) {
      this.out.set(h.name, '');
      const p = spawn('ip', ['-n', h.netns, '-ts', 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
      p.stdout!.on('data', (d: Buffer) => this.out.set(h.name, this.out.get(h.name)! + d.toString()));
      this.procs.push(p);
    }
  }

  /** Events so far, without stopping. */
  events(): RouteEvent[] {
    return [...this.out].flatMap(([host, text]) => parseRouteMonitor(host, text));
  }

  async stop(): Promise<RouteEvent[]> {
    await Promise.all(this.procs.map((p) => new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    })));
    return this.events();
  }
}
