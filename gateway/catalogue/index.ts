/** The product catalogue's domain: the service, taxonomy checks, tagging and paging. */
export { CatalogueService } from './service';
export { DEFAULT_CATALOGUE_LIMITS, type CatalogueLimits } from './limits';
export type { Embedder } from './embedder';
export type { ImageSource } from './images';
export type { ProductInput, UpsertResult } from './ingest';
export type { ProductHit } from './products';
export type { SearchQuery } from './search';
export type { Connection, Edge } from './cursor';
export { FieldError } from './errors';
export { DEFAULT_FACET_TEMPLATES, facetRows, taxonomyProblems, type FacetInput, type TaxonomyLimits } from './taxonomy';
export { MAX_BEAM_WIDTH, type TreeInput } from './taxonomy-tree';
export { tagsFor, tagsForMany, type ScoredFacet, type TaggingContext } from './tagging';
export { matrixProduct } from './matrix';
export { DEFAULT_JOB_RUNNER_OPTIONS, etaSeconds, jobRunnerFromEnv, TaggingJobRunner, type JobRunnerOptions } from './jobs';
export { followTaggingJob } from './job-progress';
export { JOB_KINDS, jobKind, type JobKind } from './job-requests';
export type { ImportFile } from './import-jobs';
export { UNDECODABLE_IMAGE_CODES, upsertLeavingOutUndecodable, type LeftOutImage } from './undecodable';
// The product files an import job reads, for the schema's enum.
export { FORMATS as IMPORT_FORMATS, type Format as ImportFormat } from '../imports';
export type { TaxonomyChange } from './taxonomy-wait';
// Shopify's category attributes: the visual ones a category has, their prompts, and their scoring from stored vectors.
export {
  ApplicableAttributes,
  AttributeDataError,
  attributePrompts,
  AttributeScorer,
  distinctPromptTexts,
  loadAttributeTaxonomy,
  VISUAL_ATTRIBUTES,
  type ApplicableAttribute,
  type AttributeProduct,
  type AttributeRescore,
  type AttributeTag,
  type AttributeTaxonomy,
  type ValuePrompts,
} from './attributes';
export * from './tree';
// The rows the service hands out and the values their modes, sources and statuses take, for the schema to
// type them and build its enums without reaching the store itself.
export {
  CHANGE_SOURCES,
  FACET_MODES,
  JOB_STATUSES,
  modelKey,
  TAG_SOURCES,
  type JobRow,
  type ModelState,
  type ProductFilter,
  type ProductRow,
  type TagChangeRow,
  type TagRow,
  type TaxonomyRow,
} from '../store';
