// Products as a grid of cards, as search and the top products per label show them.
import { h } from '../dom';
import type { Hit, OpenProduct } from './types';

/**
 * A product as a grid cell: its first picture that has a URL, title, score. Images sent as bytes are
 * kept by the catalogue for re-embedding but not served, so they have no URL to show: the initial stands in.
 */
function productCard(hit: Hit, open: OpenProduct): HTMLElement {
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

export function productGrid(hits: Hit[], open: OpenProduct, label: string): HTMLElement {
  if (hits.length === 0) return h('p', { class: 'empty' }, 'No products.');
  return h('ol', { class: 'products', 'aria-label': label }, ...hits.map((hit) => productCard(hit, open)));
}
