/**
 * The provenance of resources, for error messages: a problem found after parsing (a cross-check,
 * a refused delete) still names the file and the document the resource came from.
 */

/** Where each parsed or validated resource came from (`peers.yaml: document 2`), for errors. */
export const origins = new WeakMap<object, string>();

/** The file each parsed resource came from (`peers.yaml`), for errors about a file as a whole. */
export const sourceFiles = new WeakMap<object, string>();

/** `a.yaml` or `a.yaml, b.yaml`: the files the resources came from; `resources` when made in code. */
export function filesOf(resources: readonly object[]): string {
  const files = [...new Set(resources.map((r) => sourceFiles.get(r)).filter((f) => f !== undefined))];
  return files.length ? files.join(', ') : 'resources';
}

/** `<where> (<Kind> <name>)`, leaving out what is not a non-empty string. */
export function label(where: string, kind: unknown, name: unknown): string {
  const k = typeof kind === 'string' && kind ? kind : undefined;
  const n = typeof name === 'string' && name ? name : undefined;
  return k || n ? `${where} (${[k, n].filter(Boolean).join(' ')})` : where;
}

/** `peers.yaml: document 2 (BGPPeer rr-peers)`, or `BGPPeer rr-peers` for a resource made in code. */
export function describe(r: { kind: string; metadata: { name: string } }): string {
  const where = origins.get(r);
  return where ? label(where, r.kind, r.metadata.name) : `${r.kind} ${r.metadata.name}`;
}
