/**
 * The texts CLIP embeds for attribute values: per (attribute, value), the attribute's templates
 * with the value's words. The caller embeds them and averages each value's vectors into one unit
 * vector (prompt ensembling, as a facet's labels are), keyed by the value's id.
 *
 * Why not per category ("a photo of a red T-shirt"), which reads better to CLIP: over the whole
 * Shopify tree that is one prompt set per (category, attribute, value). With the allowlist of
 * visual.ts, 7,979 categories have Color and Pattern alone, and the count (asserted in
 * test/gateway/catalogue/attributes/shipped.test.ts) goes from 426 values and 643 distinct texts
 * to 727,555 (category, attribute, value) sets and 1,776,913 texts: 2,700 times the label-vector
 * job, for every model. Per vertical would still be 4,518 sets, and a vertical's name ("Home &
 * Garden") says little about a product. The category is already known when attributes are scored,
 * so the prompt need not say what the product is: it only has to set one attribute's values apart.
 * Materials share their templates, so a material in several attributes is one text (1,120 → 643).
 */
import type { ApplicableAttributes } from './applies';
import { valueWords } from './visual';

export interface ValuePrompts {
  /** The attribute's handle. */
  attribute: string;
  /** `gid://shopify/TaxonomyValue/...`: the key of the value's vector. */
  valueId: string;
  valueName: string;
  /** One text per template of the attribute. */
  texts: readonly string[];
}

/** The prompts of every value of every visual attribute that some category has, attribute by attribute. */
export function attributePrompts(applicable: ApplicableAttributes): ValuePrompts[] {
  return applicable.attributes.flatMap((attribute) =>
    attribute.values.map((value) => {
      const words = valueWords(attribute.visual, value);
      return {
        attribute: attribute.handle,
        valueId: value.id,
        valueName: value.name,
        texts: attribute.visual.templates.map((template) => template.replaceAll('{}', () => words)),
      };
    }),
  );
}

/** Each text once, in first-seen order: what a batch of text embeddings needs (values may share texts). */
export function distinctPromptTexts(prompts: readonly ValuePrompts[]): string[] {
  return [...new Set(prompts.flatMap((p) => p.texts))];
}
