/**
 * Taxonomy trees: Shopify's and Google's files read into a tree, the prompts of its nodes, and
 * tagging a product top-down with a beam. Pure code: the store keeps the nodes and their vectors,
 * the facets and the API wire these together.
 */
export { MAX_CATEGORY_NAME_LENGTH, parseGoogleTaxonomy, parseShopifyCategories, TAXONOMY_FORMATS, type TaxonomyFormat } from './parse';
export { DEFAULT_CONTEXT_TEMPLATE, nodeText, nodeVectors, treePrompts, type TreePromptOptions, type TreePrompts } from './prompts';
export { BUNDLED_TAXONOMIES, bundledTaxonomyDir, readBundledTaxonomy } from './bundled';
export { DEFAULT_BEAM_WIDTH, DEFAULT_TREE_BATCH_SIZE, TreeTagger, type TreeLevel, type TreeTag, type TreeTaggerOptions } from './beam';
export {
  leavesOf,
  pathOf,
  subtree,
  TaxonomyParseError,
  treeFromRows,
  TreeBuilder,
  type SubtreeOptions,
  type TaxonomyNode,
  type TaxonomyTree,
} from './tree';
