import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { friendlyId, linkAttributeTaxonomy, loadAttributeTaxonomy, type AttributeSources } from '../../../../gateway/catalogue/attributes';

// test/fixtures/taxonomy/attributes: Shopify's layout in miniature. Color (the tiny CLIP's eight
// colours, and Band color as an extended attribute), Size (not visual). Under Test Goods (zz):
// Shapes and its child Stars have Color; Sized Shapes, Shapes' other child, has only Size; Other has
// Band color. More Goods (yy) is a second vertical file with one category and no attributes.
const FIXTURE_DIR = join(__dirname, '../../../fixtures/taxonomy/attributes');

const fixture = (): AttributeSources => {
  const read = (file: string) => ({ file, text: readFileSync(join(FIXTURE_DIR, file), 'utf8') });
  return {
    attributes: read('attributes.json'),
    values: read('attribute_values.json'),
    verticals: [read('verticals/yy_more_goods.yml'), read('verticals/zz_test_goods.yml')],
  };
};

/** The fixture with one file's JSON changed by `edit`. */
const editJson = (key: 'attributes' | 'values', edit: (json: any) => void): AttributeSources => {
  const sources = fixture();
  const json = JSON.parse(sources[key].text);
  edit(json);
  return { ...sources, [key]: { file: sources[key].file, text: JSON.stringify(json) } };
};

const withVertical = (text: string): AttributeSources => ({
  ...fixture(),
  verticals: [...fixture().verticals, { file: 'verticals/xx.yml', text }],
});

describe('loadAttributeTaxonomy', () => {
  it('links the fixture: attributes by handle, categories by short id with parents, links through extended attributes', async () => {
    const taxonomy = await loadAttributeTaxonomy(FIXTURE_DIR);
    expect(taxonomy.version).toBe('test-1');
    expect([...taxonomy.attributes.keys()]).toEqual(['color', 'size']);
    expect(taxonomy.attributes.get('color')!.values.map((v) => v.name)).toEqual([
      'Red',
      'Orange',
      'Yellow',
      'Green',
      'Cyan',
      'Blue',
      'Purple',
      'Pink',
    ]);
    expect([...taxonomy.categories.values()].map((c) => [c.id, c.name, c.parent])).toEqual([
      ['yy', 'More Goods', null],
      ['zz', 'Test Goods', null],
      ['zz-1', 'Shapes', 'zz'],
      ['zz-1-1', 'Stars', 'zz-1'],
      ['zz-1-2', 'Sized Shapes', 'zz-1'],
      ['zz-2', 'Other', 'zz'],
    ]);
    const other = taxonomy.categories.get('zz-2')!;
    expect(other.file).toBe(join('verticals', 'zz_test_goods.yml'));
    expect(other.links.map((l) => [l.attribute.handle, l.extended?.handle ?? null])).toEqual([
      ['color', 'band-color'],
      ['size', null],
    ]);
  });

  it('names a directory it cannot read', async () => {
    await expect(loadAttributeTaxonomy(join(FIXTURE_DIR, 'verticals'))).rejects.toThrow(
      /^verticals: cannot be listed in .*verticals: ENOENT/,
    );
  });
});

describe('friendlyId', () => {
  it("is the verticals' name for an attribute, made from its name", () => {
    expect(friendlyId('Sleeve length type')).toBe('sleeve_length_type');
    expect(friendlyId('Bag/Case material')).toBe('bag/case_material');
    expect(friendlyId('Corsage/Boutonnière design')).toBe('corsage/boutonniere_design');
    expect(friendlyId('Plug type (input)')).toBe('plug_type_input');
    expect(friendlyId('Product certifications & standards')).toBe('product_certifications_standards');
  });
});

describe('linkAttributeTaxonomy cross-checks the three files', () => {
  it('refuses files of two versions', () => {
    expect(() => linkAttributeTaxonomy(editJson('values', (j) => (j.version = 'test-2')))).toThrow(
      'attribute_values.json: version "test-2" differs from attributes.json\'s "test-1".',
    );
  });

  it("refuses an attribute's value that the values file lacks or tells otherwise", () => {
    expect(() => linkAttributeTaxonomy(editJson('values', (j) => j.values.splice(0, 1)))).toThrow(
      'attributes.json, attribute color (gid://shopify/TaxonomyAttribute/901): its value gid://shopify/TaxonomyValue/9006 (Blue) is not in attribute_values.json.',
    );
    expect(() => linkAttributeTaxonomy(editJson('values', (j) => (j.values[0].name = 'Navy')))).toThrow(
      'attributes.json, attribute color (gid://shopify/TaxonomyAttribute/901): its value gid://shopify/TaxonomyValue/9006 is "Blue" (color__blue) here but "Navy" (color__blue) in attribute_values.json.',
    );
  });

  it('refuses a value owned twice or by nobody, and an attribute twice', () => {
    expect(() => linkAttributeTaxonomy(editJson('attributes', (j) => j.attributes[1].values.push(j.attributes[0].values[0])))).toThrow(
      'attributes.json, attribute size (gid://shopify/TaxonomyAttribute/902): its value gid://shopify/TaxonomyValue/9001 also belongs to color.',
    );
    expect(() => linkAttributeTaxonomy(editJson('attributes', (j) => j.attributes[0].values.pop()))).toThrow(
      'attribute_values.json, value gid://shopify/TaxonomyValue/9008 (Pink): belongs to no attribute.',
    );
    expect(() => linkAttributeTaxonomy(editJson('attributes', (j) => (j.attributes[1].handle = 'color')))).toThrow(
      'attributes.json, attribute color (gid://shopify/TaxonomyAttribute/902): its handle appears twice.',
    );
  });

  it('refuses two names a vertical could not tell apart', () => {
    expect(() =>
      linkAttributeTaxonomy(editJson('attributes', (j) => j.attributes[1].extended_attributes.push({ name: 'Band-color', handle: 'x' }))),
    ).toThrow(
      'attributes.json, attribute size: Band-color (extended, of size) and Band color (extended, of color) share the friendly id band_color.',
    );
  });

  it('refuses a category linked to an unknown attribute, naming the file, line and reference', () => {
    expect(() => linkAttributeTaxonomy(withVertical('- id: xx\n  name: X\n  children: []\n  attributes: [colour]\n'))).toThrow(
      'verticals/xx.yml, line 1 (category xx): attribute "colour" is neither an attribute nor an extended attribute.',
    );
    expect(() => linkAttributeTaxonomy(withVertical('- id: xx\n  name: X\n  children: []\n  attributes: [size, size]\n'))).toThrow(
      'verticals/xx.yml, line 1 (category xx): attribute "size" is listed twice.',
    );
  });

  it('refuses categories that do not make a tree', () => {
    expect(() => linkAttributeTaxonomy(withVertical('- id: zz-2\n  name: Again\n  children: []\n  attributes: []\n'))).toThrow(
      'verticals/xx.yml, line 1 (category zz-2): category zz-2 is also on line 28 of verticals/zz_test_goods.yml.',
    );
    expect(() => linkAttributeTaxonomy(withVertical('- id: xx\n  name: X\n  children: [xx-1-1]\n  attributes: []\n'))).toThrow(
      'verticals/xx.yml, line 1 (category xx): its child xx-1-1 is not one level below xx.',
    );
    expect(() => linkAttributeTaxonomy(withVertical('- id: xx\n  name: X\n  children: [xx-1]\n  attributes: []\n'))).toThrow(
      'verticals/xx.yml, line 1 (category xx): its child xx-1 is not a category of any vertical.',
    );
    expect(() => linkAttributeTaxonomy(withVertical('- id: xx-4\n  name: X\n  children: []\n  attributes: []\n'))).toThrow(
      'verticals/xx.yml, line 1 (category xx-4): no category lists xx-4 among its children.',
    );
  });
});
