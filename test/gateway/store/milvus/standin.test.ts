import { HttpClient, HttpError } from '@zilliz/milvus2-sdk-node/dist/milvus/HttpClient';
import {
  compileFilter,
  parseExpression,
  startMilvusStandin,
  type MilvusStandin,
  type StandinCollection,
} from '../../../helpers/milvus-standin';

/**
 * The stand-in itself: its expression parser (what it accepts must mean what Milvus means, what it
 * cannot read must be an error), and its envelope as the real SDK sees it.
 */

const schema: StandinCollection = {
  name: 'c',
  description: '',
  enableDynamicField: false,
  indexes: [],
  loaded: true,
  rows: [],
  fields: [
    { name: 'id', type: 'VarChar', primaryKey: true, maxLength: 100 },
    { name: 'v', type: 'FloatVector', primaryKey: false, dim: 2 },
    { name: 'n', type: 'Int64', primaryKey: false },
    { name: 'tags', type: 'Array', primaryKey: false, elementType: 'VarChar', maxCapacity: 10, maxLength: 100 },
    { name: 'meta', type: 'JSON', primaryKey: false },
  ],
};
const rows = [
  { id: 'a', n: 1, tags: ['x', 'y'], meta: { k: 'va', num: 1.5, flag: true } },
  { id: 'b', n: 2, tags: ['y'], meta: { k: 'vb', nested: { deep: 3 } } },
  { id: 'c', n: 3, tags: [], meta: {} },
];
const ids = (filter: string) => rows.filter(compileFilter(filter, schema)).map((r) => r.id);

describe('the Milvus stand-in', () => {
  describe('expression parser', () => {
    it('evaluates comparisons, in, JSON paths, array functions and boolean operators with their precedence', () => {
      expect(ids('id in ["a", "c"]')).toEqual(['a', 'c']);
      expect(ids('id not in ["a"]')).toEqual(['b', 'c']);
      expect(ids('n >= 2')).toEqual(['b', 'c']);
      expect(ids('n == 1 or n == 3 and id == "a"')).toEqual(['a']); // and binds tighter than or
      expect(ids('(n == 1 or n == 3) and id == "c"')).toEqual(['c']);
      expect(ids('meta["k"] == "vb"')).toEqual(['b']);
      expect(ids('meta["nested"]["deep"] == 3')).toEqual(['b']);
      expect(ids('meta["num"] == 1.5 && meta["flag"] == true')).toEqual(['a']);
      expect(ids('meta["missing"] == 1')).toEqual([]);
      expect(ids('array_contains(tags, "y")')).toEqual(['a', 'b']);
      expect(ids('not array_contains(tags, "x")')).toEqual(['b', 'c']);
      expect(ids('!(id == "a") || n > 99')).toEqual(['b', 'c']);
      expect(ids('array_contains_all(tags, ["x", "y"])')).toEqual(['a']);
      expect(ids('array_contains_any(tags, ["x", "q"])')).toEqual(['a']);
      expect(ids('array_length(tags) == 0')).toEqual(['c']);
      expect(ids('n == -1 or n == +2')).toEqual(['b']);
      expect(ids('id == \'a\' OR id == "b" AND NOT (n == 1)')).toEqual(['a', 'b']);
    });

    it('reads string escapes as Go does', () => {
      expect(parseExpression(String.raw`id == "q\"b\\s\n\t\u00e9\U0001F389\x41\101"`)).toEqual({
        kind: 'compare',
        op: '==',
        left: { kind: 'field', name: 'id', path: [] },
        right: { kind: 'literal', value: 'q"b\\s\n\té🎉AA' },
      });
      expect(parseExpression(String.raw`id == 'it\'s "x"'`)).toMatchObject({ right: { value: 'it\'s "x"' } });
    });

    it.each([
      ['', 'empty expression'],
      ['id == ', 'unexpected end of expression'],
      ['id == "open', 'unterminated string'],
      ['id == "a" and', 'unexpected end of expression'],
      ['(id == "a"', 'expected ")"'],
      ['id == "a")', 'unexpected ")"'],
      [String.raw`id == "\q"`, 'bad escape \\q'],
      [String.raw`id == "\ud800"`, 'not a Unicode scalar value'],
      [String.raw`id == "it\'s"`, "bad escape \\'"],
      ['id == "line\nbreak"', 'newline in string'],
      ['id like "a%"', 'does not implement like'],
      ['id = "a"', 'unexpected character "="'],
      ['n == 99999999999999999999', 'overflows int64'],
      ['frobnicate(id)', 'unknown function frobnicate'],
      ['id ~ "a"', 'unexpected character "~"'],
    ])('refuses %j: %s', (text, why) => {
      expect(() => parseExpression(text)).toThrow(why);
    });

    it.each([
      ['id == 1', 'comparisons between string and number are not supported'],
      ['nope == 1', 'field nope not exist'],
      ['id', 'the expression is a string, not a boolean'],
      ['not n == 1', 'not applies to a boolean expression, not a number'],
      ['array_contains(tags, 1)', 'holds VarChar elements, not number'],
      ['array_contains(n, "x")', 'applies to an array field'],
      ['v == 1', 'vector field v cannot be used in a filter'],
      ['n in "a"', 'in takes a list'],
      ['id in [1]', 'the value list of in holds a number, the field is string'],
    ])('refuses %j against the schema: %s', (text, why) => {
      expect(() => compileFilter(text, schema)).toThrow(why);
      try {
        compileFilter(text, schema);
      } catch (error) {
        expect((error as { code: number }).code).toBe(1100);
      }
    });
  });

  describe('over HTTP, through the SDK', () => {
    let standin: MilvusStandin;
    let client: HttpClient;
    beforeAll(async () => {
      standin = await startMilvusStandin({ token: 'root:Milvus' });
      client = new HttpClient({ endpoint: standin.address, token: 'root:Milvus' });
      await client.createCollection({ collectionName: 'quick', dimension: 2 });
    });
    afterAll(() => standin.close());

    it('answers with the envelope, code 0 on success', async () => {
      expect(await client.hasCollection({ collectionName: 'quick', dbName: 'default' })).toEqual({ code: 0, cost: 0, data: { has: true } });
      expect(await client.listCollections()).toEqual({ code: 0, cost: 0, data: ['quick'] });
      expect(await client.insert({ collectionName: 'quick', data: [{ id: 1, vector: [1, 0], extra: 'dyn' }] })).toEqual({
        code: 0,
        cost: 0,
        data: { insertCount: 1, insertIds: [1] },
      });
      expect(await client.get({ collectionName: 'quick', id: 1, outputFields: ['extra'] })).toEqual({
        code: 0,
        cost: 0,
        data: [{ id: 1, extra: 'dyn' }],
      });
    });

    it('answers errors with Milvus codes and HTTP 200, as Milvus does', async () => {
      expect(await client.describeCollection({ collectionName: 'nope' })).toEqual({
        code: 100,
        message: 'collection not found[database=default][collection=nope]',
      });
      expect(await client.insert({ collectionName: 'quick', data: [{ id: 2, vector: [1, 0, 0] }] })).toEqual({
        code: 1804,
        message: 'fail to deal the insert data, error: row 0: the dim (3) of field data(vector) is not equal to schema dim (2)',
      });
      expect(await client.search({ collectionName: 'quick', data: [[1, 0, 0]], outputFields: [] })).toEqual({
        code: 1100,
        message: 'the dim (3) of field data(vector) is not equal to schema dim (2)',
      });
      const bad = await client.query({ collectionName: 'quick', filter: 'id == ', outputFields: [] });
      expect(bad.code).toBe(1100);
      expect(bad.message).toMatch(/^failed to create query plan: cannot parse expression: id == , error: unexpected end of expression/);
      expect(await client.delete({ collectionName: 'quick', filter: '' })).toEqual({
        code: 1802,
        message: 'missing required parameters, error: filter',
      });
    });

    it('answers a wrong token with HTTP 401 and code 1800, which the SDK throws as an HttpError', async () => {
      const wrong = new HttpClient({ endpoint: standin.address, username: 'root', password: 'nope' });
      const error = await wrong.hasCollection({ collectionName: 'quick', dbName: 'default' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HttpError);
      expect((error as HttpError).status).toBe(401);
      expect((error as HttpError).message).toContain('{"code":1800,"message":"user hasn\'t authenticated"}');
    });

    it('searches by cosine similarity, highest first, and reports it as distance', async () => {
      await client.insert({
        collectionName: 'quick',
        data: [
          { id: 3, vector: [0, 1] },
          { id: 4, vector: [1, 1] },
        ],
      });
      const res = await client.search({ collectionName: 'quick', data: [[2, 0]], limit: 2, outputFields: [] });
      expect(res.code).toBe(0);
      expect(res.topks).toEqual([2]);
      expect(res.data).toEqual([
        { id: 1, distance: 1 },
        { id: 4, distance: Math.fround(Math.SQRT1_2) },
      ]);
    });
  });
});
