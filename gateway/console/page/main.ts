// The web console: one page, a view per hash (#classify, #similarity, #catalogue, #model).
import './console.css';

import { apiKey, onKeyNeeded } from './api';
import { catalogueView } from './catalogue';
import { classifyView } from './classify';
import { modelView } from './model';
import { similarityView } from './similarity';

const VIEWS = {
  classify: () => ({ element: classifyView(), stop() {} }),
  similarity: () => ({ element: similarityView(), stop() {} }),
  catalogue: catalogueView,
  model: () => ({ element: modelView(), stop() {} }),
};
type ViewName = keyof typeof VIEWS;

const main = document.getElementById('view')!;
let current: { stop(): void } | undefined;

function show(): void {
  const name = (location.hash.slice(1) in VIEWS ? location.hash.slice(1) : 'classify') as ViewName;
  current?.stop();
  const view = VIEWS[name]();
  current = view;
  main.replaceChildren(view.element);
  for (const link of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    if (link.getAttribute('href') === `#${name}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `CLIP gateway · ${name}`;
}

// The key dialog: opened when the gateway refuses a request for want of a key, or from the header.
const dialog = document.getElementById('key-dialog') as HTMLDialogElement;
const keyInput = document.getElementById('key-input') as HTMLInputElement;
const keyButton = document.getElementById('key-button') as HTMLButtonElement;
const keyReason = document.getElementById('key-reason')!;
keyButton.hidden = apiKey.get() === null;

let asking: Promise<boolean> | undefined;

/** Requests refused at the same time share one question. */
function askForKey(reason: string): Promise<boolean> {
  asking ??= ask(reason).finally(() => (asking = undefined));
  return asking;
}

function ask(reason: string): Promise<boolean> {
  keyReason.textContent = reason;
  keyInput.value = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        if (dialog.returnValue === 'save' && keyInput.value.trim()) apiKey.set(keyInput.value.trim());
        else if (dialog.returnValue === 'forget') apiKey.forget();
        keyButton.hidden = apiKey.get() === null;
        resolve(dialog.returnValue === 'save' && apiKey.get() !== null);
      },
      { once: true },
    );
  });
}
onKeyNeeded(askForKey);
keyButton.addEventListener('click', () => void askForKey('Change or forget the API key this tab uses.'));

window.addEventListener('hashchange', show);
show();
