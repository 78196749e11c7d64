/**
 * Calico's label selector language (BGPPeer nodeSelector/peerSelector, IPPool nodeSelector,
 * policy selectors), as a pure module: a tokenizer, a recursive-descent parser producing a
 * tiny AST, an evaluator and a canonical printer.
 *
 *   or      := and ('||' and)*
 *   and     := unary ('&&' unary)*
 *   unary   := '!' unary | primary
 *   primary := '(' or ')' | 'all()' | 'global()' | 'has(' key ')'
 *            | key ('==' | '!=' | 'contains' | 'starts with' | 'ends with') string
 *            | key ('in' | 'not in') '{' [string (',' string)* [',']] '}'
 *
 * Semantics follow libcalico-go: strings are '...' or "..." with no escapes; `!=` and
 * `not in` are true when the label is absent; the other comparisons need the label;
 * `global()` matches everything (we have no global/namespaced distinction); the empty
 * selector is `all()`.
 */
import { InputError } from '../util/errors.js';

export type Labels = Readonly<Record<string, string>>;

export interface Selector {
  /** The text as given to parseSelector. */
  readonly source: string;
  matches(labels: Labels): boolean;
  /** Canonical form: stable across equivalent spellings (whitespace, quotes, set order...). */
  toString(): string;
}

/** A selector's text is malformed: says where (0-based column) and what was expected. */
export class SelectorError extends InputError {
  constructor(
    readonly selector: string,
    readonly column: number,
    readonly expected: string,
    found?: string,
  ) {
    super(`invalid selector ${JSON.stringify(selector)}: expected ${expected}${found ? ` but found ${found}` : ''} at column ${column}`);
  }
}

// ---------------------------------------------------------------------------------------------
// AST

type CompareOp = '==' | '!=' | 'contains' | 'starts with' | 'ends with';
type SetOp = 'in' | 'not in';

type Node =
  | { readonly kind: 'all' | 'global' }
  | { readonly kind: 'has'; readonly key: string }
  | { readonly kind: 'compare'; readonly op: CompareOp; readonly key: string; readonly value: string }
  | { readonly kind: 'set'; readonly op: SetOp; readonly key: string; readonly values: readonly string[] }
  | { readonly kind: 'not'; readonly operand: Node }
  | { readonly kind: 'and' | 'or'; readonly operands: readonly Node[] };

function evaluate(node: Node, labels: Labels): boolean {
  const get = (key: string): string | undefined => (Object.hasOwn(labels, key) ? labels[key] : undefined);
  switch (node.kind) {
    case 'all':
    case 'global':
      return true;
    case 'has':
      return get(node.key) !== undefined;
    case 'compare': {
      const v = get(node.key);
      switch (node.op) {
        case '==':
          return v === node.value;
        case '!=':
          return v !== node.value;
        case 'contains':
          return v?.includes(node.value) === true;
        case 'starts with':
          return v?.startsWith(node.value) === true;
        case 'ends with':
          return v?.endsWith(node.value) === true;
      }
      break;
    }
    case 'set': {
      const v = get(node.key);
      const inSet = v !== undefined && node.values.includes(v);
      return node.op === 'in' ? inSet : !inSet;
    }
    case 'not':
      return !evaluate(node.operand, labels);
    case 'and':
      return node.operands.every((n) => evaluate(n, labels));
    case 'or':
      return node.operands.some((n) => evaluate(n, labels));
  }
}

/** Strings have no escapes: use "..." unless the value holds a double quote. */
function quote(value: string): string {
  return value.includes('"') ? `'${value}'` : `"${value}"`;
}

function print(node: Node): string {
  switch (node.kind) {
    case 'all':
    case 'global':
      return `${node.kind}()`;
    case 'has':
      return `has(${node.key})`;
    case 'compare':
      return `${node.key} ${node.op} ${quote(node.value)}`;
    case 'set':
      return `${node.key} ${node.op} {${node.values.map(quote).join(', ')}}`;
    case 'not': {
      const k = node.operand.kind;
      const simple = k === 'all' || k === 'global' || k === 'has';
      return simple ? `!${print(node.operand)}` : `!(${print(node.operand)})`;
    }
    case 'and':
      return node.operands.map((n) => (n.kind === 'or' ? `(${print(n)})` : print(n))).join(' && ');
    case 'or':
      return node.operands.map(print).join(' || ');
  }
}

// Builders normalise so that the canonical form does not depend on spelling.
function negate(operand: Node): Node {
  return operand.kind === 'not' ? operand.operand : { kind: 'not', operand };
}

function combine(kind: 'and' | 'or', nodes: Node[]): Node {
  if (nodes.length === 1) return nodes[0]!;
  return { kind, operands: nodes.flatMap((n) => (n.kind === kind ? n.operands : [n])) };
}

// ---------------------------------------------------------------------------------------------
// Label keys: Kubernetes-style [prefix/]name.

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function isLabelKey(key: string): boolean {
  const slash = key.indexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (name.length > 63 || !NAME.test(name)) return false;
  return prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix));
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

type TokenKind = 'word' | 'string' | '(' | ')' | '{' | '}' | ',' | '==' | '!=' | '!' | '&&' | '||' | 'eof';

interface Token {
  readonly kind: TokenKind;
  /** The word, or the string's value (without quotes). */
  readonly text: string;
  /** 0-based column in the selector text. */
  readonly pos: number;
}

/** Characters of a label key (validated later) or of an operator word (in, contains...). */
const WORD_CHAR = /[A-Za-z0-9_./-]/;
const PUNCT = ['==', '!=', '&&', '||', '!', '(', ')', '{', '}', ','] as const;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'") {
      const end = text.indexOf(c, i + 1);
      if (end < 0) throw new SelectorError(text, text.length, `a closing ${c} for the string opened at column ${i}`, 'end of selector');
      tokens.push({ kind: 'string', text: text.slice(i + 1, end), pos: i });
      i = end + 1;
    } else if (WORD_CHAR.test(c)) {
      let end = i;
      while (end < text.length && WORD_CHAR.test(text[end]!)) end++;
      tokens.push({ kind: 'word', text: text.slice(i, end), pos: i });
      i = end;
    } else {
      const p = PUNCT.find((s) => text.startsWith(s, i));
      if (p === undefined) {
        const wanted = c === '=' ? '"=="' : c === '&' ? '"&&"' : c === '|' ? '"||"' : 'a label key, a string, an operator or a parenthesis';
        throw new SelectorError(text, i, wanted, JSON.stringify(c));
      }
      tokens.push({ kind: p, text: p, pos: i });
      i += p.length;
    }
  }
  tokens.push({ kind: 'eof', text: '', pos: text.length });
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Parser

const FUNCTIONS = new Set(['all', 'global', 'has']);

/** Nesting of "(" and "!" the parser accepts: recursive descent, deeper input would overflow the stack. */
export const MAX_SELECTOR_DEPTH = 100;

class Parser {
  private readonly tokens: Token[];
  private i = 0;
  private depth = 0;

  constructor(private readonly text: string) {
    this.tokens = tokenize(text);
  }

  parse(): Node {
    if (this.peek().kind === 'eof') return { kind: 'all' };
    const node = this.parseOr();
    this.expect('eof', '"&&", "||" or the end of the selector');
    return node;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.i++;
    return t;
  }

  private fail(t: Token, expected: string): never {
    const found = t.kind === 'eof' ? undefined : t.kind === 'string' ? `string ${quote(t.text)}` : JSON.stringify(t.text);
    throw new SelectorError(this.text, t.pos, expected, found);
  }

  private expect(kind: TokenKind, expected: string): Token {
    const t = this.peek();
    if (t.kind !== kind) this.fail(t, expected);
    return this.next();
  }

  private parseOr(): Node {
    const nodes = [this.parseAnd()];
    while (this.peek().kind === '||') {
      this.next();
      nodes.push(this.parseAnd());
    }
    return combine('or', nodes);
  }

  private parseAnd(): Node {
    const nodes = [this.parseUnary()];
    while (this.peek().kind === '&&') {
      this.next();
      nodes.push(this.parseUnary());
    }
    return combine('and', nodes);
  }

  private parseUnary(): Node {
    if (++this.depth > MAX_SELECTOR_DEPTH) this.fail(this.peek(), `an expression nested at most ${MAX_SELECTOR_DEPTH} levels deep`);
    try {
      if (this.peek().kind === '!') {
        this.next();
        return negate(this.parseUnary());
      }
      return this.parsePrimary();
    } finally {
      this.depth--;
    }
  }

  private parsePrimary(): Node {
    const t = this.peek();
    if (t.kind === '(') {
      this.next();
      const node = this.parseOr();
      this.expect(')', '"&&", "||" or ")"');
      return node;
    }
    if (t.kind !== 'word') this.fail(t, 'an expression');
    if (this.peek(1).kind === '(') return this.parseFunction();
    const key = this.parseKey();
    return this.parseComparison(key);
  }

  private parseFunction(): Node {
    const name = this.next();
    if (!FUNCTIONS.has(name.text)) this.fail(name, 'has(), all() or global()');
    this.next(); // (
    let node: Node;
    if (name.text === 'has') node = { kind: 'has', key: this.parseKey() };
    else node = { kind: name.text as 'all' | 'global' };
    this.expect(')', '")"');
    return node;
  }

  private parseKey(): string {
    const t = this.peek();
    if (t.kind !== 'word' || !isLabelKey(t.text)) this.fail(t, 'a label key ([prefix/]name)');
    return this.next().text;
  }

  private parseComparison(key: string): Node {
    const t = this.next();
    const word = (w: string): boolean => this.peek().kind === 'word' && this.peek().text === w;
    let op: CompareOp | SetOp | undefined;
    if (t.kind === '==' || t.kind === '!=') op = t.kind;
    else if (t.kind === 'word' && (t.text === 'contains' || t.text === 'in')) op = t.text;
    else if (t.kind === 'word' && (t.text === 'starts' || t.text === 'ends') && word('with')) op = `${t.text} with`;
    else if (t.kind === 'word' && t.text === 'not' && word('in')) op = 'not in';
    if (op === undefined) this.fail(t, 'an operator (==, !=, in, not in, contains, starts with, ends with)');
    if (op.includes(' ')) this.next(); // the second word

    if (op === 'in' || op === 'not in') return { kind: 'set', op, key, values: this.parseSet() };
    return { kind: 'compare', op, key, value: this.expect('string', 'a quoted string').text };
  }

  /** `{ "a", 'b' }`, possibly empty; a trailing comma is accepted, as Calico does. */
  private parseSet(): string[] {
    this.expect('{', '"{"');
    const values = new Set<string>();
    let afterValue = false;
    while (this.peek().kind === 'string') {
      values.add(this.next().text);
      afterValue = this.peek().kind !== ',';
      if (afterValue) break;
      this.next();
    }
    this.expect('}', afterValue ? '"," or "}"' : 'a quoted string or "}"');
    return [...values].sort();
  }
}

class ParsedSelector implements Selector {
  private readonly canonical: string;

  constructor(
    readonly source: string,
    private readonly root: Node,
  ) {
    this.canonical = print(root);
  }

  matches(labels: Labels): boolean {
    return evaluate(this.root, labels);
  }

  toString(): string {
    return this.canonical;
  }
}

/** Parses a selector; the empty (or all-blank) text is `all()`. Throws SelectorError. */
export function parseSelector(text: string): Selector {
  return new ParsedSelector(text, new Parser(text).parse());
}

/** Convenience: parse (throwing SelectorError) and evaluate. */
export function matches(selector: string, labels: Labels): boolean {
  return parseSelector(selector).matches(labels);
}
