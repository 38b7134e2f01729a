/**
 * The three sources of Shopify's category attributes read one file at a time, each entry's shape
 * checked: `attributes.json` (the attributes with their values), `attribute_values.json` (every
 * value once) and one `verticals/*.yml` per vertical (its categories and the attributes each has).
 * How they fit together is checked in taxonomy.ts; here a malformed file is refused with its name,
 * the entry and, for the YAML, the line.
 */
import { isNode, isSeq, LineCounter, parseDocument } from 'yaml';

/** A file's name (as given, for errors) and its text. */
export interface SourceText {
  file: string;
  text: string;
}

export interface ValueRecord {
  /** `gid://shopify/TaxonomyValue/16300`. */
  id: string;
  name: string;
  handle: string;
}

export interface AttributeRecord {
  /** `gid://shopify/TaxonomyAttribute/2649`. */
  id: string;
  name: string;
  handle: string;
  description: string;
  /** Other names of the same attribute for a part of a product (`Band color` of `Color`): same values. */
  extended: { name: string; handle: string }[];
  values: ValueRecord[];
}

export interface CategoryRecord {
  /** The short id: a vertical's letters, then a number per level (`aa-1-13-8`). */
  id: string;
  name: string;
  children: string[];
  /** The attributes as the verticals name them: friendly ids such as `sleeve_length_type`, `bag/case_material`. */
  attributes: string[];
  /** The entry's line in its file. */
  line: number;
}

/** A source that is not what Shopify publishes: the file, the entry when one is at fault, and why. */
export class AttributeDataError extends Error {
  constructor(
    readonly file: string,
    readonly entry: string | null,
    reason: string,
  ) {
    super(`${file}${entry === null ? '' : `, ${entry}`}: ${reason}`);
    this.name = 'AttributeDataError';
  }
}

const ATTRIBUTE_GID = /^gid:\/\/shopify\/TaxonomyAttribute\/\d+$/;
const VALUE_GID = /^gid:\/\/shopify\/TaxonomyValue\/\d+$/;
/** Shopify's category ids: a vertical's two letters, then a number per level below it. */
export const SHORT_CATEGORY_ID = /^[a-z]{2}(?:-\d+)*$/;

/** `attributes.json`: `{ version, attributes: [{ id, name, handle, description, extended_attributes, values }] }`. */
export function parseAttributesFile(source: SourceText): { version: string; attributes: AttributeRecord[] } {
  const { version, list } = topLevel(source, 'attributes');
  const attributes = list.map((raw, i): AttributeRecord => {
    const at = new Entry(source.file, `attributes[${i}]`, raw);
    const id = at.string('id', ATTRIBUTE_GID);
    at.entry = `attributes[${i}] (${id})`;
    return {
      id,
      name: at.string('name'),
      handle: at.string('handle'),
      description: at.string('description', undefined, true),
      extended: at.list('extended_attributes').map((e, j) => {
        const ext = new Entry(source.file, `${at.entry}.extended_attributes[${j}]`, e);
        return { name: ext.string('name'), handle: ext.string('handle') };
      }),
      values: at.list('values').map((v, j) => valueRecord(new Entry(source.file, `${at.entry}.values[${j}]`, v))),
    };
  });
  return { version, attributes };
}

/** `attribute_values.json`: `{ version, values: [{ id, name, handle }] }`. */
export function parseValuesFile(source: SourceText): { version: string; values: ValueRecord[] } {
  const { version, list } = topLevel(source, 'values');
  return { version, values: list.map((raw, i) => valueRecord(new Entry(source.file, `values[${i}]`, raw))) };
}

/** One `verticals/*.yml`: a YAML list of `{ id, name, children: [ids], attributes: [friendly ids] }`. */
export function parseVerticalFile(source: SourceText): CategoryRecord[] {
  const lines = new LineCounter();
  const document = parseDocument(source.text, { lineCounter: lines });
  const [problem] = document.errors;
  if (problem) {
    const line = problem.linePos?.[0].line;
    throw new AttributeDataError(source.file, line === undefined ? null : `line ${line}`, `not YAML: ${problem.message.split('\n')[0]}`);
  }
  if (!isSeq(document.contents)) throw new AttributeDataError(source.file, null, 'expected a YAML list of categories.');
  const items = document.contents.items;
  const plain = document.toJS() as unknown[];
  return plain.map((raw, i): CategoryRecord => {
    const node = items[i];
    const line = isNode(node) && node.range ? lines.linePos(node.range[0]).line : 0;
    const at = new Entry(source.file, `line ${line}`, raw);
    const id = at.string('id', SHORT_CATEGORY_ID);
    at.entry = `line ${line} (category ${id})`;
    return { id, name: at.string('name'), children: at.strings('children'), attributes: at.strings('attributes'), line };
  });
}

function topLevel(source: SourceText, listKey: string): { version: string; list: unknown[] } {
  let json: unknown;
  try {
    json = JSON.parse(source.text);
  } catch (error) {
    throw new AttributeDataError(source.file, null, `not JSON: ${(error as Error).message}`);
  }
  const top = new Entry(source.file, null, json);
  return { version: top.string('version'), list: top.list(listKey) };
}

function valueRecord(at: Entry): ValueRecord {
  const id = at.string('id', VALUE_GID);
  at.entry = `${at.entry} (${id})`;
  return { id, name: at.string('name'), handle: at.string('handle') };
}

/** Typed reads of one entry's fields, each refusal naming the file, the entry and the field. */
class Entry {
  private readonly fields: Record<string, unknown>;

  constructor(
    readonly file: string,
    public entry: string | null,
    raw: unknown,
  ) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw this.error(`expected an object, found ${describe(raw)}.`);
    this.fields = raw as Record<string, unknown>;
  }

  string(key: string, pattern?: RegExp, mayBeEmpty = false): string {
    const value = this.fields[key];
    if (typeof value !== 'string') throw this.error(`"${key}" must be a string, found ${describe(value)}.`);
    if (!mayBeEmpty && value.trim() === '') throw this.error(`"${key}" is empty.`);
    if (pattern && !pattern.test(value)) throw this.error(`"${key}" ${JSON.stringify(value)} does not match ${pattern.source}.`);
    return value;
  }

  list(key: string): unknown[] {
    const value = this.fields[key];
    if (!Array.isArray(value)) throw this.error(`"${key}" must be a list, found ${describe(value)}.`);
    return value;
  }

  strings(key: string): string[] {
    return this.list(key).map((item, i) => {
      if (typeof item !== 'string' || item === '') throw this.error(`"${key}"[${i}] must be a non-empty string, found ${describe(item)}.`);
      return item;
    });
  }

  private error(reason: string): AttributeDataError {
    return new AttributeDataError(this.file, this.entry, reason);
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}
