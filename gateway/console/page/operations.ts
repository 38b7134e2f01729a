// Every GraphQL operation the console sends, and nothing else: the build writes them into
// dist/console/persisted-query-manifest.json (Apollo's persisted query list format), so that a
// gateway run with PERSISTED_QUERIES=safelist and that list serves the console. Each is fixed
// text: an operation made up at run time could not be in a list.
import { PRODUCT_FIELDS } from './catalogue/types';

export const OPERATIONS = {
  Model: `query Model { model { name dim dtype device backend imageSize contextLength logitScale } }`,
  Classify: `query Classify($images: [ImageInput!]!, $labels: [String!]!, $templates: [String!]) {
  classify(images: $images, labels: $labels, templates: $templates) { labels { label score similarity } }
}`,
  Similarity: `query Similarity($a: [MediaInput!]!, $b: [MediaInput!]!) { similarity(a: $a, b: $b) }`,
  Taxonomy: `query Taxonomy { taxonomy { facets { name labels } } }`,
  Product: `query Product($id: ID!) { product(id: $id) { ${PRODUCT_FIELDS} tags { facet label score similarity source needsReview } } }`,
  Search: `query Search($q: SearchQuery!) { productSearch(query: $q, first: 24) { score product { ${PRODUCT_FIELDS} } } }`,
  TopProducts: `query TopProducts($facet: String!, $label: String!) {
  labelTopProducts(facet: $facet, label: $label, first: 6) { score product { ${PRODUCT_FIELDS} } }
}`,
  TagsForReview: `query TagsForReview { tagsForReview(first: 50) { edges { node { productId facet label score similarity source needsReview } } } }`,
  Review: `mutation Review($id: ID!, $facet: String!, $labels: [String!]!) {
  productTagsSet(productId: $id, facet: $facet, labels: $labels) { userErrors { message } }
}`,
  TaggingJobs: `query TaggingJobs { taggingJobs(first: 10) { id status total processed failed etaSeconds startedAt } }`,
  TaggingJobStart: `mutation TaggingJobStart { taggingJobStart { job { id } userErrors { message } } }`,
  TaggingJobCancel: `mutation TaggingJobCancel($id: ID!) { taggingJobCancel(id: $id) { userErrors { message } } }`,
  FollowTaggingJob: `subscription FollowTaggingJob($id: ID!) { taggingJob(id: $id) { id status total processed failed etaSeconds startedAt } }`,
} as const;

/** The text of one of the console's operations: what api.ts's graphql() and subscribe() send. */
export type Operation = (typeof OPERATIONS)[keyof typeof OPERATIONS];
