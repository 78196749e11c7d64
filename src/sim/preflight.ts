import { readFileSync, writeFileSync } from 'node:fs';
import { execaSync } from 'execa';
import { SimError } from '../util/errors.js';

/** Commands a lab needs, and the Debian package that brings each. */
const TOOLS: Record<string, string> = {
  ip: 'iproute2',
  bird: 'bird2',
  birdc: 'bird2',
  etcd: 'etcd-server',
  sysctl: 'procps',
  ping: 'iputils-ping',
};

export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new SimError('calico-sim must run as root (it creates network namespaces): run it with sudo, or as root');
  }
}

export function requireTools(): void {
  const missing = Object.keys(TOOLS).filter((t) => execaSync('sh', ['-c', `command -v ${t}`], { reject: false }).exitCode !== 0);
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((t) => TOOLS[t]))].join(' ');
    throw new SimError(`missing tools: ${missing.join(', ')}. On Debian/Ubuntu run: bash scripts/setup.sh (or apt-get install ${pkgs}); on other distributions install the packages that provide them`);
  }
}

const NEIGH = '/proc/sys/net/ipv4/neigh/default';
/** Values that let a 500-host lab resolve all its neighbours (DESIGN.md: measured here). */
const NEIGH_TARGET = { gc_thresh1: 8192, gc_thresh2: 32768, gc_thresh3: 65536 } as const;

/**
 * The one host-level tweak a lab may make: every namespace shares the kernel's neighbour table,
 * whose default hard limit (gc_thresh3=1024) a large full mesh exceeds. Raised only when the
 * lab's estimate needs it; never lowered. Returns a line for the report.
 */
export function neighbourPreflight(need: number): string {
  const current = Object.fromEntries(Object.keys(NEIGH_TARGET).map((k) => [k, Number(readFileSync(`${NEIGH}/${k}`, 'utf8'))])) as Record<keyof typeof NEIGH_TARGET, number>;
  if (need <= current.gc_thresh2) {
    return `neighbour table: unchanged (gc_thresh3=${current.gc_thresh3}, this lab needs about ${need} entries)`;
  }
  const changed: string[] = [];
  for (const [k, v] of Object.entries(NEIGH_TARGET) as [keyof typeof NEIGH_TARGET, number][]) {
    if (current[k] < v) {
      writeFileSync(`${NEIGH}/${k}`, String(v));
      changed.push(`${k} ${current[k]}→${v}`);
    }
  }
  if (changed.length === 0) return `neighbour table: unchanged, already raised (gc_thresh3=${current.gc_thresh3}; this lab needs about ${need} entries)`;
  return `neighbour table: raised ${changed.join(', ')} in the root namespace (shared by all namespaces; this lab needs about ${need} entries)`;
}
