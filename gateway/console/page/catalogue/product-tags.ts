// A product's tags: asked for by id, or opened from any grid or review row.
import { firstError, graphql } from '../api';
import { h, messageOf, percent, statusLine, titledSection } from '../dom';
import { OPERATIONS } from '../operations';
import { type OpenProduct, type ProductSummary, type Tag } from './types';

function tagTable(tags: Tag[]): HTMLElement {
  if (tags.length === 0) return h('p', { class: 'empty' }, 'No tags yet.');
  return h(
    'table',
    { class: 'tags' },
    h('thead', {}, h('tr', {}, ...['facet', 'label', 'score', 'similarity', 'source'].map((c) => h('th', { scope: 'col' }, c)))),
    h(
      'tbody',
      {},
      ...tags.map((t) =>
        h(
          'tr',
          { class: t.needsReview ? 'review' : '' },
          h('td', {}, t.facet),
          h('td', {}, t.label),
          h('td', {}, h('meter', { min: 0, max: 1, value: t.score, 'aria-label': `score ${percent(t.score)}` }), ' ', percent(t.score)),
          h('td', {}, t.similarity.toFixed(3)),
          h('td', {}, t.source === 'MANUAL' ? 'manual' : t.needsReview ? 'automatic, to review' : 'automatic'),
        ),
      ),
    ),
  );
}

export function productTagsPart(): { element: HTMLElement; open: OpenProduct } {
  const status = statusLine();
  const panel = h('div', { class: 'product-tags' });
  const productId = h('input', { id: 'product-id', placeholder: 'p1', 'aria-label': 'Product id' });
  const open = async (id: string) => {
    productId.value = id;
    status.busy(`Loading ${id}…`);
    try {
      const { data, errors } = await graphql<{ product: (ProductSummary & { tags: Tag[] }) | null }>(OPERATIONS.Product, { id });
      if (!data?.product) return status.error(firstError(errors) ?? `No product has the id ${JSON.stringify(id)}.`);
      const p = data.product;
      panel.replaceChildren(h('h4', {}, p.title ?? p.id, ' ', h('span', { class: 'id' }, p.id)), tagTable(p.tags));
      status.clear();
    } catch (error) {
      status.error(messageOf(error));
    }
  };
  const element = titledSection(
    'product-title',
    'A product’s tags',
    h(
      'form',
      {
        class: 'inline',
        onsubmit: (event: Event) => {
          event.preventDefault();
          if (productId.value.trim()) void open(productId.value.trim());
        },
      },
      productId,
      h('button', { type: 'submit' }, 'Show'),
    ),
    status.element,
    panel,
  );
  return { element, open };
}
