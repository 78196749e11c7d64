#!/usr/bin/env node
// Entry point of `calico-sim` / `npx calico-sim`: the compiled CLI (npm run build makes dist/).
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('calico-sim: not built yet; run: npm run build (or bash scripts/setup.sh)');
  process.exit(1);
}
await import(main.href);
