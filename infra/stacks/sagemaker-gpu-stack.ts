import { ArnFormat, Aws, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { ApplicationScalingAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { DockerImageAsset, Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import type { Construct } from 'constructs';

import type { ModelDtype } from '../../functions/clip/model-dir';
import { checkModelDir, cudaImageExcludes, DEFAULT_MODEL_DIR, REPO_ROOT } from '../assets';
import { MODEL_PATH_IN_IMAGE } from './clip-function-stack';
import { resolveSageMakerGpuOptions, type ResolvedSageMakerGpuOptions, type SageMakerGpuOptions } from './sagemaker-gpu-options';

/** The endpoint's one production variant, which hosts the inference component. */
export const GPU_VARIANT_NAME = 'AllTraffic';

/** What the gateway calls: InvokeEndpoint with this endpoint and component. */
export interface SageMakerGpuTarget {
  /** The endpoint's name (env SAGEMAKER_ENDPOINT). */
  readonly endpointName: string;
  /** The endpoint's ARN, all that the gateway's role may invoke. */
  readonly endpointArn: string;
  /** The inference component's name (env SAGEMAKER_INFERENCE_COMPONENT). */
  readonly inferenceComponentName: string;
}

export interface SageMakerGpuStackProps extends StackProps, SageMakerGpuOptions {
  /** Model directory baked into the image, relative to the repository root. Default 'models/tiny-clip' (the bundled tiny CLIP). */
  readonly modelDir?: string;
  /** Which ONNX weights the container loads (env CLIP_DTYPE); the model directory must hold them. Default 'fp32'. */
  readonly dtype?: ModelDtype;
  /**
   * The inference component's name. CloudFormation cannot report it (the resource has no name
   * attribute), and the scaling target, the alarm and the gateway all need it, so it is chosen here.
   * Default: `<stack name>-clip`.
   */
  readonly inferenceComponentName?: string;
  /** Host memory SageMaker reserves for each copy when it places copies on instances. Default 1024 MiB. */
  readonly memoryMiB?: number;
  /** How long a new copy may take to answer /ping with 200 (image pull, CUDA start, model load). Default 10 minutes. */
  readonly startupHealthCheckTimeout?: Duration;
  /**
   * After the wake-from-zero step adds a copy, how long before it may add another. The no-capacity
   * alarm stays in ALARM while the copy starts (the gateway keeps sending wake calls), and Application
   * Auto Scaling runs an alarm's step policy again every minute it stays there: a cooldown as long as
   * a wake keeps one wake to one copy. Default 10 minutes.
   */
  readonly wakeCooldown?: Duration;
  /** How long the inference component's container logs are kept. Default one month. */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The GPU tier: the CLIP function's CUDA image on a SageMaker real-time endpoint that scales to
 * zero. The container runs as an inference component (one GPU per copy) on an endpoint whose
 * managed instance scaling may release every instance; Application Auto Scaling moves the copy
 * count between 0 and `maxCopies`. Target tracking on concurrent requests per copy scales out and
 * back in to zero, but it cannot leave zero (there is no per-copy value with no copies), so a step
 * policy fired by SageMaker's NoCapacityInvocationFailures metric adds the first copy. A wake takes
 * minutes; the gateway sends work to the CPU Lambda meanwhile.
 */
export class SageMakerGpuStack extends Stack {
  readonly target: SageMakerGpuTarget;
  readonly options: ResolvedSageMakerGpuOptions;
  readonly image: DockerImageAsset;
  /** The role SageMaker assumes to pull the image and write the container's logs. */
  readonly executionRole: iam.Role;
  readonly endpoint: sagemaker.CfnEndpoint;
  readonly inferenceComponent: sagemaker.CfnInferenceComponent;
  readonly scalableTarget: appscaling.ScalableTarget;
  /** Fires the wake-from-zero step policy on a request that found no copy. */
  readonly wakeAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: SageMakerGpuStackProps = {}) {
    super(scope, id, props);
    const options = resolveSageMakerGpuOptions(props);
    this.options = options;
    const dtype = props.dtype ?? 'fp32';
    const modelDir = checkModelDir(props.modelDir ?? DEFAULT_MODEL_DIR, dtype);
    const componentName = props.inferenceComponentName ?? `${this.stackName}-clip`;
    if (!/^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(componentName) || componentName.length > 63) {
      throw new Error(
        `inferenceComponentName must be 1 to 63 letters, digits and inner hyphens (SageMaker's rule), got ${JSON.stringify(componentName)}.`,
      );
    }
    const memoryMiB = props.memoryMiB ?? 1024;
    if (!Number.isInteger(memoryMiB) || memoryMiB < 128) throw new Error(`memoryMiB must be an integer >= 128, got ${memoryMiB}.`);
    const startupTimeout = (props.startupHealthCheckTimeout ?? Duration.minutes(10)).toSeconds();
    if (startupTimeout < 60 || startupTimeout > 3600) {
      throw new Error(`startupHealthCheckTimeout must be from 60 to 3600 seconds (SageMaker's range), got ${startupTimeout}.`);
    }

    // The function image's build context and model, built from the CUDA Dockerfile. linux/amd64:
    // onnxruntime-node publishes its CUDA binaries for x64 only, and SageMaker's GPU instances are x86.
    this.image = new DockerImageAsset(this, 'Image', {
      directory: REPO_ROOT,
      file: 'functions/Dockerfile.cuda',
      buildArgs: { MODEL_DIR: modelDir },
      exclude: cudaImageExcludes(modelDir),
      platform: Platform.LINUX_AMD64,
    });

    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: 'SageMaker pulls the CLIP CUDA image and writes its logs and instance metrics with this role.',
    });
    this.image.repository.grantPull(this.executionRole);
    this.executionRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        resources: [
          this.formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: '/aws/sagemaker/*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );
    // PutMetricData has no resource to scope; the condition keeps it to SageMaker's own namespaces.
    this.executionRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringLike: { 'cloudwatch:namespace': '/aws/sagemaker/*' } },
      }),
    );

    // Created before the component, so that SageMaker writes into a group with a retention that
    // `cdk destroy` removes, rather than creating one that is kept forever.
    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/sagemaker/InferenceComponents/${componentName}`,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const model = new sagemaker.CfnModel(this, 'Model', {
      executionRoleArn: this.executionRole.roleArn,
      primaryContainer: {
        image: this.image.imageUri,
        // On GPU-priced capacity a missing CUDA provider is fatal: the copy fails its health check
        // instead of serving from the CPU at GPU prices.
        environment: { CLIP_DEVICE: 'cuda', CLIP_REQUIRE_GPU: 'true', CLIP_MODEL_DIR: MODEL_PATH_IN_IMAGE, CLIP_DTYPE: dtype },
      },
    });

    const endpointConfig = new sagemaker.CfnEndpointConfig(this, 'EndpointConfig', {
      executionRoleArn: this.executionRole.roleArn,
      productionVariants: [
        {
          variantName: GPU_VARIANT_NAME,
          instanceType: options.instanceType,
          // The endpoint starts with one instance; managed instance scaling releases it once no
          // copy is placed on it.
          initialInstanceCount: 1,
          managedInstanceScaling: { status: 'ENABLED', minInstanceCount: 0, maxInstanceCount: options.maxInstances },
          routingConfig: { routingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
          inferenceAmiVersion: options.amiVersion,
        },
      ],
    });
    // SageMaker checks the role when it creates these, so the role's policy must exist first (a
    // reference to the role's ARN alone waits only for the role).
    model.node.addDependency(this.executionRole);
    endpointConfig.node.addDependency(this.executionRole);

    this.endpoint = new sagemaker.CfnEndpoint(this, 'Endpoint', { endpointConfigName: endpointConfig.attrEndpointConfigName });

    this.inferenceComponent = new sagemaker.CfnInferenceComponent(this, 'InferenceComponent', {
      inferenceComponentName: componentName,
      endpointName: this.endpoint.attrEndpointName,
      variantName: GPU_VARIANT_NAME,
      specification: {
        modelName: model.attrModelName,
        computeResourceRequirements: { numberOfAcceleratorDevicesRequired: 1, minMemoryRequiredInMb: memoryMiB },
        startupParameters: { containerStartupHealthCheckTimeoutInSeconds: startupTimeout },
      },
      // Every deploy asks for this many copies again; Application Auto Scaling takes over from there.
      runtimeConfig: { copyCount: options.initialCopies },
    });
    this.inferenceComponent.node.addDependency(logGroup);

    // Application Auto Scaling's service-linked role for SageMaker, named so that CloudFormation
    // creates it when the account has none yet (without a role the construct would make one
    // with no permissions).
    const autoScalingRole = iam.Role.fromRoleArn(
      this,
      'AutoScalingRole',
      `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint`,
      { mutable: false },
    );
    this.scalableTarget = new appscaling.ScalableTarget(this, 'CopyCount', {
      serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
      resourceId: `inference-component/${componentName}`,
      scalableDimension: 'sagemaker:inference-component:DesiredCopyCount',
      minCapacity: 0,
      maxCapacity: options.maxCopies,
      role: autoScalingRole,
    });
    // The resource id is a name, not a reference: the component must exist before it is registered.
    this.scalableTarget.node.addDependency(this.inferenceComponent);

    new appscaling.TargetTrackingScalingPolicy(this, 'ScaleOnConcurrency', {
      scalingTarget: this.scalableTarget,
      predefinedMetric: appscaling.PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_CONCURRENT_REQUESTS_PER_COPY_HIGH_RESOLUTION,
      targetValue: options.targetConcurrency,
      scaleOutCooldown: Duration.minutes(1),
      scaleInCooldown: Duration.minutes(5),
    });

    const wake = new appscaling.StepScalingAction(this, 'WakeFromZero', {
      scalingTarget: this.scalableTarget,
      adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      metricAggregationType: appscaling.MetricAggregationType.MAXIMUM,
      cooldown: props.wakeCooldown ?? Duration.minutes(10),
    });
    wake.addAdjustment({ adjustment: 1, lowerBound: 0 });

    // SageMaker counts a request that finds no copy in NoCapacityInvocationFailures. Missing data is
    // not breaching: once copies answer, no failures are published and the alarm must go back to OK,
    // or it would keep running the step policy.
    this.wakeAlarm = new cloudwatch.Metric({
      namespace: 'AWS/SageMaker',
      metricName: 'NoCapacityInvocationFailures',
      dimensionsMap: { InferenceComponentName: componentName },
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.seconds(30),
    }).createAlarm(this, 'NoCapacityAlarm', {
      threshold: 1,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `A request found no copy of ${componentName}: add one (the GPU tier wakes from zero).`,
    });
    this.wakeAlarm.addAlarmAction(new ApplicationScalingAction(wake));

    this.target = {
      endpointName: this.endpoint.attrEndpointName,
      endpointArn: this.endpoint.attrEndpointArn,
      inferenceComponentName: componentName,
    };

    new CfnOutput(this, 'EndpointName', {
      value: this.endpoint.attrEndpointName,
      description: 'The SageMaker endpoint (SAGEMAKER_ENDPOINT).',
    });
    new CfnOutput(this, 'InferenceComponentName', {
      value: componentName,
      description: 'The inference component the gateway invokes (SAGEMAKER_INFERENCE_COMPONENT).',
    });
    new CfnOutput(this, 'LogGroupName', {
      value: logGroup.logGroupName,
      description: "The GPU container's logs: aws logs tail --follow <name>",
    });
  }
}
