import { describeGpu, type GpuProbe } from './gpu-info';
import { describePlacement, type Placement } from './placement';
import type { ExecutionDevice } from './types';

/** What a loaded model runs on, as the startup line and the GPU check tell it. */
export interface DeviceReport {
  /** The execution provider that runs the image tower (the text tower's is in its log line). */
  provider: ExecutionDevice;
  /** Where each tower's nodes ran in its self-check, for towers whose session was created on CUDA. */
  placement: { text?: Placement; vision?: Placement };
  /** What nvidia-smi says about the host's GPU. */
  gpu: GpuProbe;
  /** The onnxruntime-node release that runs the model. */
  onnxRuntime: string;
  /** Milliseconds from the start of the load to the end of the self-check. */
  warmupMs: number;
}

/**
 * The one line a function logs when its model is ready, e.g.
 * "CLIP ready: model tiny-clip (fp32); execution provider CPU; GPU none (nvidia-smi not found);
 * ONNX Runtime 1.30.0; warm-up 240 ms (load and self-check)".
 */
export function startupLine(model: { name: string; dtype: string }, report: DeviceReport): string {
  const towers = (['text', 'vision'] as const).flatMap((tower) => {
    const placement = report.placement[tower];
    return placement ? [`${tower}: ${describePlacement(placement)}`] : [];
  });
  const provider = report.provider === 'cuda' ? 'CUDA' : 'CPU';
  return [
    `CLIP ready: model ${model.name} (${model.dtype})`,
    `execution provider ${provider}${towers.length > 0 ? ` (${towers.join(', ')})` : ''}`,
    `GPU ${describeGpu(report.gpu)}`,
    `ONNX Runtime ${report.onnxRuntime}`,
    `warm-up ${Math.round(report.warmupMs)} ms (load and self-check)`,
  ].join('; ');
}
