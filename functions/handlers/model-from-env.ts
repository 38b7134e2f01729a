import { bundledModelDir } from '../bundled-model';
import { ClipModel, MODEL_DTYPES, type ClipModelOptions, type ModelDtype } from '../clip';

type Env = Record<string, string | undefined>;

/**
 * Loads the model a function serves, configured by the environment: CLIP_MODEL_DIR (default: the
 * bundled tiny CLIP), CLIP_DTYPE (fp32), CLIP_DEVICE (cpu; cuda falls back to the CPU with a log
 * line), CLIP_INTRA_OP_THREADS (0: ONNX Runtime decides).
 */
export function loadModelFromEnv(env: Env = process.env, log?: ClipModelOptions['log']): Promise<ClipModel> {
  const dtype = (env.CLIP_DTYPE?.trim() || 'fp32') as ModelDtype;
  if (!MODEL_DTYPES.includes(dtype))
    return Promise.reject(new TypeError(`CLIP_DTYPE must be one of ${MODEL_DTYPES.join(', ')}: ${JSON.stringify(env.CLIP_DTYPE)}`));
  const device = env.CLIP_DEVICE?.trim() || 'cpu';
  if (device !== 'cpu' && device !== 'cuda')
    return Promise.reject(new TypeError(`CLIP_DEVICE must be cpu or cuda: ${JSON.stringify(env.CLIP_DEVICE)}`));
  const threads = Number(env.CLIP_INTRA_OP_THREADS?.trim() || '0');
  if (!Number.isInteger(threads) || threads < 0) {
    return Promise.reject(
      new TypeError(`CLIP_INTRA_OP_THREADS must be a non-negative integer: ${JSON.stringify(env.CLIP_INTRA_OP_THREADS)}`),
    );
  }
  return ClipModel.load(env.CLIP_MODEL_DIR?.trim() || bundledModelDir(), {
    dtype,
    device,
    intraOpThreads: threads,
    ...(log ? { log } : {}),
  });
}
