// Catalogue: search by text or picture, top products per label of a facet, a product's tags, the
// tags awaiting review, and tagging jobs with live progress.
import { graphql } from '../api';
import { messageOf, view } from '../dom';
import { OPERATIONS } from '../operations';
import { jobsPart } from './jobs';
import { productTagsPart } from './product-tags';
import { reviewPart } from './review';
import { searchPart } from './search';
import { topProductsPart } from './top-products';
import type { Facet } from './types';

export function catalogueView(): { element: HTMLElement; stop(): void } {
  // The taxonomy, read once: the top products' facets and the review's choice of labels.
  let facets: Facet[] = [];
  const productTags = productTagsPart();
  const search = searchPart(productTags.open);
  const top = topProductsPart(productTags.open, () => facets);
  const review = reviewPart(productTags.open, () => facets);
  const jobs = jobsPart();

  const loadTaxonomy = async () => {
    try {
      const { data } = await graphql<{ taxonomy: { facets: Facet[] } | null }>(OPERATIONS.Taxonomy);
      facets = data?.taxonomy?.facets ?? [];
      top.showFacets();
      void review.load();
    } catch (error) {
      top.status.error(messageOf(error));
    }
  };
  void loadTaxonomy();
  void jobs.load();

  const element = view('Catalogue', search, top.element, productTags.element, review.element, jobs.element);
  element.classList.add('catalogue');
  return { element, stop: jobs.stop };
}
