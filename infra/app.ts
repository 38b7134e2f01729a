// The CDK app, named by cdk.json (run with tsx, so `npx cdk synth` needs no build): the CLIP function stack and
// the gateway stack that invokes it. Both are environment-agnostic (no account or region in the
// code, no lookups), so `cdk synth` works offline and `cdk deploy` targets the CLI's account and region.
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
import { App, Duration, Tags } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';

import { MODEL_DTYPES, type ModelDtype } from '../functions/clip';
import { CATALOGUE_KINDS, type CatalogueKind } from './stacks/catalogue-database';
import { ClipFunctionStack } from './stacks/clip-function-stack';
import { GatewayStack } from './stacks/gateway-stack';
import { resolveSageMakerGpuOptions, type ResolvedSageMakerGpuOptions, type SageMakerGpuOptions } from './stacks/sagemaker-gpu-options';
import { SageMakerGpuStack } from './stacks/sagemaker-gpu-stack';

const app = new App();

function setting(name: string): string | undefined {
  const fromContext: unknown = app.node.tryGetContext(name);
  const raw = fromContext ?? process.env[`CLIP_INFRA_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`];
  if (raw === undefined || raw === null) return undefined;
  const value = String(raw).trim();
  return value === '' ? undefined : value;
}

function intSetting(name: string, min = 0): number | undefined {
  const raw = setting(name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`Setting ${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}.`);
  return value;
}

function architectureSetting(): lambda.Architecture | undefined {
  const raw = setting('architecture');
  if (raw === undefined) return undefined;
  if (raw === 'x86_64') return lambda.Architecture.X86_64;
  if (raw === 'arm64') return lambda.Architecture.ARM_64;
  throw new Error(`Setting architecture must be x86_64 or arm64, got ${JSON.stringify(raw)}.`);
}

function dtypeSetting(): ModelDtype | undefined {
  const raw = setting('dtype');
  if (raw === undefined) return undefined;
  if (!(MODEL_DTYPES as readonly string[]).includes(raw))
    throw new Error(`Setting dtype must be one of ${MODEL_DTYPES.join(', ')}, got ${JSON.stringify(raw)}.`);
  return raw as ModelDtype;
}

function boolSetting(name: string): boolean | undefined {
  const raw = setting(name);
  if (raw === undefined) return undefined;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new Error(`Setting ${name} must be true or false, got ${JSON.stringify(raw)}.`);
}

function catalogueSetting(): CatalogueKind | undefined {
  const raw = setting('catalogue');
  if (raw === undefined) return undefined;
  if (!(CATALOGUE_KINDS as readonly string[]).includes(raw))
    throw new Error(`Setting catalogue must be ${CATALOGUE_KINDS.join(' or ')}, got ${JSON.stringify(raw)}.`);
  return raw as CatalogueKind;
}

/** Aurora capacity units: the stack checks each bound's range, this only that it is a number of ACUs. */
function acuSetting(name: string): number | undefined {
  const raw = setting(name);
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
function gpuSettings(): ResolvedSageMakerGpuOptions | undefined {
  const gpu = setting('gpu');
  if (gpu === undefined) {
    for (const name of [...Object.values(GPU_SETTINGS), 'gpuStackName']) {
      const value = setting(name);
      if (value !== undefined) throw new Error(`Setting ${name} is set (${JSON.stringify(value)}) but gpu is not: it needs gpu=sagemaker.`);
    }
    return undefined;
  }
  if (gpu !== 'sagemaker') throw new Error(`Setting gpu must be sagemaker (or unset for no GPU tier), got ${JSON.stringify(gpu)}.`);
  const options: SageMakerGpuOptions = {
    instanceType: setting(GPU_SETTINGS.instanceType),
    amiVersion: setting(GPU_SETTINGS.amiVersion),
    maxInstances: intSetting(GPU_SETTINGS.maxInstances, 1),
    maxCopies: intSetting(GPU_SETTINGS.maxCopies, 1),
    initialCopies: intSetting(GPU_SETTINGS.initialCopies),
    targetConcurrency: intSetting(GPU_SETTINGS.targetConcurrency, 1),
  };
  // The checks name the setting; the prefix makes their sentences read like the other settings' errors.
  try {
    return resolveSageMakerGpuOptions(options, (option) => GPU_SETTINGS[option]);
  } catch (error) {
    throw new Error(`Setting ${error instanceof Error ? error.message : String(error)}`);
  }
}

const timeoutSeconds = intSetting('timeoutSeconds', 1);
const gpuOptions = gpuSettings();

const clip = new ClipFunctionStack(app, setting('functionStackName') ?? 'ClipFunction', {
  description: 'clip-gateway: the CLIP function (container image on AWS Lambda) and its alarms.',
  modelDir: setting('modelDir'),
  dtype: dtypeSetting(),
  architecture: architectureSetting(),
  memorySize: intSetting('memorySize', 128),
  timeout: timeoutSeconds === undefined ? undefined : Duration.seconds(timeoutSeconds),
  reservedConcurrency: intSetting('reservedConcurrency'),
  provisionedConcurrency: intSetting('provisionedConcurrency'),
});

const gpu =
  gpuOptions &&
  new SageMakerGpuStack(app, setting('gpuStackName') ?? 'ClipGpu', {
    description: 'clip-gateway: the GPU tier, the CLIP CUDA image on a SageMaker endpoint that scales to zero.',
    modelDir: setting('modelDir'),
    dtype: dtypeSetting(),
    ...gpuOptions,
  });

new GatewayStack(app, setting('gatewayStackName') ?? 'ClipGateway', {
  description: 'clip-gateway: the GraphQL gateway on ECS Fargate behind an Application Load Balancer.',
  invokeTarget: clip.invokeTarget,
  gpuTarget: gpu?.target,
  cpu: intSetting('cpu', 256),
  memoryLimitMiB: intSetting('memoryLimitMiB', 512),
  desiredCount: intSetting('desiredCount'),
  maxBatchSize: intSetting('maxBatchSize', 1),
  maxDelayMs: intSetting('maxDelayMs'),
  catalogue: catalogueSetting(),
  auroraMinAcu: acuSetting('auroraMinAcu'),
  auroraMaxAcu: acuSetting('auroraMaxAcu'),
  federation: boolSetting('federation'),
  // The gateway gives up on an invocation after the function's timeout plus the init phase a cold
  // start adds before it (Lambda allows up to 10 s), so the function's own timeout error arrives first.
  remoteTimeout: clip.timeout.plus(Duration.seconds(10)),
});

// For the cost explorer: every resource of every stack carries project=clip-gateway.
Tags.of(app).add('project', 'clip-gateway');
