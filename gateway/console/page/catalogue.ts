// Catalogue: search by text or picture, top products per label of a facet, a product's tags, the
// tags awaiting review, and tagging jobs with live progress.
import { graphql, type GraphQLErrorEntry } from './api';
import { h, messageOf, percent, statusLine } from './dom';
import { imagePicker } from './images';

const PRODUCT_FIELDS = 'id title imageUrls';

interface ProductSummary {
  id: string;
  title: string | null;
  imageUrls: (string | null)[];
}
interface Hit {
  product: ProductSummary;
  score: number;
}
interface Facet {
  name: string;
  labels: string[];
}
interface TagRow {
  productId: string;
  facet: string;
  label: string;
  score: number;
  similarity: number;
  source: 'AUTO' | 'MANUAL';
  needsReview: boolean;
}
interface Job {
  id: string;
  status: 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  total: number;
  processed: number;
  failed: number;
  etaSeconds: number | null;
  startedAt: string | null;
}

const firstError = (errors: GraphQLErrorEntry[] | undefined, userErrors: { message: string }[] = []) =>
  errors?.[0]?.message ?? userErrors[0]?.message;

/**
 * A product as a grid cell: its first picture that has a URL, title, score. Images sent as bytes are
 * kept by the catalogue for re-embedding but not served, so they have no URL to show: the initial stands in.
 */
function productCard(hit: Hit, open: (id: string) => void): HTMLElement {
  const { product } = hit;
  const picture = product.imageUrls.find((url): url is string => url !== null);
  const name = product.title ?? product.id;
  return h(
    'li',
    { class: 'product' },
    h(
      'button',
      { type: 'button', onclick: () => open(product.id), 'aria-label': `${name}, score ${hit.score.toFixed(3)}: show its tags` },
      picture
        ? h('img', { src: picture, alt: '', loading: 'lazy' })
        : h('span', { class: 'no-picture', 'aria-hidden': 'true' }, name.slice(0, 1).toUpperCase()),
      h('span', { class: 'title' }, name),
      h('span', { class: 'id' }, product.id),
      h('span', { class: 'score' }, hit.score.toFixed(3)),
    ),
  );
}

function productGrid(hits: Hit[], open: (id: string) => void, label: string): HTMLElement {
  if (hits.length === 0) return h('p', { class: 'empty' }, 'No products.');
  return h('ol', { class: 'products', 'aria-label': label }, ...hits.map((hit) => productCard(hit, open)));
}

export function catalogueView(): { element: HTMLElement; stop(): void } {
  // --- a product's tags (opened from any grid) ---
  const productStatus = statusLine();
  const productPanel = h('div', { class: 'product-tags' });
  const productId = h('input', { id: 'product-id', placeholder: 'p1', 'aria-label': 'Product id' });
  const openProduct = async (id: string) => {
    productId.value = id;
    productStatus.busy(`Loading ${id}…`);
    try {
      const { data, errors } = await graphql<{ product: (ProductSummary & { tags: TagRow[] }) | null }>(
        `query Product($id: ID!) { product(id: $id) { ${PRODUCT_FIELDS} tags { facet label score similarity source needsReview } } }`,
        { id },
      );
      if (!data?.product) return productStatus.error(firstError(errors) ?? `No product has the id ${JSON.stringify(id)}.`);
      const p = data.product;
      productPanel.replaceChildren(
        h('h4', {}, p.title ?? p.id, ' ', h('span', { class: 'id' }, p.id)),
        p.tags.length === 0
          ? h('p', { class: 'empty' }, 'No tags yet.')
          : h(
              'table',
              { class: 'tags' },
              h('thead', {}, h('tr', {}, ...['facet', 'label', 'score', 'similarity', 'source'].map((c) => h('th', { scope: 'col' }, c)))),
              h(
                'tbody',
                {},
                ...p.tags.map((t) =>
                  h(
                    'tr',
                    { class: t.needsReview ? 'review' : '' },
                    h('td', {}, t.facet),
                    h('td', {}, t.label),
                    h(
                      'td',
                      {},
                      h('meter', { min: 0, max: 1, value: t.score, 'aria-label': `score ${percent(t.score)}` }),
                      ' ',
                      percent(t.score),
                    ),
                    h('td', {}, t.similarity.toFixed(3)),
                    h('td', {}, t.source === 'MANUAL' ? 'manual' : t.needsReview ? 'automatic, to review' : 'automatic'),
                  ),
                ),
              ),
            ),
      );
      productStatus.clear();
    } catch (error) {
      productStatus.error(messageOf(error));
    }
  };

  // --- search ---
  const query = h('input', { id: 'search-text', type: 'search', placeholder: 'a red circle' });
  const picture = imagePicker('…or a picture');
  const searchStatus = statusLine();
  const searchResults = h('div', { class: 'search-results' });
  const search = async (event: Event) => {
    event.preventDefault();
    const [image] = picture.images();
    const text = query.value.trim();
    if (!text && !image) return searchStatus.error('Type a text or pick a picture to search by.');
    const searchQuery = text ? { text } : { image: image!.input };
    searchStatus.busy('Searching…');
    try {
      const { data, errors } = await graphql<{ productSearch: Hit[] }>(
        `query Search($q: SearchQuery!) { productSearch(query: $q, first: 24) { score product { ${PRODUCT_FIELDS} } } }`,
        { q: searchQuery },
      );
      if (!data?.productSearch) return searchStatus.error(firstError(errors) ?? 'No result.');
      searchResults.replaceChildren(productGrid(data.productSearch, openProduct, 'Search results'));
      searchStatus.clear();
    } catch (error) {
      searchStatus.error(messageOf(error));
    }
  };

  // --- top products per label ---
  /** Labels asked for in one request: each is an alias, and the gateway's default QUERY_MAX_ALIASES is 15. */
  const ALIASES_PER_REQUEST = 10;
  const facetSelect = h('select', { id: 'top-facet', 'aria-label': 'Facet' });
  const topStatus = statusLine();
  const topResults = h('div', { class: 'top' });
  let facets: Facet[] = [];
  const showTop = async () => {
    const facet = facets.find((f) => f.name === facetSelect.value);
    if (!facet) return;
    topStatus.busy(`Top products for ${facet.name}…`);
    // An alias per label, in requests of ALIASES_PER_REQUEST labels (under the gateway's alias limit), side by side.
    const chunks: string[][] = [];
    for (let i = 0; i < facet.labels.length; i += ALIASES_PER_REQUEST) chunks.push(facet.labels.slice(i, i + ALIASES_PER_REQUEST));
    const topOf = async (labels: string[]) => {
      const fields = labels.map(
        (_, i) => `l${i}: labelTopProducts(facet: $facet, label: $l${i}, first: 6) { score product { ${PRODUCT_FIELDS} } }`,
      );
      const variables = Object.fromEntries([['facet', facet.name], ...labels.map((label, i) => [`l${i}`, label])]);
      const answer = await graphql<Record<string, Hit[]>>(
        `query Top($facet: String!, ${labels.map((_, i) => `$l${i}: String!`).join(', ')}) { ${fields.join(' ')} }`,
        variables,
      );
      return { errors: answer.errors, hits: answer.data ? labels.map((_, i) => answer.data![`l${i}`] ?? []) : undefined };
    };
    try {
      const answers = await Promise.all(chunks.map(topOf));
      const failed = answers.find((a) => !a.hits);
      if (failed) return topStatus.error(firstError(failed.errors) ?? 'No result.');
      const hits = answers.flatMap((a) => a.hits!);
      topResults.replaceChildren(
        ...facet.labels.map((label, i) =>
          h('section', { class: 'label-top' }, h('h4', {}, label), productGrid(hits[i], openProduct, `Top products for ${label}`)),
        ),
      );
      topStatus.clear();
    } catch (error) {
      topStatus.error(messageOf(error));
    }
  };
  facetSelect.addEventListener('change', () => void showTop());

  // --- review ---
  const reviewStatus = statusLine();
  const reviewList = h('tbody', {});
  const loadReview = async () => {
    try {
      const { data, errors } = await graphql<{ tagsForReview: { edges: { node: TagRow }[] } }>(`
        {
          tagsForReview(first: 50) {
            edges {
              node {
                productId
                facet
                label
                score
                similarity
                source
                needsReview
              }
            }
          }
        }
      `);
      if (!data) return reviewStatus.error(firstError(errors) ?? 'No result.');
      const tags = data.tagsForReview.edges.map((e) => e.node);
      reviewList.replaceChildren(...tags.map(reviewRow));
      if (tags.length === 0) reviewList.append(h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'Nothing awaits review.')));
    } catch (error) {
      reviewStatus.error(messageOf(error));
    }
  };
  const reviewRow = (tag: TagRow) => {
    const labels = facets.find((f) => f.name === tag.facet)?.labels ?? [tag.label];
    const choice = h(
      'select',
      { 'aria-label': `Label for ${tag.productId} ${tag.facet}` },
      ...labels.map((l) => h('option', { value: l, selected: l === tag.label }, l)),
    );
    const save = async () => {
      reviewStatus.busy(`Saving ${tag.productId}…`);
      try {
        const { data, errors } = await graphql<{ productTagsSet: { userErrors: { message: string }[] } }>(
          `
            mutation Review($id: ID!, $facet: String!, $labels: [String!]!) {
              productTagsSet(productId: $id, facet: $facet, labels: $labels) {
                userErrors {
                  message
                }
              }
            }
          `,
          { id: tag.productId, facet: tag.facet, labels: [choice.value] },
        );
        const problem = firstError(errors, data?.productTagsSet.userErrors);
        if (problem) return reviewStatus.error(problem);
        reviewStatus.busy(`${tag.productId}: ${tag.facet} is now ${choice.value} (manual).`);
        await loadReview();
      } catch (error) {
        reviewStatus.error(messageOf(error));
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

  // --- jobs ---
  const jobsStatus = statusLine();
  const jobList = h('ul', { class: 'jobs', 'aria-label': 'Tagging jobs' });
  let poll: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const loadJobs = async () => {
    clearTimeout(poll);
    try {
      const { data, errors } = await graphql<{ taggingJobs: Job[] }>(`
        {
          taggingJobs(first: 10) {
            id
            status
            total
            processed
            failed
            etaSeconds
            startedAt
          }
        }
      `);
      if (!data) return jobsStatus.error(firstError(errors) ?? 'No result.');
      jobList.replaceChildren(...data.taggingJobs.map(jobItem));
      if (data.taggingJobs.length === 0) jobList.append(h('li', { class: 'empty' }, 'No jobs yet.'));
      // Live while something runs; quiet otherwise.
      if (!stopped && data.taggingJobs.some((j) => j.status === 'QUEUED' || j.status === 'RUNNING'))
        poll = setTimeout(() => void loadJobs(), 1000);
    } catch (error) {
      jobsStatus.error(messageOf(error));
    }
  };
  const jobItem = (job: Job) => {
    const active = job.status === 'QUEUED' || job.status === 'RUNNING';
    const done = job.processed + job.failed;
    const cancel = async () => {
      const { data, errors } = await graphql<{ taggingJobCancel: { userErrors: { message: string }[] } }>(
        `
          mutation Cancel($id: ID!) {
            taggingJobCancel(id: $id) {
              userErrors {
                message
              }
            }
          }
        `,
        { id: job.id },
      );
      const problem = firstError(errors, data?.taggingJobCancel.userErrors);
      if (problem) jobsStatus.error(problem);
      await loadJobs();
    };
    return h(
      'li',
      { class: `job ${job.status.toLowerCase()}` },
      h('progress', { max: Math.max(1, job.total), value: done, 'aria-label': `Job ${job.id}: ${done} of ${job.total}` }),
      h(
        'span',
        {},
        `${job.status.toLowerCase()} · ${done} / ${job.total}`,
        job.failed > 0 ? ` · ${job.failed} failed` : '',
        job.etaSeconds !== null ? ` · about ${Math.ceil(job.etaSeconds)} s left` : '',
      ),
      h('span', { class: 'id' }, job.id),
      active ? h('button', { type: 'button', onclick: () => void cancel() }, 'Cancel') : null,
    );
  };
  const startJob = async () => {
    jobsStatus.busy('Starting a re-tagging job…');
    try {
      const { data, errors } = await graphql<{ taggingJobStart: { userErrors: { message: string }[] } }>(`
        mutation {
          taggingJobStart {
            job {
              id
            }
            userErrors {
              message
            }
          }
        }
      `);
      const problem = firstError(errors, data?.taggingJobStart.userErrors);
      if (problem) return jobsStatus.error(problem);
      jobsStatus.clear();
      await loadJobs();
    } catch (error) {
      jobsStatus.error(messageOf(error));
    }
  };

  const loadTaxonomy = async () => {
    try {
      const { data } = await graphql<{ taxonomy: { facets: Facet[] } | null }>(`
        {
          taxonomy {
            facets {
              name
              labels
            }
          }
        }
      `);
      facets = data?.taxonomy?.facets ?? [];
      facetSelect.replaceChildren(...facets.map((f) => h('option', { value: f.name }, f.name)));
      if (facets.length === 0)
        topStatus.error('No taxonomy yet: set one with the taxonomySet mutation, in GraphiQL at /graphiql or from any GraphQL client.');
      else void showTop();
      void loadReview();
    } catch (error) {
      topStatus.error(messageOf(error));
    }
  };
  void loadTaxonomy();
  void loadJobs();

  const element = h(
    'section',
    { class: 'view catalogue' },
    h('h2', {}, 'Catalogue'),
    h(
      'section',
      { 'aria-labelledby': 'search-title' },
      h('h3', { id: 'search-title' }, 'Search'),
      h(
        'form',
        { class: 'inputs', onsubmit: search },
        h('label', { for: 'search-text' }, 'By text'),
        query,
        picture.element,
        h('button', { type: 'submit' }, 'Search'),
      ),
      searchStatus.element,
      searchResults,
    ),
    h(
      'section',
      { 'aria-labelledby': 'top-title' },
      h('h3', { id: 'top-title' }, 'Top products per label'),
      h('p', {}, h('label', { for: 'top-facet' }, 'Facet '), facetSelect),
      topStatus.element,
      topResults,
    ),
    h(
      'section',
      { 'aria-labelledby': 'product-title' },
      h('h3', { id: 'product-title' }, 'A product’s tags'),
      h(
        'form',
        {
          class: 'inline',
          onsubmit: (event: Event) => {
            event.preventDefault();
            if (productId.value.trim()) void openProduct(productId.value.trim());
          },
        },
        productId,
        h('button', { type: 'submit' }, 'Show'),
      ),
      productStatus.element,
      productPanel,
    ),
    h(
      'section',
      { 'aria-labelledby': 'review-title' },
      h('h3', { id: 'review-title' }, 'Awaiting review'),
      reviewStatus.element,
      h(
        'table',
        { class: 'review' },
        h('thead', {}, h('tr', {}, ...['product', 'facet', 'automatic tag', 'label', ''].map((c) => h('th', { scope: 'col' }, c)))),
        reviewList,
      ),
    ),
    h(
      'section',
      { 'aria-labelledby': 'jobs-title' },
      h('h3', { id: 'jobs-title' }, 'Tagging jobs'),
      h('button', { type: 'button', onclick: () => void startJob() }, 'Re-tag every product'),
      jobsStatus.element,
      jobList,
    ),
  );
  return {
    element,
    stop() {
      stopped = true;
      clearTimeout(poll);
    },
  };
}
