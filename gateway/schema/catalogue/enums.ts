import { registerEnumType } from 'type-graphql';

import { CHANGE_SOURCES, FACET_MODES, JOB_KINDS, JOB_STATUSES, TAG_SOURCES, type ImportFormat as Format } from '../../catalogue';
import { graphqlEnum } from '../enum';

/** Values are the store's: the enum's names are what clients write. */
export const FacetMode = graphqlEnum('FacetMode', FACET_MODES, {
  description: 'How a facet tags a product.',
  valuesConfig: {
    SINGLE: { description: "The facet's best label (softmax over its labels)." },
    MULTI: { description: "Every label whose score reaches the facet's threshold." },
    TREE: {
      description:
        "A path down the facet's taxonomy (tree), found with a beam from the top: one tag a level, each labelled with the category's id.",
    },
  },
});
export type FacetMode = (typeof FACET_MODES)[number];

export const TagSource = graphqlEnum('TagSource', TAG_SOURCES, {
  valuesConfig: {
    AUTO: { description: "Made by the gateway from the product's vector; replaced at every taxonomy change." },
    MANUAL: { description: 'Set by a person with productTagsSet; never replaced by automatic tagging.' },
  },
});
export type TagSource = (typeof TAG_SOURCES)[number];

export const TagChangeSource = graphqlEnum('TagChangeSource', CHANGE_SOURCES, {
  valuesConfig: {
    AUTO: { description: 'The automatic tagging of an upsert.' },
    MANUAL: { description: 'productTagsSet.' },
    JOB: { description: 'A tagging job: re-tagging (a taxonomy change queues one over every product), re-embedding, or a model change.' },
  },
});
export type TagChangeSource = (typeof CHANGE_SOURCES)[number];

export const JobKind = graphqlEnum('JobKind', JOB_KINDS, {
  description: 'What a job does; its total and processed count products, or prompts for TAXONOMY.',
  valuesConfig: {
    TAGGING: { description: 'Re-tags products from their stored vectors (taggingJobStart, or queued by a taxonomy change).' },
    REEMBEDDING: { description: "Embeds products' images again (URLs fetched again), then re-tags them (taggingJobStart with reembed)." },
    MODEL_CHANGE: { description: 'Embeds every product with a new model, then switches the catalogue over to it (changesModel).' },
    TAXONOMY: {
      description:
        'Embeds the label prompts of a taxonomySet that the store lacks, then sets the taxonomy and queues a TAGGING job over every product.',
    },
    IMPORT: { description: "Upserts the products of a file given to productsImport (a shop's export), with their images and tags." },
  },
});
export type JobKind = (typeof JOB_KINDS)[number];

/**
 * The files productsImport reads. The catalogue names them as the import command's --format does
 * (`shopify-csv`), which GraphQL cannot spell: the names are written out here, each with its value.
 */
export const ImportFormat = {
  SHOPIFY_CSV: 'shopify-csv',
  MERCHANT_TSV: 'merchant-tsv',
  MERCHANT_XML: 'merchant-xml',
  JSONL: 'jsonl',
  CSV: 'csv',
} as const satisfies Record<string, Format>;
export type ImportFormat = Format;
registerEnumType(ImportFormat, {
  name: 'ImportFormat',
  description: 'The format of a file productsImport reads.',
  valuesConfig: {
    SHOPIFY_CSV: {
      description:
        "Shopify's product CSV export, either generation of headers (Handle, Image Src, ... or URL handle, Product image URL, ...): one product per handle.",
    },
    MERCHANT_TSV: { description: 'A Google Merchant Center text feed (tab-separated, with a header row): items grouped by item_group_id.' },
    MERCHANT_XML: {
      description: 'A Google Merchant Center XML feed (RSS 2.0 or Atom 1.0, the g: namespace): items grouped by item_group_id.',
    },
    JSONL: {
      description: 'JSON Lines, one product a line, as productsUpsert takes it: {"id", "title", "description", "images", "attributes"}.',
    },
    CSV: {
      description: 'CSV with the columns id, title, description, images (URLs separated by spaces or |) and attributes (a JSON object).',
    },
  },
});

export const JobStatus = graphqlEnum('JobStatus', JOB_STATUSES, {
  valuesConfig: {
    QUEUED: { description: 'Made; no chunk of it has been claimed yet.' },
    RUNNING: { description: 'Gateways are working through its chunks.' },
    SUCCEEDED: { description: 'Every product was handled (some may have failed: see failed and errors).' },
    FAILED: { description: 'Stopped: a chunk kept failing (see errors).' },
    CANCELLED: { description: 'Stopped by taggingJobCancel; chunks done before it keep their tags.' },
  },
});
export type JobStatus = (typeof JOB_STATUSES)[number];
