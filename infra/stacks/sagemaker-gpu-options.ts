// The sizing options of the SageMaker GPU tier, their defaults and their checks. They live apart from
// the stack so that the CDK app can run the same checks and name its settings (gpuMaxCopies) in the
// errors, where the stack names its props (maxCopies).

/** The instance type the GPU tier runs on unless told otherwise: one NVIDIA L4 (24 GB), 4 vCPUs, 16 GiB. */
export const DEFAULT_GPU_INSTANCE_TYPE = 'ml.g6.xlarge';

/**
 * The inference AMI: NVIDIA driver 550 with CUDA 12.4, the newest CUDA 12 AMI SageMaker lists
 * (ProductionVariant.InferenceAmiVersion). The image is built on CUDA 12.6, which runs on a 12.4
 * driver through CUDA's minor-version compatibility. `al2023-ami-sagemaker-inference-gpu-4-1`
 * (driver 580, CUDA 13) also runs it, being newer.
 */
export const DEFAULT_GPU_AMI_VERSION = 'al2-ami-sagemaker-inference-gpu-3-1';

/** SageMaker's GPU families are g (g4dn, g5, g6, g6e, ...) and p (p4d, p5, ...); the rest have no NVIDIA GPU. */
const GPU_INSTANCE_TYPE = /^ml\.[gp]\d+[a-z]*\.\d*x?large$/;
const GPU_AMI_VERSION = /^al2(023)?-ami-sagemaker-inference-gpu-[0-9][0-9-]*$/;

export interface SageMakerGpuOptions {
  /** The SageMaker instance type of the endpoint, a GPU one (ml.g* or ml.p*). Default 'ml.g6.xlarge'. */
  readonly instanceType?: string;
  /** The inference AMI (driver and CUDA version) of the instances. Default 'al2-ami-sagemaker-inference-gpu-3-1' (CUDA 12.4). */
  readonly amiVersion?: string;
  /** Most instances the endpoint scales out to. Default 1. */
  readonly maxInstances?: number;
  /** Most copies of the CLIP container, each holding one GPU. Default: maxInstances (one copy per single-GPU instance). */
  readonly maxCopies?: number;
  /**
   * Copies started by a deploy. Default 1: the deploy waits until the container answers /ping on a
   * GPU, which proves the image; once idle, target tracking scales the tier in to zero. 0 deploys
   * without starting a GPU; the first requests then wake it.
   */
  readonly initialCopies?: number;
  /** Concurrent requests per copy that target tracking aims at (each request is one batch). Default 4. */
  readonly targetConcurrency?: number;
}

export type ResolvedSageMakerGpuOptions = Required<SageMakerGpuOptions>;

/**
 * Applies the defaults and checks every option, naming it with `nameOf` (the prop name unless the
 * caller knows the option by another name) and quoting the value.
 */
export function resolveSageMakerGpuOptions(
  options: SageMakerGpuOptions,
  nameOf: (option: keyof SageMakerGpuOptions) => string = (option) => option,
): ResolvedSageMakerGpuOptions {
  const instanceType = options.instanceType ?? DEFAULT_GPU_INSTANCE_TYPE;
  if (!GPU_INSTANCE_TYPE.test(instanceType)) {
    throw new Error(
      `${nameOf('instanceType')} must be a SageMaker GPU instance type (ml.g* or ml.p*, e.g. ${DEFAULT_GPU_INSTANCE_TYPE}), got ${JSON.stringify(instanceType)}.`,
    );
  }
  const amiVersion = options.amiVersion ?? DEFAULT_GPU_AMI_VERSION;
  if (!GPU_AMI_VERSION.test(amiVersion)) {
    throw new Error(
      `${nameOf('amiVersion')} must be a SageMaker GPU inference AMI version (e.g. ${DEFAULT_GPU_AMI_VERSION}), got ${JSON.stringify(amiVersion)}.`,
    );
  }
  const count = (option: keyof SageMakerGpuOptions, value: number, min: number): number => {
    if (!Number.isInteger(value) || value < min) throw new Error(`${nameOf(option)} must be an integer >= ${min}, got ${value}.`);
    return value;
  };
  const maxInstances = count('maxInstances', options.maxInstances ?? 1, 1);
  const maxCopies = count('maxCopies', options.maxCopies ?? maxInstances, 1);
  const initialCopies = count('initialCopies', options.initialCopies ?? 1, 0);
  const targetConcurrency = count('targetConcurrency', options.targetConcurrency ?? 4, 1);
  if (initialCopies > maxCopies) {
    throw new Error(`${nameOf('initialCopies')} (${initialCopies}) cannot exceed ${nameOf('maxCopies')} (${maxCopies}).`);
  }
  return { instanceType, amiVersion, maxInstances, maxCopies, initialCopies, targetConcurrency };
}
