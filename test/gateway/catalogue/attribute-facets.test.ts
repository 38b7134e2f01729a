import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { defaultConfig } from '../../../gateway/config';
import { openSqliteStore, type TagChangeRow } from '../../../gateway/store';
import { seedShapeCatalogue, shapeProducts } from '../../helpers/catalogue';
import { createTestGateway, histogram, type TestGateway } from '../../helpers/gateway';

// The attribute fixture (see attributes/taxonomy.test.ts): Shapes (zz-1) has Color, whose values are
// the tiny CLIP's eight colours (gid://shopify/TaxonomyValue/9001 Red ... 9008 Pink), and Size;
// Test Goods (zz) has Size alone; Other (zz-2) Size and Color only through Band color, a part's look.
const FIXTURE_DIR = join(__dirname, '../../fixtures/taxonomy/attributes');
const gid = (id: string) => `gid://shopify/TaxonomyCategory/${id}`;
const ROOT = gid('zz');
const STARS = gid('zz-1');
const CIRCLES = gid('zz-2');
const COLOURS = ['Red', 'Orange', 'Yellow', 'Green', 'Cyan', 'Blue', 'Purple', 'Pink'];
const valueId = (colour: string) => `gid://shopify/TaxonomyValue/${9001 + COLOURS.indexOf(colour)}`;

/** The fixture's categories in Shopify's categories.txt format, named for the tiny CLIP's shapes. */
const treeText = (lines: [string, string][]) =>
  `# Shopify Product Taxonomy - Categories: test-1\n${lines.map(([id, path]) => `${gid(id)} : ${path}`).join('\n')}\n`;
const SHAPES_TREE = treeText([
  ['zz', 'shape'],
  ['zz-1', 'shape > star'],
  ['zz-2', 'shape > circle'],
]);
// The tiny CLIP learnt "a photo of a red star.", never "..., a kind of shape": names alone.
const kind = (attributes: unknown = {}, text = SHAPES_TREE) => ({
  name: 'kind',
  mode: 'TREE',
  tree: { format: 'SHOPIFY', text, contextTemplate: null },
  attributes,
});

const SET = `mutation ($f: [FacetInput!]!) {
  taxonomySet(facets: $f) {
    taxonomy { facets { name mode labels labelNames templates reviewBelow under { facet categories } attribute { id handle name } } }
    userErrors { field message code }
  }
}`;
const SET_TAGS = `mutation ($id: ID!, $f: String!, $l: [String!]!) {
  productTagsSet(productId: $id, facet: $f, labels: $l) { userErrors { field message } }
}`;

interface Tag {
  facet: string;
  label: string;
  score: number;
  source: string;
}

const config = () => ({ catalogue: { ...defaultConfig().catalogue, attributeTaxonomyDir: FIXTURE_DIR } });

/** Texts the gateway's backend was asked to embed, so far. */
async function textsEmbedded(t: TestGateway): Promise<number> {
  return (await histogram(t.gateway, 'batchSize', { kind: 'text' })).sum;
}

async function tagsOf(t: TestGateway, id: string): Promise<Tag[]> {
  const tags = (await t.gateway.catalogue.getTags([id])).get(id) ?? [];
  return tags.map(({ facet, label, score, source }) => ({ facet, label, score, source: source.toUpperCase() }));
}

/** The deepest of a product's categories in `kind`, by the length of its id. */
const categoryOf = (tags: Tag[]) =>
  tags
    .filter((t) => t.facet === 'kind')
    .map((t) => t.label)
    .sort((a, b) => b.length - a.length)[0];

describe('attribute facets', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await createTestGateway(config());
  });
  afterAll(() => t.stop());

  async function set(facets: unknown[]) {
    const answer = await t.graphql<{ taxonomySet: { taxonomy: { facets: Record<string, unknown>[] } | null; userErrors: unknown[] } }>(
      SET,
      {
        f: facets,
      },
    );
    expect(answer.errors).toBeUndefined();
    return answer.data!.taxonomySet;
  }

  it("makes one facet per visual attribute of the tree's categories, labelled by the values' ids and gated to the categories that have it", async () => {
    const { taxonomy, userErrors } = await set([kind({ reviewBelow: 0.2 })]);
    expect(userErrors).toEqual([]);
    expect(taxonomy!.facets.map((f) => f.name)).toEqual(['kind', 'color']);
    // Size is the fixture's too, but no photo shows it; Other's colour is its band's, a part's look.
    expect(taxonomy!.facets[1]).toEqual({
      name: 'color',
      mode: 'MULTI',
      labels: COLOURS.map(valueId),
      labelNames: COLOURS,
      templates: ['a photo of something {}.', 'a {} product.', 'the colour {}.'],
      reviewBelow: 0.2,
      under: { facet: 'kind', categories: [STARS] },
      attribute: { id: 'gid://shopify/TaxonomyAttribute/901', handle: 'color', name: 'Color' },
    });
    expect(taxonomy!.facets[0]).toMatchObject({ labelNames: null, under: null, attribute: null });
  });

  it('tags colours only under the categories that have them, and right for drawn shapes', async () => {
    const products = await shapeProducts(7);
    await seedShapeCatalogue(t.graphql, products, [kind()]);
    let underStars = 0;
    let right = 0;
    let starsUnderStars = 0;
    for (const product of products) {
      const tags = await tagsOf(t, product.id);
      if (product.attributes.shape === 'star' && categoryOf(tags) === STARS) starsUnderStars++;
      const colours = tags.filter((tag) => tag.facet === 'color');
      if (categoryOf(tags) !== STARS) {
        expect([product.id, colours]).toEqual([product.id, []]);
        continue;
      }
      underStars++;
      expect(colours.length).toBeGreaterThan(0);
      expect(colours.every((tag) => tag.source === 'AUTO' && tag.score >= 1 / 8)).toBe(true);
      const best = colours.reduce((a, b) => (b.score > a.score ? b : a));
      if (best.label === valueId(product.attributes.colour[0].toUpperCase() + product.attributes.colour.slice(1))) right++;
    }
    // The tree puts the stars under star: most of the 8, and not every product.
    expect(starsUnderStars).toBeGreaterThanOrEqual(6);
    expect(underStars).toBeGreaterThanOrEqual(6);
    expect(underStars).toBeLessThan(products.length);
    expect(right / underStars).toBeGreaterThanOrEqual(0.9);
  });

  it("re-scores a product's attributes when its category is changed by hand, in the same call, the outbox recording MANUAL changes", async () => {
    const products = await shapeProducts(7);
    const circle = products.find((p) => p.title === 'blue circle')!;
    // Wherever the tree put it, by hand it goes under Other (no colour), then Shapes (colour), and back.
    const changesSince = async (seq: number): Promise<TagChangeRow[]> => t.gateway.store.tagChanges(seq, 100);
    const setKind = async (labels: string[]) => {
      const seq = await t.gateway.store.lastTagChangeSeq();
      expect((await t.graphql(SET_TAGS, { id: circle.id, f: 'kind', l: labels })).data).toEqual({ productTagsSet: { userErrors: [] } });
      return changesSince(seq);
    };

    await setKind([CIRCLES]);
    expect((await tagsOf(t, circle.id)).filter((tag) => tag.facet === 'color')).toEqual([]);

    const toStars = await setKind([STARS]);
    const tags = await tagsOf(t, circle.id);
    expect(tags.filter((tag) => tag.facet === 'kind').map((tag) => [tag.label, tag.source])).toEqual([
      [ROOT, 'MANUAL'],
      [STARS, 'MANUAL'],
    ]);
    const colours = tags.filter((tag) => tag.facet === 'color');
    expect(colours[0]).toMatchObject({ source: 'AUTO' });
    expect(colours.reduce((a, b) => (b.score > a.score ? b : a)).label).toBe(valueId('Blue'));
    expect(toStars.map((c) => [c.productId, c.facet, c.previousLabels, c.source])).toEqual([
      [circle.id, 'kind', [ROOT, CIRCLES], 'manual'],
      [circle.id, 'color', [], 'manual'],
    ]);
    expect(toStars[1].labels).toEqual(colours.map((tag) => tag.label).sort());

    const back = await setKind([CIRCLES]);
    expect((await tagsOf(t, circle.id)).filter((tag) => tag.facet === 'color')).toEqual([]);
    expect(back.map((c) => [c.facet, c.labels, c.source])).toEqual([
      ['color', [], 'manual'],
      ['kind', [ROOT, CIRCLES], 'manual'],
    ]);

    // Taken away, the category is the tree's again at once, with the colours it gates.
    await setKind([]);
    const auto = await tagsOf(t, circle.id);
    expect(auto.filter((tag) => tag.facet === 'kind').every((tag) => tag.source === 'AUTO')).toBe(true);
    expect(auto.some((tag) => tag.facet === 'color')).toBe(categoryOf(auto) === STARS);
  });

  it('takes a manual colour only for a product whose category has the colour attribute, naming the category otherwise', async () => {
    const products = await shapeProducts(7);
    const circle = products.find((p) => p.title === 'blue circle')!;
    const blue = valueId('Blue');
    const setTags = async (f: string, l: string[]) =>
      (await t.graphql<{ productTagsSet: { userErrors: { field: string[]; message: string }[] } }>(SET_TAGS, { id: circle.id, f, l })).data!
        .productTagsSet.userErrors;
    expect(await setTags('kind', [CIRCLES])).toEqual([]);
    expect(await setTags('color', [blue])).toEqual([
      {
        field: ['labels'],
        message: `labels: facet "color" tags only products whose category (facet "kind") has the attribute Color, and product "${circle.id}" is in ${CIRCLES}, which does not: set its category first.`,
      },
    ]);
    expect((await tagsOf(t, circle.id)).filter((tag) => tag.facet === 'color')).toEqual([]);
    expect(await setTags('kind', [STARS])).toEqual([]);
    expect(await setTags('color', [blue])).toEqual([]);
    expect((await tagsOf(t, circle.id)).filter((tag) => tag.facet === 'color').map((tag) => [tag.label, tag.source])).toEqual([
      [blue, 'MANUAL'],
    ]);
    // Taking them away needs no category.
    expect(await setTags('kind', [CIRCLES])).toEqual([]);
    expect(await setTags('color', [])).toEqual([]);
  });

  it.each([
    [
      'attributes on a facet that is not a TREE',
      [{ name: 'k', labels: ['x'], attributes: {} }],
      ['facets', '0', 'attributes'],
      "facets[0].attributes is for TREE facets only: a category's attributes need its category.",
    ],
    [
      "a tree in Google's format",
      [{ name: 'k', mode: 'TREE', tree: { format: 'GOOGLE', text: '1 - shape\n' }, attributes: {} }],
      ['facets', '0', 'attributes'],
      "facets[0].attributes are Shopify's category attributes; the tree is in the google format, whose categories have none.",
    ],
    [
      'an attribute a photo does not show',
      [kind({ only: ['color', 'size'] })],
      ['facets', '0', 'attributes', 'only', '1'],
      'facets[0].attributes.only[1] is "size", which a photo does not show (no scale in a product photo); the visual ones are color.',
    ],
    [
      'an attribute that is not visual or not there',
      [kind({ only: ['pattern'] })],
      ['facets', '0', 'attributes', 'only', '0'],
      'facets[0].attributes.only[0] is "pattern", not a visual attribute; they are color.',
    ],
    [
      'an attribute no category of the tree has',
      [
        kind(
          { only: ['color'] },
          treeText([
            ['zz', 'shape'],
            ['zz-2', 'shape > circle'],
          ]),
        ),
      ],
      ['facets', '0', 'attributes', 'only', '0'],
      'facets[0].attributes.only[0] is "color", which no category of the tree has.',
    ],
    [
      'a tree whose categories have no visual attribute',
      [
        kind(
          {},
          treeText([
            ['zz', 'shape'],
            ['zz-2', 'shape > circle'],
          ]),
        ),
      ],
      ['facets', '0', 'attributes'],
      'facets[0].attributes make no facet: no category of the tree has a visual attribute.',
    ],
    [
      "a category that is not in the attributes' taxonomy",
      [
        kind(
          {},
          treeText([
            ['zz', 'shape'],
            ['zz-7', 'shape > hexagon'],
          ]),
        ),
      ],
      ['facets', '0', 'attributes'],
      `facets[0].attributes need the tree's categories in Shopify's taxonomy test-1, whose attributes they are; "${gid('zz-7')}" (hexagon) is not there.`,
    ],
    [
      'an attribute facet named as another facet',
      [kind(), { name: 'color', labels: ['red', 'blue'] }],
      ['facets', '0', 'attributes'],
      'facets[0].attributes make a facet named "color", the name of facets[1]; rename that one.',
    ],
    [
      'a review bound out of range',
      [kind({ reviewBelow: 2 })],
      ['facets', '0', 'attributes', 'reviewBelow'],
      'facets[0].attributes.reviewBelow must be from 0 to 1: 2.',
    ],
  ])('refuses %s, naming the field', async (_what, facets, field, message) => {
    const { taxonomy, userErrors } = await set(facets);
    expect(taxonomy).toBeNull();
    expect(userErrors).toEqual([{ field, message, code: 'BAD_USER_INPUT' }]);
  });
});

describe('attribute facets after a restart', () => {
  let dir: string;
  const running: TestGateway[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'attribute-facets-'));
  });
  afterAll(async () => {
    await Promise.all(running.splice(0).map((t) => t.stop()));
    rmSync(dir, { recursive: true, force: true });
  });
  const onFile = async () => {
    const t = await createTestGateway(config(), { store: await openSqliteStore({ path: join(dir, 'catalogue.sqlite') }) });
    running.push(t);
    return t;
  };

  it("embeds no prompt: the values' prompts are label prompts, stored per model", async () => {
    const products = await shapeProducts(11);
    const stars = products.filter((p) => p.attributes.shape === 'star');
    const a = await onFile();
    await seedShapeCatalogue(a.graphql, stars.slice(0, 4), [kind()]);
    // The tree's three names, and the eight colours' three templates each.
    expect(await textsEmbedded(a)).toBe(3 + 8 * 3);
    await a.stop();

    const b = await onFile();
    const before = await textsEmbedded(b);
    await b.gateway.catalogue.upsertProducts(stars.slice(4));
    expect(await textsEmbedded(b)).toBe(before);
    expect(before).toBe(0);
    const tags = await Promise.all(stars.slice(4).map((p) => tagsOf(b, p.id)));
    expect(tags.filter((list) => categoryOf(list) === STARS).every((list) => list.some((tag) => tag.facet === 'color'))).toBe(true);
    expect(tags.some((list) => list.some((tag) => tag.facet === 'color'))).toBe(true);
  });
});
