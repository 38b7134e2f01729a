import { filterExpression, idsExpression, numberLiteral, stringLiteral, tagKey } from '../../../../gateway/store/milvus/filter';
import { compileFilter, parseExpression, type StandinCollection } from '../../../helpers/milvus-standin';

/**
 * The expressions filter.ts writes, checked twice: as text (known-good strings), and by running
 * them through the stand-in's parser and evaluator over rows whose values hold quotes,
 * backslashes, newlines and non-ASCII, so that an escaping mistake shows as a wrong match.
 */

const collection: StandinCollection = {
  name: 'c',
  description: '',
  enableDynamicField: false,
  indexes: [],
  loaded: true,
  rows: [],
  fields: [
    { name: 'product_id', type: 'VarChar', primaryKey: true, maxLength: 65535 },
    { name: 'vector', type: 'FloatVector', primaryKey: false, dim: 2 },
    { name: 'tags', type: 'Array', primaryKey: false, elementType: 'VarChar', maxCapacity: 4096, maxLength: 65535 },
    { name: 'attributes', type: 'JSON', primaryKey: false },
  ],
};

const tricky = 'say "hi" \\ back\\\\slash \n 日本語 🎉 \'single\' ] ) or true';

const rows = [
  {
    product_id: 'p"1',
    tags: [tagKey('colour', 'red'), tagKey('we"ird', tricky)],
    attributes: { brand: tricky, size: 42, price: 9.5, onSale: true, 'naïve key': 'ü' },
  },
  { product_id: 'p\\2', tags: [tagKey('colour', 'red')], attributes: { brand: 'acme', size: '42', onSale: false } },
  { product_id: 'p3', tags: [tagKey('colour', 'blue'), tagKey('we"ird', 'plain')], attributes: { brand: 'acme', size: 42.0 } },
];

/** The ids of the rows the filter's expression keeps, by the stand-in's evaluator. */
function kept(filter: Parameters<typeof filterExpression>[0]): string[] {
  const { expression, matchesNothing } = filterExpression(filter);
  if (matchesNothing) return [];
  if (expression === undefined) return rows.map((r) => r.product_id);
  const matches = compileFilter(expression, collection);
  return rows.filter((r) => matches(r)).map((r) => r.product_id);
}

describe('Milvus filter expressions', () => {
  it('writes each condition as a Milvus boolean expression, ANDed in parentheses', () => {
    expect(filterExpression({ ids: ['a', 'b"c'] }).expression).toBe('product_id in ["a", "b\\"c"]');
    expect(filterExpression({ tags: [{ facet: 'colour', label: 'red' }] }).expression).toBe(
      'array_contains(tags, "[\\"colour\\",\\"red\\"]")',
    );
    expect(filterExpression({ attributes: { brand: 'acme', size: 42, sale: true } }).expression).toBe(
      '(attributes["brand"] == "acme") and (attributes["size"] == 42) and (attributes["sale"] == true)',
    );
  });

  it('has no expression for no conditions, and answers "nothing" for an empty id list without asking Milvus', () => {
    expect(filterExpression(undefined)).toEqual({ expression: undefined, matchesNothing: false });
    expect(filterExpression({})).toEqual({ expression: undefined, matchesNothing: false });
    expect(filterExpression({ tags: [], attributes: { brand: undefined } })).toEqual({ expression: undefined, matchesNothing: false });
    expect(filterExpression({ ids: [], tags: [{ facet: 'a', label: 'b' }] })).toEqual({ expression: undefined, matchesNothing: true });
  });

  it('quotes ids so that quotes and backslashes match themselves', () => {
    expect(kept({ ids: ['p"1'] })).toEqual(['p"1']);
    expect(kept({ ids: ['p\\2', 'p3', 'nope'] })).toEqual(['p\\2', 'p3']);
    // Near misses: the escaping is not lost on the way (p\2 is not p2, p"1 is not p1).
    expect(kept({ ids: ['p2', 'p1'] })).toEqual([]);
  });

  it('matches every tag asked, facet and label as a pair', () => {
    expect(kept({ tags: [{ facet: 'colour', label: 'red' }] })).toEqual(['p"1', 'p\\2']);
    expect(
      kept({
        tags: [
          { facet: 'colour', label: 'red' },
          { facet: 'we"ird', label: tricky },
        ],
      }),
    ).toEqual(['p"1']);
    expect(kept({ tags: [{ facet: 'we"ird', label: 'plain' }] })).toEqual(['p3']);
    // The pair cannot be forged by moving text between facet and label.
    expect(kept({ tags: [{ facet: 'colour","red', label: '' }] })).toEqual([]);
  });

  it('compares attributes by JSON type: strings with any characters, numbers by value, booleans', () => {
    expect(kept({ attributes: { brand: tricky } })).toEqual(['p"1']);
    expect(kept({ attributes: { brand: 'acme' } })).toEqual(['p\\2', 'p3']);
    expect(kept({ attributes: { size: 42 } })).toEqual(['p"1', 'p3']);
    expect(kept({ attributes: { size: '42' } })).toEqual(['p\\2']);
    expect(kept({ attributes: { price: 9.5 } })).toEqual(['p"1']);
    expect(kept({ attributes: { onSale: true } })).toEqual(['p"1']);
    expect(kept({ attributes: { onSale: false } })).toEqual(['p\\2']);
    expect(kept({ attributes: { 'naïve key': 'ü' } })).toEqual(['p"1']);
    expect(kept({ ids: ['p"1', 'p3'], attributes: { brand: 'acme' } })).toEqual(['p3']);
  });

  it('refuses attribute values Milvus cannot compare, naming the attribute', () => {
    expect(() => filterExpression({ attributes: { colour: null } })).toThrow(
      new TypeError('filter.attributes["colour"] must be a string, a number or a boolean to filter on in Milvus, got null'),
    );
    expect(() => filterExpression({ attributes: { dims: [1, 2] } })).toThrow(
      'filter.attributes["dims"] must be a string, a number or a boolean to filter on in Milvus, got an array',
    );
    expect(() => filterExpression({ attributes: { meta: { a: 1 } } })).toThrow(
      'filter.attributes["meta"] must be a string, a number or a boolean to filter on in Milvus, got a object',
    );
    expect(() => filterExpression({ attributes: { weight: Number.NaN } })).toThrow(
      'filter.attributes["weight"] must be a finite number, got NaN',
    );
    expect(() => filterExpression({ attributes: { big: 10n } })).toThrow(TypeError);
  });

  it('refuses attribute names Milvus would read as another key', () => {
    for (const key of ['a"b', "it's", 'a[0]', 'back\\slash', 'line\nbreak', ''])
      expect(() => filterExpression({ attributes: { [key]: 'x' } })).toThrow(TypeError);
    expect(() => filterExpression({ attributes: { 'a"b': 'x' } })).toThrow(
      'filter.attributes["a\\"b"]: the attribute name "a\\"b" cannot be filtered on in Milvus',
    );
  });

  it('refuses strings Go cannot read back (a lone surrogate), naming the input', () => {
    expect(() => filterExpression({ ids: ['ok', 'bad\ud800'] })).toThrow('filter.ids[1] holds a lone UTF-16 surrogate');
    expect(() => filterExpression({ tags: [{ facet: 'f', label: '\udc00' }] })).toThrow(
      'filter.tags[0].label holds a lone UTF-16 surrogate',
    );
    expect(() => filterExpression({ ids: [7 as unknown as string] })).toThrow('filter.ids[0] must be a string, got a number');
    // A well-formed pair is fine.
    expect(stringLiteral('🎉', 'x')).toBe('"🎉"');
  });

  it('writes numbers Milvus reads back as the same value', () => {
    expect(numberLiteral(-5, 'n')).toBe('-5');
    expect(numberLiteral(0.1, 'n')).toBe('0.1');
    expect(numberLiteral(1.5e-7, 'n')).toBe('1.5e-7');
    // Beyond 2^53: an exponent form, a float to Milvus, not digits overflowing its int64.
    expect(numberLiteral(1e21, 'n')).toBe('1e+21');
    expect(numberLiteral(2 ** 63, 'n')).toBe('9.223372036854776e+18');
    for (const n of [-5, 0.1, 1.5e-7, 1e21, 2 ** 63, -0.000123]) {
      const expr = parseExpression(`x == ${numberLiteral(n, 'n')}`);
      expect(expr).toMatchObject({ kind: 'compare' });
      const right = (expr as { right: { kind: string; value?: number; operand?: { value: number } } }).right;
      expect(right.kind === 'neg' ? -right.operand!.value : right.value).toBe(n);
    }
  });

  it('lists ids for delete, refusing an empty list', () => {
    expect(idsExpression(['a'], 'productIds')).toBe('product_id in ["a"]');
    expect(() => idsExpression([], 'productIds')).toThrow('productIds is empty');
  });
});
