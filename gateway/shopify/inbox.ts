/**
 * The inbox's worker: every gateway with the shop's webhooks on runs one. It claims the deliveries
 * recorded (by this gateway or another sharing the store) one at a time, in the order recorded,
 * processes each, and finishes it with its outcome, or puts it back to wait with a growing pause
 * when the failure may pass (an image host down, the database busy). A gateway killed while
 * processing loses nothing: the delivery stays claimed until its lease runs out and is then
 * claimed again; processing it twice stores what processing it once did.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

import type { Logger } from '../common/log';
import type { InboundResult, InboundStore, InboundWebhookRow } from '../store';
import type { ShopifyOptions } from './options';
import type { DeliveryProcessor } from './process';

/** The pause before attempt n + 1: 1 s, 2 s, 4 s, ... at most 10 minutes. */
export function retryDelayMs(attempts: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attempts - 1), 10 * 60_000);
}

export class ShopifyInbox {
  /** This worker's name in its claims: host, process and a random suffix. */
  readonly worker = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private timer?: NodeJS.Timeout;
  private current?: Promise<void>;
  private stopped = true;
  private woken = false;

  constructor(
    private readonly store: InboundStore,
    private readonly processor: DeliveryProcessor,
    private readonly options: Pick<ShopifyOptions, 'leaseMs' | 'maxAttempts' | 'pollMs'>,
    private readonly log: Logger = () => undefined,
    private readonly now: () => Date = () => new Date(),
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Looks for work now instead of at the next poll (a delivery was just recorded). */
  wake(): void {
    if (this.current) this.woken = true;
    else this.schedule(0);
  }

  /** Stops polling and waits for the delivery in hand to be finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.current;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.current = this.drain().finally(() => (this.current = undefined));
    }, ms);
    this.timer.unref(); // the host's server keeps a gateway alive, not its idle poll
  }

  /** Processes deliveries while some are due, then waits for the next poll (or a wake). */
  private async drain(): Promise<void> {
    try {
      do this.woken = false;
      while ((await this.once()) || this.woken);
    } catch (error) {
      // The claim stays; after its lease another claim (maybe this worker's) takes the delivery over.
      this.log("the shop's webhooks: a delivery could not be processed and will be tried again after its lease", error);
    }
    this.schedule(this.options.pollMs);
  }

  /** Claims one delivery due and processes it. True when there was one. */
  async once(): Promise<boolean> {
    if (this.stopped) return false;
    const { leaseMs } = this.options;
    const delivery = await this.store.claimInboundWebhook(this.worker, this.now().toISOString(), leaseMs);
    if (!delivery) return false;
    const result = await this.attempt(delivery);
    if (result.status === 'done' && result.outcome === 'failed')
      this.log(`the shop's webhooks: ${delivery.topic} delivery ${delivery.webhookId} failed: ${result.message}`);
    await this.store.finishInboundWebhook(delivery.webhookId, delivery.claim!, result);
    return true;
  }

  private async attempt(delivery: InboundWebhookRow): Promise<InboundResult> {
    let why: string;
    try {
      const processed = await this.processor.process(delivery);
      if (!('retry' in processed)) return { status: 'done', ...processed, at: this.now().toISOString() };
      why = processed.retry;
    } catch (error) {
      why = error instanceof Error ? error.message : String(error);
    }
    if (delivery.attempts >= this.options.maxAttempts)
      return {
        status: 'done',
        outcome: 'failed',
        message: `given up after ${delivery.attempts} attempts (SHOPIFY_WEBHOOK_MAX_ATTEMPTS); the last: ${why}`,
        at: this.now().toISOString(),
      };
    return { status: 'pending', notBefore: new Date(this.now().getTime() + retryDelayMs(delivery.attempts)).toISOString(), message: why };
  }
}
