// `npm run catalogue -- taxonomy`: a taxonomy tree as a TREE facet of a running gateway.
export { runTaxonomyCommand, TAXONOMY_HELP, TAXONOMY_USAGE, TaxonomyUsageError } from './command';
export { guessFormat } from './source';
