import { readFileSync, writeFileSync } from 'node:fs';
import { ipBatch, ipJson, setSysctls } from '../util/exec.js';
import { errorMessage } from '../util/errors.js';
import { AGENT_ROUTE_PROTO, HOST_SYSCTLS, workloadIfaceSysctls, type DesiredRoute, type DesiredState } from './desired.js';

export interface ApplyResult {
  added: number;
  removed: number;
  skipped: number;
  errors: string[];
}

/** Pure: what to replace and what to delete so that `actual` becomes `desired`. */
export function diffRoutes(desired: DesiredRoute[], actual: DesiredRoute[]): { put: DesiredRoute[]; del: DesiredRoute[] } {
  const key = (r: DesiredRoute) => (r.type === 'blackhole' ? `${r.dst} blackhole` : `${r.dst} dev ${r.dev}`);
  const want = new Map(desired.map((r) => [r.dst, r]));
  const have = new Map(actual.map((r) => [r.dst, r]));
  return {
    put: desired.filter((r) => { const h = have.get(r.dst); return !h || key(h) !== key(r); }),
    del: actual.filter((r) => !want.has(r.dst)),
  };
}

/** Pure: one `ip -batch` line per route change. Every route we own carries AGENT_ROUTE_PROTO. */
export function routeLines(put: DesiredRoute[], del: DesiredRoute[]): string[] {
  return [
    ...del.map((r) => `route del ${r.type === 'blackhole' ? 'blackhole ' : ''}${r.dst} proto ${AGENT_ROUTE_PROTO}`),
    ...put.map((r) => r.type === 'blackhole'
      ? `route replace blackhole ${r.dst} proto ${AGENT_ROUTE_PROTO}`
      : `route replace ${r.dst} dev ${r.dev}${r.dst.includes(':') ? '' : ' scope link'} proto ${AGENT_ROUTE_PROTO}`),
  ];
}

interface IpRoute { dst: string; type?: string; dev?: string }

/**
 * The thin layer that touches one host's kernel. `netns` undefined means "the namespace this
 * process runs in" (the agent daemon); a name drives the host from outside with `ip -n`.
 */
export class Dataplane {
  constructor(readonly netns?: string) {}

  async readRoutes(): Promise<DesiredRoute[]> {
    const [v4, v6] = await Promise.all(['-4', '-6'].map((f) => ipJson<IpRoute[]>(this.netns, [f, 'route', 'show', 'proto', String(AGENT_ROUTE_PROTO)])));
    return [...v4!, ...v6!].map((r): DesiredRoute => {
      const dst = r.dst.includes('/') ? r.dst : `${r.dst}/${r.dst.includes(':') ? 128 : 32}`;
      return r.type === 'blackhole' ? { dst, type: 'blackhole' } : { dst, type: 'unicast', dev: r.dev ?? '' };
    });
  }

  async links(): Promise<Set<string>> {
    const rows = await ipJson<{ ifname: string }[]>(this.netns, ['link', 'show']);
    return new Set(rows.map((r) => r.ifname));
  }

  /** Reads the kernel, then converges it to `desired` in one route batch and one sysctl pass. */
  async apply(desired: DesiredState): Promise<ApplyResult> {
    const [actual, links] = await Promise.all([this.readRoutes(), this.links()]);
    // A workload's veth may not exist yet (its endpoint record can come first): skip it for now.
    const present = desired.routes.filter((r) => r.type === 'blackhole' || links.has(r.dev));
    const { put, del } = diffRoutes(present, actual);
    const errors: string[] = [];
    try {
      await ipBatch(this.netns, routeLines(put, del), { force: true });
    } catch (err) {
      errors.push(errorMessage(err));
    }
    const sysctls: Record<string, string> = { ...HOST_SYSCTLS };
    for (const iface of desired.workloadIfaces.filter((i) => links.has(i))) Object.assign(sysctls, workloadIfaceSysctls(iface));
    try {
      await this.setSysctls(sysctls);
    } catch (err) {
      errors.push(errorMessage(err));
    }
    return { added: put.length, removed: del.length, skipped: desired.routes.length - present.length, errors };
  }

  private async setSysctls(values: Record<string, string>): Promise<void> {
    if (this.netns) return setSysctls(this.netns, values);
    // In our own namespace: read /proc/sys and write only what differs, with no process at all.
    for (const [k, v] of Object.entries(values)) {
      const path = `/proc/sys/${k.replaceAll('.', '/')}`;
      if (readFileSync(path, 'utf8').trim() !== v) writeFileSync(path, v);
    }
  }
}
