/**
 * Product filters as Milvus boolean expressions (the `filter` of search, query and delete).
 *
 * Every user string reaches Milvus inside a double-quoted string literal. Milvus reads a literal's
 * escapes with Go's strconv.Unquote, whose escapes (\" \\ \n \r \t \b \f \uXXXX) are the ones
 * JSON.stringify writes, so JSON.stringify quotes it: a quote, a backslash or a newline in a value
 * can never end the literal early. What Go cannot read back is refused here, with the input named:
 * a lone UTF-16 surrogate (JSON.stringify writes it as \uD8xx, not a Unicode scalar value).
 */

/** The collection's fields the filters name (see client.ts, which creates them). */
export const FIELDS = {
  id: 'product_id',
  vector: 'vector',
  /** ARRAY<VARCHAR>: one string per tag, tagKey(facet, label). */
  tags: 'tags',
  /** JSON: the product's attributes object. */
  attributes: 'attributes',
} as const;

export interface MilvusProductFilter {
  /** The product must be one of these (an empty list matches nothing). */
  ids?: readonly string[];
  /** Every one must be a tag of the product. */
  tags?: readonly { facet: string; label: string }[];
  /** Top-level attribute equality; a value of undefined is no condition (as in JSON). */
  attributes?: Readonly<Record<string, unknown>>;
}

/** How one tag is stored in the tags array: a pair no facet or label can forge (`["a\"b","c"]`). */
export function tagKey(facet: string, label: string): string {
  return JSON.stringify([facet, label]);
}

const LONE_SURROGATE = /\p{Cs}/u;

/** `value` as a Milvus string literal; `what` names it in the error when it cannot be one. */
export function stringLiteral(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string, got ${describe(value)}`);
  if (LONE_SURROGATE.test(value))
    throw new TypeError(`${what} holds a lone UTF-16 surrogate, which Milvus cannot store or match: ${JSON.stringify(value)}`);
  return JSON.stringify(value);
}

/**
 * `value` as a Milvus numeric literal. Integers within 2^53 as they are; others in exponent form,
 * which Milvus reads as a float: 1e21 written as digits would overflow Milvus's int64 literals.
 */
export function numberLiteral(value: number, what: string): string {
  if (!Number.isFinite(value)) throw new TypeError(`${what} must be a finite number, got ${value}`);
  if (Number.isSafeInteger(value)) return String(value);
  if (Number.isInteger(value)) return value.toExponential();
  // String() of a non-integer is digits with a point, or already an exponent form (1.5e-7).
  return String(value);
}

/**
 * A key Milvus can name in a JSON path (`attributes["key"]`). Milvus splits the path's text on
 * `][` and trims brackets and quotes itself instead of reading the key as a literal, so a key
 * holding a bracket, a quote or a backslash names another key there, silently: refused instead.
 */
function jsonKey(key: string, what: string): string {
  if (key === '') throw new TypeError(`${what}: an empty attribute name cannot be filtered on in Milvus`);
  if (/["'[\]\\]|[\u0000-\u001f\u007f]/.test(key) || LONE_SURROGATE.test(key))
    throw new TypeError(
      `${what}: the attribute name ${JSON.stringify(key)} cannot be filtered on in Milvus (it holds a quote, a bracket, a backslash or a control character)`,
    );
  return JSON.stringify(key);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * The filter as one Milvus boolean expression, its conditions ANDed; undefined when it has none.
 * `matchesNothing` is true for an empty ids list: Milvus cannot be asked `product_id in []`, and
 * the caller needs no round trip to learn the answer.
 */
export function filterExpression(filter: MilvusProductFilter | undefined): { expression: string | undefined; matchesNothing: boolean } {
  if (filter === undefined) return { expression: undefined, matchesNothing: false };
  if (typeof filter !== 'object' || filter === null) throw new TypeError(`filter must be an object, got ${describe(filter)}`);
  const conditions: string[] = [];
  if (filter.ids !== undefined) {
    if (!Array.isArray(filter.ids)) throw new TypeError(`filter.ids must be a list of strings, got ${describe(filter.ids)}`);
    if (filter.ids.length === 0) return { expression: undefined, matchesNothing: true };
    conditions.push(idsExpression(filter.ids, 'filter.ids'));
  }
  if (filter.tags !== undefined) {
    if (!Array.isArray(filter.tags)) throw new TypeError(`filter.tags must be a list of {facet, label}, got ${describe(filter.tags)}`);
    filter.tags.forEach((tag, i) => {
      if (typeof tag !== 'object' || tag === null) throw new TypeError(`filter.tags[${i}] must be {facet, label}, got ${describe(tag)}`);
      stringLiteral(tag.facet, `filter.tags[${i}].facet`);
      stringLiteral(tag.label, `filter.tags[${i}].label`);
      conditions.push(`array_contains(${FIELDS.tags}, ${JSON.stringify(tagKey(tag.facet, tag.label))})`);
    });
  }
  if (filter.attributes !== undefined) {
    if (typeof filter.attributes !== 'object' || filter.attributes === null || Array.isArray(filter.attributes))
      throw new TypeError(`filter.attributes must be an object, got ${describe(filter.attributes)}`);
    for (const [key, value] of Object.entries(filter.attributes)) {
      if (value === undefined) continue;
      const what = `filter.attributes[${JSON.stringify(key)}]`;
      const path = `${FIELDS.attributes}[${jsonKey(key, what)}]`;
      if (typeof value === 'string') conditions.push(`${path} == ${stringLiteral(value, what)}`);
      else if (typeof value === 'number') conditions.push(`${path} == ${numberLiteral(value, what)}`);
      else if (typeof value === 'boolean') conditions.push(`${path} == ${value}`);
      else throw new TypeError(`${what} must be a string, a number or a boolean to filter on in Milvus, got ${describe(value)}`);
    }
  }
  if (conditions.length === 0) return { expression: undefined, matchesNothing: false };
  return { expression: conditions.map((c) => (conditions.length > 1 ? `(${c})` : c)).join(' and '), matchesNothing: false };
}

/** `product_id in [...]` for these ids (at least one); `what` names the list in errors. */
export function idsExpression(ids: readonly unknown[], what: string): string {
  if (ids.length === 0) throw new RangeError(`${what} is empty: Milvus cannot be asked for none`);
  return `${FIELDS.id} in [${ids.map((id, i) => stringLiteral(id, `${what}[${i}]`)).join(', ')}]`;
}

/** Product ids after `after` (exclusive) and up to `upTo` (inclusive); an unset end is open. */
export interface IdRange {
  after?: string;
  upTo?: string;
}

/** A range as a Milvus filter ('' for the whole collection: Milvus then wants a limit, which count(*) does not). */
export function rangeExpression(range: IdRange): string {
  const conditions: string[] = [];
  if (range.after !== undefined) conditions.push(`${FIELDS.id} > ${stringLiteral(range.after, 'range.after')}`);
  if (range.upTo !== undefined) conditions.push(`${FIELDS.id} <= ${stringLiteral(range.upTo, 'range.upTo')}`);
  return conditions.join(' and ');
}
