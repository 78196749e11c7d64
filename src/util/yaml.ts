/**
 * Reading YAML that a user wrote (topology and resource files): anchors and aliases are expanded
 * under a limit, so that a "billion laughs" file (anchors of aliases of anchors...) is refused at
 * once instead of expanding into gigabytes. Pure.
 */
import { type Document, isMap, isPair, isScalar, isSeq, type Node, type Pair, visit } from 'yaml';

/**
 * The yaml package's maxAliasCount for user files: how far aliases may expand (roughly, how many
 * times an anchored node may be copied, weighted by the aliases it holds itself). Calico files
 * use a few aliases at most; an alias bomb needs thousands.
 */
export const MAX_YAML_ALIASES = 100;

/**
 * The value of a parsed document, its aliases expanded under MAX_YAML_ALIASES. Throws
 * YamlAliasError (with the field and the reason) when they expand too far or name no anchor.
 */
export function yamlValue(doc: Document.Parsed): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    if (!(err instanceof ReferenceError)) throw err;
    if (/excessive alias count/i.test(err.message)) {
      const at = suspectAlias(doc);
      throw new YamlAliasError(
        at?.field ?? '(top level)',
        `${at ? `alias *${at.alias}: ` : ''}its aliases would expand more than ${MAX_YAML_ALIASES} times (a YAML alias bomb, "billion laughs"): refused`,
        { cause: err },
      );
    }
    const unresolved = /unresolved alias.*?: (.*)$/i.exec(err.message);
    if (unresolved) {
      const at = aliasesOf(doc).find((a) => a.alias === unresolved[1]);
      throw new YamlAliasError(at?.field ?? '(top level)', `alias *${unresolved[1]} names no anchor defined before it`, { cause: err });
    }
    throw new YamlAliasError('(top level)', err.message, { cause: err });
  }
}

/** The aliases of a document could not be expanded: `field` is where, `reason` why. */
export class YamlAliasError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${field}: ${reason}`, options);
    this.name = 'YamlAliasError';
  }
}

interface AliasAt {
  alias: string;
  /** Field path of the alias: `c[0]`, `spec.ingress[2]`. */
  field: string;
  /** The alias copies a node that holds aliases itself: where expansion multiplies. */
  nested: boolean;
}

/** Where an alias bomb starts: the first alias copying a node that holds aliases, else the first alias. */
function suspectAlias(doc: Document.Parsed): AliasAt | undefined {
  const all = aliasesOf(doc);
  return all.find((a) => a.nested) ?? all[0];
}

/** Every alias of the document, in document order, with its field path. */
function aliasesOf(doc: Document.Parsed): AliasAt[] {
  const out: AliasAt[] = [];
  visit(doc, {
    Alias: (_key, node, path) => {
      let target: Node | undefined;
      try {
        target = node.resolve(doc);
      } catch {
        target = undefined;
      }
      out.push({ alias: node.source, field: fieldOf([...path, node]), nested: target !== undefined && holdsAlias(target) });
    },
  });
  return out;
}

function holdsAlias(node: Node): boolean {
  let found = false;
  visit(node, {
    Alias: () => {
      found = true;
      return visit.BREAK;
    },
  });
  return found;
}

/** `a.b[0]` from the ancestors of a node (the document first, the node last). */
function fieldOf(path: readonly unknown[]): string {
  let out = '';
  for (let i = 0; i + 1 < path.length; i++) {
    const parent = path[i];
    const child = path[i + 1];
    if (isMap(parent) && isPair(child)) {
      const key = (child as Pair).key;
      const name = isScalar(key) ? String(key.value) : '?';
      out += /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `${out ? '.' : ''}${name}` : `[${JSON.stringify(name)}]`;
    } else if (isSeq(parent)) {
      out += `[${parent.items.indexOf(child as never)}]`;
    } else if (isPair(parent) && child === parent.key) {
      out += '(key)';
    }
  }
  return out || '(top level)';
}
