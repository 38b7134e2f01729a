import { parse, type GraphQLSchema } from 'graphql';

import { COST, operationDemand } from '../../../gateway/limits';
import { buildGatewaySchema } from '../../../gateway/schema';

/** Demand read from documents against the gateway's real schema, as the guard plugin reads it. */
describe('operationDemand', () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await buildGatewaySchema();
  });
  const demand = (query: string, variables?: Record<string, unknown>, operationName?: string) =>
    operationDemand(schema, parse(query), operationName, variables);

  it('counts embed inputs by kind, from literals and from variables', () => {
    const literal = demand(`{ embed(inputs: [{ text: "a" }, { imageUrl: "http://x/1.jpg" }, { imageBase64: "AAAA" }]) { dim } }`);
    expect(literal).toMatchObject({ texts: 1, images: 2, prompts: 0, writes: 0 });
    const inputs = Array.from({ length: 7 }, (_, i) => (i < 3 ? { text: `t${i}` } : { imageUrl: `http://x/${i}.jpg` }));
    const fromVariables = demand(`query($inputs: [MediaInput!]!) { embed(inputs: $inputs) { dim } }`, { inputs });
    expect(fromVariables).toMatchObject({ texts: 3, images: 4 });
    // Cost: each field once, plus each input by its weight.
    expect(fromVariables.cost).toBe(2 * COST.field + 3 * COST.text + 4 * COST.image);
  });

  it('counts a classify as its images and labels × templates prompts', () => {
    const query = `query($images: [ImageInput!]!, $labels: [String!]!, $templates: [String!]) {
      classify(images: $images, labels: $labels, templates: $templates) { labels { label } } }`;
    const images = [{ url: 'http://x/a.jpg' }, { base64: 'AAAA' }];
    expect(demand(query, { images, labels: ['cat', 'dog', 'fox'] })).toMatchObject({ images: 2, texts: 0, prompts: 3 });
    expect(demand(query, { images, labels: ['cat', 'dog', 'fox'], templates: ['a {}', 'the {}'] })).toMatchObject({ prompts: 6 });
  });

  it('counts similarity, searches, upserts, taxonomies and deletes', () => {
    expect(demand(`{ similarity(a: [{ text: "a" }, { text: "b" }], b: [{ imageUrl: "http://x/1.jpg" }]) }`)).toMatchObject({
      texts: 2,
      images: 1,
    });
    expect(demand(`{ productSearch(query: { text: "red shoe" }) { score } }`)).toMatchObject({ texts: 1, images: 0 });
    expect(demand(`{ productSearch(query: { image: { url: "http://x/1.jpg" } }) { score } }`)).toMatchObject({ texts: 0, images: 1 });
    expect(demand(`{ productSearch(query: { productId: "p1" }) { score } }`)).toMatchObject({ texts: 0, images: 0 });
    const products = [
      { id: 'a', images: [{ url: 'http://x/1.jpg' }, { url: 'http://x/2.jpg' }] },
      { id: 'b', images: [{ base64: 'AAAA' }] },
    ];
    expect(
      demand(`mutation($products: [ProductInput!]!) { productsUpsert(products: $products) { products { id } } }`, { products }),
    ).toMatchObject({ images: 3, writes: 2 });
    const facets = [
      { name: 'colour', labels: ['red', 'blue'], templates: ['a {} thing', 'something {}'] },
      { name: 'shape', labels: ['star', 'circle', 'square'] },
    ];
    // A taxonomy's prompts are embedded by its job, never by the request that sets it.
    expect(demand(`mutation($facets: [FacetInput!]!) { taxonomySet(facets: $facets) { taxonomy { version } } }`, { facets })).toMatchObject(
      {
        prompts: 0,
        writes: 1,
      },
    );
    expect(demand(`mutation { productsDelete(ids: ["a", "b", "c"]) { deletedIds } }`)).toMatchObject({ writes: 3, images: 0 });
    // Manual tags embed nothing: labels without templates are not prompts.
    expect(demand(`mutation { productTagsSet(productId: "a", facet: "colour", labels: ["red"]) { product { id } } }`)).toMatchObject({
      prompts: 0,
      writes: 1,
    });
  });

  it('counts every alias, follows fragments, and leaves out what @skip removes', () => {
    const aliased = demand(`{ a: embed(inputs: [{ text: "x" }]) { dim } b: embed(inputs: [{ text: "y" }]) { dim } }`);
    expect(aliased.texts).toBe(2);
    const fragment = demand(`query { ...F } fragment F on Query { embed(inputs: [{ imageUrl: "http://x/1.jpg" }]) { dim } }`);
    expect(fragment.images).toBe(1);
    const skipped = demand(`query($no: Boolean!) { embed(inputs: [{ text: "x" }]) @skip(if: $no) { dim } }`, { no: true });
    expect(skipped.texts).toBe(0);
  });

  it('counts only the operation asked for', () => {
    const document = `query One { embed(inputs: [{ text: "x" }]) { dim } } query Two { embed(inputs: [{ imageUrl: "http://x/1.jpg" }, { imageUrl: "http://x/2.jpg" }]) { dim } }`;
    expect(demand(document, undefined, 'Two')).toMatchObject({ texts: 0, images: 2 });
  });

  it('multiplies what is under a page by its first', () => {
    const page = (first: number) => demand(`{ products(first: ${first}) { edges { node { id tags { label score } } } } }`).cost;
    // products 1 + first × (edges 1 + node 1 + id 1 + tags (1 + label 1 + score 1)) = 1 + 6 × first.
    expect(page(1)).toBe(7);
    expect(page(500)).toBe(3001);
  });

  it('notes the page that asks for the most, and whether it pages on with after', () => {
    expect(demand(`{ products(first: 20) { edges { node { similar(first: 30) { id } } } } }`).largestPage).toEqual({
      field: 'similar',
      first: 30,
      cursor: false,
    });
    expect(demand(`query($n: Int!) { products(first: $n) { edges { cursor } } }`, { n: 70 }).largestPage).toEqual({
      field: 'products',
      first: 70,
      cursor: true,
    });
    expect(demand(`{ model { name } }`).largestPage).toBeUndefined();
  });

  it('counts nothing when the variables cannot be coerced (execution refuses them itself)', () => {
    expect(demand(`query($inputs: [MediaInput!]!) { embed(inputs: $inputs) { dim } }`, { inputs: 'not a list of inputs' })).toEqual({
      texts: 0,
      images: 0,
      prompts: 0,
      writes: 0,
      cost: 0,
    });
  });
});
