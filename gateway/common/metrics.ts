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

/** The gateway's Prometheus metrics, on a registry of its own (one per gateway instance). */
export class GatewayMetrics {
  readonly registry = new Registry();

  readonly requests = this.counter({
    name: 'clip_gateway_graphql_requests_total',
    help: 'GraphQL operations received, by operation name.',
    labelNames: ['operation'],
  });

  readonly errors = this.counter({
    name: 'clip_gateway_graphql_errors_total',
    help: 'Errors returned to clients, by extensions.code.',
    labelNames: ['code'],
  });

  readonly batchSize = this.histogram({
    name: 'clip_gateway_batch_size',
    help: 'Inputs per batch sent to the inference backend.',
    labelNames: ['kind'],
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
  });

  readonly queueDelay = this.histogram({
    name: 'clip_gateway_queue_delay_seconds',
    help: 'Time an input waited in the shared batcher before its batch was sent.',
    labelNames: ['kind'],
    buckets: SUB_SECOND_BUCKETS,
  });

  readonly inference = this.histogram({
    name: 'clip_gateway_inference_seconds',
    help: 'Time the inference backend took for one batch.',
    labelNames: ['kind', 'outcome'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });

  readonly imagePreprocess = this.histogram({
    name: 'clip_gateway_image_preprocess_seconds',
    help: 'Time to decode, orient, resize and crop one image (sharp), before it is queued.',
    buckets: SUB_SECOND_BUCKETS,
  });

  readonly cacheLookups = this.counter({
    name: 'clip_gateway_cache_lookups_total',
    help: 'Embedding cache lookups, by cache (text, image) and result (hit, miss).',
    labelNames: ['cache', 'result'],
  });

  readonly shed = this.counter({
    name: 'clip_gateway_requests_shed_total',
    help: 'Requests refused whole before they ran, by reason (overloaded, rate_limited, query_limit).',
    labelNames: ['reason'],
  });

  readonly inputsDropped = this.counter({
    name: 'clip_gateway_inputs_dropped_total',
    help: 'Inputs that left the queue before inference, by kind and reason (deadline: every waiter past its deadline; gone: every client hung up; overloaded: over the bound on image bytes held).',
    labelNames: ['kind', 'reason'],
  });

  readonly admittedInputs = this.gauge({
    name: 'clip_gateway_admitted_inputs',
    help: 'Inference inputs of admitted requests not yet answered, by kind: what admission control bounds.',
    labelNames: ['kind'],
  });

  constructor() {
    // Event-loop delay sampled every millisecond (prom-client's default is 10 ms, and every
    // reading then includes those 10 ms): inference must never block the loop, and this shows it.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 1 });
    const lookups = this.cacheLookups;
    this.gauge({
      name: 'clip_gateway_cache_hit_ratio',
      help: 'Hits over lookups since start, by cache.',
      labelNames: ['cache'],
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
  private counter<L extends string>(config: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
    return new Counter({ ...config, registers: [this.registry] });
  }

  private gauge<L extends string>(config: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
    return new Gauge({ ...config, registers: [this.registry] });
  }

  private histogram<L extends string>(config: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L> {
    return new Histogram({ ...config, registers: [this.registry] });
  }
}
