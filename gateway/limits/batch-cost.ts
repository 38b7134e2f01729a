/** Weight of the newest batch in the fit: about the last ten batches count. */
const FORGETTING = 0.2;
/** Below this variance of batch sizes the fit cannot tell the fixed part from the per-input part. */
const MIN_SIZE_VARIANCE = 0.25;

/** A batch's time as a fixed part and a part per input: seconds = fixed + perInput × size. */
export interface BatchTime {
  fixed: number;
  perInput: number;
}

/**
 * What a batch of one kind costs a backend, fitted to recent batches' sizes and times (least
 * squares, older batches forgotten exponentially). A batch's time is mostly fixed on some
 * backends (a remote call's round trip, a GPU's launch) and mostly per input on others (a CPU
 * running a large model), so the time for a queue is counted in batches, not by a cost per input
 * taken from whatever batch sizes happened to run: a lone input's batch says little about a full one's.
 */
export class BatchCost {
  // Exponentially weighted sums of 1, size, time, size², size × time.
  private n = 0;
  private sumSize = 0;
  private sumTime = 0;
  private sumSize2 = 0;
  private sumSizeTime = 0;

  observe(size: number, seconds: number): void {
    const keep = 1 - FORGETTING;
    this.n = keep * this.n + 1;
    this.sumSize = keep * this.sumSize + size;
    this.sumTime = keep * this.sumTime + seconds;
    this.sumSize2 = keep * this.sumSize2 + size * size;
    this.sumSizeTime = keep * this.sumSizeTime + size * seconds;
  }

  /** The fitted line, none before a batch has been timed; until sizes have varied, all of a batch's time is taken as per input (which overstates a full batch). */
  get time(): BatchTime | undefined {
    if (this.n === 0) return undefined;
    const meanSize = this.sumSize / this.n;
    const meanTime = this.sumTime / this.n;
    const variance = this.sumSize2 / this.n - meanSize * meanSize;
    if (variance < MIN_SIZE_VARIANCE) return { fixed: 0, perInput: meanTime / meanSize };
    const perInput = (this.sumSizeTime / this.n - meanSize * meanTime) / variance;
    // Noise can tilt the line below zero at one end: clamp to the nearest sound fit.
    if (perInput < 0) return { fixed: meanTime, perInput: 0 };
    const fixed = meanTime - perInput * meanSize;
    if (fixed < 0) return { fixed: 0, perInput: this.sumSizeTime / this.sumSize2 };
    return { fixed, perInput };
  }
}

/** Seconds to run `inputs` in batches of at most `batchSize`. */
export function secondsFor(time: BatchTime, inputs: number, batchSize: number): number {
  if (inputs <= 0) return 0;
  return Math.ceil(inputs / batchSize) * time.fixed + inputs * time.perInput;
}
