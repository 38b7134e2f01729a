import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as ecsPatterns from 'aws-cdk-lib/aws-ecs-patterns';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

import { gatewayImageExcludes, REPO_ROOT } from '../assets';
import { CATALOGUE_KINDS, CatalogueDatabase, DATABASE_SUBNET_GROUP, type CatalogueKind } from './catalogue-database';
import type { SageMakerGpuTarget } from './sagemaker-gpu-stack';

/** The port the gateway listens on (its PORT default). */
export const GATEWAY_PORT = 4000;

export interface GatewayStackProps extends StackProps {
  /** The CLIP function (or its alias) the gateway invokes; the task role may invoke exactly this. Required. */
  readonly invokeTarget: lambda.IFunction;
  /**
   * The SageMaker GPU tier, when there is one: the gateway's primary backend, with the CLIP function
   * as its spillover while the GPU sleeps or wakes. Default: none, the function is the only backend.
   */
  readonly gpuTarget?: SageMakerGpuTarget;
  /** Fargate task CPU units (1024 = 1 vCPU); the gateway decodes and crops images with it. Default 1024. */
  readonly cpu?: number;
  /** Fargate task memory in MiB; must suit `cpu` (Fargate's table). Default 2048. */
  readonly memoryLimitMiB?: number;
  /** Number of gateway tasks, spread over the two AZs. Default 2. */
  readonly desiredCount?: number;
  /**
   * Most inputs per CLIP function invocation (env BATCH_MAX_SIZE and IMAGE_BATCH_MAX_SIZE). Default
   * 32 for images too, above the gateway's own 16 (which suits CPU workers sharing cores with
   * decoding): every invocation pays a round trip and a function does nothing else, so fewer,
   * fuller calls pay.
   */
  readonly maxBatchSize?: number;
  /** Longest an input waits for others before its batch is sent, in ms (env BATCH_MAX_DELAY_MS). Default 5. */
  readonly maxDelayMs?: number;
  /** How long the gateway waits for one invocation (env REMOTE_TIMEOUT_MS). Default: the gateway's own, 30 s. */
  readonly remoteTimeout?: Duration;
  /** How long the gateway's logs are kept. Default one month. */
  readonly logRetention?: logs.RetentionDays;
  /** Where the product catalogue lives: `sqlite` in each task's container, or `aurora`, one cluster all tasks share. Default sqlite. */
  readonly catalogue?: CatalogueKind;
  /** With `aurora`: the cluster's least capacity in ACUs, billed around the clock. Default 0.5. */
  readonly auroraMinAcu?: number;
  /** With `aurora`: the cluster's most capacity in ACUs. Default 4. */
  readonly auroraMaxAcu?: number;
  /**
   * Also serve the API as an Apollo Federation 2 subgraph at /subgraph (env FEDERATION), for the
   * shop's router; its URL is the stack output SubgraphUrl. Default false.
   */
  readonly federation?: boolean;
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
  /** The shared catalogue, with `catalogue: 'aurora'`. */
  readonly database?: CatalogueDatabase;
  /** The GraphQL endpoint (stack output Url). */
  readonly url: CfnOutput;
  /** The subgraph's routing URL for a router (stack output SubgraphUrl), with `federation`. */
  readonly subgraphUrl?: CfnOutput;

  constructor(scope: Construct, id: string, props: GatewayStackProps) {
    super(scope, id, props);
    const { invokeTarget, gpuTarget } = props;
    const catalogue = props.catalogue ?? 'sqlite';
    if (!(CATALOGUE_KINDS as readonly string[]).includes(catalogue)) {
      throw new Error(`catalogue must be ${CATALOGUE_KINDS.join(' or ')}, got ${JSON.stringify(catalogue)}.`);
    }
    if (catalogue !== 'aurora') {
      for (const name of ['auroraMinAcu', 'auroraMaxAcu'] as const) {
        if (props[name] !== undefined)
          throw new Error(`${name} is set (${props[name]}) but catalogue is ${catalogue}: it needs catalogue aurora.`);
      }
    }

    // Two AZs and no NAT gateways: a NAT gateway costs about $33/month each before traffic, more
    // than a gateway task. The tasks sit in public subnets with public IPs to reach ECR, CloudWatch
    // Logs and the Lambda API; their security group admits only the load balancer. The database,
    // when there is one, gets isolated subnets (no route to the internet either way, and no NAT
    // needed: the tasks reach it inside the VPC). They come after the public ones, so adding them
    // to a deployed stack leaves the public subnets' CIDRs, and so the running tasks, as they are.
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        ...(catalogue === 'aurora' ? [{ name: DATABASE_SUBNET_GROUP, subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }] : []),
      ],
    });
    if (catalogue === 'aurora') {
      this.database = new CatalogueDatabase(this, 'Catalogue', { vpc, minCapacity: props.auroraMinAcu, maxCapacity: props.auroraMaxAcu });
    } else {
      Annotations.of(this).addWarningV2(
        'clip-gateway:catalogue-sqlite',
        'Each gateway task keeps its own SQLite catalogue inside its container: lost when the task is replaced, and different ' +
          'in every task behind the load balancer. Fine for trying the stack; deploy with -c catalogue=aurora for one shared catalogue.',
      );
    }
    const { database } = this;
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
          ...(gpuTarget
            ? {
                INFERENCE_BACKEND: 'sagemaker',
                SAGEMAKER_ENDPOINT: gpuTarget.endpointName,
                SAGEMAKER_INFERENCE_COMPONENT: gpuTarget.inferenceComponentName,
                SPILLOVER_BACKEND: 'lambda',
              }
            : { INFERENCE_BACKEND: 'lambda' }),
          LAMBDA_FUNCTION_NAME: lambdaFunctionName,
          BATCH_MAX_SIZE: String(props.maxBatchSize ?? 32),
          IMAGE_BATCH_MAX_SIZE: String(props.maxBatchSize ?? 32),
          BATCH_MAX_DELAY_MS: String(props.maxDelayMs ?? 5),
          SANDBOX: 'true',
          ...(props.remoteTimeout ? { REMOTE_TIMEOUT_MS: String(props.remoteTimeout.toMilliseconds()) } : {}),
          ...(database ? { DATABASE_URL: database.url } : {}),
          ...(props.federation ? { FEDERATION: 'true' } : {}),
        },
        // ECS reads the password from Secrets Manager when it starts a task (with the execution
        // role, which this grants): the task definition holds only the secret's ARN.
        secrets: database ? { DATABASE_PASSWORD: ecs.Secret.fromSecretsManager(database.secret, 'password') } : undefined,
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

    // Only the task role (the gateway's own AWS identity) may invoke, and only this function or alias,
    // and with a GPU tier, only its endpoint.
    invokeTarget.grantInvoke(this.service.taskDefinition.taskRole);
    if (gpuTarget) {
      this.service.taskDefinition.taskRole.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['sagemaker:InvokeEndpoint'], resources: [gpuTarget.endpointArn] }),
      );
    }

    if (database) {
      database.allowFrom(this.service.service);
      // Tasks migrate the catalogue as they start and exit when they cannot: started before the
      // writer instance and the ingress rule are up, they would fail in a loop until the circuit
      // breaker rolled back. The service resource alone waits: its security group must not, since
      // the database's ingress rule names that group.
      (this.service.service.node.defaultChild as ecs.CfnService).node.addDependency(database.cluster);
      new CfnOutput(this, 'DatabaseEndpoint', {
        value: database.cluster.clusterEndpoint.hostname,
        description: "The catalogue cluster's writer endpoint (reachable only from the gateway tasks).",
      });
      new CfnOutput(this, 'DatabaseSecretArn', {
        value: database.secret.secretArn,
        description: 'The secret holding the catalogue user and password: aws secretsmanager get-secret-value --secret-id <arn>',
      });
    }

    new CfnOutput(this, 'LogGroupName', { value: logGroup.logGroupName, description: "The gateway's logs: aws logs tail --follow <name>" });
    this.url = new CfnOutput(this, 'Url', {
      value: `http://${this.service.loadBalancer.loadBalancerDnsName}/graphql`,
      description: 'The GraphQL endpoint (Apollo Sandbox in a browser).',
    });
    if (props.federation) {
      this.subgraphUrl = new CfnOutput(this, 'SubgraphUrl', {
        value: `http://${this.service.loadBalancer.loadBalancerDnsName}/subgraph`,
        description: "The Apollo Federation subgraph's routing URL, for the shop's router (rover subgraph publish --routing-url).",
      });
    }
  }
}

function isAlias(target: lambda.IFunction): target is lambda.IAlias {
  return typeof (target as Partial<lambda.IAlias>).aliasName === 'string';
}
