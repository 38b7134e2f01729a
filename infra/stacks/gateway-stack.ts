import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as ecsPatterns from 'aws-cdk-lib/aws-ecs-patterns';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

import { gatewayImageExcludes, REPO_ROOT } from '../assets';

/** The port the gateway listens on (its PORT default). */
export const GATEWAY_PORT = 4000;

export interface GatewayStackProps extends StackProps {
  /** The CLIP function (or its alias) the gateway invokes; the task role may invoke exactly this. Required. */
  readonly invokeTarget: lambda.IFunction;
  /** Fargate task CPU units (1024 = 1 vCPU); the gateway decodes and crops images with it. Default 1024. */
  readonly cpu?: number;
  /** Fargate task memory in MiB; must suit `cpu` (Fargate's table). Default 2048. */
  readonly memoryLimitMiB?: number;
  /** Number of gateway tasks, spread over the two AZs. Default 2. */
  readonly desiredCount?: number;
  /** Most inputs per CLIP function invocation (env BATCH_MAX_SIZE). Default 32. */
  readonly maxBatchSize?: number;
  /** Longest an input waits for others before its batch is sent, in ms (env BATCH_MAX_DELAY_MS). Default 5. */
  readonly maxDelayMs?: number;
  /** How long the gateway waits for one invocation (env REMOTE_TIMEOUT_MS). Default: the gateway's own, 30 s. */
  readonly remoteTimeout?: Duration;
  /** How long the gateway's logs are kept. Default one month. */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The GraphQL gateway on ECS Fargate behind an Application Load Balancer.
 *
 * Why Fargate and not Lambda for the gateway: its point is to batch embedding work across
 * concurrent requests. A Lambda-hosted gateway sees one request per instance at a time, so that
 * cross-request batching would never batch anything; a few long-lived tasks see all the traffic.
 */
export class GatewayStack extends Stack {
  readonly service: ecsPatterns.ApplicationLoadBalancedFargateService;
  /** The GraphQL endpoint (stack output Url). */
  readonly url: CfnOutput;

  constructor(scope: Construct, id: string, props: GatewayStackProps) {
    super(scope, id, props);
    const { invokeTarget } = props;

    // Two AZs and no NAT gateways: a NAT gateway costs about $33/month each before traffic, more
    // than a gateway task. The tasks sit in public subnets with public IPs to reach ECR, CloudWatch
    // Logs and the Lambda API; their security group admits only the load balancer.
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
    });
    const cluster = new ecs.Cluster(this, 'Cluster', { vpc });

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // A LambdaBackend invokes this: the alias ARN when provisioned concurrency is on (a name alone
    // would invoke $LATEST, which has none), else the function's name.
    const lambdaFunctionName = isAlias(invokeTarget) ? invokeTarget.functionArn : invokeTarget.functionName;

    this.service = new ecsPatterns.ApplicationLoadBalancedFargateService(this, 'Gateway', {
      cluster,
      cpu: props.cpu ?? 1024,
      memoryLimitMiB: props.memoryLimitMiB ?? 2048,
      desiredCount: props.desiredCount ?? 2,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      taskSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      assignPublicIp: true,
      publicLoadBalancer: true,
      taskImageOptions: {
        containerName: 'gateway',
        image: ecs.ContainerImage.fromAsset(REPO_ROOT, {
          file: 'gateway/Dockerfile',
          exclude: gatewayImageExcludes(),
          platform: Platform.LINUX_AMD64,
        }),
        containerPort: GATEWAY_PORT,
        // AWS_REGION is set by ECS in every Fargate task; the AWS SDK reads it.
        environment: {
          INFERENCE_BACKEND: 'lambda',
          LAMBDA_FUNCTION_NAME: lambdaFunctionName,
          BATCH_MAX_SIZE: String(props.maxBatchSize ?? 32),
          BATCH_MAX_DELAY_MS: String(props.maxDelayMs ?? 5),
          SANDBOX: 'true',
          ...(props.remoteTimeout ? { REMOTE_TIMEOUT_MS: String(props.remoteTimeout.toMilliseconds()) } : {}),
        },
        logDriver: ecs.LogDrivers.awsLogs({ streamPrefix: 'gateway', logGroup }),
      },
      // Rolling deploys keep full capacity, and a deploy whose tasks never get healthy rolls back.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { rollback: true },
      // The first /readyz may wait for a cold CLIP function (container image, model load).
      healthCheckGracePeriod: Duration.seconds(120),
    });

    // /readyz answers 200 only when the backend answers; /healthz would pass with a broken backend.
    this.service.targetGroup.configureHealthCheck({
      path: '/readyz',
      healthyHttpCodes: '200',
      interval: Duration.seconds(30),
      timeout: Duration.seconds(10),
      healthyThresholdCount: 2,
      unhealthyThresholdCount: 3,
    });
    // The gateway finishes in-flight requests on SIGTERM within seconds; 300 s of draining is not needed.
    this.service.targetGroup.setAttribute('deregistration_delay.timeout_seconds', '30');

    // Only the task role (the gateway's own AWS identity) may invoke, and only this function or alias.
    invokeTarget.grantInvoke(this.service.taskDefinition.taskRole);

    new CfnOutput(this, 'LogGroupName', { value: logGroup.logGroupName, description: "The gateway's logs: aws logs tail --follow <name>" });
    this.url = new CfnOutput(this, 'Url', {
      value: `http://${this.service.loadBalancer.loadBalancerDnsName}/graphql`,
      description: 'The GraphQL endpoint (Apollo Sandbox in a browser).',
    });
  }
}

function isAlias(target: lambda.IFunction): target is lambda.IAlias {
  return typeof (target as Partial<lambda.IAlias>).aliasName === 'string';
}
