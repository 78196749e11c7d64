import type { Helper, NodeRunner } from '../util/node-runner.js';
import { parseRouteMonitor, type RouteEvent } from './convergence.js';

/**
 * `ip -ts monitor route` in every given namespace: each kernel's route changes, stamped to the
 * microsecond as they happen. Stop to get them all as events.
 */
export class RouteMonitor {
  private constructor(private readonly monitors: { host: string; helper: Helper }[]) {}

  static async start(runner: NodeRunner, hosts: { name: string; netns: string }[]): Promise<RouteMonitor> {
    const monitors = await Promise.all(hosts.map(async (h) => ({ host: h.name, helper: await runner.spawn(h.netns, ['ip', '-ts', 'monitor', 'route'], { what: `route monitor on ${h.name}` }) })));
    return new RouteMonitor(monitors);
  }

  /** Events so far, without stopping. */
  events(): RouteEvent[] {
    return this.monitors.flatMap((m) => parseRouteMonitor(m.host, m.helper.output()));
  }

  async stop(): Promise<RouteEvent[]> {
    await Promise.all(this.monitors.map((m) => m.helper.stop('SIGTERM')));
    return this.events();
  }
}
