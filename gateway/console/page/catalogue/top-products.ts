// The top products of each label of a facet, a grid per label.
import { firstError, graphql } from '../api';
import { h, messageOf, statusLine, titledSection } from '../dom';
import { productGrid } from './products';
import { PRODUCT_FIELDS, type Facet, type Hit, type OpenProduct } from './types';

/** Labels asked for in one request: each is an alias, and the gateway's default QUERY_MAX_ALIASES is 15. */
const ALIASES_PER_REQUEST = 10;

/** The top products of each of `labels`, an alias per label in one request: a grid's hits per label, or what failed. */
async function topOf(facet: Facet, labels: string[]): Promise<{ error?: string; hits?: Hit[][] }> {
  const fields = labels.map(
    (_, i) => `l${i}: labelTopProducts(facet: $facet, label: $l${i}, first: 6) { score product { ${PRODUCT_FIELDS} } }`,
  );
  const variables = Object.fromEntries([['facet', facet.name], ...labels.map((label, i) => [`l${i}`, label])]);
  const answer = await graphql<Record<string, Hit[]>>(
    `query Top($facet: String!, ${labels.map((_, i) => `$l${i}: String!`).join(', ')}) { ${fields.join(' ')} }`,
    variables,
  );
  return { error: firstError(answer.errors), hits: answer.data ? labels.map((_, i) => answer.data![`l${i}`] ?? []) : undefined };
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
    // Requests of ALIASES_PER_REQUEST labels (under the gateway's alias limit), side by side.
    const chunks: string[][] = [];
    for (let i = 0; i < facet.labels.length; i += ALIASES_PER_REQUEST) chunks.push(facet.labels.slice(i, i + ALIASES_PER_REQUEST));
    try {
      const answers = await Promise.all(chunks.map((labels) => topOf(facet, labels)));
      const failed = answers.find((a) => !a.hits);
      if (failed) return status.error(failed.error ?? 'No result.');
      const hits = answers.flatMap((a) => a.hits!);
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
