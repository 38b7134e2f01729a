// Picking images: drop files, paste them, choose them, or give URLs. Files travel as they are, in a
// GraphQL multipart request (api.ts); URLs are fetched by the gateway, not by this page.
import { h } from './dom';

export interface PickedImage {
  name: string;
  /** ImageInput: exactly one of the two (a file is uploaded as the request's part, api.ts). */
  input: { file: File } | { url: string };
  /** What an <img> shows: a blob: URL for a file, the URL itself otherwise. */
  preview: string;
}

export function pickedFromFile(file: File): PickedImage {
  return { name: file.name || 'pasted image', input: { file }, preview: URL.createObjectURL(file) };
}

/**
 * A picker: a drop zone that also takes a paste, a file chooser, and a URL field, with the picked
 * images as removable thumbnails. `changed` runs after every change.
 */
export function imagePicker(label: string, changed: () => void = () => {}): { element: HTMLElement; images(): PickedImage[] } {
  let picked: PickedImage[] = [];
  const list = h('ul', { class: 'thumbs', 'aria-label': `${label}: picked` });
  const render = () => {
    list.replaceChildren(
      ...picked.map((image, index) =>
        h(
          'li',
          {},
          h('img', { src: image.preview, alt: image.name }),
          h('span', { class: 'name' }, image.name),
          h('button', { type: 'button', 'aria-label': `Remove ${image.name}`, onclick: () => remove(index) }, '×'),
        ),
      ),
    );
    changed();
  };
  const remove = (index: number) => {
    const [gone] = picked.splice(index, 1);
    if (gone?.preview.startsWith('blob:')) URL.revokeObjectURL(gone.preview);
    render();
  };
  const addFiles = (files: Iterable<File>) => {
    const images = [...files].filter((f) => f.type.startsWith('image/') || f.type === '');
    picked = picked.concat(images.map(pickedFromFile));
    render();
  };
  const fileInput = h('input', {
    type: 'file',
    accept: 'image/jpeg,image/png,image/webp',
    multiple: true,
    'aria-label': `${label}: choose files`,
  });
  fileInput.addEventListener('change', () => {
    addFiles(fileInput.files ?? []);
    fileInput.value = '';
  });
  const urlInput = h('input', { type: 'url', placeholder: 'https://shop.example/image.jpg', 'aria-label': `${label}: image URL` });
  const addUrl = () => {
    const url = urlInput.value.trim();
    if (!url) return;
    picked.push({ name: url.split('/').pop() || url, input: { url }, preview: url });
    urlInput.value = '';
    render();
  };
  urlInput.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      addUrl();
    }
  });
  const zone = h(
    'div',
    { class: 'dropzone', tabindex: 0, role: 'group', 'aria-label': `${label}: drop or paste images here` },
    h('p', {}, 'Drop or paste images here, or ', h('label', { class: 'file' }, 'choose files', fileInput)),
    h('p', { class: 'url' }, urlInput, h('button', { type: 'button', onclick: addUrl }, 'Add URL')),
  );
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    if (event.dataTransfer?.files.length) addFiles(event.dataTransfer.files);
  });
  zone.addEventListener('paste', (event) => {
    const files = [...(event.clipboardData?.items ?? [])].map((item) => item.getAsFile()).filter((f): f is File => f !== null);
    if (files.length > 0) {
      event.preventDefault();
      addFiles(files);
    }
  });
  return { element: h('fieldset', { class: 'picker' }, h('legend', {}, label), zone, list), images: () => picked };
}
