// The operations this frontend sends, and nothing else: generate-persisted-query-manifest reads
// them from here (persisted-query-manifest.config.json) into the list a safelisting gateway runs.
// Each is a fixed gql document with a name, as a persisted query list needs.
import { gql } from '@apollo/client';

/** Each image (a File or Blob in `images[i].file`, or a url / base64) against the labels, scores best first. */
export const CLASSIFY = gql`
  query Classify($images: [ImageInput!]!, $labels: [String!]!, $topK: Int) {
    classify(images: $images, labels: $labels, topK: $topK) {
      labels {
        label
        score
        similarity
      }
    }
  }
`;

export const TAXONOMY_SET = gql`
  mutation TaxonomySet($facets: [FacetInput!]!) {
    taxonomySet(facets: $facets) {
      taxonomy {
        version
      }
      userErrors {
        field
        message
        code
      }
    }
  }
`;

/** Products with their images, which may be files too (`images: [{ file }]`). */
export const PRODUCTS_UPSERT = gql`
  mutation ProductsUpsert($products: [ProductInput!]!) {
    productsUpsert(products: $products) {
      products {
        id
        tags {
          facet
          label
          score
        }
      }
      userErrors {
        field
        message
        code
      }
    }
  }
`;

export const TAGGING_JOB_START = gql`
  mutation TaggingJobStart($idempotencyKey: String) {
    taggingJobStart(idempotencyKey: $idempotencyKey) {
      job {
        id
        status
      }
      userErrors {
        message
        code
      }
    }
  }
`;

/** A tagging job as it is, then each change of its status or counts; completes once the job has ended. */
export const FOLLOW_TAGGING_JOB = gql`
  subscription FollowTaggingJob($id: ID!) {
    taggingJob(id: $id) {
      id
      status
      total
      processed
      failed
      etaSeconds
    }
  }
`;
