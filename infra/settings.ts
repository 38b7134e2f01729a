// The CDK app's settings, read and checked before any stack is built, so that a bad one is refused
// with its name and value (and tests can check every refusal without starting the app).
//
// Settings come from CDK context (`-c modelDir=models/clip-vit-base-patch32`) or, failing that,
// from the environment as CLIP_INFRA_<NAME> (CLIP_INFRA_MODEL_DIR=...). All are optional:
//   functionStackName, gatewayStackName       stack names (ClipFunction, ClipGateway)
//   modelDir, dtype                           model baked into the function image (models/tiny-clip, fp32)
//   architecture                              x86_64 or arm64 (x86_64)
//   memorySize, timeoutSeconds                function memory in MB and timeout (3008, 30)
//   reservedConcurrency, provisionedConcurrency  (unreserved, 0)
//   cpu, memoryLimitMiB, desiredCount         gateway tasks (1024, 2048, 2)
//   maxBatchSize, maxDelayMs                  gateway batching (32, 5)
//   catalogue                                 sqlite (each task its own, ephemeral) or aurora (one shared
//                                             Aurora Serverless v2 PostgreSQL cluster) (sqlite)
//   auroraMinAcu, auroraMaxAcu                with aurora: its capacity range in ACUs (0.5, 4)
//   federation                                true: also serve the Apollo Federation subgraph at /subgraph (false)
//   gpu                                       sagemaker: add the GPU tier, a SageMaker endpoint that scales to zero,
//                                             as the gateway's primary backend with the function as spillover (none)
//   gpuStackName                              its stack name (ClipGpu)
//   gpuInstanceType, gpuAmiVersion            its instances (ml.g6.xlarge, al2-ami-sagemaker-inference-gpu-3-1)
//   gpuMaxInstances, gpuMaxCopies             how far it scales out (1, gpuMaxInstances)
//   gpuInitialCopies, gpuTargetConcurrency    copies a deploy starts, concurrent requests per copy aimed at (1, 4)
// A value that is blank (or only spaces) counts as unset. The stacks check the ranges they know
// (Fargate's CPU and memory table, Aurora's ACU range); this file checks what each value is.
import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';

import { MODEL_DTYPES, type ModelDtype } from '../functions/clip';
import { CATALOGUE_KINDS, type CatalogueKind } from './stacks/catalogue-database';
import type { ClipFunctionStackProps } from './stacks/clip-function-stack';
import type { GatewayStackProps } from './stacks/gateway-stack';
import { resolveSageMakerGpuOptions, type ResolvedSageMakerGpuOptions, type SageMakerGpuOptions } from './stacks/sagemaker-gpu-options';
import type { SageMakerGpuStackProps } from './stacks/sagemaker-gpu-stack';

/** The raw value of one setting by its name (`memorySize`), undefined or null when it is not given. */
export type SettingSource = (name: string) => unknown;

/** The gateway's props that come from settings; the rest (what it invokes, how long it waits) come from the other stacks. */
export type GatewaySettings = Pick<
  GatewayStackProps,
  'cpu' | 'memoryLimitMiB' | 'desiredCount' | 'maxBatchSize' | 'maxDelayMs' | 'catalogue' | 'auroraMinAcu' | 'auroraMaxAcu' | 'federation'
>;

/** One stack to build: its id (which is its stack name) and the props its settings give it. */
export interface StackSettings<Props> {
  readonly name: string;
  readonly props: Props;
}

/** Everything the app builds, checked. */
export interface InfraSettings {
  /** The CLIP function's stack. Default name ClipFunction. */
  readonly function: StackSettings<ClipFunctionStackProps>;
  /** The GPU tier's stack, when `gpu` asks for one. Default: none. Default name ClipGpu. */
  readonly gpu?: StackSettings<SageMakerGpuStackProps>;
  /** The gateway's stack. Default name ClipGateway. */
  readonly gateway: StackSettings<GatewaySettings>;
}

/** The environment variable a setting is read from when the context does not give it: auroraMinAcu → CLIP_INFRA_AURORA_MIN_ACU. */
export function settingEnvName(name: string): string {
  return `CLIP_INFRA_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** The app's way of reading a setting: its CDK context first (`-c name=value`, cdk.json), then the environment. */
export function contextThenEnvironment(
  context: { tryGetContext(name: string): unknown },
  env: NodeJS.ProcessEnv = process.env,
): SettingSource {
  return (name) => context.tryGetContext(name) ?? env[settingEnvName(name)];
}

/** A setting's value as the checks see it: a string, trimmed; undefined when it is not given or blank. */
type Read = (name: string) => string | undefined;

function trimmed(source: SettingSource): Read {
  return (name) => {
    const raw = source(name);
    if (raw === undefined || raw === null) return undefined;
    const value = String(raw).trim();
    return value === '' ? undefined : value;
  };
}

function intSetting(read: Read, name: string, min = 0): number | undefined {
  const raw = read(name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`Setting ${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}.`);
  return value;
}

function architectureSetting(read: Read): lambda.Architecture | undefined {
  const raw = read('architecture');
  if (raw === undefined) return undefined;
  if (raw === 'x86_64') return lambda.Architecture.X86_64;
  if (raw === 'arm64') return lambda.Architecture.ARM_64;
  throw new Error(`Setting architecture must be x86_64 or arm64, got ${JSON.stringify(raw)}.`);
}

function dtypeSetting(read: Read): ModelDtype | undefined {
  const raw = read('dtype');
  if (raw === undefined) return undefined;
  if (!(MODEL_DTYPES as readonly string[]).includes(raw))
    throw new Error(`Setting dtype must be one of ${MODEL_DTYPES.join(', ')}, got ${JSON.stringify(raw)}.`);
  return raw as ModelDtype;
}

function boolSetting(read: Read, name: string): boolean | undefined {
  const raw = read(name);
  if (raw === undefined) return undefined;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new Error(`Setting ${name} must be true or false, got ${JSON.stringify(raw)}.`);
}

function catalogueSetting(read: Read): CatalogueKind | undefined {
  const raw = read('catalogue');
  if (raw === undefined) return undefined;
  if (!(CATALOGUE_KINDS as readonly string[]).includes(raw))
    throw new Error(`Setting catalogue must be ${CATALOGUE_KINDS.join(' or ')}, got ${JSON.stringify(raw)}.`);
  return raw as CatalogueKind;
}

/** Aurora capacity units: the stack checks each bound's range, this only that it is a number of ACUs. */
function acuSetting(read: Read, name: string): number | undefined {
  const raw = read(name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || !Number.isInteger(value * 2) || value <= 0)
    throw new Error(`Setting ${name} must be a number of ACUs in steps of 0.5 (0.5, 1, 1.5, ...), got ${JSON.stringify(raw)}.`);
  return value;
}

/** Each option of the GPU tier and the setting it comes from. */
const GPU_SETTINGS = {
  instanceType: 'gpuInstanceType',
  amiVersion: 'gpuAmiVersion',
  maxInstances: 'gpuMaxInstances',
  maxCopies: 'gpuMaxCopies',
  initialCopies: 'gpuInitialCopies',
  targetConcurrency: 'gpuTargetConcurrency',
} as const satisfies Record<keyof SageMakerGpuOptions, string>;

/** The GPU tier's options when `gpu` asks for one, checked under their setting names; refused without it. */
function gpuSettings(read: Read): ResolvedSageMakerGpuOptions | undefined {
  const gpu = read('gpu');
  if (gpu === undefined) {
    for (const name of [...Object.values(GPU_SETTINGS), 'gpuStackName']) {
      const value = read(name);
      if (value !== undefined) throw new Error(`Setting ${name} is set (${JSON.stringify(value)}) but gpu is not: it needs gpu=sagemaker.`);
    }
    return undefined;
  }
  if (gpu !== 'sagemaker') throw new Error(`Setting gpu must be sagemaker (or unset for no GPU tier), got ${JSON.stringify(gpu)}.`);
  const options: SageMakerGpuOptions = {
    instanceType: read(GPU_SETTINGS.instanceType),
    amiVersion: read(GPU_SETTINGS.amiVersion),
    maxInstances: intSetting(read, GPU_SETTINGS.maxInstances, 1),
    maxCopies: intSetting(read, GPU_SETTINGS.maxCopies, 1),
    initialCopies: intSetting(read, GPU_SETTINGS.initialCopies),
    targetConcurrency: intSetting(read, GPU_SETTINGS.targetConcurrency, 1),
  };
  // The checks name the setting; the prefix makes their sentences read like the other settings' errors.
  try {
    return resolveSageMakerGpuOptions(options, (option) => GPU_SETTINGS[option]);
  } catch (error) {
    throw new Error(`Setting ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Reads and checks every setting, in the order the app has always checked them (timeoutSeconds,
 * the GPU tier's, the function's, the gateway's), and throws at the first bad one, naming it and
 * quoting its value.
 */
export function readInfraSettings(source: SettingSource): InfraSettings {
  const read = trimmed(source);
  const timeoutSeconds = intSetting(read, 'timeoutSeconds', 1);
  const gpuOptions = gpuSettings(read);
  const functionName = read('functionStackName') ?? 'ClipFunction';
  const modelDir = read('modelDir');
  const dtype = dtypeSetting(read);
  const functionProps: ClipFunctionStackProps = {
    modelDir,
    dtype,
    architecture: architectureSetting(read),
    memorySize: intSetting(read, 'memorySize', 128),
    timeout: timeoutSeconds === undefined ? undefined : Duration.seconds(timeoutSeconds),
    reservedConcurrency: intSetting(read, 'reservedConcurrency'),
    provisionedConcurrency: intSetting(read, 'provisionedConcurrency'),
  };
  const gpu = gpuOptions && { name: read('gpuStackName') ?? 'ClipGpu', props: { modelDir, dtype, ...gpuOptions } };
  const gatewayName = read('gatewayStackName') ?? 'ClipGateway';
  const gatewayProps: GatewaySettings = {
    cpu: intSetting(read, 'cpu', 256),
    memoryLimitMiB: intSetting(read, 'memoryLimitMiB', 512),
    desiredCount: intSetting(read, 'desiredCount'),
    maxBatchSize: intSetting(read, 'maxBatchSize', 1),
    maxDelayMs: intSetting(read, 'maxDelayMs'),
    catalogue: catalogueSetting(read),
    auroraMinAcu: acuSetting(read, 'auroraMinAcu'),
    auroraMaxAcu: acuSetting(read, 'auroraMaxAcu'),
    federation: boolSetting(read, 'federation'),
  };
  return { function: { name: functionName, props: functionProps }, gpu, gateway: { name: gatewayName, props: gatewayProps } };
}
