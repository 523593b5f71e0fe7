// A configuration file as text: parsed (YAML, or JSON, which is YAML too), and able to say on
// which line each value stands, so that every refusal names the line and the field. A value's
// path is the one zod reports (`['clients', 0, 'scope']`).
import path from 'node:path';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { InputError } from '../errors/index.ts';

export type ValuePath = readonly PropertyKey[];

/**
 * A refusal of the file, before anything changed: `file:line: field: reason`. `field` is the
 * path of the value at fault (`clients[0].redirect_uris`), which --json reports as `field`.
 */
export class ManifestError extends InputError {
  readonly line: number | undefined;
  constructor(source: { name: string }, line: number | undefined, field: string, reason: string) {
    super(field, reason);
    this.line = line;
    this.message = `${source.name}${line === undefined ? '' : `:${line}`}: ${field ? `${field}: ` : ''}${reason}`;
  }
}

/** `clients[0].redirect_uris[1]`: a path as people read it. */
export function fieldName(valuePath: ValuePath): string {
  return valuePath.map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`)).join('');
}

export interface ManifestSource {
  /** The file's name as given (`-` for stdin): how messages name it. */
  name: string;
  /** The folder a `from_file` reference is read from. */
  folder: string;
  /** The parsed value (not yet checked against the schema). */
  value: unknown;
  /** The line of the value at `valuePath`, or of the nearest enclosing value the file has; `key`: the line of that key of it instead. */
  lineOf(valuePath: ValuePath, key?: string): number | undefined;
  /** A refusal naming the line of the value at `valuePath` (or of its `key`). */
  error(valuePath: ValuePath, reason: string, key?: string): ManifestError;
}

/** Text that looks like JSON (by the file's name or its first character) is held to JSON's rules. */
const looksLikeJson = (name: string, text: string) => name.toLowerCase().endsWith('.json') || text.trimStart().startsWith('{');

/** Parses `text` (read from `name`, or stdin when `name` is `-`); a syntax error is refused with its line. */
export function parseSource(name: string, text: string, workingDirectory: string): ManifestSource {
  const lineCounter = new LineCounter();
  const base = { name, folder: name === '-' ? workingDirectory : path.dirname(path.resolve(workingDirectory, name)) };
  const refuse = (line: number | undefined, reason: string) => new ManifestError(base, line, '', reason);
  if (looksLikeJson(name, text)) {
    try {
      JSON.parse(text);
    } catch (error) {
      // V8 says where: "... in JSON at position 11 (line 3 column 1)".
      const message = error instanceof Error ? error.message : String(error);
      const line = /\(line (\d+) column \d+\)/.exec(message)?.[1];
      throw refuse(line === undefined ? undefined : Number(line), `is not valid JSON: ${message.replace(/ \(line \d+ column \d+\)$/, '')}`);
    }
  }
  const document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  const [syntax] = document.errors;
  if (syntax) throw refuse(syntax.linePos?.[0].line, `is not valid YAML: ${syntax.message.split(' at line ')[0]}`);
  // An alias expands in place: a file of nested aliases must not grow without bound.
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw refuse(undefined, `cannot be read: ${error instanceof Error ? error.message : String(error)}`);
  }
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  const source: ManifestSource = {
    ...base,
    value,
    lineOf: (valuePath, key) => lineOfPath(document, lineAt, key === undefined ? valuePath : [...valuePath, key]),
    error: (valuePath, reason, key) =>
      new ManifestError(base, source.lineOf(valuePath, key), fieldName(key === undefined ? valuePath : [...valuePath, key]), reason),
  };
  return source;
}

/** The line of the value at `steps` (a map entry's: its key's), or of the nearest enclosing one the file has. */
function lineOfPath(document: Document, lineAt: (offset: number) => number, steps: ValuePath): number | undefined {
  const start = (node: unknown) => (isNode(node) && node.range ? lineAt(node.range[0]) : undefined);
  let node: unknown = document.contents;
  let line = start(node);
  for (const step of steps) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && item.key.value === step);
      if (!pair) break;
      line = start(pair.key) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof step === 'number' && step < node.items.length) {
      node = node.items[step];
      line = start(node) ?? line;
    } else {
      break;
    }
  }
  return line;
}
