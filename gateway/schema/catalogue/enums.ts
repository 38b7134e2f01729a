import { registerEnumType } from 'type-graphql';

/** Values are the store's: the enum's names are what clients write. */
export enum FacetMode {
  SINGLE = 'single',
  MULTI = 'multi',
}

export enum TagSource {
  AUTO = 'auto',
  MANUAL = 'manual',
}

registerEnumType(FacetMode, {
  name: 'FacetMode',
  description: 'How a facet tags a product.',
  valuesConfig: {
    SINGLE: { description: "The facet's best label (softmax over its labels)." },
    MULTI: { description: "Every label whose score reaches the facet's threshold." },
  },
});

registerEnumType(TagSource, {
  name: 'TagSource',
  valuesConfig: {
    AUTO: { description: "Made by the gateway from the product's vector; replaced at every taxonomy change." },
    MANUAL: { description: 'Set by a person with productTagsSet; never replaced by automatic tagging.' },
  },
});

export enum JobStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

registerEnumType(JobStatus, {
  name: 'JobStatus',
  valuesConfig: {
    QUEUED: { description: 'Made; no chunk of it has been claimed yet.' },
    RUNNING: { description: 'Gateways are working through its chunks.' },
    SUCCEEDED: { description: 'Every product was handled (some may have failed: see failed and errors).' },
    FAILED: { description: 'Stopped: a chunk kept failing (see errors).' },
    CANCELLED: { description: 'Stopped by taggingJobCancel; chunks done before it keep their tags.' },
  },
});
