import * as lambda from 'aws-cdk-lib/aws-lambda';

import { contextThenEnvironment, readInfraSettings, settingEnvName } from '../../infra/settings';
import { removeTestOutdirs, testApp } from './cdk-app';

afterAll(removeTestOutdirs);

/** The settings the app reads from a real App carrying cdk.json's context (and `-c` context, if any), and this environment. */
function settings(env: Record<string, string>, context: Record<string, unknown> = {}) {
  const app = testApp();
  for (const [name, value] of Object.entries(context)) app.node.setContext(name, value);
  return readInfraSettings(contextThenEnvironment(app.node, env));
}

describe('readInfraSettings', () => {
  it('with nothing set, builds ClipFunction and ClipGateway with every prop left to its stack, and no GPU tier', () => {
    const { function: fn, gpu, gateway } = settings({});
    expect(fn.name).toBe('ClipFunction');
    expect(Object.values(fn.props).filter((value) => value !== undefined)).toEqual([]);
    expect(gpu).toBeUndefined();
    expect(gateway.name).toBe('ClipGateway');
    expect(Object.values(gateway.props).filter((value) => value !== undefined)).toEqual([]);
  });

  it('gives each stack the props its settings name', () => {
    const {
      function: fn,
      gpu,
      gateway,
    } = settings({
      CLIP_INFRA_FUNCTION_STACK_NAME: 'F2',
      CLIP_INFRA_MODEL_DIR: 'models/clip-vit-base-patch32',
      CLIP_INFRA_DTYPE: 'q8',
      CLIP_INFRA_ARCHITECTURE: 'arm64',
      CLIP_INFRA_MEMORY_SIZE: '4096',
      CLIP_INFRA_TIMEOUT_SECONDS: '45',
      CLIP_INFRA_RESERVED_CONCURRENCY: '10',
      CLIP_INFRA_PROVISIONED_CONCURRENCY: '2',
      CLIP_INFRA_GPU: 'sagemaker',
      CLIP_INFRA_GPU_STACK_NAME: 'P2',
      CLIP_INFRA_GPU_MAX_INSTANCES: '3',
      CLIP_INFRA_GPU_INITIAL_COPIES: '0',
      CLIP_INFRA_GATEWAY_STACK_NAME: 'G2',
      CLIP_INFRA_CPU: '2048',
      CLIP_INFRA_MEMORY_LIMIT_MI_B: '4096',
      CLIP_INFRA_DESIRED_COUNT: '3',
      CLIP_INFRA_MAX_BATCH_SIZE: '16',
      CLIP_INFRA_MAX_DELAY_MS: '0',
      CLIP_INFRA_CATALOGUE: 'aurora',
      CLIP_INFRA_AURORA_MIN_ACU: '1.5',
      CLIP_INFRA_AURORA_MAX_ACU: '8',
      CLIP_INFRA_FEDERATION: 'true',
    });
    expect(fn.name).toBe('F2');
    const { timeout, ...functionProps } = fn.props;
    expect(timeout?.toSeconds()).toBe(45);
    expect(functionProps).toEqual({
      modelDir: 'models/clip-vit-base-patch32',
      dtype: 'q8',
      architecture: lambda.Architecture.ARM_64,
      memorySize: 4096,
      reservedConcurrency: 10,
      provisionedConcurrency: 2,
    });
    // The GPU tier bakes the same model, with its options resolved (maxCopies follows maxInstances).
    expect(gpu).toEqual({
      name: 'P2',
      props: {
        modelDir: 'models/clip-vit-base-patch32',
        dtype: 'q8',
        instanceType: 'ml.g6.xlarge',
        amiVersion: 'al2-ami-sagemaker-inference-gpu-3-1',
        maxInstances: 3,
        maxCopies: 3,
        initialCopies: 0,
        targetConcurrency: 4,
      },
    });
    expect(gateway).toEqual({
      name: 'G2',
      props: {
        cpu: 2048,
        memoryLimitMiB: 4096,
        desiredCount: 3,
        maxBatchSize: 16,
        maxDelayMs: 0,
        catalogue: 'aurora',
        auroraMinAcu: 1.5,
        auroraMaxAcu: 8,
        federation: true,
      },
    });
  });

  it('reads CLIP_INFRA_ and the setting name in capitals, a word per capital', () => {
    expect(['auroraMinAcu', 'memoryLimitMiB', 'gpuStackName', 'cpu'].map(settingEnvName)).toEqual([
      'CLIP_INFRA_AURORA_MIN_ACU',
      'CLIP_INFRA_MEMORY_LIMIT_MI_B',
      'CLIP_INFRA_GPU_STACK_NAME',
      'CLIP_INFRA_CPU',
    ]);
  });

  it('takes the context over the environment, and the environment where the context is silent', () => {
    const { function: fn, gateway } = settings(
      { CLIP_INFRA_MEMORY_SIZE: '2048', CLIP_INFRA_CPU: '512' },
      { memorySize: '4096', federation: 'true' },
    );
    expect(fn.props.memorySize).toBe(4096);
    expect(gateway.props.cpu).toBe(512);
    expect(gateway.props.federation).toBe(true);
  });

  it('reads context given as JSON numbers and booleans (cdk.json) as the strings the CLI passes', () => {
    const { function: fn, gateway } = settings({}, { memorySize: 4096, federation: true, auroraMaxAcu: 2.5 });
    expect(fn.props.memorySize).toBe(4096);
    expect(gateway.props.federation).toBe(true);
    expect(gateway.props.auroraMaxAcu).toBe(2.5);
  });

  it('trims values, and takes a blank one as unset', () => {
    const {
      function: fn,
      gpu,
      gateway,
    } = settings({
      CLIP_INFRA_MEMORY_SIZE: ' 4096 ',
      CLIP_INFRA_GPU: '',
      CLIP_INFRA_GPU_MAX_COPIES: '   ',
      CLIP_INFRA_CATALOGUE: ' ',
      CLIP_INFRA_FUNCTION_STACK_NAME: '',
    });
    expect(fn.props.memorySize).toBe(4096);
    expect(fn.name).toBe('ClipFunction');
    expect(gpu).toBeUndefined();
    expect(gateway.props.catalogue).toBeUndefined();
  });

  it('takes a blank context value as unset, without falling back to the environment (`-c gpu=` turns off CLIP_INFRA_GPU)', () => {
    const { gpu, gateway } = settings({ CLIP_INFRA_GPU: 'sagemaker', CLIP_INFRA_CPU: '512' }, { gpu: '', cpu: ' ' });
    expect(gpu).toBeUndefined();
    expect(gateway.props.cpu).toBeUndefined();
  });

  it('checks timeoutSeconds first, then the GPU tier, then the function, then the gateway', () => {
    const bad: [string, string, string][] = [
      ['timeoutSeconds', '0', 'Setting timeoutSeconds must be an integer >= 1, got "0".'],
      ['gpu', 'runpod', 'Setting gpu must be sagemaker (or unset for no GPU tier), got "runpod".'],
      ['memorySize', '64', 'Setting memorySize must be an integer >= 128, got "64".'],
      ['cpu', 'lots', 'Setting cpu must be an integer >= 256, got "lots".'],
    ];
    // All four bad, then the last three, and so on: each time the first of those left is refused.
    bad.forEach(([, , message], first) => {
      const env = Object.fromEntries(bad.slice(first).map(([name, value]) => [settingEnvName(name), value]));
      expect(() => settings(env)).toThrow(new Error(message));
    });
  });
});

describe('readInfraSettings refuses', () => {
  // The refusals `cdk synth` printed when these were process tests (cdk-cli.test.ts keeps one).
  it.each<[string, Record<string, string>, string]>([
    ['a catalogue it does not know', { CLIP_INFRA_CATALOGUE: 'dynamodb' }, 'Setting catalogue must be sqlite or aurora, got "dynamodb".'],
    [
      'an Aurora capacity that is not a number',
      { CLIP_INFRA_CATALOGUE: 'aurora', CLIP_INFRA_AURORA_MIN_ACU: 'half' },
      'Setting auroraMinAcu must be a number of ACUs in steps of 0.5 (0.5, 1, 1.5, ...), got "half".',
    ],
    [
      'a GPU tier it does not know',
      { CLIP_INFRA_GPU: 'runpod' },
      'Setting gpu must be sagemaker (or unset for no GPU tier), got "runpod".',
    ],
    [
      'a GPU setting without a GPU tier',
      { CLIP_INFRA_GPU_MAX_COPIES: '2' },
      'Setting gpuMaxCopies is set ("2") but gpu is not: it needs gpu=sagemaker.',
    ],
    [
      'a GPU instance type without a GPU',
      { CLIP_INFRA_GPU: 'sagemaker', CLIP_INFRA_GPU_INSTANCE_TYPE: 'ml.m5.large' },
      'Setting gpuInstanceType must be a SageMaker GPU instance type (ml.g* or ml.p*, e.g. ml.g6.xlarge), got "ml.m5.large".',
    ],
    [
      'a GPU tier of no instances',
      { CLIP_INFRA_GPU: 'sagemaker', CLIP_INFRA_GPU_MAX_INSTANCES: '0' },
      'Setting gpuMaxInstances must be an integer >= 1, got "0".',
    ],
    [
      'more initial GPU copies than it may have',
      { CLIP_INFRA_GPU: 'sagemaker', CLIP_INFRA_GPU_MAX_COPIES: '2', CLIP_INFRA_GPU_INITIAL_COPIES: '3' },
      'Setting gpuInitialCopies (3) cannot exceed gpuMaxCopies (2).',
    ],
    [
      'a GPU stack name without a GPU tier',
      { CLIP_INFRA_GPU_STACK_NAME: 'MyGpu' },
      'Setting gpuStackName is set ("MyGpu") but gpu is not: it needs gpu=sagemaker.',
    ],
    [
      'a GPU AMI that is not a GPU inference AMI',
      { CLIP_INFRA_GPU: 'sagemaker', CLIP_INFRA_GPU_AMI_VERSION: 'al2-ami-sagemaker-inference-cpu-1' },
      'Setting gpuAmiVersion must be a SageMaker GPU inference AMI version (e.g. al2-ami-sagemaker-inference-gpu-3-1), got "al2-ami-sagemaker-inference-cpu-1".',
    ],
  ])('%s', (_, env, message) => {
    expect(() => settings(env)).toThrow(new Error(message));
  });

  it.each<[string, string, string]>([
    ['memorySize', '1.5', 'Setting memorySize must be an integer >= 128, got "1.5".'],
    ['memorySize', '127', 'Setting memorySize must be an integer >= 128, got "127".'],
    ['timeoutSeconds', 'thirty', 'Setting timeoutSeconds must be an integer >= 1, got "thirty".'],
    ['reservedConcurrency', '-1', 'Setting reservedConcurrency must be an integer >= 0, got "-1".'],
    ['provisionedConcurrency', '1e400', 'Setting provisionedConcurrency must be an integer >= 0, got "1e400".'],
    ['cpu', '128', 'Setting cpu must be an integer >= 256, got "128".'],
    ['memoryLimitMiB', '2GB', 'Setting memoryLimitMiB must be an integer >= 512, got "2GB".'],
    ['desiredCount', '0x', 'Setting desiredCount must be an integer >= 0, got "0x".'],
    ['maxBatchSize', '0', 'Setting maxBatchSize must be an integer >= 1, got "0".'],
    ['maxDelayMs', '2.5', 'Setting maxDelayMs must be an integer >= 0, got "2.5".'],
  ])('an integer setting that is not one, or too small: %s=%s', (name, value, message) => {
    expect(() => settings({ [settingEnvName(name)]: value })).toThrow(new Error(message));
  });

  it.each<[string, string]>([
    ['0', 'Setting auroraMaxAcu must be a number of ACUs in steps of 0.5 (0.5, 1, 1.5, ...), got "0".'],
    ['0.3', 'Setting auroraMaxAcu must be a number of ACUs in steps of 0.5 (0.5, 1, 1.5, ...), got "0.3".'],
    ['-2', 'Setting auroraMaxAcu must be a number of ACUs in steps of 0.5 (0.5, 1, 1.5, ...), got "-2".'],
    ['Infinity', 'Setting auroraMaxAcu must be a number of ACUs in steps of 0.5 (0.5, 1, 1.5, ...), got "Infinity".'],
  ])('a number of ACUs not in steps of 0.5: auroraMaxAcu=%s', (value, message) => {
    expect(() => settings({ CLIP_INFRA_CATALOGUE: 'aurora', CLIP_INFRA_AURORA_MAX_ACU: value })).toThrow(new Error(message));
  });

  it('a boolean that is not true or false', () => {
    expect(() => settings({ CLIP_INFRA_FEDERATION: 'yes' })).toThrow(new Error('Setting federation must be true or false, got "yes".'));
  });

  it('an architecture Lambda does not run', () => {
    expect(() => settings({ CLIP_INFRA_ARCHITECTURE: 'arm' })).toThrow(
      new Error('Setting architecture must be x86_64 or arm64, got "arm".'),
    );
  });

  it('a dtype with no weights of that name', () => {
    expect(() => settings({ CLIP_INFRA_DTYPE: 'fp8' })).toThrow(
      new Error('Setting dtype must be one of fp32, fp16, q8, int8, uint8, q4, bnb4, q4f16, got "fp8".'),
    );
  });

  it('a bad value given as context, naming the setting as the context does', () => {
    expect(() => settings({}, { memorySize: 'big' })).toThrow(new Error('Setting memorySize must be an integer >= 128, got "big".'));
  });
});
