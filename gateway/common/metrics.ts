import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
} from 'prom-client';

/** Seconds, for waits and steps that take from half a millisecond to a second. */
const SUB_SECOND_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/**
 * What a metric says of itself (help, a histogram's buckets). Its name and labels come first, on
 * the declaration's own line, so that the declarations read as the series they make: `name{labels}`.
 */
type Described<Config> = Omit<Config, 'name' | 'labelNames' | 'registers'>;

/** The gateway's Prometheus metrics, on a registry of its own (one per gateway instance). */
export class GatewayMetrics {
  readonly registry = new Registry();

  readonly requests = this.counter('clip_gateway_graphql_requests_total', ['operation'], {
    help: 'GraphQL operations received, by operation name.',
  });
  readonly errors = this.counter('clip_gateway_graphql_errors_total', ['code'], {
    help: 'Errors returned to clients, by extensions.code.',
  });
  readonly batchSize = this.histogram('clip_gateway_batch_size', ['kind'], {
    help: 'Inputs per batch sent to the inference backend.',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
  });
  readonly queueDelay = this.histogram('clip_gateway_queue_delay_seconds', ['kind'], {
    help: 'Time an input waited in the shared batcher before its batch was sent.',
    buckets: SUB_SECOND_BUCKETS,
  });
  readonly inference = this.histogram('clip_gateway_inference_seconds', ['kind', 'outcome'], {
    help: 'Time the inference backend took for one batch.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  readonly imagePreprocess = this.histogram('clip_gateway_image_preprocess_seconds', [], {
    help: 'Time to decode, orient, resize and crop one image (sharp), before it is queued.',
    buckets: SUB_SECOND_BUCKETS,
  });
  readonly cacheLookups = this.counter('clip_gateway_cache_lookups_total', ['cache', 'result'], {
    help: 'Embedding cache lookups, by cache (text, image) and result (hit, miss).',
  });
  readonly shed = this.counter('clip_gateway_requests_shed_total', ['reason'], {
    help: 'Requests refused whole before they ran, by reason (overloaded, rate_limited, query_limit).',
  });
  readonly inputsDropped = this.counter('clip_gateway_inputs_dropped_total', ['kind', 'reason'], {
    help: 'Inputs that left the queue before inference, by kind and reason (deadline: every waiter past its deadline; gone: every client hung up; overloaded: over the bound on image bytes held).',
  });
  readonly admittedInputs = this.gauge('clip_gateway_admitted_inputs', ['kind'], {
    help: 'Inference inputs of admitted requests not yet answered, by kind (image, text, prompt).',
  });
  readonly admittedSeconds = this.gauge('clip_gateway_admitted_seconds', [], {
    help: 'Seconds of inference the admitted requests need, at the measured cost per input: what admission control weighs against deadlines.',
  });
  readonly webhookDeliveries = this.counter('clip_gateway_webhook_deliveries_total', ['outcome'], {
    help: 'Webhook delivery attempts by this gateway, by outcome (delivered: a 2xx; failed: to be retried; dead: the last attempt failed; disabled: 410 Gone).',
  });

  constructor() {
    // Event-loop delay sampled every millisecond (prom-client's default is 10 ms, and every
    // reading then includes those 10 ms): inference must never block the loop, and this shows it.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 1 });
    const lookups = this.cacheLookups;
    this.gauge('clip_gateway_cache_hit_ratio', ['cache'], {
      help: 'Hits over lookups since start, by cache.',
      async collect() {
        const values = (await lookups.get()).values;
        for (const cache of ['text', 'image']) {
          const count = (result: string) => values.find((v) => v.labels.cache === cache && v.labels.result === result)?.value ?? 0;
          const total = count('hit') + count('miss');
          this.set({ cache }, total === 0 ? 0 : count('hit') / total);
        }
      },
    });
  }

  // Every metric goes on this gateway's registry: one left to prom-client's default would land in
  // the process-wide registry, shared by every gateway in the process (and refused the second time).
  private counter<L extends string>(name: string, labelNames: readonly L[], config: Described<CounterConfiguration<L>>): Counter<L> {
    return new Counter({ ...config, name, labelNames, registers: [this.registry] });
  }

  private gauge<L extends string>(name: string, labelNames: readonly L[], config: Described<GaugeConfiguration<L>>): Gauge<L> {
    return new Gauge({ ...config, name, labelNames, registers: [this.registry] });
  }

  private histogram<L extends string>(name: string, labelNames: readonly L[], config: Described<HistogramConfiguration<L>>): Histogram<L> {
    return new Histogram({ ...config, name, labelNames, registers: [this.registry] });
  }
}
