/**
 * Shopify's category attributes as facets gated by category: the taxonomy's attributes and their
 * links to categories (load, link), the visual ones a product's category has (applies), the prompts
 * of their values (prompts) and their scoring from stored vectors (score).
 */
export { loadAttributeTaxonomy, SHIPPED_SHOPIFY_TAXONOMY } from './load';
export { AttributeDataError, type SourceText } from './parse';
export {
  friendlyId,
  linkAttributeTaxonomy,
  type AttributeCategory,
  type AttributeLink,
  type AttributeSources,
  type AttributeTaxonomy,
  type AttributeValue,
  type TaxonomyAttribute,
} from './taxonomy';
export { NOT_VISUAL, VISUAL_ATTRIBUTES, type AttributeMode, type VisualAttribute } from './visual';
export { ApplicableAttributes, CATEGORY_GID_PREFIX, type ApplicableAttribute } from './applies';
export { attributePrompts, distinctPromptTexts, type ValuePrompts } from './prompts';
export { AttributeScorer, type AttributeProduct, type AttributeRescore, type AttributeScorerOptions, type AttributeTag } from './score';
