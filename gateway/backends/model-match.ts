import type { ModelDescription } from '../../functions/clip';

/**
 * How two functions' models differ in what makes their vectors comparable, in words ("dtype: fp16
 * here, fp32 there"); undefined when they are the same model. The execution device may differ (a
 * GPU tier and a CPU spillover): the same weights give the same vectors to within rounding.
 */
export function modelDifference(a: ModelDescription, b: ModelDescription): string | undefined {
  const differences: string[] = [];
  for (const field of ['name', 'dim', 'dtype', 'contextLength', 'logitScale', 'cropWidth', 'cropHeight'] as const) {
    if (a.info[field] !== b.info[field]) differences.push(`${field}: ${String(a.info[field])} against ${String(b.info[field])}`);
  }
  const preprocess = new Set([...Object.keys(a.preprocess), ...Object.keys(b.preprocess)]);
  for (const field of [...preprocess].sort()) {
    const left = (a.preprocess as unknown as Record<string, unknown>)[field];
    const right = (b.preprocess as unknown as Record<string, unknown>)[field];
    // Compared as JSON, the form descriptions travel in: a worker's structured clone and a
    // function's JSON answer make equal values whose prototypes may come from different realms.
    if (JSON.stringify(left) !== JSON.stringify(right))
      differences.push(`preprocessing ${field}: ${JSON.stringify(left)} against ${JSON.stringify(right)}`);
  }
  return differences.length > 0 ? differences.join('; ') : undefined;
}
