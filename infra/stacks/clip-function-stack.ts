import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

import type { ModelDtype } from '../../functions/clip/model-dir';
import { checkModelDir, DEFAULT_MODEL_DIR, functionImageExcludes, REPO_ROOT } from '../assets';

/** Where the Dockerfile copies the model directory inside the image. */
export const MODEL_PATH_IN_IMAGE = '/opt/model';

export interface ClipFunctionStackProps extends StackProps {
  /** Memory in MB, which also buys CPU (1769 MB is one vCPU). Default 3008. */
  readonly memorySize?: number;
  /** Instruction set of the function. Default x86_64; arm64 (Graviton) costs about 20% less per GB-second. */
  readonly architecture?: lambda.Architecture;
  /** Longest one invocation (one batch) may run. Default 30 seconds. */
  readonly timeout?: Duration;
  /** Concurrency reserved for (and capped at) this function. Default undefined: unreserved, shares the account's pool. */
  readonly reservedConcurrency?: number;
  /** Instances kept initialised through a `live` alias, which then is the invoke target. Default 0: none, the function itself is invoked. */
  readonly provisionedConcurrency?: number;
  /** Model directory baked into the image, relative to the repository root. Default 'models/tiny-clip' (the bundled tiny CLIP). */
  readonly modelDir?: string;
  /** Which ONNX weights the function loads (env CLIP_DTYPE); the model directory must hold them. Default 'fp32'. */
  readonly dtype?: ModelDtype;
  /** How long the function's logs are kept. Default one month. */
  readonly logRetention?: logs.RetentionDays;
}

/** The three alarms on the function; they have no actions: add an SNS topic with `alarm.addAlarmAction(...)`. */
export interface ClipFunctionAlarms {
  /** Any invocation error (Errors sum >= 1 over 5 minutes). */
  readonly errors: cloudwatch.Alarm;
  /** Any throttled invocation (Throttles sum >= 1 over 5 minutes): concurrency is too low for the load. */
  readonly throttles: cloudwatch.Alarm;
  /** p99 duration at 80% of the timeout or more over 5 minutes: batches are about to time out. */
  readonly duration: cloudwatch.Alarm;
}

/**
 * The CLIP function: the CLIP core in a container image on AWS Lambda (CPU; Lambda has no GPUs),
 * invoked by the gateway with batches of texts or image crops. A container image rather than a zip
 * because onnxruntime-node, sharp and the model together are far over the 250 MB zip limit.
 */
export class ClipFunctionStack extends Stack {
  readonly clipFunction: lambda.DockerImageFunction;
  /** The `live` alias with provisioned concurrency, when `provisionedConcurrency` > 0. */
  readonly alias?: lambda.Alias;
  /** What callers invoke and are granted: the alias when there is one, else the function. */
  readonly invokeTarget: lambda.IFunction;
  /** The deployed function's name (stack output FunctionName). */
  readonly functionName: CfnOutput;
  /** The function's timeout: the longest one invocation runs once the function is initialised. */
  readonly timeout: Duration;
  readonly alarms: ClipFunctionAlarms;

  constructor(scope: Construct, id: string, props: ClipFunctionStackProps = {}) {
    super(scope, id, props);
    const memorySize = props.memorySize ?? 3008;
    const architecture = props.architecture ?? lambda.Architecture.X86_64;
    const timeout = props.timeout ?? Duration.seconds(30);
    this.timeout = timeout;
    const provisionedConcurrency = props.provisionedConcurrency ?? 0;
    const dtype = props.dtype ?? 'fp32';
    const modelDir = checkModelDir(props.modelDir ?? DEFAULT_MODEL_DIR, dtype);

    if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240) {
      throw new Error(`memorySize must be an integer from 128 to 10240 (MB), got ${memorySize}.`);
    }
    if (!Number.isInteger(provisionedConcurrency) || provisionedConcurrency < 0) {
      throw new Error(`provisionedConcurrency must be a non-negative integer, got ${provisionedConcurrency}.`);
    }
    const reserved = props.reservedConcurrency;
    if (reserved !== undefined && (!Number.isInteger(reserved) || reserved < 0)) {
      throw new Error(`reservedConcurrency must be a non-negative integer, got ${reserved}.`);
    }
    if (reserved !== undefined && provisionedConcurrency > reserved) {
      throw new Error(`provisionedConcurrency (${provisionedConcurrency}) cannot exceed reservedConcurrency (${reserved}).`);
    }

    // An explicit log group (the function's logRetention prop is deprecated: it works through a
    // custom-resource Lambda); removed with the stack so that `cdk destroy` leaves nothing behind.
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.clipFunction = new lambda.DockerImageFunction(this, 'ClipFunction', {
      description: 'clip-gateway CLIP function: batches of texts or image crops in, CLIP embeddings out.',
      code: lambda.DockerImageCode.fromImageAsset(REPO_ROOT, {
        file: 'functions/Dockerfile',
        buildArgs: { MODEL_DIR: modelDir },
        exclude: functionImageExcludes(modelDir),
        // Build for the function's instruction set, whatever the machine running `cdk deploy` is.
        platform: architecture === lambda.Architecture.ARM_64 ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64,
      }),
      memorySize,
      architecture,
      timeout,
      reservedConcurrentExecutions: reserved,
      environment: { CLIP_MODEL_DIR: MODEL_PATH_IN_IMAGE, CLIP_DTYPE: dtype },
      logGroup,
    });

    if (provisionedConcurrency > 0) {
      // Provisioned concurrency attaches to a version or alias, never to $LATEST. The alias follows
      // each new version, so a deploy moves the warm instances to the new code.
      this.alias = new lambda.Alias(this, 'LiveAlias', {
        aliasName: 'live',
        version: this.clipFunction.currentVersion,
        provisionedConcurrentExecutions: provisionedConcurrency,
      });
    }
    this.invokeTarget = this.alias ?? this.clipFunction;
    // The gateway imports the invoke target through CloudFormation exports. Exporting the
    // function's name and ARN even while the alias is the target keeps turning provisioned
    // concurrency on from deleting exports the deployed gateway still imports (CloudFormation
    // refuses that: the "deadly embrace"). Turning it off again: see infra/README.md.
    this.exportValue(this.clipFunction.functionName);
    this.exportValue(this.clipFunction.functionArn);

    // Metrics by function name cover every version and alias, so these also watch the alias.
    const period = Duration.minutes(5);
    const common = {
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    };
    this.alarms = {
      errors: this.clipFunction.metricErrors({ period, statistic: cloudwatch.Stats.SUM }).createAlarm(this, 'ErrorsAlarm', {
        ...common,
        threshold: 1,
        alarmDescription: 'The CLIP function failed at least one invocation in 5 minutes (the gateway answered those inputs with errors).',
      }),
      throttles: this.clipFunction.metricThrottles({ period, statistic: cloudwatch.Stats.SUM }).createAlarm(this, 'ThrottlesAlarm', {
        ...common,
        threshold: 1,
        alarmDescription: 'The CLIP function was throttled in the last 5 minutes: raise its concurrency or lower the load.',
      }),
      duration: this.clipFunction.metricDuration({ period, statistic: cloudwatch.Stats.p(99) }).createAlarm(this, 'DurationAlarm', {
        ...common,
        threshold: Math.round(timeout.toMilliseconds() * 0.8),
        alarmDescription: `The CLIP function's p99 duration reached 80% of its ${timeout.toSeconds()} s timeout: batches are close to timing out.`,
      }),
    };

    this.functionName = new CfnOutput(this, 'FunctionName', {
      value: this.clipFunction.functionName,
      description: 'The CLIP function (Lambda) name.',
    });
    new CfnOutput(this, 'LogGroupName', {
      value: logGroup.logGroupName,
      description: "The function's logs: aws logs tail --follow <name>",
    });
    new CfnOutput(this, 'InvokeTargetArn', {
      value: this.invokeTarget.functionArn,
      description: 'What the gateway invokes: the live alias ARN with provisioned concurrency, else the function ARN.',
    });
  }
}
