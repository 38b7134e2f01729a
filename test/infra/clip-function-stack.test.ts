import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';

import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';

import { checkModelDir, ClipFunctionStack, DEFAULT_MODEL_DIR, REPO_ROOT, type ClipFunctionStackProps } from '../../infra';
import { dockerImageSources, removeTestOutdirs, staged, testApp } from './cdk-app';

afterAll(removeTestOutdirs);

function synth(props: ClipFunctionStackProps = {}) {
  const app = testApp();
  const stack = new ClipFunctionStack(app, 'ClipFunction', props);
  const template = Template.fromStack(stack);
  const functionId = template.getResourceId('AWS::Lambda::Function', {});
  return { app, stack, template, functionId };
}

describe('ClipFunctionStack with defaults', () => {
  const { app, stack, template, functionId } = synth();

  test('is one container-image function with the documented defaults', () => {
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      PackageType: 'Image',
      Code: { ImageUri: Match.anyValue() },
      MemorySize: 3008,
      Timeout: 30,
      Architectures: ['x86_64'],
      Environment: { Variables: { CLIP_MODEL_DIR: '/opt/model', CLIP_DTYPE: 'fp32' } },
      ReservedConcurrentExecutions: Match.absent(),
      Handler: Match.absent(),
      Runtime: Match.absent(),
    });
  });

  test('has no alias or provisioned concurrency, and callers invoke the function itself', () => {
    template.resourceCountIs('AWS::Lambda::Alias', 0);
    template.resourceCountIs('AWS::Lambda::Version', 0);
    expect(stack.alias).toBeUndefined();
    expect(stack.invokeTarget).toBe(stack.clipFunction);
  });

  test('logs to an explicit log group kept for one month', () => {
    const logGroupId = template.getResourceId('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 30 } });
    template.hasResourceProperties('AWS::Lambda::Function', { LoggingConfig: { LogGroup: { Ref: logGroupId } } });
    template.hasOutput('LogGroupName', { Value: { Ref: logGroupId } });
    template.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete' });
    // No Custom::LogRetention function: the deprecated logRetention prop is not used.
    template.resourceCountIs('Custom::LogRetention', 0);
  });

  test('alarms on errors, throttles and p99 duration at 80% of the timeout', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 3);
    const common = {
      Namespace: 'AWS/Lambda',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionId } }],
      Period: 300,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    };
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { ...common, MetricName: 'Errors', Statistic: 'Sum', Threshold: 1 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { ...common, MetricName: 'Throttles', Statistic: 'Sum', Threshold: 1 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ...common,
      MetricName: 'Duration',
      ExtendedStatistic: 'p99',
      Threshold: 24_000,
    });
  });

  test('outputs the function name', () => {
    template.hasOutput('FunctionName', { Value: { Ref: functionId } });
    template.hasOutput('InvokeTargetArn', { Value: { 'Fn::GetAtt': [functionId, 'Arn'] } });
  });

  test('builds functions/Dockerfile for x86_64 with the bundled tiny CLIP, from a context without dependencies or other sources', () => {
    const sources = dockerImageSources(app, stack);
    expect(sources).toHaveLength(1);
    const [source] = sources;
    expect(source.dockerFile).toBe('functions/Dockerfile');
    expect(source.dockerBuildArgs).toEqual({ MODEL_DIR: DEFAULT_MODEL_DIR });
    expect(source.platform).toBe('linux/amd64');
    for (const path of [
      'package.json',
      'package-lock.json',
      '.npmrc',
      'tsconfig.build.json',
      'functions/clip/model.ts',
      'functions/Dockerfile',
      'tools/model.ts',
    ]) {
      expect([path, staged(source, path)]).toEqual([path, true]);
    }
    for (const path of ['models/tiny-clip/config.json', 'models/tiny-clip/onnx/vision_model.onnx']) {
      expect([path, staged(source, path)]).toEqual([path, true]);
    }
    for (const path of [
      'node_modules',
      'dist',
      '.git',
      'cdk.out',
      'gateway',
      'infra',
      'test/functions',
      'test/infra',
      'tools/catalogue.ts',
    ]) {
      expect([path, staged(source, path)]).toEqual([path, false]);
    }
  });
});

describe('ClipFunctionStack with props', () => {
  const { app, stack, template, functionId } = synth({
    memorySize: 4096,
    architecture: lambda.Architecture.ARM_64,
    timeout: Duration.seconds(60),
    reservedConcurrency: 10,
    provisionedConcurrency: 2,
    logRetention: logs.RetentionDays.ONE_WEEK,
  });

  test('sizes the function from its props', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      PackageType: 'Image',
      MemorySize: 4096,
      Timeout: 60,
      Architectures: ['arm64'],
      ReservedConcurrentExecutions: 10,
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  test('puts provisioned concurrency on a live alias of the current version, which becomes the invoke target', () => {
    const versionId = template.getResourceId('AWS::Lambda::Version', { Properties: { FunctionName: { Ref: functionId } } });
    template.resourceCountIs('AWS::Lambda::Alias', 1);
    template.hasResourceProperties('AWS::Lambda::Alias', {
      Name: 'live',
      FunctionName: { Ref: functionId },
      FunctionVersion: { 'Fn::GetAtt': [versionId, 'Version'] },
      ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 2 },
    });
    expect(stack.alias).toBeDefined();
    expect(stack.invokeTarget).toBe(stack.alias);
    const aliasId = template.getResourceId('AWS::Lambda::Alias', {});
    template.hasOutput('InvokeTargetArn', { Value: { Ref: aliasId } });
  });

  test('keeps exporting the function name and ARN while the alias is the target', () => {
    const exported = Object.values(template.findOutputs('*', { Export: Match.anyValue() })).map((o) => o.Value);
    expect(exported).toEqual(expect.arrayContaining([{ Ref: functionId }, { 'Fn::GetAtt': [functionId, 'Arn'] }]));
  });

  test('scales the duration alarm with the timeout', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Duration', ExtendedStatistic: 'p99', Threshold: 48_000 });
  });

  test('builds the image for arm64', () => {
    expect(dockerImageSources(app, stack).map((s) => s.platform)).toEqual(['linux/arm64']);
  });
});

describe('ClipFunctionStack model and dtype', () => {
  // A model directory with int8 weights: the tiny CLIP's files, its fp32 towers copied under the q8 names.
  let modelDir: string;
  beforeAll(() => {
    const absolute = mkdtempSync(join(REPO_ROOT, 'test', 'infra', 'tmp-model-'));
    const tiny = join(REPO_ROOT, DEFAULT_MODEL_DIR);
    for (const file of ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'])
      copyFileSync(join(tiny, file), join(absolute, file));
    mkdirSync(join(absolute, 'onnx'));
    for (const tower of ['text', 'vision'])
      copyFileSync(join(tiny, 'onnx', `${tower}_model.onnx`), join(absolute, 'onnx', `${tower}_model_quantized.onnx`));
    modelDir = relative(REPO_ROOT, absolute);
  });
  afterAll(() => rmSync(join(REPO_ROOT, modelDir), { recursive: true, force: true }));

  test('passes dtype to the function and the model directory to the image build, re-included despite test/ being excluded', () => {
    const { app, stack, template } = synth({ modelDir, dtype: 'q8' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { CLIP_MODEL_DIR: '/opt/model', CLIP_DTYPE: 'q8' } },
    });
    const [source] = dockerImageSources(app, stack);
    expect(source.dockerBuildArgs).toEqual({ MODEL_DIR: modelDir });
    expect(staged(source, join(modelDir, 'onnx', 'vision_model_quantized.onnx'))).toBe(true);
    expect(staged(source, DEFAULT_MODEL_DIR)).toBe(false);
  });

  test('refuses, at synth time, a dtype whose weights the model directory lacks', () => {
    expect(() => synth({ dtype: 'q8' })).toThrow(/text_model_quantized\.onnx/);
  });

  test('refuses model directories outside the build context or missing', () => {
    expect(() => checkModelDir('/opt/model', 'fp32')).toThrow(/relative to the repository root/);
    expect(() => checkModelDir('../elsewhere', 'fp32')).toThrow(/inside the repository/);
    expect(() => checkModelDir('.', 'fp32')).toThrow(/inside the repository/);
    expect(() => checkModelDir('node_modules/some-model', 'fp32')).toThrow(/never sent to Docker/);
    expect(() => checkModelDir('models/not-there', 'fp32')).toThrow(/not a directory/);
    expect(() => checkModelDir('functions', 'fp32')).toThrow(/config\.json/);
    expect(checkModelDir('./models/tiny-clip/', 'fp32')).toBe('models/tiny-clip');
  });
});

describe('ClipFunctionStack validation', () => {
  test('refuses more provisioned than reserved concurrency', () => {
    expect(() => synth({ reservedConcurrency: 1, provisionedConcurrency: 2 })).toThrow(/cannot exceed reservedConcurrency/);
  });

  test('refuses a memory size Lambda does not offer', () => {
    expect(() => synth({ memorySize: 64 })).toThrow(/memorySize/);
    expect(() => synth({ memorySize: 20_000 })).toThrow(/memorySize/);
  });

  test('refuses a negative or fractional provisioned concurrency', () => {
    expect(() => synth({ provisionedConcurrency: -1 })).toThrow(/non-negative integer/);
    expect(() => synth({ provisionedConcurrency: 1.5 })).toThrow(/non-negative integer/);
  });
});
