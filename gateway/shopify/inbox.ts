/**
 * The inbox's worker: every gateway with the shop's webhooks on runs one. It claims the deliveries
 * recorded (by this gateway or another sharing the store) one at a time, in the order recorded,
 * processes each, and finishes it with its outcome, or puts it back to wait with a growing pause
 * when the failure may pass (an image host down, the database busy). A gateway killed while
 * processing loses nothing: the delivery stays claimed until its lease runs out and is then
 * claimed again; processing it twice stores what processing it once did.
 */
import type { Logger } from '../common/log';
import { PollingLoop, workerName } from '../common/polling';
import type { InboundResult, InboundStore, InboundWebhookRow } from '../store';
import type { ShopifyOptions } from './options';
import type { DeliveryProcessor } from './process';

/** The pause before attempt n + 1: 1 s, 2 s, 4 s, ... at most 10 minutes. */
export function retryDelayMs(attempts: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attempts - 1), 10 * 60_000);
}

export class ShopifyInbox {
  /** This worker's name in its claims: host, process and a random suffix. */
  readonly worker = workerName();
  private readonly loop: PollingLoop;

  constructor(
    private readonly store: InboundStore,
    private readonly processor: DeliveryProcessor,
    private readonly options: Pick<ShopifyOptions, 'leaseMs' | 'maxAttempts' | 'pollMs'>,
    private readonly log: Logger = () => undefined,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.loop = new PollingLoop(() => this.drain(), options.pollMs);
  }

  start(): void {
    this.loop.start();
  }

  /** Looks for work now instead of at the next poll (a delivery was just recorded). */
  wake(): void {
    this.loop.wake();
  }

  /** Stops polling and waits for the delivery in hand to be finished. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Processes deliveries while some are due; the wait before the next look: a poll. */
  private async drain(): Promise<number> {
    try {
      while (await this.once());
    } catch (error) {
      // The claim stays; after its lease another claim (maybe this worker's) takes the delivery over.
      this.log("the shop's webhooks: a delivery could not be processed and will be tried again after its lease", error);
    }
    return this.options.pollMs;
  }

  /** Claims one delivery due and processes it. True when there was one. */
  async once(): Promise<boolean> {
    if (!this.loop.running) return false;
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
