import { join } from 'node:path';

import {
  ApplicableAttributes,
  attributePrompts,
  distinctPromptTexts,
  loadAttributeTaxonomy,
  VISUAL_ATTRIBUTES,
  type AttributeTaxonomy,
  type VisualAttribute,
} from '../../../../gateway/catalogue/attributes';

// The fixture (see taxonomy.test.ts): Shapes (zz-1) and Stars (zz-1-1) have Color; Sized Shapes
// (zz-1-2) only Size; Other (zz-2) Band color, an extended attribute of Color, and Size.
const FIXTURE_DIR = join(__dirname, '../../../fixtures/taxonomy/attributes');
const COLOUR_ONLY = { color: VISUAL_ATTRIBUTES.color };

let taxonomy: AttributeTaxonomy;
beforeAll(async () => {
  taxonomy = await loadAttributeTaxonomy(FIXTURE_DIR);
});

const handles = (list: readonly { handle: string }[]) => list.map((a) => a.handle);

describe('ApplicableAttributes', () => {
  it('gives a category path the visual attributes of its deepest category, ids short or GIDs', () => {
    const applicable = new ApplicableAttributes(taxonomy, COLOUR_ONLY);
    expect(handles(applicable.forPath(['zz', 'zz-1']))).toEqual(['color']);
    expect(handles(applicable.forPath(['gid://shopify/TaxonomyCategory/zz', 'gid://shopify/TaxonomyCategory/zz-1', 'zz-1-1']))).toEqual([
      'color',
    ]);
    const [color] = applicable.forPath(['zz', 'zz-1']);
    expect(color).toMatchObject({ handle: 'color', id: 'gid://shopify/TaxonomyAttribute/901', name: 'Color', mode: 'multi' });
    expect(color.values[0]).toEqual({ id: 'gid://shopify/TaxonomyValue/9001', name: 'Red', handle: 'color__red' });
    // A path may start below the root (a tree built from a part of the taxonomy).
    expect(handles(applicable.forPath(['zz-1-1']))).toEqual(['color']);
  });

  it('gives none to a category without a visual attribute, to one with a colour only through a part, and to a product whose category is not known', () => {
    const applicable = new ApplicableAttributes(taxonomy, COLOUR_ONLY);
    expect(applicable.forPath(['zz'])).toEqual([]);
    // Sized Shapes' parent has Color; its own list has not: lists are not inherited.
    expect(applicable.forPath(['zz', 'zz-1', 'zz-1-2'])).toEqual([]);
    expect(applicable.forPath(['zz', 'zz-2'])).toEqual([]);
    expect(applicable.forPath([])).toEqual([]);
    expect(handles(applicable.forCategory('gid://shopify/TaxonomyCategory/zz-1'))).toEqual(['color']);
  });

  it('refuses a path that is not a chain of known categories, naming the id and the owner', () => {
    const applicable = new ApplicableAttributes(taxonomy, COLOUR_ONLY);
    expect(() => applicable.forPath(['zz', 'zz-9'], 'product p1')).toThrow(
      'product p1: "zz-9" is not a category of Shopify\'s taxonomy test-1.',
    );
    expect(() => applicable.forPath(['zz', 'zz-1-1'])).toThrow('category path: "zz-1-1" is not a child of "zz", the category before it.');
    expect(() => applicable.forPath(['zz-1', 'zz'])).toThrow('"zz" is not a child of "zz-1"');
    expect(() => applicable.forPath(['gid://shopify/Product/1'])).toThrow(
      'category path: "gid://shopify/Product/1" is not a Shopify category id (aa-1-13-8 or gid://shopify/TaxonomyCategory/aa-1-13-8).',
    );
    expect(() => applicable.forCategory('zz-7')).toThrow('category: "zz-7" is not a category');
  });

  it('lists only the allowlisted attributes that some category has', () => {
    expect(handles(new ApplicableAttributes(taxonomy, COLOUR_ONLY).attributes)).toEqual(['color']);
    // Size is in the fixture, and in categories, but never visual.
    expect(handles(new ApplicableAttributes(taxonomy, {}).attributes)).toEqual([]);
  });

  it('checks the allowlist against the taxonomy once, naming the entry', () => {
    const make = (visual: Record<string, VisualAttribute>) => () => new ApplicableAttributes(taxonomy, visual);
    expect(make(VISUAL_ATTRIBUTES)).toThrow(/^visual attribute pattern: no such attribute in Shopify's taxonomy test-1\.$/);
    expect(make({ color: { mode: 'single', templates: ['a red thing'] } })).toThrow(
      'visual attribute color: the template "a red thing" has no {} for the value.',
    );
    expect(make({ color: { mode: 'single', templates: [] } })).toThrow('visual attribute color: has no prompt templates.');
    expect(make({ color: { mode: 'many' as 'multi', templates: ['{}'] } })).toThrow(
      'visual attribute color: mode must be single or multi: "many".',
    );
    expect(make({ color: { mode: 'single', templates: ['{}'], phrases: { color__navy: 'navy' } } })).toThrow(
      'visual attribute color: a phrase for color__navy, which is not one of its values.',
    );
    // Size has Small, Large and Other; Other is never scored.
    expect(handles(new ApplicableAttributes(taxonomy, { size: { mode: 'single', templates: ['{}'] } }).attributes)).toEqual(['size']);
    expect(
      new ApplicableAttributes(taxonomy, { size: { mode: 'single', templates: ['{}'] } }).attributes[0].values.map((v) => v.name),
    ).toEqual(['Small', 'Large']);
  });
});

describe('attributePrompts', () => {
  it("gives each value of each visual attribute its attribute's templates with the value's words", () => {
    const applicable = new ApplicableAttributes(taxonomy, {
      color: { mode: 'multi', templates: ['a photo of something {}.', '{} colour'], phrases: { color__cyan: 'turquoise' } },
    });
    const prompts = attributePrompts(applicable);
    expect(prompts).toHaveLength(8);
    expect(prompts[0]).toEqual({
      attribute: 'color',
      valueId: 'gid://shopify/TaxonomyValue/9001',
      valueName: 'Red',
      texts: ['a photo of something red.', 'red colour'],
    });
    expect(prompts.find((p) => p.valueName === 'Cyan')!.texts).toEqual(['a photo of something turquoise.', 'turquoise colour']);
  });

  it('lists each text once for embedding', () => {
    const applicable = new ApplicableAttributes(taxonomy, {
      color: { mode: 'single', templates: ['{}', '{}'] },
      size: { mode: 'single', templates: ['{}'] },
    });
    expect(distinctPromptTexts(attributePrompts(applicable))).toEqual([
      'red',
      'orange',
      'yellow',
      'green',
      'cyan',
      'blue',
      'purple',
      'pink',
      'small',
      'large',
    ]);
  });
});
