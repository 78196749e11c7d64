import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Daemons and probes run the compiled code in dist/ while tests import src/: rebuild first when
 * any source is newer than the build, so a test never exercises a stale agent.
 */
export default function setup(): void {
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((e) => {
        const p = join(dir, e.name);
        return e.isDirectory() ? newest(p) : statSync(p).mtimeMs;
      }),
    );
  const built = existsSync('dist/cli/main.js') ? newest('dist') : 0;
  if (newest('src') > built) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
