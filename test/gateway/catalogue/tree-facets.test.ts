import { seedShapeCatalogue, shapeProducts } from '../../helpers/catalogue';
import { createTestGateway, type TestGateway } from '../../helpers/gateway';
import { loadReference } from '../../helpers/tiny-clip';

const SET = `mutation ($f: [FacetInput!]!) {
  taxonomySet(facets: $f) {
    taxonomy { version facets { name mode labels tree { source format root depth categories beamWidth contextTemplate } } }
    userErrors { field message code }
  }
}`;
const TAGS = `query ($ids: [ID!]!) {
  products(first: 100, filter: { ids: $ids }) { edges { node { id tags { facet label score similarity source } } } }
}`;
const SET_TAGS = `mutation ($id: ID!, $f: String!, $l: [String!]!) {
  productTagsSet(productId: $id, facet: $f, labels: $l) { userErrors { field message } }
}`;

interface Facet {
  name: string;
  mode: string;
  labels: string[];
  tree: { source: string; format: string; root: string | null; depth: number | null; categories: number; beamWidth: number } | null;
}
interface SetAnswer {
  taxonomySet: { taxonomy: { version: number; facets: Facet[] } | null; userErrors: { field: string[]; message: string; code: string }[] };
}
interface Tag {
  facet: string;
  label: string;
  score: number;
  similarity: number;
  source: string;
}

/**
 * The tiny CLIP's domain as a taxonomy in Google's format: `shape`, its four shapes, and under each
 * the eight colours of it ("red circle"): ids 1, 2-5 and 10+ in the order the file lists them.
 */
function shapeTaxonomy(): { text: string; idOf: Map<string, string> } {
  const { domain } = loadReference();
  const idOf = new Map<string, string>([['shape', '1']]);
  const lines = ['# Google_Product_Taxonomy_Version: test', '1 - shape'];
  domain.shapes.forEach((shape, s) => {
    idOf.set(shape, String(2 + s));
    lines.push(`${2 + s} - shape > ${shape}`);
  });
  let next = 10;
  for (const shape of domain.shapes) {
    for (const colour of Object.keys(domain.colours)) {
      idOf.set(`${colour} ${shape}`, String(next));
      lines.push(`${next++} - shape > ${shape} > ${colour} ${shape}`);
    }
  }
  return { text: `${lines.join('\n')}\n`, idOf };
}

describe('TREE facets', () => {
  let t: TestGateway;
  const { text, idOf } = shapeTaxonomy();
  // The tiny CLIP learnt "a photo of a red circle.", never "..., a kind of circle": names alone.
  const kind = { name: 'kind', mode: 'TREE', tree: { format: 'GOOGLE', text, contextTemplate: null } };

  beforeAll(async () => {
    t = await createTestGateway();
  });
  afterAll(() => t.stop());

  async function set(facets: unknown[]): Promise<SetAnswer['taxonomySet']> {
    const answer = await t.graphql<SetAnswer>(SET, { f: facets });
    expect(answer.errors).toBeUndefined();
    return answer.data!.taxonomySet;
  }

  async function tagsOf(ids: string[]): Promise<Map<string, Tag[]>> {
    const answer = await t.graphql<{ products: { edges: { node: { id: string; tags: Tag[] } }[] } }>(TAGS, { ids });
    expect(answer.errors).toBeUndefined();
    return new Map(answer.data!.products.edges.map(({ node }) => [node.id, node.tags]));
  }

  it('tags each product with its path down the tree, one tag a level labelled with the category id', async () => {
    const { taxonomy, userErrors } = await set([kind]);
    expect(userErrors).toEqual([]);
    expect(taxonomy!.facets[0]).toMatchObject({
      name: 'kind',
      mode: 'TREE',
      tree: { source: 'text', format: 'google', root: null, depth: null, categories: 37, beamWidth: 5 },
    });
    expect(taxonomy!.facets[0].labels.slice(0, 6)).toEqual(['1', '2', '3', '4', '5', '10']);

    const products = await shapeProducts(7);
    await seedShapeCatalogue(t.graphql, products, [kind]);
    const tags = await tagsOf(products.map((p) => p.id));
    let right = 0;
    for (const product of products) {
      const kinds = tags.get(product.id)!.filter((tag) => tag.facet === 'kind');
      // Root, shape, colour-and-shape: the leaf's parent is the shape above it.
      expect(kinds).toHaveLength(3);
      const labels = kinds.map((tag) => tag.label);
      const leaf = [...idOf].find(([, id]) => labels.includes(id) && Number(id) >= 10)![0];
      expect(labels.sort()).toEqual([idOf.get('shape'), idOf.get(leaf.split(' ')[1]), idOf.get(leaf)].sort());
      for (const tag of kinds) {
        expect(tag.source).toBe('AUTO');
        expect(tag.score).toBeGreaterThan(0);
        expect(tag.score).toBeLessThanOrEqual(1);
      }
      // The root is the only top node: its score among its siblings is 1.
      expect(kinds.find((tag) => tag.label === '1')!.score).toBeCloseTo(1, 6);
      if (leaf === product.title) right++;
    }
    expect(right).toBeGreaterThanOrEqual(30);
  });

  it('sets a category by hand with its ancestors, and refuses two categories or one it does not have', async () => {
    const blueStar = idOf.get('blue star')!;
    expect((await t.graphql(SET_TAGS, { id: 'p00', f: 'kind', l: [blueStar] })).data).toEqual({ productTagsSet: { userErrors: [] } });
    const kinds = (await tagsOf(['p00'])).get('p00')!.filter((tag) => tag.facet === 'kind');
    expect(kinds.map((tag) => [tag.label, tag.source, tag.score])).toEqual(
      [idOf.get('shape')!, idOf.get('star')!, blueStar].sort().map((label) => [label, 'MANUAL', 1]),
    );
    const two = await t.graphql<{ productTagsSet: { userErrors: { message: string }[] } }>(SET_TAGS, {
      id: 'p00',
      f: 'kind',
      l: [blueStar, idOf.get('red star')],
    });
    expect(two.data!.productTagsSet.userErrors[0].message).toBe('labels: facet "kind" is TREE and takes one label, not 2.');
    const unknown = await t.graphql<{ productTagsSet: { userErrors: { message: string }[] } }>(SET_TAGS, {
      id: 'p00',
      f: 'kind',
      l: ['999'],
    });
    expect(unknown.data!.productTagsSet.userErrors[0].message).toBe('labels[0]: facet "kind" has no label "999".');
  });

  it('takes a bundled taxonomy by name, a part of it by root and depth', async () => {
    const { taxonomy, userErrors } = await set([
      { name: 'category', mode: 'TREE', tree: { bundled: 'shopify-2025-08', root: 'aa-1-13', depth: 2 } },
    ]);
    expect(userErrors).toEqual([]);
    const facet = taxonomy!.facets[0];
    expect(facet.tree).toMatchObject({ source: 'shopify-2025-08', format: 'shopify', root: 'aa-1-13', depth: 2, beamWidth: 5 });
    expect(facet.labels[0]).toBe('gid://shopify/TaxonomyCategory/aa-1-13');
    expect(facet.labels).toContain('gid://shopify/TaxonomyCategory/aa-1-13-8');
    expect(facet.labels.every((id) => id.startsWith('gid://shopify/TaxonomyCategory/aa-1-13'))).toBe(true);
    expect(facet.tree!.categories).toBe(facet.labels.length);
  });

  it.each([
    [
      'a broken line, naming it',
      { name: 'k', mode: 'TREE', tree: { format: 'GOOGLE', text: '1 - a\n2 - a > b\nthree - a > c\n' } },
      ['facets', '0', 'tree', 'text'],
      'facets[0].tree.text cannot be read: line 3: expected "<number> - <path>", found "three - a > c".',
    ],
    [
      'labels given to a TREE facet',
      { name: 'k', mode: 'TREE', labels: ['x'], tree: { format: 'GOOGLE', text: '1 - a\n' } },
      ['facets', '0', 'labels'],
      "facets[0].labels is for SINGLE and MULTI facets; a TREE facet's labels are its taxonomy's ids.",
    ],
    [
      'a TREE facet without its tree',
      { name: 'k', mode: 'TREE' },
      ['facets', '0', 'tree'],
      'facets[0].tree is missing: a TREE facet takes its labels from a taxonomy.',
    ],
    [
      'a tree on a SINGLE facet',
      { name: 'k', labels: ['x'], tree: { bundled: 'shopify-2025-08' } },
      ['facets', '0', 'tree'],
      'facets[0].tree is for TREE facets only.',
    ],
    [
      'a bundled taxonomy that is not one',
      { name: 'k', mode: 'TREE', tree: { bundled: 'amazon' } },
      ['facets', '0', 'tree', 'bundled'],
      'facets[0].tree.bundled is not a bundled taxonomy: "amazon"; they are shopify-2025-08, google-2021-09-21.',
    ],
    [
      'an unknown root',
      { name: 'k', mode: 'TREE', tree: { bundled: 'google-2021-09-21', root: '99999999' } },
      ['facets', '0', 'tree', 'root'],
      'facets[0].tree.root "99999999" is not the id of any category in this taxonomy.',
    ],
    ['a tree past the limit', { name: 'k', mode: 'TREE', tree: { bundled: 'shopify-2025-08' } }, ['facets', '0', 'tree', 'bundled'], null],
  ])('refuses %s', async (_what, facet, field, message) => {
    const limited = await createTestGateway({ catalogue: { ...t.gateway.config.catalogue, maxTreeNodes: 5_000 } });
    try {
      const answer = await limited.graphql<SetAnswer>(SET, { f: [facet] });
      const { taxonomy, userErrors } = answer.data!.taxonomySet;
      expect(taxonomy).toBeNull();
      expect(userErrors[0].field).toEqual(field);
      if (message) expect(userErrors[0].message).toBe(message);
      else
        expect(userErrors[0]).toMatchObject({
          code: 'INPUT_TOO_LARGE',
          message: expect.stringContaining('10595 categories; the limit is 5000'),
        });
    } finally {
      await limited.stop();
    }
  });
});
