import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { processRunner, type CommandRunner } from '../util/exec.js';
import { checkBirdConfig, configure } from './bird.js';
import { renderBirdConfig, type BirdInput } from './render.js';

/**
 * The confd role: keeps BIRD's config file equal to what the datastore implies and tells the
 * running BIRD to reload it. A change is written to a side file, checked with `bird -p`, moved
 * into place, then `birdc configure`d; a reload that fails is retried on the next call. `bird`
 * and `birdc` run through `runner` (the real one unless a test gives a fake).
 */
export class BirdConfd {
  private reloadPending = false;

  constructor(
    readonly configPath: string,
    readonly socketPath: string,
    private readonly runner: CommandRunner = processRunner,
  ) {}

  /** Returns true if the config changed (and BIRD was asked to reload it). */
  async update(input: BirdInput): Promise<boolean> {
    const text = renderBirdConfig(input);
    const current = existsSync(this.configPath) ? readFileSync(this.configPath, 'utf8') : undefined;
    const changed = text !== current;
    if (changed) {
      await writeBirdConfig(this.configPath, text, this.runner);
      this.reloadPending = true;
    }
    // No socket: BIRD is not running (yet); it reads the file when it starts.
    if (this.reloadPending && existsSync(this.socketPath)) {
      await configure(this.socketPath, this.runner);
      this.reloadPending = false;
    }
    return changed;
  }
}

/** Checks a config with `bird -p`, then moves it into place (rename: BIRD never reads half a file). */
export async function writeBirdConfig(path: string, text: string, runner: CommandRunner = processRunner): Promise<void> {
  const tmp = `${path}.new`;
  // 0600: it may hold BGP passwords.
  writeFileSync(tmp, text, { mode: 0o600 });
  await checkBirdConfig(tmp, runner);
  renameSync(tmp, path);
}
