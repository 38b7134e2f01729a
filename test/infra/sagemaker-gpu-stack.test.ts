import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';

import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';

import { DEFAULT_MODEL_DIR, REPO_ROOT, SageMakerGpuStack, type SageMakerGpuStackProps } from '../../infra';
import { dockerImageSources, removeTestOutdirs, staged, testApp } from './cdk-app';

afterAll(removeTestOutdirs);

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

const SERVICE_LINKED_ROLE = {
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':iam::',
      { Ref: 'AWS::AccountId' },
      ':role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint',
    ],
  ],
};

function synth(props: SageMakerGpuStackProps = {}) {
  const app = testApp();
  const stack = new SageMakerGpuStack(app, 'ClipGpu', props);
  const template = Template.fromStack(stack);
  const id = (type: string) => template.getResourceId(type, {});
  const roleId = stack.getLogicalId(stack.executionRole.node.defaultChild as CfnRole);
  const roleStatements = () =>
    Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
  return { app, stack, template, id, roleId, roleStatements };
}

describe('SageMakerGpuStack with defaults', () => {
  const s = synth();
  const roleArn = { 'Fn::GetAtt': [s.roleId, 'Arn'] };

  test('builds functions/Dockerfile.cuda for linux/amd64 from the function image context, with the bundled tiny CLIP', () => {
    const sources = dockerImageSources(s.app, s.stack);
    expect(sources).toHaveLength(1);
    const [source] = sources;
    expect(source.dockerFile).toBe('functions/Dockerfile.cuda');
    expect(source.platform).toBe('linux/amd64');
    expect(source.dockerBuildArgs).toEqual({ MODEL_DIR: DEFAULT_MODEL_DIR });
    for (const path of [
      'package.json',
      'package-lock.json',
      '.npmrc',
      'functions/Dockerfile.cuda',
      'functions/entrypoint.sh',
      'tools/model.ts',
      'tools/gpu-check.ts',
      'tools/gpu-check/compare.ts',
      'models/tiny-clip/images/skimage-rocket.jpg',
    ]) {
      expect([path, staged(source, path)]).toEqual([path, true]);
    }
    expect(staged(source, 'models/tiny-clip/onnx/vision_model.onnx')).toBe(true);
    for (const path of ['node_modules', 'dist', '.git', 'cdk.out', 'gateway', 'infra', 'test/infra', 'tools/catalogue.ts']) {
      expect([path, staged(source, path)]).toEqual([path, false]);
    }
  });

  test('stages every file the CUDA Dockerfile copies from its context', () => {
    const [source] = dockerImageSources(s.app, s.stack);
    const dockerfile = readFileSync(join(REPO_ROOT, 'functions', 'Dockerfile.cuda'), 'utf8');
    // COPY lines without --from, their sources (the last word is the destination); the model's is a build argument.
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)]
      .flatMap(([, args]) =>
        args
          .split(/\s+/)
          .filter((word) => !word.startsWith('--'))
          .slice(0, -1),
      )
      .filter((path) => path !== '${MODEL_DIR}');
    expect(copied).toEqual(expect.arrayContaining(['functions', 'tools/gpu-check', 'models/tiny-clip']));
    for (const path of copied) expect([path, staged(source, path)]).toEqual([path, true]);
  });

  test('runs the image as a model that requires CUDA, with the model settings, under the execution role', () => {
    s.template.resourceCountIs('AWS::SageMaker::Model', 1);
    s.template.hasResourceProperties('AWS::SageMaker::Model', {
      ExecutionRoleArn: roleArn,
      PrimaryContainer: {
        Image: { 'Fn::Sub': Match.stringLikeRegexp(`container-assets-.*:${s.stack.image.assetHash}$`) },
        Environment: { CLIP_DEVICE: 'cuda', CLIP_REQUIRE_GPU: 'true', CLIP_MODEL_DIR: '/opt/model', CLIP_DTYPE: 'fp32' },
      },
    });
  });

  test('lets SageMaker, and only SageMaker, assume a role that pulls the image and writes logs', () => {
    s.template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'sagemaker.amazonaws.com' } }],
      },
    });
    const statements = s.roleStatements();
    const byAction = (action: string) => statements.filter((st) => ([] as string[]).concat(st.Action).includes(action));
    for (const action of ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability']) {
      expect(byAction(action).map((st) => JSON.stringify(st.Resource))).toEqual([expect.stringContaining(':repository/')]);
    }
    expect(byAction('ecr:GetAuthorizationToken').map((st) => st.Resource)).toEqual(['*']);
    for (const action of ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents']) {
      expect(byAction(action).map((st) => JSON.stringify(st.Resource))).toEqual([expect.stringContaining(':log-group:/aws/sagemaker/*')]);
    }
    expect(byAction('cloudwatch:PutMetricData')).toEqual([
      expect.objectContaining({ Resource: '*', Condition: { StringLike: { 'cloudwatch:namespace': '/aws/sagemaker/*' } } }),
    ]);
    // Nothing else: no wildcard actions, and every statement is one of the above.
    const actions = statements.flatMap((st) => ([] as string[]).concat(st.Action));
    expect(actions.every((a) => /^(ecr|logs):[A-Za-z]+$/.test(a) || a === 'cloudwatch:PutMetricData')).toBe(true);
  });

  test('configures one variant of ml.g6.xlarge instances that may scale to zero, on the CUDA 12 AMI, least outstanding requests first', () => {
    s.template.resourceCountIs('AWS::SageMaker::EndpointConfig', 1);
    s.template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ExecutionRoleArn: roleArn,
      ProductionVariants: [
        {
          VariantName: 'AllTraffic',
          InstanceType: 'ml.g6.xlarge',
          InitialInstanceCount: 1,
          ManagedInstanceScaling: { Status: 'ENABLED', MinInstanceCount: 0, MaxInstanceCount: 1 },
          RoutingConfig: { RoutingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
          InferenceAmiVersion: 'al2-ami-sagemaker-inference-gpu-3-1',
        },
      ],
    });
    s.template.hasResourceProperties('AWS::SageMaker::Endpoint', {
      EndpointConfigName: { 'Fn::GetAtt': [s.id('AWS::SageMaker::EndpointConfig'), 'EndpointConfigName'] },
    });
  });

  test('creates the model and endpoint configuration only once the role can pull the image', () => {
    const policyId = s.id('AWS::IAM::Policy');
    for (const type of ['AWS::SageMaker::Model', 'AWS::SageMaker::EndpointConfig']) {
      s.template.hasResource(type, { DependsOn: Match.arrayWith([policyId]) });
    }
  });

  test('hosts the container as a named inference component: one GPU, 1 GiB, 10 minutes to start, one copy', () => {
    s.template.hasResourceProperties('AWS::SageMaker::InferenceComponent', {
      InferenceComponentName: 'ClipGpu-clip',
      EndpointName: { 'Fn::GetAtt': [s.id('AWS::SageMaker::Endpoint'), 'EndpointName'] },
      VariantName: 'AllTraffic',
      Specification: {
        ModelName: { 'Fn::GetAtt': [s.id('AWS::SageMaker::Model'), 'ModelName'] },
        ComputeResourceRequirements: { NumberOfAcceleratorDevicesRequired: 1, MinMemoryRequiredInMb: 1024 },
        StartupParameters: { ContainerStartupHealthCheckTimeoutInSeconds: 600 },
      },
      RuntimeConfig: { CopyCount: 1 },
    });
    expect(s.stack.target.inferenceComponentName).toBe('ClipGpu-clip');
  });

  test('keeps the component logs for a month in a group created first and removed with the stack', () => {
    const logGroupId = s.template.getResourceId('AWS::Logs::LogGroup', {
      Properties: { LogGroupName: '/aws/sagemaker/InferenceComponents/ClipGpu-clip', RetentionInDays: 30 },
    });
    s.template.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete' });
    s.template.hasResource('AWS::SageMaker::InferenceComponent', { DependsOn: [logGroupId] });
    s.template.hasOutput('LogGroupName', { Value: { Ref: logGroupId } });
  });

  test('registers the copy count as a scalable target from 0, with the SageMaker service-linked role, after the component exists', () => {
    s.template.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 1);
    s.template.hasResource('AWS::ApplicationAutoScaling::ScalableTarget', {
      Properties: {
        ServiceNamespace: 'sagemaker',
        ResourceId: 'inference-component/ClipGpu-clip',
        ScalableDimension: 'sagemaker:inference-component:DesiredCopyCount',
        MinCapacity: 0,
        MaxCapacity: 1,
        RoleARN: SERVICE_LINKED_ROLE,
      },
      DependsOn: [s.id('AWS::SageMaker::InferenceComponent')],
    });
    // No role of its own: the service-linked role is the only one Application Auto Scaling uses.
    s.template.resourceCountIs('AWS::IAM::Role', 1);
  });

  test('tracks concurrent requests per copy (high resolution) to scale out and in', () => {
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      ScalingTargetId: { Ref: s.id('AWS::ApplicationAutoScaling::ScalableTarget') },
      TargetTrackingScalingPolicyConfiguration: {
        PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution' },
        TargetValue: 4,
        ScaleOutCooldown: 60,
        ScaleInCooldown: 300,
      },
    });
  });

  test('wakes from zero: an alarm on NoCapacityInvocationFailures fires a step policy adding one copy', () => {
    const stepPolicyId = s.template.getResourceId('AWS::ApplicationAutoScaling::ScalingPolicy', {
      Properties: { PolicyType: 'StepScaling' },
    });
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'StepScaling',
      ScalingTargetId: { Ref: s.id('AWS::ApplicationAutoScaling::ScalableTarget') },
      StepScalingPolicyConfiguration: {
        AdjustmentType: 'ChangeInCapacity',
        MetricAggregationType: 'Maximum',
        Cooldown: 600,
        StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 1 }],
      },
    });
    s.template.resourceCountIs('AWS::CloudWatch::Alarm', 1);
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SageMaker',
      MetricName: 'NoCapacityInvocationFailures',
      Dimensions: [{ Name: 'InferenceComponentName', Value: 'ClipGpu-clip' }],
      Statistic: 'Maximum',
      Period: 30,
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      TreatMissingData: 'notBreaching',
      // A step policy's Ref is its ARN.
      AlarmActions: [{ Ref: stepPolicyId }],
    });
  });

  test('outputs the endpoint and component names and exposes the target the gateway calls', () => {
    const endpointId = s.id('AWS::SageMaker::Endpoint');
    s.template.hasOutput('EndpointName', { Value: { 'Fn::GetAtt': [endpointId, 'EndpointName'] } });
    s.template.hasOutput('InferenceComponentName', { Value: 'ClipGpu-clip' });
    const resolve = (value: string) => s.stack.resolve(value) as unknown;
    expect(resolve(s.stack.target.endpointName)).toEqual({ 'Fn::GetAtt': [endpointId, 'EndpointName'] });
    expect(resolve(s.stack.target.endpointArn)).toEqual({ 'Fn::GetAtt': [endpointId, 'EndpointArn'] });
  });
});

describe('SageMakerGpuStack with props', () => {
  // A model directory with int8 weights: the tiny CLIP's files, its fp32 towers copied under the q8 names.
  let modelDir: string;
  beforeAll(() => {
    const absolute = mkdtempSync(join(REPO_ROOT, 'test', 'infra', 'tmp-gpu-model-'));
    const tiny = join(REPO_ROOT, DEFAULT_MODEL_DIR);
    for (const file of ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'])
      copyFileSync(join(tiny, file), join(absolute, file));
    mkdirSync(join(absolute, 'onnx'));
    for (const tower of ['text', 'vision'])
      copyFileSync(join(tiny, 'onnx', `${tower}_model.onnx`), join(absolute, 'onnx', `${tower}_model_quantized.onnx`));
    modelDir = relative(REPO_ROOT, absolute);
  });
  afterAll(() => rmSync(join(REPO_ROOT, modelDir), { recursive: true, force: true }));

  test('sizes the endpoint, the component and its scaling from its props, and bakes in the model asked for', () => {
    const s = synth({
      modelDir,
      dtype: 'q8',
      instanceType: 'ml.g5.2xlarge',
      amiVersion: 'al2023-ami-sagemaker-inference-gpu-4-1',
      maxInstances: 3,
      maxCopies: 3,
      initialCopies: 0,
      targetConcurrency: 8,
      inferenceComponentName: 'clip-vit-b32',
      memoryMiB: 4096,
      startupHealthCheckTimeout: Duration.minutes(20),
      wakeCooldown: Duration.minutes(7),
    });
    s.template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [
        Match.objectLike({
          InstanceType: 'ml.g5.2xlarge',
          InferenceAmiVersion: 'al2023-ami-sagemaker-inference-gpu-4-1',
          ManagedInstanceScaling: { Status: 'ENABLED', MinInstanceCount: 0, MaxInstanceCount: 3 },
        }),
      ],
    });
    s.template.hasResourceProperties('AWS::SageMaker::InferenceComponent', {
      InferenceComponentName: 'clip-vit-b32',
      Specification: Match.objectLike({
        ComputeResourceRequirements: { NumberOfAcceleratorDevicesRequired: 1, MinMemoryRequiredInMb: 4096 },
        StartupParameters: { ContainerStartupHealthCheckTimeoutInSeconds: 1200 },
      }),
      RuntimeConfig: { CopyCount: 0 },
    });
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      ResourceId: 'inference-component/clip-vit-b32',
      MinCapacity: 0,
      MaxCapacity: 3,
    });
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 8 }),
    });
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      StepScalingPolicyConfiguration: Match.objectLike({ Cooldown: 420 }),
    });
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Dimensions: [{ Name: 'InferenceComponentName', Value: 'clip-vit-b32' }],
    });
    s.template.hasResourceProperties('AWS::SageMaker::Model', {
      PrimaryContainer: Match.objectLike({ Environment: Match.objectLike({ CLIP_DTYPE: 'q8' }) }),
    });
    const [source] = dockerImageSources(s.app, s.stack);
    expect(source.dockerBuildArgs).toEqual({ MODEL_DIR: modelDir });
    expect(staged(source, join(modelDir, 'onnx', 'vision_model_quantized.onnx'))).toBe(true);
    // The tiny CLIP is staged whatever the model: it is the GPU check's reference images.
    expect(staged(source, DEFAULT_MODEL_DIR)).toBe(true);
  });
});

describe('SageMakerGpuStack validation', () => {
  test('refuses, at synth time, a dtype whose weights the model directory lacks', () => {
    expect(() => synth({ dtype: 'q8' })).toThrow(/text_model_quantized\.onnx/);
  });

  test('refuses options SageMaker would refuse, naming the prop and quoting the value', () => {
    expect(() => synth({ instanceType: 'ml.m5.xlarge' })).toThrow(
      'instanceType must be a SageMaker GPU instance type (ml.g* or ml.p*, e.g. ml.g6.xlarge), got "ml.m5.xlarge".',
    );
    expect(() => synth({ maxCopies: 0 })).toThrow('maxCopies must be an integer >= 1, got 0.');
    expect(() => synth({ inferenceComponentName: 'clip_gpu' })).toThrow(/inferenceComponentName must be .*, got "clip_gpu"\./);
    expect(() => synth({ inferenceComponentName: 'x'.repeat(64) })).toThrow(/inferenceComponentName must be 1 to 63/);
    expect(() => synth({ memoryMiB: 64 })).toThrow('memoryMiB must be an integer >= 128, got 64.');
    expect(() => synth({ startupHealthCheckTimeout: Duration.seconds(30) })).toThrow(
      "startupHealthCheckTimeout must be from 60 to 3600 seconds (SageMaker's range), got 30.",
    );
    expect(() => synth({ startupHealthCheckTimeout: Duration.hours(2) })).toThrow(/got 7200/);
  });
});
