import { EXECUTION_DEVICE, ICC_PROFILE_HANDLING, MODEL_DTYPE, RESAMPLING, type ModelDtype } from '../clip';
import { ClipModel, DEFAULT_CLIP_MODEL_OPTIONS, type ClipModelOptions } from '../clip/model';
import { consoleProgress, modelSourceFromEnv, resolveModel, type ModelSource } from '../hub';
import { bundledModelDir } from '../models';
import { bool, EnvReader, nonNegativeInt, oneOf, type Env } from '../options';

/**
 * Loads the model a function serves, configured by the environment: CLIP_MODEL_DIR (a directory)
 * or CLIP_MODEL (a Hugging Face repo at CLIP_MODEL_REVISION, from the cache HF_HUB_CACHE names or
 * downloaded into it; HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE), default the bundled tiny CLIP;
 * CLIP_DTYPE (fp32), CLIP_DEVICE (cpu; cuda falls back to the CPU with a log line),
 * CLIP_REQUIRE_GPU (false; true with CLIP_DEVICE=cuda fails the load, naming why, unless the CUDA
 * execution provider really runs the model: never a quiet CPU fallback on GPU-priced capacity),
 * CLIP_INTRA_OP_THREADS (default every core; 0: ONNX Runtime decides, one thread on small VMs),
 * IMAGE_ICC_PROFILES (ignore) and IMAGE_RESAMPLING (libvips): see ImageLimits.
 */
export async function loadModelFromEnv(env: Env = process.env, log?: ClipModelOptions['log']): Promise<ClipModel> {
  const read = new EnvReader(env);
  const defaults = DEFAULT_CLIP_MODEL_OPTIONS;
  const device = read.get('CLIP_DEVICE', EXECUTION_DEVICE, defaults.device);
  const requireGpu = read.get('CLIP_REQUIRE_GPU', bool, defaults.requireGpu);
  if (requireGpu && device !== 'cuda') {
    const given = env.CLIP_DEVICE?.trim() ? `CLIP_DEVICE=${JSON.stringify(env.CLIP_DEVICE)}` : `CLIP_DEVICE unset (${device})`;
    throw new TypeError(`CLIP_REQUIRE_GPU=true needs CLIP_DEVICE=cuda, got ${given}`);
  }
  const options: Partial<ClipModelOptions> = {
    dtype: read.get('CLIP_DTYPE', MODEL_DTYPE, defaults.dtype),
    device,
    requireGpu,
    intraOpThreads: read.get('CLIP_INTRA_OP_THREADS', nonNegativeInt, defaults.intraOpThreads),
    imageLimits: {
      ...defaults.imageLimits,
      iccProfiles: read.get('IMAGE_ICC_PROFILES', oneOf(ICC_PROFILE_HANDLING), defaults.imageLimits.iccProfiles),
      resampling: read.get('IMAGE_RESAMPLING', oneOf(RESAMPLING), defaults.imageLimits.resampling),
    },
    ...(log ? { log } : {}),
  };
  // Every variable is read before anything is downloaded, so that a typo fails at once.
  const source = modelSourceFromEnv(env);
  return ClipModel.load(await modelDirectory(source, options.dtype!, log ?? DEFAULT_CLIP_MODEL_OPTIONS.log), options);
}

/** The directory of the model the environment names; a hub repo is looked up in the cache, or downloaded into it, first. */
async function modelDirectory(source: ModelSource, dtype: ModelDtype, log: (line: string) => void): Promise<string> {
  switch (source.kind) {
    case 'directory':
      return source.directory;
    case 'bundled':
      return bundledModelDir();
    case 'hub':
      return (await resolveModel({ ...source.hub, dtype, log, progress: consoleProgress({ log }) })).directory;
  }
}
