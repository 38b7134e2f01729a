/**
 * The webhook delivery worker: every gateway runs one. Like the tagging job runner, it polls the
 * store and keeps nothing of its own: it claims an endpoint's next delivery (a transaction in the
 * store, under a lease), POSTs the signed event, and records what came of it. The endpoint's
 * position moves only when that record is written, after the receiver's 2xx: a gateway killed
 * between the two leaves the change to be posted again, with the same event id, by whichever
 * gateway takes the claim over once its lease runs out. At least once, never lost.
 */
import type { Logger } from '../common/log';
import type { GatewayMetrics } from '../common/metrics';
import { workerName } from '../common/polling';
import type { CatalogueStore, WebhookDelivery, WebhookOutcome } from '../store';
import { retryDelayMs } from './backoff';
import { eventRequest } from './event';
import { checkWebhookOptions, type WebhookOptions } from './options';
import { postEvent } from './post';

/** What the worker reads of the store: its webhook methods and the outbox. */
export type DeliveryStore = Pick<CatalogueStore, 'claimWebhookDelivery' | 'completeWebhookDelivery' | 'tagChanges'>;

/** What one delivery came to, as the metric counts it. */
export type DeliveryOutcome = 'delivered' | 'failed' | 'dead' | 'disabled';

export interface WebhookDeliveriesDeps {
  /** Default: nothing is logged. */
  log?: Logger;
  /** Counts each delivery's outcome (clip_gateway_webhook_deliveries_total). */
  metrics?: Pick<GatewayMetrics, 'webhookDeliveries'>;
  /** Where now comes from: claims, retry times. Default: the system clock. */
  now?: () => Date;
  /** In [0, 1): the jitter of retry waits. Default Math.random. */
  random?: () => number;
}

export class WebhookDeliveries {
  /** This worker's name in the claims it makes: host, process and a random suffix. */
  readonly worker = workerName();
  readonly options: WebhookOptions;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly random: () => number;
  private stopped = true;
  private lanes: Promise<void>[] = [];
  private abort = new AbortController();
  /** Lanes waiting for their next poll: waking them resolves these. */
  private readonly sleepers = new Set<() => void>();

  constructor(
    private readonly store: DeliveryStore,
    options: Partial<WebhookOptions> = {},
    private readonly deps: WebhookDeliveriesDeps = {},
  ) {
    this.options = checkWebhookOptions(options);
    this.log = deps.log ?? (() => undefined);
    this.now = deps.now ?? (() => new Date());
    this.random = deps.random ?? Math.random;
  }

  /** Starts `concurrency` lanes, each delivering one endpoint's change at a time. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.abort = new AbortController();
    this.lanes = Array.from({ length: this.options.concurrency }, () => this.lane());
  }

  /** Looks for deliveries now instead of at the next poll (dead letters were queued again, an endpoint was added). */
  wake(): void {
    for (const wakeUp of [...this.sleepers]) wakeUp();
  }

  /**
   * Stops: no new claim is made, and a POST in flight is cut short and recorded as an attempt to
   * be made again at once (by this gateway's next start or any other gateway: the receiver may have
   * had it, and gets it again with the same event id).
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    this.wake();
    await Promise.all(this.lanes);
    this.lanes = [];
  }

  private async lane(): Promise<void> {
    while (!this.stopped) {
      let delivered = false;
      try {
        delivered = await this.once();
      } catch (error) {
        // The claim stays; once its lease runs out, another claim (maybe this worker's) takes it over.
        this.log('webhooks: a delivery could not be recorded and will be made again after its lease', error);
      }
      if (!delivered && !this.stopped) await this.sleep(this.options.pollMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wakeUp = () => {
        clearTimeout(timer);
        this.sleepers.delete(wakeUp);
        resolve();
      };
      const timer = setTimeout(wakeUp, ms);
      this.sleepers.add(wakeUp);
    });
  }

  /** Claims, posts and records one delivery. True when there was one to make. */
  async once(): Promise<boolean> {
    const delivery = await this.store.claimWebhookDelivery(this.worker, this.now().toISOString(), this.options.leaseMs);
    if (!delivery) return false;
    const outcome = await this.attempt(delivery);
    const recorded = await this.store.completeWebhookDelivery(delivery, outcome);
    if (!recorded)
      this.log(`webhooks: event ${delivery.eventId} to ${delivery.url} was taken over by another gateway; its answer is not recorded here`);
    return true;
  }

  private async attempt(delivery: WebhookDelivery): Promise<WebhookOutcome> {
    const [change] = await this.store.tagChanges(delivery.seq - 1, 1);
    // The outbox never loses a row, so this is a store that was tampered with: nothing can be sent for it.
    if (change?.seq !== delivery.seq)
      return this.counted('dead', { kind: 'dead', error: `tag change ${delivery.seq} is not in the outbox` });
    const result = await postEvent(delivery.url, eventRequest(delivery, change), this.options.timeoutMs, this.abort.signal);
    if (result.ok) return this.counted('delivered', { kind: 'delivered' });
    const error = `attempt ${delivery.attempt}: ${result.error}`;
    if (this.abort.signal.aborted) return { kind: 'retry', error, retryAt: this.now().toISOString() };
    if (result.gone) {
      this.log(`webhooks: ${delivery.url} answered 410 Gone; the endpoint is disabled`);
      return this.counted('disabled', { kind: 'disable', error });
    }
    if (delivery.attempt >= this.options.maxAttempts) {
      this.log(
        `webhooks: event ${delivery.eventId} (tag change ${delivery.seq}) to ${delivery.url} is a dead letter after ${delivery.attempt} attempts: ${result.error}`,
      );
      return this.counted('dead', { kind: 'dead', error });
    }
    const retryAt = new Date(this.now().getTime() + retryDelayMs(delivery.attempt, this.options, this.random)).toISOString();
    return this.counted('failed', { kind: 'retry', error, retryAt });
  }

  private counted(outcome: DeliveryOutcome, result: WebhookOutcome): WebhookOutcome {
    this.deps.metrics?.webhookDeliveries.inc({ outcome });
    return result;
  }
}
