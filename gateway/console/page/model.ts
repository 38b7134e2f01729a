// Model: what this gateway serves and whether it is ready.
import { graphql } from './api';
import { h, messageOf, statusLine, view } from './dom';
import { OPERATIONS } from './operations';

type ModelInfo = Record<'name' | 'dtype' | 'device' | 'backend', string> &
  Record<'dim' | 'imageSize' | 'contextLength' | 'logitScale', number>;

export function modelView(): HTMLElement {
  const status = statusLine();
  const facts = h('dl', { class: 'facts' });
  const health = h('dl', { class: 'facts', id: 'health' });
  const load = async () => {
    status.busy('Asking the gateway…');
    try {
      const [{ data }, ready] = await Promise.all([
        graphql<{ model: ModelInfo }>(OPERATIONS.Model),
        fetch('/readyz').then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, string> })),
      ]);
      const m = data!.model;
      const rows: [string, string | number][] = [
        ['name', m.name],
        ['embedding dimensions', m.dim],
        ['weights', m.dtype],
        ['device', m.device],
        ['backend', m.backend],
        ['image size', `${m.imageSize} px`],
        ['text context', `${m.contextLength} tokens`],
        ['logit scale', m.logitScale.toFixed(2)],
      ];
      facts.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
      health.replaceChildren(
        h('dt', {}, 'readiness'),
        h('dd', { class: ready.status === 200 ? 'ok' : 'error' }, `${ready.body.status} (HTTP ${ready.status})`),
        h('dt', {}, 'state'),
        h('dd', {}, ready.body.state ?? ''),
      );
      status.clear();
    } catch (error) {
      status.error(messageOf(error));
    }
  };
  void load();
  return view(
    'Model',
    status.element,
    facts,
    h('h3', {}, 'Health'),
    health,
    h('button', { type: 'button', onclick: () => void load() }, 'Refresh'),
  );
}
