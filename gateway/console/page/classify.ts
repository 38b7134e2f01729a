// Classify: images against labels (and optional templates), one card per image with its bar chart.
import { errorAt, graphql } from './api';
import { labelBars } from './charts';
import { h, inputsForm, lines, messageOf, percent, statusLine, view } from './dom';
import { imagePicker, type PickedImage } from './images';
import { OPERATIONS } from './operations';

interface Classification {
  labels: { label: string; score: number; similarity: number }[];
}

/** One image's card: the picture, its bar chart and the same scores as text; or its own error. */
function card(image: PickedImage, result: Classification | null, error: string | undefined): HTMLElement {
  const heading = h('h3', {}, image.name);
  if (!result) {
    return h(
      'article',
      { class: 'card failed' },
      h('img', { src: image.preview, alt: image.name }),
      heading,
      h('p', { class: 'error', role: 'alert' }, error ?? 'No result for this image.'),
    );
  }
  return h(
    'article',
    { class: 'card' },
    h('img', { src: image.preview, alt: image.name }),
    heading,
    labelBars(result.labels, image.name),
    h(
      'ol',
      { class: 'scores' },
      ...result.labels.map((s) =>
        h('li', {}, h('span', { class: 'label' }, s.label), ' ', h('span', { class: 'score' }, percent(s.score))),
      ),
    ),
  );
}

export function classifyView(): HTMLElement {
  const picker = imagePicker('Images');
  const labels = h('textarea', { id: 'classify-labels', rows: 5, placeholder: 'red circle\nblue star\ngreen square', required: true });
  const templates = h('textarea', { id: 'classify-templates', rows: 2, placeholder: 'a photo of a {}.' });
  const status = statusLine();
  const results = h('section', { class: 'cards', 'aria-label': 'Results' });
  const run = async (event: Event) => {
    event.preventDefault();
    const images = picker.images();
    const labelList = lines(labels.value);
    const templateList = lines(templates.value);
    if (images.length === 0) return status.error('Pick at least one image.');
    if (labelList.length === 0) return status.error('Enter at least one label, one per line.');
    status.busy(`Classifying ${images.length} image${images.length === 1 ? '' : 's'}…`);
    try {
      const { data, errors } = await graphql<{ classify: (Classification | null)[] | null }>(OPERATIONS.Classify, {
        images: images.map((image) => image.input),
        labels: labelList,
        templates: templateList.length > 0 ? templateList : null,
      });
      if (!data?.classify) return status.error(errors?.[0]?.message ?? 'No result.');
      results.replaceChildren(...images.map((image, i) => card(image, data.classify![i] ?? null, errorAt(errors, 'classify', i))));
      status.clear();
    } catch (error) {
      status.error(messageOf(error));
    }
  };
  return view(
    'Classify',
    inputsForm(
      run,
      'Classify',
      picker.element,
      h('label', { for: 'classify-labels' }, 'Labels, one per line'),
      labels,
      h('label', { for: 'classify-templates' }, 'Templates, one per line, {} for the label (optional)'),
      templates,
    ),
    status.element,
    results,
  );
}
