// Search the catalogue by text or by picture.
import { firstError, graphql } from '../api';
import { h, inputsForm, messageOf, statusLine, titledSection } from '../dom';
import { OPERATIONS } from '../operations';
import { imagePicker } from '../images';
import { productGrid } from './products';
import { type Hit, type OpenProduct } from './types';

export function searchPart(openProduct: OpenProduct): HTMLElement {
  const query = h('input', { id: 'search-text', type: 'search', placeholder: 'a red circle' });
  const picture = imagePicker('…or a picture');
  const status = statusLine();
  const results = h('div', { class: 'search-results' });
  const search = async (event: Event) => {
    event.preventDefault();
    const [image] = picture.images();
    const text = query.value.trim();
    if (!text && !image) return status.error('Type a text or pick a picture to search by.');
    const searchQuery = text ? { text } : { image: image!.input };
    status.busy('Searching…');
    try {
      const { data, errors } = await graphql<{ productSearch: Hit[] }>(OPERATIONS.Search, { q: searchQuery });
      if (!data?.productSearch) return status.error(firstError(errors) ?? 'No result.');
      results.replaceChildren(productGrid(data.productSearch, openProduct, 'Search results'));
      status.clear();
    } catch (error) {
      status.error(messageOf(error));
    }
  };
  return titledSection(
    'search-title',
    'Search',
    inputsForm(search, 'Search', h('label', { for: 'search-text' }, 'By text'), query, picture.element),
    status.element,
    results,
  );
}
