import { gpuMemoryUsedMiB } from '../../functions/clip/gpu-info';
import type { ClipModel } from '../../functions/clip/model';

export interface SweepRow {
  batchSize: number;
  /** Crops through embedCrops per second over the timed runs (pixel normalisation included, as the function does it). */
  imagesPerSecond: number;
  /** Device memory in use after this batch size's runs, device-wide (nvidia-smi); undefined without nvidia-smi. */
  gpuMemoryMiB?: number;
  /** The model's own lines while this batch size ran that say it ran out of memory and halved the batch. */
  outOfMemory: string[];
}

/**
 * Measures throughput by batch size: per size, one untimed run (arena growth, cuDNN's algorithm
 * search), then `rounds` timed runs of the same batch of crops, then nvidia-smi's memory figure.
 * `modelLines` is where the model's log lines collect, to tell when a batch was halved for memory,
 * which makes that row's figure one of smaller batches.
 */
export async function sweep(
  model: ClipModel,
  crops: Uint8Array[],
  options: { batchSizes: number[]; rounds: number; nvidiaSmi: string; modelLines: string[] },
): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  for (const batchSize of options.batchSizes) {
    const batch = Array.from({ length: batchSize }, (_, i) => crops[i % crops.length]);
    const seen = options.modelLines.length;
    await model.embedCrops(batch);
    const started = performance.now();
    for (let round = 0; round < options.rounds; round++) await model.embedCrops(batch);
    const seconds = (performance.now() - started) / 1000;
    rows.push({
      batchSize,
      imagesPerSecond: (batchSize * options.rounds) / seconds,
      gpuMemoryMiB: await gpuMemoryUsedMiB(options.nvidiaSmi),
      outOfMemory: options.modelLines.slice(seen).filter((line) => line.includes('out of device memory')),
    });
  }
  return rows;
}

/** The sweep as a table: batch, images/s, GPU memory. */
export function sweepTable(rows: SweepRow[]): string[] {
  const lines = ['  batch   images/s   GPU memory used (MiB, device-wide)'];
  for (const row of rows) {
    const memory = row.gpuMemoryMiB === undefined ? 'n/a (no nvidia-smi)' : String(row.gpuMemoryMiB);
    const halved = row.outOfMemory.length > 0 ? `   out of memory: ${row.outOfMemory.length} halving(s), see the log` : '';
    lines.push(`  ${String(row.batchSize).padStart(5)}  ${row.imagesPerSecond.toFixed(1).padStart(9)}   ${memory}${halved}`);
  }
  return lines;
}
