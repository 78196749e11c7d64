import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The folders under src/ (agent, bgp, ..., util, verify) must import each other without a
 * cycle: each folder can then be read, tested and replaced on top of the ones below it. A file
 * belongs to the first folder of its path (src/sim/backends/netns.ts is in sim).
 */

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

/** One import that crosses folders: where it is, and the folders it links. */
interface FolderEdge {
  from: string;
  to: string;
  /** `src/<file>:<line>: <text of the line>`. */
  where: string;
}

/** Relative specifiers of `from '...'` (import and export), `import '...'` and `import('...')`. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.\.?\/[^'"]+)['"]/g;

/**
 * Pure: the cross-folder imports of a set of sources, keyed by their path under src/
 * (`sim/lab.ts`). Specifiers resolving outside src/ are not edges.
 */
function folderEdges(sources: ReadonlyMap<string, string>): FolderEdge[] {
  const edges: FolderEdge[] = [];
  for (const [file, text] of sources) {
    const lines = text.split('\n');
    for (const m of text.matchAll(SPECIFIER)) {
      const target = posix.normalize(posix.join(posix.dirname(file), m[1]!));
      if (target.startsWith('../')) continue;
      const from = file.split('/')[0]!;
      const to = target.split('/')[0]!;
      if (from === to) continue;
      const line = text.slice(0, m.index).split('\n').length;
      edges.push({ from, to, where: `src/${file}:${line}: ${lines[line - 1]!.trim()}` });
    }
  }
  return edges;
}

/** Pure: Tarjan's strongly connected components of a directed graph, each sorted, in a stable order. */
function stronglyConnected(nodes: Iterable<string>, edges: readonly { from: string; to: string }[]): string[][] {
  const next = new Map<string, string[]>();
  for (const n of nodes) next.set(n, []);
  for (const e of edges) {
    if (!next.has(e.from)) next.set(e.from, []);
    if (!next.has(e.to)) next.set(e.to, []);
    next.get(e.from)!.push(e.to);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      components.push(component.sort());
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);
  return components.sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
}

/** Pure: a message for every component of more than one folder, with the imports inside it. */
function cycleReport(edges: readonly FolderEdge[]): string[] {
  const folders = new Set(edges.flatMap((e) => [e.from, e.to]));
  return stronglyConnected(folders, edges)
    .filter((c) => c.length > 1)
    .map((c) => {
      const inside = edges.filter((e) => c.includes(e.from) && c.includes(e.to));
      inside.sort((a, b) => (a.from === b.from ? (a.to < b.to ? -1 : a.to > b.to ? 1 : 0) : a.from < b.from ? -1 : 1));
      return [`folders ${c.join(', ')} import each other in a cycle:`, ...inside.map((e) => `  ${e.from} -> ${e.to}  ${e.where}`)].join('\n');
    });
}

/** Every .ts file under src/, by its path under src/ with `/` separators. */
function readSources(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) out.set(relative(SRC, path).split(sep).join('/'), readFileSync(path, 'utf8'));
    }
  };
  walk(SRC);
  return out;
}

describe('folder graph of src/', () => {
  it('has no cycle between folders', () => {
    const sources = readSources();
    const edges = folderEdges(sources);
    // Not vacuous: the sources were found and their imports read.
    expect(sources.size).toBeGreaterThan(50);
    expect(edges.some((e) => e.from === 'sim' && e.to === 'model')).toBe(true);
    const cycles = cycleReport(edges);
    expect(cycles, `\n${cycles.join('\n\n')}\n`).toEqual([]);
  });
});

describe('cycle finder (pure)', () => {
  it('finds the strongly connected components of a graph', () => {
    const edges = [
      { from: 'a', to: 'b' },
      { from: 'b', to: 'c' },
      { from: 'c', to: 'a' },
      { from: 'c', to: 'd' },
      { from: 'd', to: 'e' },
      { from: 'e', to: 'd' },
      { from: 'f', to: 'a' },
    ];
    expect(stronglyConnected(['a', 'b', 'c', 'd', 'e', 'f', 'g'], edges)).toEqual([['a', 'b', 'c'], ['d', 'e'], ['f'], ['g']]);
    expect(stronglyConnected(['x'], [{ from: 'x', to: 'x' }])).toEqual([['x']]);
  });

  it('reads static, re-export, side-effect and dynamic imports, and ignores the same folder and outside src/', () => {
    const edges = folderEdges(
      new Map([
        ['a/one.ts', "import { two } from '../b/two.js';\nimport type { T } from './local.js';\nexport { x } from \"../c/x.js\";"],
        ['b/deep/two.ts', "import '../../d/side.js';\nconst m = await import('../../e/lazy.js');\nconst u = new URL('../../../dist/x.js', import.meta.url);"],
        ['b/three.ts', "import { y } from '../../test/y.js';\nimport {\n  z,\n} from 'zod';"],
      ]),
    );
    expect(edges.map((e) => `${e.from}->${e.to}`)).toEqual(['a->b', 'a->c', 'b->d', 'b->e']);
    expect(edges[1]!.where).toBe('src/a/one.ts:3: export { x } from "../c/x.js";');
  });

  it('reports a synthetic cycle with the imports that form it (negative control)', () => {
    const edges = folderEdges(
      new Map([
        ['model/topology.ts', "import { NAME_RE } from '../sim/names.js';"],
        ['sim/backends/netns.ts', "import type { LabPlan } from '../../model/topology.js';"],
        ['sim/lab.ts', "const { cniEnv } = await import('../cni/env.js');"],
        ['cni/workload.ts', "import { names } from '../sim/names.js';"],
        ['util/exec.ts', "import { x } from '../net/cidr.js';"],
      ]),
    );
    expect(cycleReport(edges)).toEqual([
      [
        'folders cni, model, sim import each other in a cycle:',
        "  cni -> sim  src/cni/workload.ts:1: import { names } from '../sim/names.js';",
        "  model -> sim  src/model/topology.ts:1: import { NAME_RE } from '../sim/names.js';",
        "  sim -> cni  src/sim/lab.ts:1: const { cniEnv } = await import('../cni/env.js');",
        "  sim -> model  src/sim/backends/netns.ts:1: import type { LabPlan } from '../../model/topology.js';",
      ].join('\n'),
    ]);
    expect(cycleReport(edges.filter((e) => e.from !== 'sim'))).toEqual([]);
  });
});
