// The gateway's /metrics, read as the soak needs it: its gauges, its own counters, its batches
// done and its queues.

export interface MetricsReading {
  /** Gauges: every clip_gateway_* gauge (queue sizes, whatever the gateway adds) and a few of Node's. */
  gauges: Record<string, number>;
  /** Counters and histogram counts of the gateway's own (requests, errors by code, batches). */
  counters: Record<string, number>;
}

export const NODE_GAUGES = new Set([
  'process_resident_memory_bytes',
  'process_open_fds',
  'nodejs_heap_size_used_bytes',
  'nodejs_heap_size_total_bytes',
  'nodejs_external_memory_bytes',
  'nodejs_eventloop_lag_p99_seconds',
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
]);
/** Gauges that look like a queue or work in progress: shown in the time series and waited on to reach 0. */
export const QUEUE_GAUGE = /^clip_gateway_.*(queue|in_?flight|pending|admission|admitted|backlog|waiting|queued|active)/;

export function parseMetrics(text: string): MetricsReading {
  const types = new Map<string, string>();
  const reading: MetricsReading = { gauges: {}, counters: {} };
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name, type);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    const series = line.slice(0, space);
    const value = Number(line.slice(space + 1));
    const name = series.split('{')[0];
    const type = types.get(name);
    if (type === 'gauge' && (name.startsWith('clip_gateway_') || NODE_GAUGES.has(name))) reading.gauges[series] = value;
    else if (type === 'counter' && name.startsWith('clip_gateway_')) reading.counters[series] = value;
    else if (
      name.startsWith('clip_gateway_') &&
      /_(count|sum)$/.test(name) &&
      types.get(name.replace(/_(count|sum)$/, '')) === 'histogram'
    ) {
      reading.counters[series] = value;
    }
  }
  return reading;
}

/** The sum of every series of a counter (or histogram _sum/_count) whose name and labels start so. */
export const counterTotal = (m: MetricsReading, prefix: string) =>
  Object.entries(m.counters)
    .filter(([series]) => series.startsWith(prefix))
    .reduce((sum, [, v]) => sum + v, 0);

export const batchesDone = (m: MetricsReading) =>
  Object.entries(m.counters)
    .filter(([series]) => series.startsWith('clip_gateway_inference_seconds_count'))
    .reduce((sum, [, v]) => sum + v, 0);
export const queued = (m: MetricsReading) =>
  Object.entries(m.gauges)
    .filter(([series]) => QUEUE_GAUGE.test(series.split('{')[0]))
    .reduce((sum, [, v]) => sum + v, 0);

/** /metrics gets this long per read: under overload it may not answer at all, and that is recorded. */
export const METRICS_TIMEOUT_MS = 8000;
