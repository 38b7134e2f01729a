/** The product catalogue's domain: the service, taxonomy checks, tagging and paging. */
export { CatalogueService, DEFAULT_CATALOGUE_LIMITS } from './service';
export type { CatalogueLimits, ImageSource, ProductHit, ProductInput, SearchQuery, UpsertResult } from './service';
export type { Connection, Edge } from './cursor';
export { FieldError } from './errors';
export { DEFAULT_FACET_TEMPLATES, facetRows, taxonomyProblems, type FacetInput, type TaxonomyLimits } from './taxonomy';
export { tagsFor, tagsForMany, type ScoredFacet, type TaggingContext } from './tagging';
export { DEFAULT_JOB_RUNNER_OPTIONS, etaSeconds, TaggingJobRunner, type JobRunnerOptions } from './jobs';
