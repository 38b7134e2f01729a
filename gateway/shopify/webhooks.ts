import type { ErrorRequestHandler, RequestHandler } from 'express';

import type { Gateway } from '../gateway';
import { ShopifyInbox } from './inbox';
import { checkShopifyOptions, type ShopifyOptions } from './options';
import { DeliveryProcessor } from './process';
import { shopifyWebhookHandlers } from './webhook-route';

/**
 * The shop's webhooks on one gateway, as the host mounts them: the route that records deliveries
 * and the inbox's worker that processes them. Without a secret the route says it is off and no
 * worker runs.
 */
export class ShopifyWebhooks {
  readonly options: ShopifyOptions;
  /** Undefined when the webhooks are off. */
  readonly inbox?: ShopifyInbox;
  readonly handlers: (RequestHandler | ErrorRequestHandler)[];

  constructor(gateway: Pick<Gateway, 'store' | 'catalogue' | 'log'>, options: Partial<ShopifyOptions> = {}) {
    this.options = checkShopifyOptions(options);
    const { store, catalogue, log } = gateway;
    if (this.options.webhookSecret !== undefined) this.inbox = new ShopifyInbox(store, new DeliveryProcessor(catalogue), this.options, log);
    this.handlers = shopifyWebhookHandlers({ store, options: this.options, recorded: () => this.inbox?.wake(), log });
  }

  /** Starts processing: what was recorded before a restart first. */
  start(): void {
    this.inbox?.start();
  }

  /** Stops processing after the delivery in hand; what is left waits in the store. */
  stop(): Promise<void> {
    return this.inbox?.stop() ?? Promise.resolve();
  }
}
