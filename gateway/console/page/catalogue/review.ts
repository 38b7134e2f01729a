// The tags awaiting review: automatic tags scored low, each confirmed or changed into a manual tag.
import { firstError, graphql } from '../api';
import { h, messageOf, percent, statusLine, titledSection } from '../dom';
import { OPERATIONS } from '../operations';
import type { Facet, OpenProduct, Tag } from './types';

/** A row's choice of label comes from the facet's labels in the taxonomy `facets` gives. */
export function reviewPart(openProduct: OpenProduct, facets: () => Facet[]): { element: HTMLElement; load(): Promise<void> } {
  const status = statusLine();
  const list = h('tbody', {});
  const load = async () => {
    try {
      const { data, errors } = await graphql<{ tagsForReview: { edges: { node: Tag }[] } }>(OPERATIONS.TagsForReview);
      if (!data) return status.error(firstError(errors) ?? 'No result.');
      const tags = data.tagsForReview.edges.map((e) => e.node);
      list.replaceChildren(...tags.map(reviewRow));
      if (tags.length === 0) list.append(h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'Nothing awaits review.')));
    } catch (error) {
      status.error(messageOf(error));
    }
  };
  const reviewRow = (tag: Tag) => {
    const labels = facets().find((f) => f.name === tag.facet)?.labels ?? [tag.label];
    const choice = h(
      'select',
      { 'aria-label': `Label for ${tag.productId} ${tag.facet}` },
      ...labels.map((l) => h('option', { value: l, selected: l === tag.label }, l)),
    );
    const save = async () => {
      status.busy(`Saving ${tag.productId}…`);
      try {
        const { data, errors } = await graphql<{ productTagsSet: { userErrors: { message: string }[] } }>(OPERATIONS.Review, {
          id: tag.productId,
          facet: tag.facet,
          labels: [choice.value],
        });
        const problem = firstError(errors, data?.productTagsSet.userErrors);
        if (problem) return status.error(problem);
        status.busy(`${tag.productId}: ${tag.facet} is now ${choice.value} (manual).`);
        await load();
      } catch (error) {
        status.error(messageOf(error));
      }
    };
    return h(
      'tr',
      {},
      h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => void openProduct(tag.productId) }, tag.productId)),
      h('td', {}, tag.facet),
      h('td', {}, `${tag.label} (${percent(tag.score)})`),
      h('td', {}, choice),
      h('td', {}, h('button', { type: 'button', onclick: () => void save() }, 'Save as manual tag')),
    );
  };
  const element = titledSection(
    'review-title',
    'Awaiting review',
    status.element,
    h(
      'table',
      { class: 'review' },
      h('thead', {}, h('tr', {}, ...['product', 'facet', 'automatic tag', 'label', ''].map((c) => h('th', { scope: 'col' }, c)))),
      list,
    ),
  );
  return { element, load };
}
