/**
 * The contract of `CatalogueStore` (gateway/store/port.ts), shared by every adapter: each adapter's
 * test file calls `describeStoreContract` with a way to open a fresh, migrated, empty store. One
 * file per concern of the port; this one runs them all, in the port's order.
 */
import { activeModelContract } from './models';
import { imageVectorsContract } from './image-vectors';
import { importJobsContract } from './import-jobs';
import { inboundContract } from './inbound';
import { jobsContract } from './jobs';
import { labelVectorsContract } from './label-vectors';
import { productsContract } from './products';
import { rescoredTagsContract } from './rescored-tags';
import { retagWritesContract } from './retag-writes';
import { savingContract } from './saving';
import { schemaContract } from './schema';
import { taxonomyJobsContract } from './taxonomy-jobs';
import { searchContract } from './search';
import { tagChangesContract } from './tag-changes';
import { tagsContract } from './tags';
import { unusedImagesContract } from './unused-images';
import { webhooksContract } from './webhooks';
import type { OpenedStore, Subject } from './fixtures';

// The shared fixtures of the store tests, for the adapter-specific files.
export { cosine, seededRandom } from '../../../helpers/tiny-clip';
export { gaussian, hash, MODEL_A, MODEL_A_Q8, MODEL_B, normalise, product, SEARCH_MODEL, tag, type OpenedStore } from './fixtures';

/** A fresh store for each test of the block it is called in, cleaned up after it. */
function freshStoreEachTest(open: () => Promise<OpenedStore>): Subject {
  const subject = {} as Subject;
  beforeEach(async () => {
    subject.opened = await open();
    subject.store = subject.opened.store;
  });
  afterEach(async () => {
    await subject.opened.cleanup();
  });
  return subject;
}

/** The search part of the contract alone, for a store configured to answer searches another way. */
export function describeSearchContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`CatalogueStore search contract: ${name}`, () => searchContract(freshStoreEachTest(open)));
}

export function describeStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`CatalogueStore contract: ${name}`, () => {
    const subject = freshStoreEachTest(open);

    productsContract(subject);
    savingContract(subject);
    activeModelContract(subject);
    imageVectorsContract(subject);
    labelVectorsContract(subject);
    searchContract(subject);
    tagsContract(subject);
    tagChangesContract(subject);
    rescoredTagsContract(subject);
    retagWritesContract(subject);
    jobsContract(subject);
    taxonomyJobsContract(subject);
    importJobsContract(subject);
    unusedImagesContract(subject);
    inboundContract(subject);
    webhooksContract(subject);
    schemaContract(subject);
  });
}
