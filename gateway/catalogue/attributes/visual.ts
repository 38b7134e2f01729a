/**
 * Which of Shopify's attributes a product photo shows, and how to ask CLIP about each: a reviewed
 * allowlist of base attributes' handles. An attribute is here when its values are told apart by
 * looking at a catalogue photo of the product alone; everything else stays with the shop.
 *
 * Left out, with examples (NOT_VISUAL lists them for the tests to keep out):
 * - Sizes (size, shoe-size, accessory-size, bedding-size): a product photo has no scale.
 * - Who it is for (age-group, recommended-age-group, target-gender): the intended buyer, not the
 *   look; CLIP would guess from stereotypes.
 * - Facts of the offer (item-condition, care-instructions, product-certifications-standards,
 *   country, power-source, connectivity-technology, compatible devices, flavours, allergens).
 * - Looks that a single front shot rarely settles: closure-type (elastic, adjustable, none are
 *   invisible; zips and buttons are often on the back), waist-rise and fit (relative to a body
 *   that packshots do not have), jewelry-material (gold-plated and solid gold look alike).
 * - Extended attributes (band_color, upholstery_color, lens_pattern, ...): they name a part of the
 *   product, and a whole-image vector cannot tell the band's colour from the dial's. Categories that
 *   have a colour only through a part (330 of them: watches, sofas, tools' handles) get no colour.
 *
 * Prompts are per (attribute, value), never per category (see prompts.ts for the counts that
 * decide it): the templates name the attribute's kind of look with `{}` for the value's words.
 * Values named "Other" are never scored: a catch-all has no look to prompt for.
 */

export type AttributeMode = 'single' | 'multi';

export interface VisualAttribute {
  /**
   * `single` keeps the best value; `multi` keeps every value whose score reaches 1 / values (the
   * score of a value nothing sets apart), as a MULTI facet does; the best value always reaches it.
   */
  mode: AttributeMode;
  /** Prompt templates, `{}` standing for the value's words; their vectors are averaged per value. */
  templates: readonly string[];
  /** Words for values whose names read badly in the templates, by value handle; otherwise the name in lower case. */
  phrases?: Readonly<Record<string, string>>;
}

const MADE_OF = ['a photo of something made of {}.', 'a product made of {}.', '{} material.'];

/** The allowlist, by base attribute handle, each with why a photo shows it. */
export const VISUAL_ATTRIBUTES: Readonly<Record<string, VisualAttribute>> = {
  // Hue is what CLIP reads best. Multi: Shopify's color is a list, and a striped shirt is two colours.
  color: { mode: 'multi', templates: ['a photo of something {}.', 'a {} product.', 'the colour {}.'] },
  // Printed or woven motifs cover the product's surface: stripes, plaid, floral, camouflage.
  pattern: { mode: 'single', templates: ['a photo of something with a {} pattern.', 'a {} pattern.'] },
  // The surface's texture and sheen: denim, leather, knit, satin, fur (clothing, 509 categories).
  fabric: { mode: 'single', templates: MADE_OF },
  // The general material (1,532 categories: furniture, decor, toys): wood, glass, metal, ceramic.
  material: { mode: 'single', templates: MADE_OF },
  // The same for the categories whose material attribute has its own name and values.
  'footwear-material': { mode: 'single', templates: MADE_OF },
  'bag-case-material': { mode: 'single', templates: MADE_OF },
  'upholstery-material': { mode: 'single', templates: ['furniture upholstered in {}.', 'a photo of {} upholstery.'] },
  'clothing-accessory-material': { mode: 'single', templates: MADE_OF },
  'furniture-fixture-material': { mode: 'single', templates: MADE_OF },
  // The opening's outline is in every front shot of a top or dress: crew, V, boat, halter, hooded.
  neckline: { mode: 'single', templates: ['a top with a {} neckline.', 'a {} neckline.'], phrases: { 'neckline__v-neck': 'v' } },
  // How far the sleeves reach, or none: the garment's silhouette.
  'sleeve-length-type': {
    mode: 'single',
    templates: ['a garment with {}.', 'clothing with {}.'],
    phrases: {
      'sleeve-length-type__3-4': 'three-quarter sleeves',
      'sleeve-length-type__cap': 'cap sleeves',
      'sleeve-length-type__long': 'long sleeves',
      'sleeve-length-type__short': 'short sleeves',
      'sleeve-length-type__sleeveless': 'no sleeves',
      'sleeve-length-type__spaghetti-strap': 'spaghetti straps',
      'sleeve-length-type__strapless': 'no straps',
    },
  },
  // Garment lengths are silhouettes too: a crop top, capri pants, a maxi dress.
  'top-length-type': { mode: 'single', templates: ['a {} top.'] },
  'pants-length-type': { mode: 'single', templates: ['{} length pants.', 'a photo of {} trousers.'] },
  'skirt-dress-length-type': { mode: 'single', templates: ['a {} length dress.', 'a {} length skirt.'] },
  // Shoes from the side or above show the heel's height and the toe's outline.
  'heel-height-type': { mode: 'single', templates: ['a shoe with a {} heel.'] },
  'toe-style': { mode: 'single', templates: ['a shoe with a {} toe.'] },
  // The outline of the object: round, square, heart-shaped (122 categories: rugs, mirrors, tables).
  shape: { mode: 'single', templates: ['a {} object.', 'something {} in shape.'] },
};

/** Examples of attributes a photo does not show, each with why: none may enter the allowlist. */
export const NOT_VISUAL: Readonly<Record<string, string>> = {
  size: 'no scale in a product photo',
  'shoe-size': 'no scale in a product photo',
  'accessory-size': 'no scale in a product photo',
  'age-group': 'who it is for, not how it looks',
  'target-gender': 'the intended buyer; a guess from a photo would be a stereotype',
  'item-condition': 'a fact of the offer',
  'care-instructions': 'a fact of the offer',
  'power-source': 'inside the product',
  'connectivity-technology': 'inside the product',
  'closure-type': 'half its values are invisible and the rest often out of shot',
  fit: 'relative to a body that packshots lack',
  'jewelry-material': 'plated and solid metal look alike',
};

/** Values that are never scored. */
export function isScoredValue(value: { name: string }): boolean {
  return value.name !== 'Other';
}

/** The words a value stands for in its attribute's templates. */
export function valueWords(visual: VisualAttribute, value: { name: string; handle: string }): string {
  return visual.phrases?.[value.handle] ?? value.name.toLowerCase();
}
