import { FieldError, type CatalogueLimits, type Connection, type Edge } from '../catalogue';
import { checkFirst } from '../catalogue/limits';
import { storeCall } from '../catalogue/errors';
import { tagChangeCursor } from '../catalogue/tag-changes';
import { ErrorCode } from '../common/errors';
import type { CatalogueStore, TagChangeRow, WebhookDeadLetterRow, WebhookEndpointRow } from '../store';
import { newWebhookSecret } from './sign';

/** What the webhooks' API reads and writes of the store. */
export type WebhookServiceStore = Pick<
  CatalogueStore,
  | 'createWebhookEndpoint'
  | 'listWebhookEndpoints'
  | 'deleteWebhookEndpoint'
  | 'listWebhookDeadLetters'
  | 'redeliverWebhookDeadLetters'
  | 'tagChanges'
>;

/** An endpoint as the API shows it: its position also as a cursor of the tagChanges feed. */
export type WebhookEndpointView = WebhookEndpointRow & {
  /** The tagChanges cursor of the last change this endpoint is done with: tagChanges(after: it) lists what is still to come. */
  deliveredThrough: string;
};

const viewOf = (row: WebhookEndpointRow): WebhookEndpointView => ({ ...row, deliveredThrough: tagChangeCursor(row.deliveredSeq) });

/** The longest URL an endpoint may have, in characters. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;
/** A secret given by the caller: long enough to be one, short enough to be a header's key. */
export const MIN_SECRET_LENGTH = 16;
export const MAX_SECRET_LENGTH = 256;

/** A dead letter's id as the API shows it, and as its cursor: its decimal digits. */
const ID = /^[1-9][0-9]{0,15}$/;

const bad = (field: string[], message: string) => new FieldError(field, ErrorCode.BAD_USER_INPUT, message);

/** Why `url` cannot be a webhook endpoint, naming it; undefined when it can. */
export function webhookUrlProblem(url: string): string | undefined {
  const shown = JSON.stringify(url.length > 200 ? `${url.slice(0, 200)}…` : url);
  if (url.length > MAX_WEBHOOK_URL_LENGTH) return `url: ${shown} is longer than ${MAX_WEBHOOK_URL_LENGTH} characters.`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `url: ${shown} is not an http(s) URL.`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `url: ${shown} is not an http(s) URL.`;
  // fetch refuses such URLs, and a password in a URL is shown wherever the URL is.
  if (parsed.username || parsed.password)
    return `url: the URL contains a user name or password; put credentials in the path or query, or sign with the secret.`;
  if (parsed.hash) return `url: ${shown} has a fragment (#...), which is never sent: leave it out.`;
  return undefined;
}

/**
 * Registering and looking after webhook endpoints, for the API: URLs and secrets checked with errors
 * naming them, secrets made when not given (returned once, at registration), dead letters paged
 * and queued for redelivery. Delivering is the worker's (deliveries.ts).
 */
export class WebhookService {
  constructor(
    private readonly store: WebhookServiceStore,
    private readonly limits: Pick<CatalogueLimits, 'maxFirst'>,
    /** Called when there is something new to deliver at once (the worker's wake). */
    private readonly onWork: () => void = () => undefined,
  ) {}

  /** Registers `url`, with `secret` or a new one; the only time the secret is handed out. */
  async createEndpoint(url: string, secret?: string | null): Promise<{ endpoint: WebhookEndpointView; secret: string }> {
    const trimmed = typeof url === 'string' ? url.trim() : '';
    const problem = webhookUrlProblem(trimmed);
    if (problem) throw bad(['url'], problem);
    if (secret !== undefined && secret !== null) {
      if (secret.length < MIN_SECRET_LENGTH || secret.length > MAX_SECRET_LENGTH) {
        throw bad(
          ['secret'],
          `secret: must be from ${MIN_SECRET_LENGTH} to ${MAX_SECRET_LENGTH} characters, got ${secret.length}; leave it out to have one made.`,
        );
      }
      if (!/^[\x21-\x7e]+$/.test(secret)) throw bad(['secret'], 'secret: must be printable ASCII without spaces.');
    }
    const kept = secret ?? newWebhookSecret();
    const endpoint = await storeCall(() => this.store.createWebhookEndpoint({ url: trimmed, secret: kept }));
    return { endpoint: viewOf(endpoint), secret: kept };
  }

  /** Deletes an endpoint with its dead letters; NOT_FOUND naming `id` when there is none. */
  async deleteEndpoint(id: string): Promise<string> {
    if (!(await storeCall(() => this.store.deleteWebhookEndpoint(id)))) {
      throw new FieldError(['id'], ErrorCode.NOT_FOUND, `id: there is no webhook endpoint ${JSON.stringify(id)}.`);
    }
    return id;
  }

  async endpoints(): Promise<WebhookEndpointView[]> {
    return (await storeCall(() => this.store.listWebhookEndpoints())).map(viewOf);
  }

  /** The tag change a dead letter is of, as the tagChanges feed gives it. */
  async changeOf(seq: number): Promise<Edge<TagChangeRow> | undefined> {
    const [row] = await storeCall(() => this.store.tagChanges(seq - 1, 1));
    return row?.seq === seq ? { cursor: tagChangeCursor(seq), node: row } : undefined;
  }

  /** Dead letters after the cursor (a dead letter's id), oldest first, `first` at a time. */
  async deadLetters(first: number, after?: string): Promise<Connection<WebhookDeadLetterRow>> {
    checkFirst(first, this.limits);
    if (after !== undefined && !ID.test(after))
      throw bad(['after'], `after: ${JSON.stringify(after.slice(0, 100))} is not a dead letter's cursor.`);
    const rows = await storeCall(() => this.store.listWebhookDeadLetters(first + 1, after === undefined ? undefined : Number(after)));
    const edges = rows.slice(0, first).map((node) => ({ cursor: String(node.id), node }));
    return { edges, hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor };
  }

  /**
   * Queues dead letters for redelivery, each with a fresh count of attempts; returns the ids queued.
   * Ids that name no dead letter are NOT_FOUND problems, each naming its place; the others are queued.
   */
  async redeliver(ids: string[]): Promise<{ ids: string[]; problems: FieldError[] }> {
    if (ids.length > this.limits.maxFirst) {
      throw new FieldError(['ids'], ErrorCode.INPUT_TOO_LARGE, `ids has ${ids.length} items; the limit is ${this.limits.maxFirst}.`);
    }
    const problems: FieldError[] = [];
    const wanted: number[] = [];
    ids.forEach((id, i) => {
      if (ID.test(id)) wanted.push(Number(id));
      else problems.push(bad(['ids', String(i)], `ids[${i}]: ${JSON.stringify(id.slice(0, 100))} is not a dead letter's id.`));
    });
    const queued = new Set(await storeCall(() => this.store.redeliverWebhookDeadLetters(wanted)));
    ids.forEach((id, i) => {
      if (ID.test(id) && !queued.has(Number(id))) {
        problems.push(new FieldError(['ids', String(i)], ErrorCode.NOT_FOUND, `ids[${i}]: there is no dead letter ${id}.`));
      }
    });
    if (queued.size > 0) this.onWork();
    return { ids: [...queued].map(String), problems };
  }
}
