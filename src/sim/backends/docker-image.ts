/**
 * The node image of the docker backend, built here, offline from any registry: `debootstrap` of a
 * minimal Debian with the node's packages (BIRD, iproute2, iptables, nftables...), imported with
 * `docker import`. Its tag is derived from its inputs, so it is built once per machine and again
 * only when what goes into it changes. Node.js, the project and etcd are not in it: the
 * containers mount the machine's own, read-only (docker.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { execa } from 'execa';
import { BackendError, errorMessage, InputError } from '../../util/errors.js';

export const IMAGE_REPO = 'calico-sim-node';
const SUITE = 'bookworm';
/** What runs in a node: BIRD and the agent's tools, and what a user runs by hand in `exec`. */
export const IMAGE_PACKAGES = ['bird2', 'iproute2', 'iptables', 'ipset', 'nftables', 'procps', 'iputils-ping', 'tcpdump', 'iperf3', 'netcat-openbsd'] as const;
/** Bump when the way the image is made changes (not its inputs above). */
const RECIPE = 1;

/** Pure: `calico-sim-node:<12 hex>`, a hash of the suite, the packages and the recipe. */
export function nodeImageTag(packages: readonly string[] = IMAGE_PACKAGES): string {
  const hash = createHash('sha256')
    .update(JSON.stringify({ suite: SUITE, packages: [...packages].sort(), recipe: RECIPE }))
    .digest('hex')
    .slice(0, 12);
  return `${IMAGE_REPO}:${hash}`;
}

/**
 * Pure: the first Debian mirror of an apt sources text (one-line or deb822 format): a `deb`
 * source with the `main` component, not the security archive. Undefined if there is none.
 */
export function debianMirror(sources: string): string | undefined {
  const candidates: { uri: string; suites: string[]; components: string[] }[] = [];
  for (const m of sources.matchAll(/^[ \t]*deb[ \t]+(?:\[[^\]]*\][ \t]+)?(\S+)[ \t]+(\S+)[ \t]+(.*)$/gm)) candidates.push({ uri: m[1]!, suites: [m[2]!], components: m[3]!.trim().split(/\s+/) });
  for (const stanza of sources.split(/\n\s*\n/)) {
    const field = (f: string) => new RegExp(`^${f}:\\s*(.*)$`, 'im').exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
    if (field('Types').includes('deb')) for (const uri of field('URIs')) candidates.push({ uri, suites: field('Suites'), components: field('Components') });
  }
  // A Debian archive of the suite the image is made of: not Ubuntu's, not a third party's.
  const found = candidates.find((c) => c.suites.includes(SUITE) && c.components.includes('main') && /^https?:\/\//.test(c.uri) && !/security/.test(c.uri));
  return found?.uri.replace(/\/$/, '');
}

function machineMirror(): string {
  const files = ['/etc/apt/sources.list', ...safeList('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f))];
  for (const f of files) {
    try {
      const m = debianMirror(readFileSync(f, 'utf8'));
      if (m) return m;
    } catch {
      // unreadable or gone: the next one
    }
  }
  return 'http://deb.debian.org/debian';
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.list') || f.endsWith('.sources'));
  } catch {
    return [];
  }
}

/** The node image's tag, built first if this engine does not have it (about 35 s, once). */
export async function ensureNodeImage(docker: Docker, log: (line: string) => void): Promise<string> {
  const tag = nodeImageTag();
  try {
    await docker.getImage(tag).inspect();
    return tag;
  } catch {
    // not there yet: build it
  }
  if (!(process.env.PATH ?? '').split(':').some((d) => existsSync(`${d}/debootstrap`))) {
    throw new InputError(`the docker backend builds its node image ${tag} with debootstrap, which is not installed: bash scripts/setup.sh --docker`);
  }
  const t0 = performance.now();
  const mirror = machineMirror();
  log(`building the node image ${tag} (debootstrap ${SUITE} from ${mirror}, once per machine)`);
  const root = mkdtempSync('/var/tmp/calico-sim-image-');
  try {
    try {
      await execa('debootstrap', ['--variant=minbase', `--include=${IMAGE_PACKAGES.join(',')}`, SUITE, root, mirror], { all: true });
    } catch (err) {
      const out = (err as { all?: string }).all ?? '';
      throw new BackendError(`building the node image: debootstrap failed (${errorMessage(err).split('\n')[0]}): ${out.trim().split('\n').slice(-3).join(' | ')}`, { cause: err });
    }
    // Nothing the lab needs: apt's lists and caches (a third of the size).
    for (const d of ['var/lib/apt/lists', 'var/cache/apt', 'var/cache/debconf']) rmSync(join(root, d), { recursive: true, force: true });
    const tar = execa('tar', ['-C', root, '-c', '.'], { buffer: false });
    const [repo, version] = tag.split(':') as [string, string];
    try {
      const stream = await docker.importImage(tar.stdout!, { repo, tag: version });
      await new Promise<void>((resolve, reject) =>
        docker.modem.followProgress(stream, (err: Error | null, events: { error?: string }[] = []) => {
          const failed = err?.message ?? events.find((e) => e.error)?.error;
          if (failed) reject(new BackendError(`importing the node image ${tag}: ${failed}`));
          else resolve();
        }),
      );
      await tar;
    } catch (err) {
      // A tar left writing to a pipe nobody reads would keep this process alive.
      tar.kill();
      await tar.catch(() => undefined);
      throw err;
    }
    await docker.getImage(tag).inspect();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  log(`node image ${tag} built in ${Math.round((performance.now() - t0) / 1000)} s`);
  return tag;
}
