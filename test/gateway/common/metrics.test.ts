import { register } from 'prom-client';

import { GatewayMetrics } from '../../../gateway/common/metrics';

/** The gateway's own series in the exposition format, without prom-client's process metrics. */
async function exposition(metrics: GatewayMetrics): Promise<string[]> {
  return (await metrics.registry.metrics()).split('\n').filter((line) => line.includes('clip_gateway_'));
}

describe('GatewayMetrics', () => {
  it("puts every metric on the gateway's own registry, so that two gateways share a process", async () => {
    const first = new GatewayMetrics();
    const second = new GatewayMetrics();
    first.shed.inc({ reason: 'overloaded' });
    expect(await exposition(first)).toContain('clip_gateway_requests_shed_total{reason="overloaded"} 1');
    expect((await exposition(second)).filter((line) => line.startsWith('clip_gateway_requests_shed_total'))).toEqual([]);
    expect(register.getMetricsAsArray().filter((m) => m.name.startsWith('clip_gateway_'))).toEqual([]);
  });

  it('declares each metric with its name, type, help and labels', async () => {
    const metrics = new GatewayMetrics();
    metrics.inputsDropped.inc({ kind: 'image', reason: 'deadline' });
    const lines = await exposition(metrics);
    expect(lines).toEqual(
      expect.arrayContaining([
        '# HELP clip_gateway_graphql_requests_total GraphQL operations received, by operation name.',
        '# TYPE clip_gateway_graphql_requests_total counter',
        '# TYPE clip_gateway_admitted_inputs gauge',
        '# TYPE clip_gateway_inference_seconds histogram',
        'clip_gateway_inputs_dropped_total{kind="image",reason="deadline"} 1',
      ]),
    );
  });

  it('gives a histogram its buckets, and one without labels a single series', async () => {
    const metrics = new GatewayMetrics();
    metrics.batchSize.observe({ kind: 'text' }, 3);
    metrics.imagePreprocess.observe(0.002);
    const lines = await exposition(metrics);
    const bounds = (name: string) =>
      lines.filter((line) => line.startsWith(`${name}_bucket`)).map((line) => /le="([^"]+)"/.exec(line)?.[1]);
    expect(bounds('clip_gateway_batch_size')).toEqual(['1', '2', '4', '8', '16', '32', '64', '128', '256', '+Inf']);
    expect(bounds('clip_gateway_image_preprocess_seconds')).toEqual([
      '0.0005',
      '0.001',
      '0.0025',
      '0.005',
      '0.01',
      '0.025',
      '0.05',
      '0.1',
      '0.25',
      '0.5',
      '1',
      '+Inf',
    ]);
    expect(lines).toContain('clip_gateway_batch_size_bucket{le="4",kind="text"} 1');
    expect(lines).toContain('clip_gateway_image_preprocess_seconds_count 1');
  });

  it('reports the cache hit ratio from the lookups, per cache, and 0 before any', async () => {
    const metrics = new GatewayMetrics();
    for (const result of ['hit', 'hit', 'hit', 'miss']) metrics.cacheLookups.inc({ cache: 'text', result });
    const lines = await exposition(metrics);
    expect(lines).toContain('clip_gateway_cache_hit_ratio{cache="text"} 0.75');
    expect(lines).toContain('clip_gateway_cache_hit_ratio{cache="image"} 0');
  });
});
