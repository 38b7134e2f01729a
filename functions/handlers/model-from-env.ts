import { EXECUTION_DEVICE, ICC_PROFILE_HANDLING, MODEL_DTYPE } from '../clip';
import { ClipModel, DEFAULT_CLIP_MODEL_OPTIONS, type ClipModelOptions } from '../clip/model';
import { bundledModelDir } from '../models';
import { EnvReader, nonEmpty, nonNegativeInt, oneOf, type Env } from '../options';

/**
 * Loads the model a function serves, configured by the environment: CLIP_MODEL_DIR (default: the
 * bundled tiny CLIP), CLIP_DTYPE (fp32), CLIP_DEVICE (cpu; cuda falls back to the CPU with a log
 * line), CLIP_INTRA_OP_THREADS (default every core; 0: ONNX Runtime decides, one thread on small VMs), IMAGE_ICC_PROFILES (ignore: see ImageLimits).
 */
export async function loadModelFromEnv(env: Env = process.env, log?: ClipModelOptions['log']): Promise<ClipModel> {
  const read = new EnvReader(env);
  const defaults = DEFAULT_CLIP_MODEL_OPTIONS;
  const options: Partial<ClipModelOptions> = {
    dtype: read.get('CLIP_DTYPE', MODEL_DTYPE, defaults.dtype),
    device: read.get('CLIP_DEVICE', EXECUTION_DEVICE, defaults.device),
    intraOpThreads: read.get('CLIP_INTRA_OP_THREADS', nonNegativeInt, defaults.intraOpThreads),
    imageLimits: {
      ...defaults.imageLimits,
      iccProfiles: read.get('IMAGE_ICC_PROFILES', oneOf(ICC_PROFILE_HANDLING), defaults.imageLimits.iccProfiles),
    },
    ...(log ? { log } : {}),
  };
  return ClipModel.load(read.optional('CLIP_MODEL_DIR', nonEmpty) ?? bundledModelDir(), options);
}
