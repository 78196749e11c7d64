/**
 * Reading resources as calicoctl reads them: a resource file (YAML or JSON; one document, several,
 * or a List) or resources made in code, validated with the schemas of kinds.ts, all or nothing.
 * Every problem names where it is: `<source>: document <n> (<Kind> <name>): <field path>: <reason>`.
 */
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { resourceName, strict } from '../model/resource-fields.js';
import { API_VERSION, ref, type Resource, type ResourceRef } from '../model/resources.js';
import { errorMessage } from '../util/errors.js';
import { YamlAliasError, yamlValue } from '../util/yaml.js';
import { identity, type KindInfo, kindInfo, KINDS, WRITABLE_KINDS } from './kinds.js';
import { describe, label, origins, sourceFiles } from './origins.js';
import { ResourceError } from './resource-error.js';

function fieldPath(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => {
      if (typeof p === 'number') return `[${p}]`;
      const s = String(p);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) return `[${JSON.stringify(s)}]`;
      return i ? `.${s}` : s;
    })
    .join('');
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}

const EXPECTED: Record<string, string> = { object: 'a mapping', record: 'a mapping', array: 'a list', string: 'a string', number: 'a number', boolean: 'true or false' };

/** Messages for zod's generic issues: "required", "expected a string, got number 1"... */
const errorMap: z.core.$ZodErrorMap = (iss) => {
  if (iss.code === 'invalid_type') {
    if (iss.input === undefined) return 'required';
    return `expected ${EXPECTED[iss.expected] ?? iss.expected}, got ${describeValue(iss.input)}`;
  }
  if (iss.code === 'invalid_value') {
    const values = iss.values.map((v) => JSON.stringify(v));
    const allowed = values.length === 1 ? values[0] : `one of ${values.join(', ')}`;
    return iss.input === undefined ? `required (${allowed})` : `must be ${allowed} (got ${describeValue(iss.input)})`;
  }
  return undefined;
};

function issueLines(err: z.ZodError): string[] {
  return err.issues.flatMap((iss) => {
    if (iss.code === 'unrecognized_keys') return iss.keys.map((k) => `${fieldPath([...iss.path, k])}: ${iss.message}`);
    return [`${fieldPath(iss.path) || '(top level)'}: ${iss.message}`];
  });
}

/**
 * The envelope of a resource: a mapping with apiVersion v3 and a kind calico-sim knows (exact
 * spelling, as in files). Its kind and `at` (`where (Kind name)`, for errors), or the problems.
 */
function envelope(raw: unknown, where: string, what: string): { info?: KindInfo; at: string; problems: string[] } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { at: where, problems: [`${where}: expected a resource (a mapping with ${what}), got ${describeValue(raw)}`] };
  }
  const obj = raw as Record<string, unknown>;
  const meta = obj.metadata as Record<string, unknown> | undefined;
  const at = label(where, obj.kind, typeof meta === 'object' && meta !== null ? meta.name : undefined);
  const wanted = KINDS.find((k) => k.kind === obj.kind)?.apiVersion ?? API_VERSION;
  if (obj.apiVersion !== wanted) {
    return { at, problems: [`${at}: apiVersion: must be ${wanted} (got ${obj.apiVersion === undefined ? 'nothing' : describeValue(obj.apiVersion)})`] };
  }
  if (typeof obj.kind !== 'string')
    return { at, problems: [`${at}: kind: ${obj.kind === undefined ? 'required' : `expected a string, got ${describeValue(obj.kind)}`} (one of ${WRITABLE_KINDS.join(', ')})`] };
  const info = KINDS.find((k) => k.kind === obj.kind);
  if (!info) {
    const hint = kindInfo(obj.kind) ? ` (kinds are case-sensitive in files: ${kindInfo(obj.kind)!.kind})` : '';
    return { at, problems: [`${at}: kind: unsupported kind ${JSON.stringify(obj.kind)}${hint}; calico-sim applies ${WRITABLE_KINDS.join(', ')}`] };
  }
  return { info, at, problems: [] };
}

/** Validates one resource: the value, or the problems (each prefixed with `where (Kind name)`). */
function validateOne(raw: unknown, where: string): { resource?: Resource; problems: string[] } {
  const { info, at, problems } = envelope(raw, where, 'apiVersion, kind, metadata and spec');
  if (!info) return { problems };
  if (!info.schema) return { problems: [`${at}: kind: ${info.kind} cannot be applied: ${info.readOnly}`] };
  const parsed = info.schema.safeParse(raw, { error: errorMap });
  if (!parsed.success) return { problems: issueLines(parsed.error).map((l) => `${at}: ${l}`) };
  origins.set(parsed.data, where);
  return { resource: parsed.data, problems: [] };
}

/** What a delete reads of a resource: its identity; the spec (and other metadata) may be there or not. */
const targetSchemas = new Map(
  KINDS.map((info) => [
    info.kind,
    strict({
      apiVersion: z.literal(info.apiVersion ?? API_VERSION),
      kind: z.literal(info.kind),
      metadata: z.looseObject({
        name: resourceName,
        namespace: info.namespaced ? resourceName.optional() : z.never({ error: `${info.kind} is not namespaced: leave metadata.namespace out` }).optional(),
      }),
      spec: z.unknown().optional(),
      // A Secret's file, as applied, deletes it too.
      ...(info.kind === 'Secret' ? { type: z.unknown().optional(), data: z.unknown().optional(), stringData: z.unknown().optional(), immutable: z.unknown().optional() } : {}),
    }),
  ]),
);

/** Reads one delete target: kind, name and namespace, or the problems. */
function targetOne(raw: unknown, where: string): { target?: ResourceRef; problems: string[] } {
  const { info, at, problems } = envelope(raw, where, 'apiVersion, kind and metadata');
  if (!info) return { problems };
  const parsed = targetSchemas.get(info.kind)!.safeParse(raw, { error: errorMap });
  if (!parsed.success) return { problems: issueLines(parsed.error).map((l) => `${at}: ${l}`) };
  const { name, namespace } = parsed.data.metadata;
  const target = ref(info.kind, name, namespace);
  origins.set(target, where);
  return { target, problems: [] };
}

/**
 * Validates resources given as values (`where` names each in errors), and refuses the same
 * resource twice. Throws a ResourceError listing every problem.
 */
function validateEntries(entries: readonly { raw: unknown; where: string; file?: string | undefined }[]): Resource[] {
  const problems: string[] = [];
  const out: Resource[] = [];
  const seen = new Map<string, string>();
  for (const e of entries) {
    const v = validateOne(e.raw, e.where);
    problems.push(...v.problems);
    if (!v.resource) continue;
    const r = v.resource;
    if (e.file !== undefined) sourceFiles.set(r, e.file);
    const id = identity(r);
    const first = seen.get(id);
    const shown = r.metadata.namespace === undefined ? r.metadata.name : `${r.metadata.namespace}/${r.metadata.name}`;
    if (first) problems.push(`${describe(r)}: metadata.name: ${r.kind} ${shown} is given twice (also at ${first})`);
    else seen.set(id, e.where);
    out.push(r);
  }
  if (problems.length) throw new ResourceError(problems);
  return out;
}

/**
 * Validates resources made in code (or re-validates parsed ones: their origin is kept). Returns
 * the normalized resources (defaults filled, addresses canonical); throws a ResourceError.
 */
export function validateResources(resources: readonly unknown[]): Resource[] {
  return validateEntries(
    resources.map((raw, i) => {
      const known = typeof raw === 'object' && raw !== null;
      return { raw, where: (known && origins.get(raw)) || `resource ${i + 1}`, file: known ? sourceFiles.get(raw) : undefined };
    }),
  );
}

/**
 * Parses a resource file as calicoctl reads one: YAML (one document, several `---` documents, or
 * a `kind: List` with `items:`; a top-level sequence also works) or JSON (one object, a List, or
 * an array). Every resource is validated; throws a ResourceError naming each problem as
 * `<source>: document <n> (<Kind> <name>): <field path>: <reason>`.
 */
export function parseResourceFile(text: string, source: string): Resource[] {
  const entries = readDocuments(text, source);
  if (entries.length === 0) throw new ResourceError([`${source}: no resources in the file`]);
  return validateEntries(entries.map((e) => ({ ...e, file: source })));
}

/**
 * Reads the resources a `delete -f` names, from a file as parseResourceFile reads one: each
 * document needs only apiVersion, kind and metadata.name (and metadata.namespace for a
 * namespaced kind); a spec may be there or not and is not checked. Throws a ResourceError naming
 * each problem.
 */
export function parseDeleteTargets(text: string, source: string): ResourceRef[] {
  const entries = readDocuments(text, source);
  if (entries.length === 0) throw new ResourceError([`${source}: no resources in the file`]);
  const problems: string[] = [];
  const out: ResourceRef[] = [];
  for (const e of entries) {
    const v = targetOne(e.raw, e.where);
    problems.push(...v.problems);
    if (!v.target) continue;
    sourceFiles.set(v.target, source);
    out.push(v.target);
  }
  if (problems.length) throw new ResourceError(problems);
  return out;
}

function readDocuments(text: string, source: string): { raw: unknown; where: string }[] {
  const docs: unknown[] = [];
  const trimmed = text.trimStart();
  let json = false;
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      docs.push(JSON.parse(text));
      json = true;
    } catch {
      // Maybe YAML in flow style: the YAML parser says what is wrong.
    }
  }
  if (!json) {
    const parsed = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
    for (const [i, doc] of (Array.isArray(parsed) ? parsed : []).entries()) {
      const err = doc.errors[0];
      if (err) {
        const line = err.linePos ? `line ${err.linePos[0].line}: ` : '';
        const what = errorMessage(err)
          .split('\n')[0]!
          .replace(/ at line \d+, column \d+:?$/, '');
        throw new ResourceError([`${source}: document ${i + 1}: ${line}malformed YAML: ${what}`], { cause: err });
      }
      try {
        docs.push(yamlValue(doc));
      } catch (err) {
        // Aliases are resolved here: an unknown anchor, or too many aliases (an expansion attack).
        const why = err instanceof YamlAliasError ? err.message : `malformed YAML: ${errorMessage(err)}`;
        throw new ResourceError([`${source}: document ${i + 1}: ${why}`], { cause: err });
      }
    }
  }
  const entries: { raw: unknown; where: string }[] = [];
  docs.forEach((doc, i) => {
    const where = `${source}: document ${i + 1}`;
    const items = listItems(doc);
    if (typeof items === 'string') throw new ResourceError([`${where}: ${items}`]);
    if (items) for (const [j, raw] of items.entries()) entries.push({ raw, where: `${where} item ${j + 1}` });
    else if (doc !== null && doc !== undefined) entries.push({ raw: doc, where }); // empty documents are skipped
  });
  return entries;
}

/** The items of a List document or a sequence; undefined if `doc` is a single resource; a problem text if the List is malformed. */
function listItems(doc: unknown): unknown[] | string | undefined {
  if (Array.isArray(doc)) return doc;
  if (typeof doc !== 'object' || doc === null) return undefined;
  const { kind, items } = doc as Record<string, unknown>;
  if (typeof kind !== 'string' || !(kind === 'List' || (kind.endsWith('List') && kindInfo(kind.slice(0, -4))))) return undefined;
  if (!Array.isArray(items)) return `items: must be the list of resources of the ${kind} (got ${items === undefined ? 'nothing' : describeValue(items)})`;
  return items;
}
