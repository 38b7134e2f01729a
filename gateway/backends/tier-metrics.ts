import { Counter, Gauge, type Registry } from 'prom-client';

import { TIER_STATES, type BackendStatus } from './backend';

/**
 * The backend's tiers on the gateway's /metrics: which serves, each one's state, and a tiered
 * backend's totals (batches and inputs per tier, spilled inputs, seconds cold, wake calls). Read
 * from `status()` when scraped, so the backend keeps plain numbers and knows nothing of Prometheus.
 */
export function registerTierMetrics(registry: Registry, status: () => BackendStatus): void {
  new Gauge({
    name: 'clip_gateway_backend_tier_serving',
    help: 'Which backend new batches go to (1), by role (primary, spillover) and kind.',
    labelNames: ['role', 'kind'] as const,
    registers: [registry],
    collect() {
      const now = status();
      this.reset();
      for (const tier of now.tiers) this.set({ role: tier.role, kind: tier.kind }, tier.role === now.serving ? 1 : 0);
    },
  });
  new Gauge({
    name: 'clip_gateway_backend_tier_state',
    help: "Each tier's state as last seen (1 for the current one): warm, cold (no capacity), unknown, failing.",
    labelNames: ['role', 'state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const tier of status().tiers) {
        for (const state of TIER_STATES) this.set({ role: tier.role, state }, tier.state === state ? 1 : 0);
      }
    },
  });
  // Counters kept by the backend, set to their totals at each scrape.
  const total = (
    name: string,
    help: string,
    labelNames: readonly string[],
    read: (s: BackendStatus) => [Record<string, string>, number][],
  ) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, value] of read(status())) this.inc(labels, value);
      },
    });
  const entries = (record: Record<string, number> | undefined, label: string): [Record<string, string>, number][] =>
    Object.entries(record ?? {}).map(([key, value]) => [{ [label]: key }, value]);
  total('clip_gateway_backend_tier_batches_total', 'Batches sent to each tier of a tiered backend.', ['tier'], (s) =>
    entries(s.counters?.batches, 'tier'),
  );
  total('clip_gateway_backend_tier_inputs_total', 'Inputs sent to each tier of a tiered backend.', ['tier'], (s) =>
    entries(s.counters?.inputs, 'tier'),
  );
  total(
    'clip_gateway_backend_spilled_inputs_total',
    'Inputs sent to the spillover, by reason: cold (no capacity), unavailable, failover (the call failed), hedge (slow, sent to both).',
    ['reason'],
    (s) => entries(s.counters?.spilledInputs, 'reason'),
  );
  total('clip_gateway_backend_wake_calls_total', 'Wake calls sent to a primary that could not serve, by outcome.', ['outcome'], (s) =>
    entries(s.counters?.wakeCalls, 'outcome'),
  );
  total('clip_gateway_backend_primary_cold_seconds_total', 'Seconds the primary tier has spent cold since start.', [], (s) =>
    s.counters ? [[{}, s.counters.coldSeconds]] : [],
  );
}
