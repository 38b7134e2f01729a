import { resolveSageMakerGpuOptions } from '../../infra';

describe('resolveSageMakerGpuOptions', () => {
  test('defaults to one ml.g6.xlarge on the CUDA 12 AMI, one copy at most, one started by a deploy, four requests per copy', () => {
    expect(resolveSageMakerGpuOptions({})).toEqual({
      instanceType: 'ml.g6.xlarge',
      amiVersion: 'al2-ami-sagemaker-inference-gpu-3-1',
      maxInstances: 1,
      maxCopies: 1,
      initialCopies: 1,
      targetConcurrency: 4,
    });
  });

  test('allows as many copies as instances unless told otherwise', () => {
    expect(resolveSageMakerGpuOptions({ maxInstances: 3 })).toMatchObject({ maxInstances: 3, maxCopies: 3 });
    expect(resolveSageMakerGpuOptions({ maxInstances: 1, maxCopies: 4, instanceType: 'ml.g6.12xlarge' })).toMatchObject({ maxCopies: 4 });
  });

  test('accepts the GPU families and AMI versions SageMaker names', () => {
    for (const instanceType of ['ml.g4dn.xlarge', 'ml.g5.2xlarge', 'ml.g6e.xlarge', 'ml.p4d.24xlarge', 'ml.p5.48xlarge']) {
      expect(resolveSageMakerGpuOptions({ instanceType }).instanceType).toBe(instanceType);
    }
    for (const amiVersion of [
      'al2-ami-sagemaker-inference-gpu-2',
      'al2-ami-sagemaker-inference-gpu-3-1',
      'al2023-ami-sagemaker-inference-gpu-4-1',
    ]) {
      expect(resolveSageMakerGpuOptions({ amiVersion }).amiVersion).toBe(amiVersion);
    }
  });

  test('refuses instance types without an NVIDIA GPU and AMIs for other accelerators, quoting the value', () => {
    for (const instanceType of ['ml.m5.xlarge', 'ml.inf2.xlarge', 'g6.xlarge', 'ml.g6', '']) {
      expect(() => resolveSageMakerGpuOptions({ instanceType })).toThrow(
        `instanceType must be a SageMaker GPU instance type (ml.g* or ml.p*, e.g. ml.g6.xlarge), got ${JSON.stringify(instanceType)}.`,
      );
    }
    expect(() => resolveSageMakerGpuOptions({ amiVersion: 'al2-ami-sagemaker-inference-neuron-2' })).toThrow(
      'amiVersion must be a SageMaker GPU inference AMI version (e.g. al2-ami-sagemaker-inference-gpu-3-1), got "al2-ami-sagemaker-inference-neuron-2".',
    );
  });

  test('refuses counts out of range and more initial copies than the most copies', () => {
    expect(() => resolveSageMakerGpuOptions({ maxInstances: 0 })).toThrow('maxInstances must be an integer >= 1, got 0.');
    expect(() => resolveSageMakerGpuOptions({ maxCopies: 1.5 })).toThrow('maxCopies must be an integer >= 1, got 1.5.');
    expect(() => resolveSageMakerGpuOptions({ initialCopies: -1 })).toThrow('initialCopies must be an integer >= 0, got -1.');
    expect(() => resolveSageMakerGpuOptions({ targetConcurrency: 0 })).toThrow('targetConcurrency must be an integer >= 1, got 0.');
    expect(() => resolveSageMakerGpuOptions({ maxCopies: 2, initialCopies: 3 })).toThrow('initialCopies (3) cannot exceed maxCopies (2).');
  });

  test('names each option as the caller knows it', () => {
    const settingOf = (option: string) => `gpu${option[0].toUpperCase()}${option.slice(1)}`;
    expect(() => resolveSageMakerGpuOptions({ maxCopies: 1, initialCopies: 2 }, settingOf)).toThrow(
      'gpuInitialCopies (2) cannot exceed gpuMaxCopies (1).',
    );
    expect(() => resolveSageMakerGpuOptions({ instanceType: 'ml.c7i.large' }, settingOf)).toThrow(/^gpuInstanceType must be/);
  });
});
