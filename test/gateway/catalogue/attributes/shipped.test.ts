import {
  ApplicableAttributes,
  attributePrompts,
  distinctPromptTexts,
  loadAttributeTaxonomy,
  NOT_VISUAL,
  VISUAL_ATTRIBUTES,
  type AttributeTaxonomy,
} from '../../../../gateway/catalogue/attributes';

// The facts taxonomy.ts, visual.ts and prompts.ts state about Shopify's 2025-08 files, counted.
let taxonomy: AttributeTaxonomy;
let applicable: ApplicableAttributes;
beforeAll(async () => {
  taxonomy = await loadAttributeTaxonomy();
  applicable = new ApplicableAttributes(taxonomy);
});

const categories = () => [...taxonomy.categories.values()];
const linkHandles = (id: string) => taxonomy.categories.get(id)!.links.map((l) => l.extended?.handle ?? l.attribute.handle);
const visualOf = (path: string[]) => applicable.forPath(path).map((a) => a.handle);

describe("Shopify's attributes (taxonomies/shopify-2025-08)", () => {
  it('has 1,987 attributes and 20,635 values, every value of one attribute, all but Color ending with Other', () => {
    expect(taxonomy.version).toBe('2025-08-unstable');
    const attributes = [...taxonomy.attributes.values()];
    expect(attributes).toHaveLength(1987);
    expect(attributes.reduce((n, a) => n + a.values.length, 0)).toBe(20635);
    expect(attributes.filter((a) => !a.values.some((v) => v.name === 'Other')).map((a) => a.handle)).toEqual(['color']);
  });

  it("links the 10,595 categories of the 26 verticals to 2,258 attributes by their names' friendly ids, 312 of them extended", () => {
    expect(taxonomy.categories.size).toBe(10595);
    expect(new Set(categories().map((c) => c.file)).size).toBe(26);
    const links = categories().flatMap((c) => c.links);
    expect(links).toHaveLength(40262);
    const distinct = new Set(links.map((l) => `${l.attribute.handle}/${l.extended?.name ?? ''}`));
    expect(distinct.size).toBe(2258);
    expect(new Set(links.filter((l) => l.extended).map((l) => l.extended!.name)).size).toBe(312);
    expect(links.filter((l) => l.extended)).toHaveLength(2389);
    // The two a handle-shaped reading of the verticals would miss: Egg Incubators' humidity_control_method, a makeup shade.
    expect(linkHandles('bi-2-1-1')).toContain('humidy-control');
    expect(
      categories().filter((c) => c.links.some((l) => l.attribute.handle === 'makeup-color-shade' && !l.extended)).length,
    ).toBeGreaterThan(0);
  });

  it("gives each category its own list: 956 children lack one of their parent's attributes", () => {
    const children = categories().filter((c) => c.parent !== null);
    expect(children).toHaveLength(10569);
    const lacking = children.filter((c) => {
      const own = new Set(linkHandles(c.id));
      return linkHandles(c.parent!).some((h) => !own.has(h));
    });
    expect(lacking).toHaveLength(956);
    // Activewear Vests have no sleeves to measure; Vests & Jackets, their parent, do.
    expect(linkHandles('aa-1-1-8')).toContain('sleeve-length-type');
    expect(linkHandles('aa-1-1-8-1')).not.toContain('sleeve-length-type');
    expect(visualOf(['aa', 'aa-1', 'aa-1-1', 'aa-1-1-8', 'aa-1-1-8-1'])).toEqual(['color', 'pattern', 'fabric']);
  });

  it('has 330 categories whose colour is only a part’s (an extended attribute), which get no colour', () => {
    const partOnly = categories().filter((c) => {
      const colours = c.links.filter((l) => l.attribute.handle === 'color');
      return colours.length > 0 && colours.every((l) => l.extended);
    });
    expect(partOnly).toHaveLength(330);
    expect(partOnly.every((c) => !applicable.forCategory(c.id).some((a) => a.handle === 'color'))).toBe(true);
    // Watches: band, case and dial colour.
    expect(linkHandles('aa-6-11').filter((h) => h.endsWith('-color'))).toEqual(['band-color', 'case-color', 'dial-color']);
    expect(visualOf(['aa', 'aa-6', 'aa-6-11'])).not.toContain('color');
  });
});

describe('visual attributes over the shipped taxonomy', () => {
  it('gives T-Shirts colour, pattern, fabric, neckline, sleeve and top length, not size, age group or gender', () => {
    expect(linkHandles('aa-1-13-8')).toEqual([
      'age-group',
      'clothing-features',
      'color',
      'fabric',
      'neckline',
      'pattern',
      'size',
      'sleeve-length-type',
      'target-gender',
      'top-length-type',
    ]);
    const tShirts = [
      'gid://shopify/TaxonomyCategory/aa',
      'gid://shopify/TaxonomyCategory/aa-1',
      'aa-1-13',
      'gid://shopify/TaxonomyCategory/aa-1-13-8',
    ];
    expect(visualOf(tShirts)).toEqual(['color', 'pattern', 'fabric', 'neckline', 'sleeve-length-type', 'top-length-type']);
    const neckline = applicable.forPath(tShirts).find((a) => a.handle === 'neckline')!;
    expect(neckline.values).toHaveLength(17);
    expect(neckline.values.find((v) => v.name === 'V-neck')!.id).toMatch(/^gid:\/\/shopify\/TaxonomyValue\/\d+$/);
  });

  it('gives hardware no neckline: Pliers Grips colour and pattern, Hammers nothing (their colour is the handle’s)', () => {
    expect(visualOf(['ha', 'ha-15', 'ha-15-19', 'ha-15-19-3'])).toEqual(['color', 'pattern']);
    expect(visualOf(['ha', 'ha-15', 'ha-15-20'])).toEqual([]);
    const withNeckline = categories().filter((c) => applicable.forCategory(c.id).some((a) => a.handle === 'neckline'));
    expect(new Set(withNeckline.map((c) => c.id.slice(0, 2)))).toEqual(new Set(['aa', 'ae']));
    expect(withNeckline).toHaveLength(55);
  });

  it('names in NOT_VISUAL attributes that exist and that the allowlist leaves out', () => {
    for (const handle of Object.keys(NOT_VISUAL)) {
      expect([handle, taxonomy.attributes.has(handle)]).toEqual([handle, true]);
      expect(VISUAL_ATTRIBUTES[handle]).toBeUndefined();
    }
    expect(applicable.attributes.map((a) => a.handle)).toEqual(Object.keys(VISUAL_ATTRIBUTES));
  });

  it('needs 426 value vectors from 643 distinct texts; per category it would be 727,555 prompt sets', () => {
    const prompts = attributePrompts(applicable);
    expect(prompts).toHaveLength(426);
    expect(prompts.reduce((n, p) => n + p.texts.length, 0)).toBe(1120);
    expect(distinctPromptTexts(prompts)).toHaveLength(643);
    expect(new Set(prompts.map((p) => p.valueId)).size).toBe(426);
    let perCategory = 0;
    let perCategoryTexts = 0;
    for (const category of categories()) {
      for (const attribute of applicable.forCategory(category.id)) {
        perCategory += attribute.values.length;
        perCategoryTexts += attribute.values.length * attribute.visual.templates.length;
      }
    }
    expect([perCategory, perCategoryTexts]).toEqual([727555, 1776913]);
    expect(categories().filter((c) => applicable.forCategory(c.id).length > 0)).toHaveLength(8349);
  });
});
