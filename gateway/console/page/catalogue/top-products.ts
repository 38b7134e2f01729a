// The top products of each label of a facet, a grid per label (one fixed operation per label, so
// that it is in the console's persisted query list).
import { firstError, graphql } from '../api';
import { h, messageOf, statusLine, titledSection } from '../dom';
import { OPERATIONS } from '../operations';
import { productGrid } from './products';
import type { Facet, Hit, OpenProduct } from './types';

/** The top products of one label: its grid's hits, or what failed. */
async function topOf(facet: Facet, label: string): Promise<{ error?: string; hits?: Hit[] }> {
  const answer = await graphql<{ labelTopProducts: Hit[] }>(OPERATIONS.TopProducts, { facet: facet.name, label });
  return { error: firstError(answer.errors), hits: answer.data?.labelTopProducts };
}

/** A request per label, at most as many at once as a browser opens connections to one host (6). */
const REQUESTS_AT_ONCE = 6;

/** `task` over every item, REQUESTS_AT_ONCE at a time; the answers in the items' order. */
async function inTurn<T, R>(items: T[], task: (item: T) => Promise<R>): Promise<R[]> {
  const answers: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      answers[i] = await task(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(REQUESTS_AT_ONCE, items.length) }, worker));
  return answers;
}

/**
 * The facet chosen from the taxonomy `facets` gives; `showFacets` fills the choice once the
 * taxonomy is read, and `status` says what went wrong reading it.
 */
export function topProductsPart(
  openProduct: OpenProduct,
  facets: () => Facet[],
): { element: HTMLElement; showFacets(): void; status: ReturnType<typeof statusLine> } {
  const facetSelect = h('select', { id: 'top-facet', 'aria-label': 'Facet' });
  const status = statusLine();
  const results = h('div', { class: 'top' });
  const showTop = async () => {
    const facet = facets().find((f) => f.name === facetSelect.value);
    if (!facet) return;
    status.busy(`Top products for ${facet.name}…`);
    try {
      const answers = await inTurn(facet.labels, (label) => topOf(facet, label));
      const failed = answers.find((a) => !a.hits);
      if (failed) return status.error(failed.error ?? 'No result.');
      const hits = answers.map((a) => a.hits!);
      results.replaceChildren(
        ...facet.labels.map((label, i) =>
          h('section', { class: 'label-top' }, h('h4', {}, label), productGrid(hits[i], openProduct, `Top products for ${label}`)),
        ),
      );
      status.clear();
    } catch (error) {
      status.error(messageOf(error));
    }
  };
  facetSelect.addEventListener('change', () => void showTop());
  const showFacets = () => {
    facetSelect.replaceChildren(...facets().map((f) => h('option', { value: f.name }, f.name)));
    if (facets().length === 0)
      status.error('No taxonomy yet: set one with the taxonomySet mutation, in GraphiQL at /graphiql or from any GraphQL client.');
    else void showTop();
  };
  const element = titledSection(
    'top-title',
    'Top products per label',
    h('p', {}, h('label', { for: 'top-facet' }, 'Facet '), facetSelect),
    status.element,
    results,
  );
  return { element, showFacets, status };
}
