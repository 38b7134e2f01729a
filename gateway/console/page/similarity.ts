// Similarity: texts against images as a heatmap of cosine similarities, with the values as a table.
import { graphql } from './api';
import { heatmap } from './charts';
import { h, inputsForm, lines, messageOf, statusLine, view } from './dom';
import { imagePicker } from './images';
import { OPERATIONS } from './operations';

export function similarityView(): HTMLElement {
  const texts = h('textarea', { id: 'similarity-texts', rows: 5, placeholder: 'a red circle\na blue star' });
  const picker = imagePicker('Images');
  const status = statusLine();
  const result = h('section', { class: 'similarity', 'aria-label': 'Result' });
  const run = async (event: Event) => {
    event.preventDefault();
    const rows = lines(texts.value);
    const images = picker.images();
    if (rows.length === 0) return status.error('Enter at least one text, one per line.');
    if (images.length === 0) return status.error('Pick at least one image.');
    status.busy(
      `Comparing ${rows.length} text${rows.length === 1 ? '' : 's'} with ${images.length} image${images.length === 1 ? '' : 's'}…`,
    );
    try {
      const { data, errors } = await graphql<{ similarity: number[][] | null }>(OPERATIONS.Similarity, {
        a: rows.map((text) => ({ text })),
        b: images.map((image) => ('url' in image.input ? { imageUrl: image.input.url } : { imageFile: image.input.file })),
      });
      // Null with one error per failed input: say each, naming the image (b) or text (a).
      if (!data?.similarity) return status.error((errors ?? []).map((e) => e.message).join(' ') || 'No result.');
      const columns = images.map((_, i) => `#${i + 1}`);
      const table = h(
        'table',
        { class: 'values' },
        h('caption', {}, 'Cosine similarity'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'text'),
            ...images.map((image, i) => h('th', { scope: 'col' }, h('img', { src: image.preview, alt: image.name }), ` #${i + 1}`)),
          ),
        ),
        h(
          'tbody',
          {},
          ...rows.map((text, r) =>
            h('tr', {}, h('th', { scope: 'row' }, text), ...data.similarity![r]!.map((v) => h('td', {}, v.toFixed(4)))),
          ),
        ),
      );
      const legend = h(
        'ol',
        { class: 'columns', 'aria-label': 'Columns' },
        ...images.map((image, i) => h('li', {}, h('img', { src: image.preview, alt: '' }), `#${i + 1} ${image.name}`)),
      );
      result.replaceChildren(heatmap(rows, columns, data.similarity), legend, table);
      status.clear();
    } catch (error) {
      status.error(messageOf(error));
    }
  };
  return view(
    'Similarity',
    inputsForm(run, 'Compare', h('label', { for: 'similarity-texts' }, 'Texts, one per line (the rows)'), texts, picker.element),
    status.element,
    result,
  );
}
