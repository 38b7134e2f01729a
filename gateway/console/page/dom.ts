// Small DOM helpers: elements from tags, attributes and children, and a status line per view.

export type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | undefined | null | EventListener>;

/** An element: `on*` attributes become listeners, `true` an empty attribute, false/null/undefined none. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value === 'function') element.addEventListener(name.slice(2).toLowerCase(), value);
    else if (value === true) element.setAttribute(name, '');
    else if (value !== false && value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  element.append(
    ...children
      .filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false)
      .map((c) => (typeof c === 'number' ? String(c) : c)),
  );
  return element;
}

/** A view of the console: its title above what it shows. */
export function view(title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'view' }, h('h2', {}, title), ...children);
}

/** The form a view asks with: its fields, then the button that sends them. */
export function inputsForm(onsubmit: (event: Event) => void, submit: string, ...fields: Child[]): HTMLFormElement {
  return h('form', { class: 'inputs', onsubmit }, ...fields, h('button', { type: 'submit' }, submit));
}

/** A part of a view, named by its heading (for screen readers' landmarks as much as for eyes). */
export function titledSection(id: string, title: string, ...children: Child[]): HTMLElement {
  return h('section', { 'aria-labelledby': id }, h('h3', { id }, title), ...children);
}

/** A live region that says what is happening or what went wrong, for eyes and screen readers. */
export function statusLine(): { element: HTMLElement; busy(text: string): void; error(text: string): void; clear(): void } {
  const element = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  return {
    element,
    busy(text) {
      element.className = 'status busy';
      element.textContent = text;
    },
    error(text) {
      element.className = 'status error';
      element.textContent = text;
    },
    clear() {
      element.className = 'status';
      element.textContent = '';
    },
  };
}

/** Lines of a textarea, trimmed, empty ones dropped. */
export function lines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

/** A score as the console shows it everywhere: 0.9134 → "91.3%". */
export const percent = (score: number) => `${(score * 100).toFixed(1)}%`;

/** What a failure says, whatever was thrown. */
export const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
