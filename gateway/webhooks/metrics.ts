import { Gauge, type Registry } from 'prom-client';

import type { CatalogueStore } from '../store';

/**
 * Gauges of every endpoint's state, read from the store at each scrape (any gateway on it may have
 * moved them): dead letters not queued for redelivery, and changes not yet delivered (the lag).
 * Labelled by endpoint id: endpoints are few, registered by an admin. A scrape while the store is
 * unavailable leaves the gauges as they were.
 */
export function registerWebhookMetrics(registry: Registry, store: Pick<CatalogueStore, 'listWebhookEndpoints'>): void {
  let latest: Promise<Awaited<ReturnType<typeof store.listWebhookEndpoints>> | undefined> | undefined;
  // One read of the store per scrape, shared by both gauges.
  const endpoints = () => {
    latest ??= store
      .listWebhookEndpoints()
      .catch(() => undefined)
      .finally(() => setImmediate(() => (latest = undefined)));
    return latest;
  };
  const gauge = (name: string, help: string, value: (e: { pending: number; deadLetters: number }) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['endpoint'] as const,
      registers: [registry],
      async collect() {
        const rows = await endpoints();
        if (!rows) return;
        this.reset();
        for (const row of rows) this.set({ endpoint: row.id }, value(row));
      },
    });
  gauge(
    'clip_gateway_webhook_dead_letters',
    'Tag changes an endpoint gave up on after its attempts and that are not queued for redelivery, by endpoint id.',
    (e) => e.deadLetters,
  );
  gauge(
    'clip_gateway_webhook_lag',
    'Tag changes not yet delivered to an endpoint (with dead letters queued for redelivery), by endpoint id.',
    (e) => e.pending,
  );
}
