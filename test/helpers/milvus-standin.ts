import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for Milvus / Zilliz Cloud speaking the RESTful API v2 (`/v2/vectordb/...`) the way
 * `@zilliz/milvus2-sdk-node`'s HttpClient calls it, on loopback, so that tests run the real SDK.
 *
 * What it copies from Milvus, because the client under test depends on it:
 * - Every answer is the envelope `{ code, data?, message? }`; code 0 is success. Errors carry the
 *   codes of Milvus's `merr` package (pkg/util/merr/errors.go): 100 collection not found, 101 not
 *   loaded, 800 database not found, 1100 invalid parameter, 1800 not authenticated (with HTTP 401,
 *   as Milvus's auth middleware answers), 1801 not JSON, 1802 missing parameters, 1804 bad insert
 *   data. Other errors come back with HTTP 200, as Milvus sends them.
 * - The SDK sends `ContentType` (sic) instead of `Content-Type`, so bodies arrive as text/plain:
 *   the body is parsed as JSON whatever its declared type, as Milvus does.
 * - `insert` does not deduplicate primary keys (Milvus does not); `upsert` replaces, and refuses
 *   a primary key twice in one request (Milvus 2.4+).
 * - Search with metric COSINE returns `distance` = cosine similarity, highest first; L2 lowest
 *   first; IP highest first. Vectors are kept as float32, like Milvus's FloatVector.
 * - Filters are parsed by a real parser for a subset of Milvus's boolean expression grammar
 *   (Plan.g4) and checked against the schema; what it cannot parse or type is an error (code
 *   1100), never ignored.
 * It is exact (brute force over every row) and keeps everything in memory: correctness, not speed.
 */

export const MILVUS_CODES = {
  SUCCESS: 0,
  COLLECTION_NOT_FOUND: 100,
  COLLECTION_NOT_LOADED: 101,
  DATABASE_NOT_FOUND: 800,
  PARAMETER_INVALID: 1100,
  NEED_AUTHENTICATE: 1800,
  INCORRECT_PARAMETER_FORMAT: 1801,
  MISSING_REQUIRED_PARAMETERS: 1802,
  INVALID_INSERT_DATA: 1804,
} as const;

/** An error the stand-in answers with Milvus's envelope. */
export class MilvusStandinError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly httpStatus = 200,
  ) {
    super(message);
  }
}

const invalid = (message: string) => new MilvusStandinError(MILVUS_CODES.PARAMETER_INVALID, message);

// ---------------------------------------------------------------------------------------------
// Schema

export type ScalarType = 'Bool' | 'Int64' | 'Double' | 'VarChar' | 'JSON';
export type FieldType = ScalarType | 'FloatVector' | 'Array';

export interface StandinField {
  name: string;
  type: FieldType;
  primaryKey: boolean;
  /** FloatVector only. */
  dim?: number;
  /** VarChar, and Array of VarChar: the most bytes (UTF-8) of one string. */
  maxLength?: number;
  /** Array only. */
  elementType?: 'VarChar' | 'Int64' | 'Double' | 'Bool';
  maxCapacity?: number;
}

export interface StandinIndex {
  fieldName: string;
  indexName: string;
  metricType: 'COSINE' | 'L2' | 'IP';
  indexType: string;
}

export interface StandinCollection {
  name: string;
  description: string;
  fields: StandinField[];
  enableDynamicField: boolean;
  indexes: StandinIndex[];
  loaded: boolean;
  /** Rows in insertion order; vectors as float32 values. Dynamic fields live under `$meta`. */
  rows: Record<string, unknown>[];
}

const ELEMENT_TYPES = ['VarChar', 'Int64', 'Double', 'Bool'];
const METRICS = ['COSINE', 'L2', 'IP'];
const CONSISTENCY_LEVELS = ['Strong', 'Session', 'Bounded', 'Eventually', 'Customized'];
/** Milvus's defaults for the limits it checks. */
const MAX_VARCHAR_LENGTH = 65_535;
const MAX_ARRAY_CAPACITY = 4_096;
const MAX_DIM = 32_768;
const MAX_JSON_BYTES = 65_536;
const MAX_TOPK = 16_384;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function intParam(value: unknown, what: string, min: number, max: number): number {
  // The REST API takes these as numbers or numeric strings ("dim": "768").
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max)
    throw invalid(`invalid parameter[expected=${what} from ${min} to ${max}][actual=${JSON.stringify(value)}]`);
  return n;
}

function fieldFromRequest(raw: unknown): StandinField {
  if (typeof raw !== 'object' || raw === null)
    throw invalid('invalid parameter[expected=field object][actual=' + JSON.stringify(raw) + ']');
  const f = raw as Record<string, unknown>;
  if (typeof f.fieldName !== 'string' || !NAME.test(f.fieldName)) throw invalid(`field name invalid[field=${JSON.stringify(f.fieldName)}]`);
  const params = (f.elementTypeParams ?? {}) as Record<string, unknown>;
  const field: StandinField = { name: f.fieldName, type: 'VarChar', primaryKey: f.isPrimary === true };
  switch (f.dataType) {
    case 'Int64':
    case 'Double':
    case 'Bool':
    case 'JSON':
      field.type = f.dataType;
      break;
    case 'VarChar':
      field.type = 'VarChar';
      field.maxLength = intParam(params.max_length, `max_length of ${field.name}`, 1, MAX_VARCHAR_LENGTH);
      break;
    case 'FloatVector':
      field.type = 'FloatVector';
      field.dim = intParam(params.dim, `dim of ${field.name}`, 1, MAX_DIM);
      break;
    case 'Array':
      field.type = 'Array';
      if (typeof f.elementDataType !== 'string' || !ELEMENT_TYPES.includes(f.elementDataType))
        throw invalid(
          `invalid parameter[expected=elementDataType of ${field.name} one of ${ELEMENT_TYPES.join(', ')}][actual=${JSON.stringify(f.elementDataType)}]`,
        );
      field.elementType = f.elementDataType as StandinField['elementType'];
      field.maxCapacity = intParam(params.max_capacity, `max_capacity of ${field.name}`, 1, MAX_ARRAY_CAPACITY);
      if (field.elementType === 'VarChar')
        field.maxLength = intParam(params.max_length, `max_length of ${field.name}`, 1, MAX_VARCHAR_LENGTH);
      break;
    default:
      throw invalid(`invalid parameter[expected=a supported data type][actual=${JSON.stringify(f.dataType)}]`);
  }
  if (field.primaryKey && field.type !== 'Int64' && field.type !== 'VarChar')
    throw new MilvusStandinError(
      1806,
      `please check the primary key and its' type can only in [int, string]: ${field.name} is ${field.type}`,
    );
  return field;
}

function collectionFromRequest(body: Record<string, unknown>): StandinCollection {
  const name = body.collectionName;
  if (typeof name !== 'string' || !NAME.test(name) || name.length > 255)
    throw invalid(
      `Invalid collection name: ${JSON.stringify(name)}. the first character of a collection name must be an underscore or letter, and it may only contain letters, numbers and underscores, at most 255`,
    );
  const description = typeof body.description === 'string' ? body.description : '';
  let fields: StandinField[];
  let enableDynamicField: boolean;
  let indexes: StandinIndex[] = [];
  const metric = (m: unknown): StandinIndex['metricType'] => {
    if (typeof m !== 'string' || !METRICS.includes(m))
      throw invalid(`invalid parameter[expected=metric type one of ${METRICS.join(', ')}][actual=${JSON.stringify(m)}]`);
    return m as StandinIndex['metricType'];
  };
  if (body.schema !== undefined) {
    const schema = body.schema as Record<string, unknown>;
    if (!Array.isArray(schema.fields) || schema.fields.length === 0)
      throw new MilvusStandinError(1802, 'missing required parameters, error: schema.fields');
    if (schema.autoID === true || schema.autoId === true) throw invalid('invalid parameter: the stand-in keeps no autoID collections');
    fields = schema.fields.map(fieldFromRequest);
    enableDynamicField = schema.enableDynamicField === true || schema.enabledDynamicField === true;
    const seen = new Set<string>();
    for (const f of fields) {
      if (seen.has(f.name)) throw invalid(`duplicated field name ${f.name} found`);
      seen.add(f.name);
    }
    if (fields.filter((f) => f.primaryKey).length !== 1) throw invalid('invalid parameter: a schema has exactly one primary key field');
    if (!fields.some((f) => f.type === 'FloatVector')) throw invalid('invalid parameter: schema does not contain vector field');
    if (body.indexParams !== undefined) {
      if (!Array.isArray(body.indexParams)) throw invalid('invalid parameter[expected=indexParams an array]');
      indexes = body.indexParams.map((raw: Record<string, unknown>) => {
        const field = fields.find((f) => f.name === raw.fieldName);
        if (!field) throw new MilvusStandinError(1700, `field not found[field=${String(raw.fieldName)}]`);
        if (field.type !== 'FloatVector') throw invalid(`the stand-in indexes vector fields only, not ${field.name}`);
        const params = (raw.params ?? {}) as Record<string, unknown>;
        return {
          fieldName: field.name,
          indexName: typeof raw.indexName === 'string' && raw.indexName !== '' ? raw.indexName : field.name,
          metricType: metric(raw.metricType),
          indexType: typeof params.index_type === 'string' ? params.index_type : 'AUTOINDEX',
        };
      });
    }
  } else if (body.dimension !== undefined) {
    // Quick setup: an id primary key and one vector field, indexed and loaded at once.
    const pk = typeof body.primaryFieldName === 'string' ? body.primaryFieldName : 'id';
    const vector = typeof body.vectorFieldName === 'string' ? body.vectorFieldName : 'vector';
    const idType = body.idType === 'VarChar' ? 'VarChar' : 'Int64';
    fields = [
      { name: pk, type: idType, primaryKey: true, ...(idType === 'VarChar' ? { maxLength: MAX_VARCHAR_LENGTH } : {}) },
      { name: vector, type: 'FloatVector', primaryKey: false, dim: intParam(body.dimension, 'dimension', 1, MAX_DIM) },
    ];
    enableDynamicField = true;
    indexes = [{ fieldName: vector, indexName: vector, metricType: metric(body.metricType ?? 'COSINE'), indexType: 'AUTOINDEX' }];
  } else {
    throw new MilvusStandinError(MILVUS_CODES.MISSING_REQUIRED_PARAMETERS, 'missing required parameters, error: schema or dimension');
  }
  // Milvus loads a collection created with its indexes; one without waits for createIndex + load.
  const loaded = fields.filter((f) => f.type === 'FloatVector').every((f) => indexes.some((i) => i.fieldName === f.name));
  return { name, description, fields, enableDynamicField, indexes, loaded, rows: [] };
}

function describeField(f: StandinField, id: number): Record<string, unknown> {
  const params: { key: string; value: string }[] = [];
  if (f.dim !== undefined) params.push({ key: 'dim', value: String(f.dim) });
  if (f.maxLength !== undefined) params.push({ key: 'max_length', value: String(f.maxLength) });
  if (f.maxCapacity !== undefined) params.push({ key: 'max_capacity', value: String(f.maxCapacity) });
  return {
    name: f.name,
    id,
    type: f.type,
    primaryKey: f.primaryKey,
    partitionKey: false,
    autoId: false,
    nullable: false,
    description: '',
    params,
    ...(f.elementType ? { elementType: f.elementType } : {}),
  };
}

const sameSchema = (a: StandinCollection, b: StandinCollection) =>
  JSON.stringify([a.fields, a.enableDynamicField, a.indexes]) === JSON.stringify([b.fields, b.enableDynamicField, b.indexes]);

// ---------------------------------------------------------------------------------------------
// Filter expressions: a tokenizer, a recursive-descent parser and an evaluator.

type Token =
  | { kind: 'punct'; text: string; at: number }
  | { kind: 'ident'; text: string; at: number }
  | { kind: 'string'; value: string; at: number }
  | { kind: 'number'; value: number; integer: boolean; text: string; at: number }
  | { kind: 'end'; at: number };

const KEYWORDS: Record<string, string> = {
  and: 'and',
  AND: 'and',
  or: 'or',
  OR: 'or',
  not: 'not',
  NOT: 'not',
  in: 'in',
  IN: 'in',
  true: 'true',
  True: 'true',
  TRUE: 'true',
  false: 'false',
  False: 'false',
  FALSE: 'false',
  like: 'like',
  LIKE: 'like',
};

/** Reads one string literal's escapes as Milvus does (it hands the text to Go's strconv.Unquote). */
function readString(text: string, start: number): { value: string; end: number } {
  const quote = text[start];
  let value = '';
  let i = start + 1;
  const hex = (digits: number) => {
    const h = text.slice(i, i + digits);
    if (h.length !== digits || !/^[0-9A-Fa-f]+$/.test(h)) throw new Error(`bad escape at ${i - 2}: expected ${digits} hex digits`);
    i += digits;
    return parseInt(h, 16);
  };
  for (;;) {
    if (i >= text.length) throw new Error(`unterminated string starting at ${start}`);
    const c = text[i];
    if (c === quote) return { value, end: i + 1 };
    if (c === '\n' || c === '\r') throw new Error(`newline in string starting at ${start}`);
    if (c !== '\\') {
      value += c;
      i++;
      continue;
    }
    const e = text[i + 1];
    i += 2;
    switch (e) {
      case 'a':
        value += '\x07';
        break;
      case 'b':
        value += '\b';
        break;
      case 'f':
        value += '\f';
        break;
      case 'n':
        value += '\n';
        break;
      case 'r':
        value += '\r';
        break;
      case 't':
        value += '\t';
        break;
      case 'v':
        value += '\v';
        break;
      case '\\':
        value += '\\';
        break;
      case '"':
      case "'":
        // Go takes \" only in "..."; Milvus rewrites '...' first, so both quotes escape there.
        if (e === "'" && quote === '"') throw new Error(`bad escape \\' in a double-quoted string at ${i - 2}`);
        value += e;
        break;
      case 'x':
        value += String.fromCharCode(hex(2));
        break;
      case 'u':
      case 'U': {
        const cp = hex(e === 'u' ? 4 : 8);
        if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
          throw new Error(`bad escape at ${i - 2 - (e === 'u' ? 4 : 8)}: not a Unicode scalar value`);
        value += String.fromCodePoint(cp);
        break;
      }
      default:
        if (e !== undefined && e >= '0' && e <= '7') {
          const o = text.slice(i - 1, i + 2);
          if (!/^[0-7]{3}$/.test(o) || parseInt(o, 8) > 255) throw new Error(`bad octal escape at ${i - 2}`);
          value += String.fromCharCode(parseInt(o, 8));
          i += 2;
          break;
        }
        throw new Error(`bad escape \\${e ?? ''} at ${i - 2}`);
    }
  }
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const two = text.slice(i, i + 2);
    if (['==', '!=', '<=', '>=', '&&', '||'].includes(two)) {
      tokens.push({ kind: 'punct', text: two, at: i });
      i += 2;
    } else if ('()[],<>!-+'.includes(c)) {
      tokens.push({ kind: 'punct', text: c, at: i });
      i++;
    } else if (c === '"' || c === "'") {
      const { value, end } = readString(text, i);
      tokens.push({ kind: 'string', value, at: i });
      i = end;
    } else if (/[0-9.]/.test(c)) {
      const m = /^(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?/.exec(text.slice(i));
      if (!m) throw new Error(`bad number at ${i}`);
      const t = m[0];
      if (/[A-Za-z_]/.test(text[i + t.length] ?? '')) throw new Error(`bad number at ${i}`);
      const integer = /^\d+$/.test(t);
      if (integer && BigInt(t) > 9223372036854775807n) throw new Error(`integer ${t} at ${i} overflows int64`);
      tokens.push({ kind: 'number', value: Number(t), integer, text: t, at: i });
      i += t.length;
    } else if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z_$][A-Za-z0-9_]*/.exec(text.slice(i))!;
      tokens.push({ kind: 'ident', text: m[0], at: i });
      i += m[0].length;
    } else {
      throw new Error(`unexpected character ${JSON.stringify(c)} at ${i}`);
    }
  }
  tokens.push({ kind: 'end', at: text.length });
  return tokens;
}

/** A parsed filter expression. */
export type Expr =
  | { kind: 'literal'; value: string | number | boolean; integer?: boolean }
  | { kind: 'list'; items: Expr[] }
  | { kind: 'field'; name: string; path: (string | number)[] }
  | { kind: 'not'; operand: Expr }
  | { kind: 'neg'; operand: Expr }
  | { kind: 'logic'; op: 'and' | 'or'; left: Expr; right: Expr }
  | { kind: 'compare'; op: '==' | '!=' | '<' | '<=' | '>' | '>='; left: Expr; right: Expr }
  | { kind: 'in'; negated: boolean; operand: Expr; list: Expr }
  | { kind: 'call'; name: string; args: Expr[] };

const FUNCTIONS: Record<string, number> = {
  array_contains: 2,
  array_contains_all: 2,
  array_contains_any: 2,
  array_length: 1,
  json_contains: 2,
  json_contains_all: 2,
  json_contains_any: 2,
};

/** Parses a Milvus boolean expression (the subset described above); throws on anything else. */
export function parseExpression(text: string): Expr {
  const tokens = tokenize(text);
  let p = 0;
  const peek = () => tokens[p];
  const word = (t: Token) => (t.kind === 'ident' ? KEYWORDS[t.text] : undefined);
  const isPunct = (t: Token, s: string) => t.kind === 'punct' && t.text === s;
  const describe = (t: Token) =>
    t.kind === 'end'
      ? 'end of expression'
      : t.kind === 'punct' || t.kind === 'ident'
        ? `${JSON.stringify(t.text)} at ${t.at}`
        : `a ${t.kind} at ${t.at}`;
  const expect = (s: string) => {
    if (!isPunct(peek(), s)) throw new Error(`expected ${JSON.stringify(s)}, got ${describe(peek())}`);
    p++;
  };

  const parseOr = (): Expr => {
    let left = parseAnd();
    while (word(peek()) === 'or' || isPunct(peek(), '||')) {
      p++;
      left = { kind: 'logic', op: 'or', left, right: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): Expr => {
    let left = parseCompare();
    while (word(peek()) === 'and' || isPunct(peek(), '&&')) {
      p++;
      left = { kind: 'logic', op: 'and', left, right: parseCompare() };
    }
    return left;
  };
  // Comparison and `in` bind looser than the unary operators (as in Milvus's grammar, where
  // `not a == 1` is `(not a) == 1`, a type error).
  const parseCompare = (): Expr => {
    const left = parseUnary();
    const t = peek();
    if (t.kind === 'punct' && ['==', '!=', '<', '<=', '>', '>='].includes(t.text)) {
      p++;
      return { kind: 'compare', op: t.text as '==', left, right: parseUnary() };
    }
    if (word(t) === 'in') {
      p++;
      return { kind: 'in', negated: false, operand: left, list: parseUnary() };
    }
    if (word(t) === 'not' && word(tokens[p + 1]) === 'in') {
      p += 2;
      return { kind: 'in', negated: true, operand: left, list: parseUnary() };
    }
    if (word(t) === 'like') throw new Error(`the stand-in does not implement like (at ${t.at})`);
    return left;
  };
  const parseUnary = (): Expr => {
    const t = peek();
    if (word(t) === 'not' || isPunct(t, '!')) {
      p++;
      return { kind: 'not', operand: parseUnary() };
    }
    if (isPunct(t, '-')) {
      p++;
      return { kind: 'neg', operand: parseUnary() };
    }
    if (isPunct(t, '+')) {
      p++;
      return parseUnary();
    }
    return parsePrimary();
  };
  const parsePrimary = (): Expr => {
    const t = peek();
    if (isPunct(t, '(')) {
      p++;
      const inner = parseOr();
      expect(')');
      return inner;
    }
    if (isPunct(t, '[')) {
      p++;
      const items: Expr[] = [];
      while (!isPunct(peek(), ']')) {
        items.push(parseUnary());
        if (isPunct(peek(), ',')) p++;
        else if (!isPunct(peek(), ']')) throw new Error(`expected "," or "]" in a list, got ${describe(peek())}`);
      }
      p++;
      return { kind: 'list', items };
    }
    if (t.kind === 'string') {
      p++;
      return { kind: 'literal', value: t.value };
    }
    if (t.kind === 'number') {
      p++;
      return { kind: 'literal', value: t.value, integer: t.integer };
    }
    if (t.kind === 'ident') {
      const w = word(t);
      if (w === 'true' || w === 'false') {
        p++;
        return { kind: 'literal', value: w === 'true' };
      }
      if (w !== undefined) throw new Error(`unexpected ${describe(t)}`);
      p++;
      if (isPunct(peek(), '(')) {
        const arity = FUNCTIONS[t.text];
        if (arity === undefined) throw new Error(`unknown function ${t.text} at ${t.at}`);
        p++;
        const args: Expr[] = [];
        while (!isPunct(peek(), ')')) {
          args.push(parseOr());
          if (isPunct(peek(), ',')) p++;
          else if (!isPunct(peek(), ')')) throw new Error(`expected "," or ")" in a call, got ${describe(peek())}`);
        }
        p++;
        if (args.length !== arity) throw new Error(`${t.text} takes ${arity} arguments, got ${args.length}`);
        return { kind: 'call', name: t.text, args };
      }
      const path: (string | number)[] = [];
      while (isPunct(peek(), '[')) {
        p++;
        const key = peek();
        if (key.kind === 'string') path.push(key.value);
        else if (key.kind === 'number' && key.integer) path.push(key.value);
        else throw new Error(`a JSON path key must be a string or an integer, got ${describe(key)}`);
        p++;
        expect(']');
      }
      return { kind: 'field', name: t.text, path };
    }
    throw new Error(`unexpected ${describe(t)}`);
  };

  if (peek().kind === 'end') throw new Error('empty expression');
  const expr = parseOr();
  if (peek().kind !== 'end') throw new Error(`unexpected ${describe(peek())}`);
  return expr;
}

/** What an expression's value is, as far as the schema tells: checked before any row is read. */
type Kind = 'bool' | 'number' | 'string' | 'json' | 'array' | 'list';

function kindOfLiteral(v: string | number | boolean): Kind {
  return typeof v === 'boolean' ? 'bool' : typeof v === 'number' ? 'number' : 'string';
}

function kindOfField(f: StandinField): Kind {
  switch (f.type) {
    case 'Bool':
      return 'bool';
    case 'Int64':
    case 'Double':
      return 'number';
    case 'VarChar':
      return 'string';
    case 'JSON':
      return 'json';
    case 'Array':
      return 'array';
    default:
      throw new Error(`vector field ${f.name} cannot be used in a filter`);
  }
}

const elementKind = (f: StandinField): Kind => (f.elementType === 'VarChar' ? 'string' : f.elementType === 'Bool' ? 'bool' : 'number');

/** Checks `expr` against `collection`'s schema; returns the kind of its value. */
function check(expr: Expr, collection: StandinCollection): Kind {
  const fieldOf = (e: Expr) => {
    if (e.kind !== 'field') return undefined;
    const f = collection.fields.find((x) => x.name === e.name);
    if (!f && !collection.enableDynamicField) throw new Error(`field ${e.name} not exist`);
    return f;
  };
  const compatible = (a: Kind, b: Kind) => a === b || a === 'json' || b === 'json';
  switch (expr.kind) {
    case 'literal':
      return kindOfLiteral(expr.value);
    case 'list':
      for (const item of expr.items) if (item.kind !== 'literal' && item.kind !== 'neg') throw new Error('a list holds literals only');
      return 'list';
    case 'field': {
      const f = fieldOf(expr);
      if (!f) return 'json'; // a dynamic field, kept under $meta
      if (expr.path.length > 0) {
        if (f.type === 'JSON') return 'json';
        if (f.type === 'Array' && expr.path.length === 1 && typeof expr.path[0] === 'number') return elementKind(f);
        throw new Error(`field ${f.name} of type ${f.type} cannot be indexed with [${expr.path.map((k) => JSON.stringify(k)).join('][')}]`);
      }
      return kindOfField(f);
    }
    case 'neg':
      if (check(expr.operand, collection) !== 'number') throw new Error('unary - applies to numbers only');
      return 'number';
    case 'not': {
      const k = check(expr.operand, collection);
      if (k !== 'bool') throw new Error(`not applies to a boolean expression, not a ${k}`);
      return 'bool';
    }
    case 'logic': {
      const l = check(expr.left, collection);
      const r = check(expr.right, collection);
      if (l !== 'bool' || r !== 'bool') throw new Error(`${expr.op} applies to boolean expressions, not ${l} and ${r}`);
      return 'bool';
    }
    case 'compare': {
      const l = check(expr.left, collection);
      const r = check(expr.right, collection);
      if (l === 'array' || r === 'array' || l === 'list' || r === 'list') throw new Error(`${expr.op} cannot compare arrays`);
      if (!compatible(l, r)) throw new Error(`comparisons between ${l} and ${r} are not supported`);
      if (['<', '<=', '>', '>='].includes(expr.op) && (l === 'bool' || r === 'bool')) throw new Error(`${expr.op} cannot compare booleans`);
      return 'bool';
    }
    case 'in': {
      const k = check(expr.operand, collection);
      if (expr.list.kind !== 'list') throw new Error('in takes a list of literals: [..]');
      if (k === 'array' || k === 'list') throw new Error('in applies to a scalar field or a JSON path');
      for (const item of expr.list.items) {
        const ik = check(item, collection);
        if (!compatible(k, ik)) throw new Error(`the value list of in holds a ${ik}, the field is ${k}`);
      }
      return 'bool';
    }
    case 'call': {
      const [target, arg] = expr.args;
      const f = fieldOf(target);
      const onArray = f?.type === 'Array' && target.kind === 'field' && target.path.length === 0;
      const onJson = target.kind === 'field' && (f === undefined || f.type === 'JSON');
      if (expr.name.startsWith('array_') && !onArray && !onJson)
        throw new Error(`${expr.name} applies to an array field, not ${JSON.stringify(target)}`);
      if (expr.name.startsWith('json_') && !onJson) throw new Error(`${expr.name} applies to a JSON field`);
      if (expr.name === 'array_length') return 'number';
      const argKind = check(arg, collection);
      const wantsList = expr.name.endsWith('_all') || expr.name.endsWith('_any');
      if (wantsList !== (argKind === 'list'))
        throw new Error(`${expr.name} takes ${wantsList ? 'a list' : 'one value'} as its second argument`);
      if (onArray && f) {
        const items = arg.kind === 'list' ? arg.items : [arg];
        for (const item of items) {
          const ik = check(item, collection);
          if (ik !== elementKind(f)) throw new Error(`${expr.name}: ${f.name} holds ${f.elementType} elements, not ${ik}`);
        }
      }
      return 'bool';
    }
  }
}

type Value = string | number | boolean | null | Value[] | { [key: string]: Value };

function literalValue(e: Expr): Value {
  if (e.kind === 'literal') return e.value;
  if (e.kind === 'neg') return -(literalValue(e.operand) as number);
  if (e.kind === 'list') return e.items.map(literalValue);
  throw new Error('not a literal');
}

function valueOf(e: Expr, row: Record<string, unknown>, collection: StandinCollection): Value {
  if (e.kind === 'call' && e.name === 'array_length') {
    const target = valueOf(e.args[0], row, collection);
    return Array.isArray(target) ? target.length : null;
  }
  if (e.kind !== 'field') return literalValue(e);
  const declared = collection.fields.some((f) => f.name === e.name);
  let v = (declared ? row[e.name] : (row.$meta as Record<string, unknown> | undefined)?.[e.name]) as Value | undefined;
  for (const key of e.path) {
    if (v === null || v === undefined || typeof v !== 'object') return null;
    v = (Array.isArray(v) ? (typeof key === 'number' ? v[key] : undefined) : typeof key === 'string' ? v[key] : undefined) as
      Value | undefined;
  }
  return v === undefined ? null : v;
}

/** Equality as Milvus compares JSON values: the same type, numbers by value. */
function equal(a: Value, b: Value): boolean {
  if (a === null || b === null) return false;
  if (typeof a !== typeof b) return false;
  if (typeof a === 'object') return JSON.stringify(a) === JSON.stringify(b);
  return a === b;
}

function order(a: Value, b: Value): number | undefined {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return undefined;
}

function evaluate(e: Expr, row: Record<string, unknown>, collection: StandinCollection): boolean {
  switch (e.kind) {
    case 'literal':
      return e.value === true;
    case 'not':
      return !evaluate(e.operand, row, collection);
    case 'logic':
      return e.op === 'and'
        ? evaluate(e.left, row, collection) && evaluate(e.right, row, collection)
        : evaluate(e.left, row, collection) || evaluate(e.right, row, collection);
    case 'compare': {
      const a = valueOf(e.left, row, collection);
      const b = valueOf(e.right, row, collection);
      if (e.op === '==') return equal(a, b);
      if (e.op === '!=') return a !== null && b !== null && !equal(a, b);
      const o = order(a, b);
      if (o === undefined) return false;
      return e.op === '<' ? o < 0 : e.op === '<=' ? o <= 0 : e.op === '>' ? o > 0 : o >= 0;
    }
    case 'in': {
      const v = valueOf(e.operand, row, collection);
      if (v === null) return false;
      const found = (literalValue(e.list) as Value[]).some((item) => equal(v, item));
      return e.negated ? !found : found;
    }
    case 'call': {
      const target = valueOf(e.args[0], row, collection);
      if (!Array.isArray(target)) return false;
      if (e.name === 'array_length') return false; // only meaningful inside a comparison
      const arg = literalValue(e.args[1]);
      const items = e.name.endsWith('_all') || e.name.endsWith('_any') ? (arg as Value[]) : [arg];
      const has = (x: Value) => target.some((t) => equal(t, x));
      return e.name.endsWith('_any') ? items.some(has) : items.every(has);
    }
    default:
      throw new Error(`a ${e.kind} is not a boolean expression`);
  }
}

/** A row predicate for `filter` on `collection`, or a Milvus error (code 1100) saying why not. */
export function compileFilter(filter: string, collection: StandinCollection): (row: Record<string, unknown>) => boolean {
  try {
    const expr = parseExpression(filter);
    const kind = check(expr, collection);
    if (kind !== 'bool') throw new Error(`the expression is a ${kind}, not a boolean`);
    return (row) => evaluate(expr, row, collection);
  } catch (error) {
    if (error instanceof MilvusStandinError) throw error;
    throw invalid(`failed to create query plan: cannot parse expression: ${filter}, error: ${(error as Error).message}: invalid parameter`);
  }
}

// ---------------------------------------------------------------------------------------------
// Rows

const utf8Bytes = (s: string) => Buffer.byteLength(s, 'utf8');

function checkRow(raw: unknown, i: number, collection: StandinCollection): Record<string, unknown> {
  const bad = (why: string) =>
    new MilvusStandinError(MILVUS_CODES.INVALID_INSERT_DATA, `fail to deal the insert data, error: row ${i}: ${why}`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('a row is a JSON object');
  const input = raw as Record<string, unknown>;
  const row: Record<string, unknown> = {};
  for (const f of collection.fields) {
    const v = input[f.name];
    if (v === undefined || v === null) throw bad(`missing field ${f.name}`);
    switch (f.type) {
      case 'Bool':
        if (typeof v !== 'boolean') throw bad(`${f.name} must be a Bool`);
        break;
      case 'Int64':
        if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(`${f.name} must be an Int64`);
        break;
      case 'Double':
        if (typeof v !== 'number') throw bad(`${f.name} must be a Double`);
        break;
      case 'VarChar':
        if (typeof v !== 'string') throw bad(`${f.name} must be a VarChar`);
        if (utf8Bytes(v) > f.maxLength!) throw bad(`the length (${utf8Bytes(v)}) of ${f.name} exceeds max length (${f.maxLength})`);
        break;
      case 'JSON': {
        // Milvus takes a JSON field as an object, or as a string holding JSON.
        const value = typeof v === 'string' ? JSON.parse(v) : v;
        if (utf8Bytes(JSON.stringify(value)) > MAX_JSON_BYTES) throw bad(`the JSON of ${f.name} is longer than ${MAX_JSON_BYTES} bytes`);
        row[f.name] = value;
        continue;
      }
      case 'FloatVector':
        if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x)))
          throw bad(`${f.name} must be an array of finite numbers`);
        if (v.length !== f.dim) throw bad(`the dim (${v.length}) of field data(${f.name}) is not equal to schema dim (${f.dim})`);
        row[f.name] = v.map((x: number) => Math.fround(x));
        continue;
      case 'Array': {
        if (!Array.isArray(v)) throw bad(`${f.name} must be an array`);
        if (v.length > f.maxCapacity!) throw bad(`the array ${f.name} has ${v.length} elements, more than max_capacity ${f.maxCapacity}`);
        for (const x of v) {
          const ok =
            f.elementType === 'VarChar' ? typeof x === 'string' : f.elementType === 'Bool' ? typeof x === 'boolean' : typeof x === 'number';
          if (!ok) throw bad(`${f.name} holds ${f.elementType} elements, got ${JSON.stringify(x)}`);
          if (typeof x === 'string' && utf8Bytes(x) > f.maxLength!)
            throw bad(`an element of ${f.name} exceeds max length (${f.maxLength})`);
        }
        break;
      }
    }
    row[f.name] = v;
  }
  const extra = Object.keys(input).filter((k) => !collection.fields.some((f) => f.name === k));
  if (extra.length > 0) {
    if (!collection.enableDynamicField) throw bad(`field ${extra[0]} is not in the schema and the collection has no dynamic field`);
    row.$meta = Object.fromEntries(extra.map((k) => [k, input[k]]));
  }
  return row;
}

function outputOf(row: Record<string, unknown>, collection: StandinCollection, outputFields: string[]): Record<string, unknown> {
  const pk = collection.fields.find((f) => f.primaryKey)!.name;
  const out: Record<string, unknown> = { [pk]: row[pk] };
  const wanted = outputFields.includes('*') ? collection.fields.map((f) => f.name) : outputFields;
  for (const name of wanted) {
    if (collection.fields.some((f) => f.name === name)) out[name] = row[name];
    else out[name] = (row.$meta as Record<string, unknown> | undefined)?.[name];
  }
  if (outputFields.includes('*') && row.$meta) Object.assign(out, row.$meta);
  return out;
}

function checkOutputFields(raw: unknown, collection: StandinCollection): string[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw) || !raw.every((x) => typeof x === 'string'))
    throw invalid('invalid parameter[expected=outputFields a list of field names]');
  for (const name of raw)
    if (name !== '*' && name !== 'count(*)' && !collection.fields.some((f) => f.name === name) && !collection.enableDynamicField)
      throw invalid(`field ${name} not exist`);
  return raw;
}

function similarity(metric: StandinIndex['metricType'], a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  let l2 = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
    l2 += (a[i] - b[i]) ** 2;
  }
  if (metric === 'IP') return Math.fround(dot);
  if (metric === 'L2') return Math.fround(l2); // Milvus reports the squared distance
  return na === 0 || nb === 0 ? 0 : Math.fround(dot / Math.sqrt(na * nb));
}

// ---------------------------------------------------------------------------------------------
// The server

export interface MilvusStandinOptions {
  /** What `Authorization: Bearer <token>` must carry: a Zilliz API key or `user:password`. */
  token: string;
}

export interface StandinRequest {
  path: string;
  body: Record<string, unknown>;
}

export interface MilvusStandin {
  /** `http://127.0.0.1:<port>`: what MILVUS_ADDRESS would hold (the SDK appends `/v2`). */
  address: string;
  /** The collections of the `default` database, by name, for tests to inspect. */
  collections: Map<string, StandinCollection>;
  /** Every authenticated request, in order (for tests to count batches). */
  requests: StandinRequest[];
  close(): Promise<void>;
}

type Handler = (body: Record<string, unknown>) => unknown;

export async function startMilvusStandin(options: MilvusStandinOptions): Promise<MilvusStandin> {
  if (typeof options.token !== 'string' || options.token === '')
    throw new TypeError('startMilvusStandin: token must be a non-empty string');
  const collections = new Map<string, StandinCollection>();
  const requests: StandinRequest[] = [];

  const collectionOf = (body: Record<string, unknown>): StandinCollection => {
    const name = body.collectionName;
    if (typeof name !== 'string' || name === '')
      throw new MilvusStandinError(MILVUS_CODES.MISSING_REQUIRED_PARAMETERS, 'missing required parameters, error: collectionName');
    const c = collections.get(name);
    if (!c) throw new MilvusStandinError(MILVUS_CODES.COLLECTION_NOT_FOUND, `collection not found[database=default][collection=${name}]`);
    return c;
  };
  const loadedCollectionOf = (body: Record<string, unknown>) => {
    const c = collectionOf(body);
    if (!c.loaded) throw new MilvusStandinError(MILVUS_CODES.COLLECTION_NOT_LOADED, `collection not loaded[collection=${c.name}]`);
    if (body.consistencyLevel !== undefined && !CONSISTENCY_LEVELS.includes(body.consistencyLevel as string))
      throw invalid(
        `invalid parameter[expected=consistencyLevel one of ${CONSISTENCY_LEVELS.join(', ')}][actual=${JSON.stringify(body.consistencyLevel)}]`,
      );
    return c;
  };
  const pkOf = (c: StandinCollection) => c.fields.find((f) => f.primaryKey)!.name;
  const rowsOf = (body: Record<string, unknown>, c: StandinCollection) => {
    if (!Array.isArray(body.data) || body.data.length === 0)
      throw new MilvusStandinError(MILVUS_CODES.MISSING_REQUIRED_PARAMETERS, 'missing required parameters, error: data');
    return body.data.map((raw, i) => checkRow(raw, i, c));
  };
  const limitOf = (body: Record<string, unknown>, fallback: number | undefined) => {
    const limit = body.limit === undefined ? fallback : intParam(body.limit, 'limit', 1, MAX_TOPK);
    const offset = body.offset === undefined ? 0 : intParam(body.offset, 'offset', 0, MAX_TOPK);
    if (limit !== undefined && limit + offset > MAX_TOPK)
      throw invalid(`invalid max query result window, (offset+limit) should be in range [1, ${MAX_TOPK}]`);
    return { limit, offset };
  };

  const routes: Record<string, Handler> = {
    '/v2/vectordb/collections/create': (body) => {
      const c = collectionFromRequest(body);
      const existing = collections.get(c.name);
      if (existing) {
        if (sameSchema(existing, c)) return {};
        throw invalid(`create duplicate collection with different parameters, collection: ${c.name}`);
      }
      collections.set(c.name, c);
      return {};
    },
    '/v2/vectordb/collections/describe': (body) => {
      const c = collectionOf(body);
      return {
        collectionName: c.name,
        collectionID: [...collections.keys()].indexOf(c.name) + 1,
        description: c.description,
        autoId: false,
        fields: c.fields.map(describeField),
        indexes: c.indexes.map((i) => ({ fieldName: i.fieldName, indexName: i.indexName, metricType: i.metricType })),
        load: c.loaded ? 'LoadStateLoaded' : 'LoadStateNotLoad',
        shardsNum: 1,
        partitionsNum: 1,
        consistencyLevel: 'Bounded',
        enableDynamicField: c.enableDynamicField,
        properties: [],
        aliases: [],
      };
    },
    '/v2/vectordb/collections/has': (body) => {
      if (typeof body.collectionName !== 'string')
        throw new MilvusStandinError(MILVUS_CODES.MISSING_REQUIRED_PARAMETERS, 'missing required parameters, error: collectionName');
      return { has: collections.has(body.collectionName) };
    },
    '/v2/vectordb/collections/list': () => [...collections.keys()],
    // Dropping a collection that is not there succeeds, as in Milvus 2.3+.
    '/v2/vectordb/collections/drop': (body) => {
      collections.delete(String(body.collectionName));
      return {};
    },
    '/v2/vectordb/collections/load': (body) => {
      const c = collectionOf(body);
      if (!c.fields.filter((f) => f.type === 'FloatVector').every((f) => c.indexes.some((i) => i.fieldName === f.name)))
        throw new MilvusStandinError(700, `index not found[collection=${c.name}]`);
      c.loaded = true;
      return {};
    },
    '/v2/vectordb/collections/release': (body) => {
      collectionOf(body).loaded = false;
      return {};
    },
    '/v2/vectordb/collections/get_load_state': (body) => {
      const c = collections.get(String(body.collectionName));
      if (!c) return { loadState: 'LoadStateNotExist', loadProgress: 0 };
      return c.loaded ? { loadState: 'LoadStateLoaded', loadProgress: 100 } : { loadState: 'LoadStateNotLoad', loadProgress: 0 };
    },
    '/v2/vectordb/collections/get_stats': (body) => ({ rowCount: collectionOf(body).rows.length }),
    '/v2/vectordb/entities/insert': (body) => {
      const c = collectionOf(body);
      const rows = rowsOf(body, c);
      c.rows.push(...rows);
      return { insertCount: rows.length, insertIds: rows.map((r) => r[pkOf(c)]) };
    },
    '/v2/vectordb/entities/upsert': (body) => {
      const c = collectionOf(body);
      const rows = rowsOf(body, c);
      const pk = pkOf(c);
      const keys = new Set(rows.map((r) => r[pk]));
      if (keys.size !== rows.length) throw invalid('duplicate primary keys are not allowed in the same batch');
      c.rows = c.rows.filter((r) => !keys.has(r[pk]));
      c.rows.push(...rows);
      return { upsertCount: rows.length, upsertIds: rows.map((r) => r[pk]) };
    },
    '/v2/vectordb/entities/delete': (body) => {
      const c = collectionOf(body);
      if (typeof body.filter !== 'string' || body.filter.trim() === '')
        throw new MilvusStandinError(MILVUS_CODES.MISSING_REQUIRED_PARAMETERS, 'missing required parameters, error: filter');
      const matches = compileFilter(body.filter, c);
      c.rows = c.rows.filter((r) => !matches(r));
      return {};
    },
    '/v2/vectordb/entities/query': (body) => {
      const c = loadedCollectionOf(body);
      const outputFields = checkOutputFields(body.outputFields, c);
      const filter = typeof body.filter === 'string' ? body.filter : '';
      const matches = filter.trim() === '' ? () => true : compileFilter(filter, c);
      const rows = c.rows.filter(matches);
      if (outputFields.includes('count(*)')) return [{ 'count(*)': rows.length }];
      const { limit, offset } = limitOf(body, undefined);
      if (filter.trim() === '' && limit === undefined) throw invalid('empty expression should be used with limit');
      return rows.slice(offset, limit === undefined ? undefined : offset + limit).map((r) => outputOf(r, c, outputFields));
    },
    '/v2/vectordb/entities/get': (body) => {
      const c = loadedCollectionOf(body);
      const outputFields = checkOutputFields(body.outputFields, c);
      if (body.id === undefined)
        throw new MilvusStandinError(MILVUS_CODES.MISSING_REQUIRED_PARAMETERS, 'missing required parameters, error: id');
      const ids = new Set(Array.isArray(body.id) ? body.id : [body.id]);
      const pk = pkOf(c);
      return c.rows.filter((r) => ids.has(r[pk])).map((r) => outputOf(r, c, outputFields));
    },
    '/v2/vectordb/entities/search': (body) => {
      const c = loadedCollectionOf(body);
      if (!Array.isArray(body.data) || body.data.length === 0)
        throw new MilvusStandinError(MILVUS_CODES.MISSING_REQUIRED_PARAMETERS, 'missing required parameters, error: data');
      const vectorFields = c.fields.filter((f) => f.type === 'FloatVector');
      const anns =
        body.annsField === undefined
          ? vectorFields.length === 1
            ? vectorFields[0]
            : undefined
          : vectorFields.find((f) => f.name === body.annsField);
      if (!anns)
        throw invalid(`invalid parameter[expected=annsField a vector field of ${c.name}][actual=${JSON.stringify(body.annsField)}]`);
      const index = c.indexes.find((i) => i.fieldName === anns.name)!;
      const searchParams = (body.searchParams ?? {}) as Record<string, unknown>;
      if (searchParams.metricType !== undefined && searchParams.metricType !== index.metricType)
        throw invalid(`metric type not match: invalid parameter[expected=${index.metricType}][actual=${String(searchParams.metricType)}]`);
      const outputFields = checkOutputFields(body.outputFields, c);
      const { limit, offset } = limitOf(body, 100);
      const filter = typeof body.filter === 'string' ? body.filter : '';
      const matches = filter.trim() === '' ? () => true : compileFilter(filter, c);
      const candidates = c.rows.filter(matches);
      const data: Record<string, unknown>[] = [];
      const topks: number[] = [];
      for (const query of body.data as unknown[]) {
        if (!Array.isArray(query) || !query.every((x) => typeof x === 'number' && Number.isFinite(x)))
          throw invalid('invalid parameter[expected=data a list of float vectors]');
        if (query.length !== anns.dim)
          throw invalid(`the dim (${query.length}) of field data(${anns.name}) is not equal to schema dim (${anns.dim})`);
        const q = query.map((x: number) => Math.fround(x));
        const scored = candidates.map((row) => ({ row, distance: similarity(index.metricType, q, row[anns.name] as number[]) }));
        // Stable: equal scores keep insertion order, so a client must order ties itself.
        scored.sort((a, b) => (index.metricType === 'L2' ? a.distance - b.distance : b.distance - a.distance));
        const hits = scored.slice(offset, offset + limit!);
        topks.push(hits.length);
        for (const hit of hits) data.push({ ...outputOf(hit.row, c, outputFields), distance: hit.distance });
      }
      return { __search: true, data, topks };
    },
  };

  const send = (res: ServerResponse, status: number, payload: unknown) => {
    const text = JSON.stringify(payload);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://standin');
    const route = routes[url.pathname];
    if (!route || req.method !== 'POST') {
      // gin's answer to an unknown route.
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('404 page not found');
      return;
    }
    if (req.headers.authorization !== `Bearer ${options.token}`) {
      send(res, 401, { code: MILVUS_CODES.NEED_AUTHENTICATE, message: "user hasn't authenticated" });
      return;
    }
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      send(res, 200, { code: MILVUS_CODES.INCORRECT_PARAMETER_FORMAT, message: 'can only accept json format request' });
      return;
    }
    requests.push({ path: url.pathname, body });
    try {
      if (body.dbName !== undefined && body.dbName !== 'default')
        throw new MilvusStandinError(MILVUS_CODES.DATABASE_NOT_FOUND, `database not found[database=${String(body.dbName)}]`);
      const data = route(body);
      if (typeof data === 'object' && data !== null && '__search' in data) {
        const { data: rows, topks } = data as unknown as { data: unknown[]; topks: number[] };
        send(res, 200, { code: 0, cost: 0, data: rows, topks });
      } else send(res, 200, { code: 0, cost: 0, data });
    } catch (error) {
      if (error instanceof MilvusStandinError) send(res, error.httpStatus, { code: error.code, message: error.message });
      else send(res, 200, { code: 65535, message: `unexpected error: ${(error as Error).message}` });
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { code: 65535, message: String(error) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    address: `http://127.0.0.1:${port}`,
    collections,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
