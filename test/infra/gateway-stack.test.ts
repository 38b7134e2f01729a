import { Duration } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';

import {
  ClipFunctionStack,
  GatewayStack,
  SageMakerGpuStack,
  type ClipFunctionStackProps,
  type GatewayStackProps,
  type SageMakerGpuStackProps,
} from '../../infra';
import { dockerImageSources, exportedValue, removeTestOutdirs, staged, testApp } from './cdk-app';

afterAll(removeTestOutdirs);

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
type Environment = { Name: string; Value: unknown }[];

/**
 * What `make` returns, and the warnings CDK prints meanwhile when it synthesizes a stack (its
 * validation report: what `cdk synth` shows the user). Those are kept for the tests to check, not
 * printed among the test results; anything else CDK prints goes through.
 */
function capturingWarnings<T>(make: () => T): { value: T; printed: string[] } {
  const printed: string[] = [];
  const print = console.error.bind(console);
  const spy = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    const text = args.join(' ');
    if (text.includes('(Annotation)')) printed.push(text);
    else print(...args);
  });
  try {
    return { value: make(), printed };
  } finally {
    spy.mockRestore();
  }
}

function synth(
  functionProps: ClipFunctionStackProps = {},
  gatewayProps: Omit<GatewayStackProps, 'invokeTarget' | 'gpuTarget'> = {},
  gpuProps?: SageMakerGpuStackProps,
) {
  const app = testApp();
  const clip = new ClipFunctionStack(app, 'ClipFunction', functionProps);
  const gpu = gpuProps && new SageMakerGpuStack(app, 'ClipGpu', gpuProps);
  const gateway = new GatewayStack(app, 'ClipGateway', { ...gatewayProps, invokeTarget: clip.invokeTarget, gpuTarget: gpu?.target });
  const { value: template, printed } = capturingWarnings(() => Template.fromStack(gateway));
  const clipTemplate = Template.fromStack(clip);
  const gpuTemplate = gpu && Template.fromStack(gpu);
  const taskRoleId = gateway.getLogicalId(gateway.service.taskDefinition.taskRole.node.defaultChild as CfnRole);
  const environment = () => {
    const [taskDefinition] = Object.values(template.findResources('AWS::ECS::TaskDefinition'));
    const [container] = taskDefinition.Properties.ContainerDefinitions as { Environment: Environment }[];
    return container.Environment;
  };
  const env = (name: string) => environment().find((e) => e.Name === name)?.Value;
  /** Statements of every policy attached to the task role. */
  const taskRoleStatements = () =>
    Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify({ Ref: taskRoleId })))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
  /** Follows a cross-stack import in the gateway template to what the function stack exports. */
  const imported = (value: unknown) => exportedValue(value, clipTemplate.toJSON());
  /** Follows a cross-stack import in the gateway template to what the GPU stack exports. */
  const importedFromGpu = (value: unknown) => exportedValue(value, gpuTemplate!.toJSON());
  return {
    app,
    clip,
    gateway,
    template,
    printed,
    clipTemplate,
    gpuTemplate,
    taskRoleId,
    environment,
    env,
    taskRoleStatements,
    imported,
    importedFromGpu,
  };
}

/** The stacks with every default, synthesized once for the tests that only read them. */
let defaultStacks: ReturnType<typeof synth> | undefined;
function defaults(): ReturnType<typeof synth> {
  defaultStacks ??= synth();
  return defaultStacks;
}

describe('GatewayStack with defaults', () => {
  const s = defaults();
  const functionId = s.clipTemplate.getResourceId('AWS::Lambda::Function', {});

  test('runs two Fargate tasks of 1 vCPU and 2 GB with public IPs', () => {
    s.template.hasResourceProperties('AWS::ECS::Service', {
      LaunchType: 'FARGATE',
      DesiredCount: 2,
      NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'ENABLED' } },
      LoadBalancers: [{ ContainerName: 'gateway', ContainerPort: 4000 }],
    });
    s.template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '1024',
      Memory: '2048',
      RequiresCompatibilities: ['FARGATE'],
      TaskRoleArn: { 'Fn::GetAtt': [s.taskRoleId, 'Arn'] },
      ContainerDefinitions: [Match.objectLike({ Name: 'gateway', PortMappings: [{ ContainerPort: 4000, Protocol: 'tcp' }] })],
    });
  });

  test('configures the gateway for the Lambda backend, invoking the function by name', () => {
    expect(s.env('INFERENCE_BACKEND')).toBe('lambda');
    expect(s.env('SANDBOX')).toBe('true');
    expect(s.env('BATCH_MAX_SIZE')).toBe('32');
    expect(s.env('IMAGE_BATCH_MAX_SIZE')).toBe('32');
    expect(s.env('BATCH_MAX_DELAY_MS')).toBe('5');
    expect(s.imported(s.env('LAMBDA_FUNCTION_NAME'))).toEqual({ Ref: functionId });
    expect(s.env('REMOTE_TIMEOUT_MS')).toBeUndefined(); // the gateway's own default
    // ECS sets AWS_REGION in every task; the stack must not pin it.
    expect(s.env('AWS_REGION')).toBeUndefined();
    expect(
      s
        .environment()
        .map((e) => e.Name)
        .sort(),
    ).toEqual(
      ['BATCH_MAX_DELAY_MS', 'BATCH_MAX_SIZE', 'IMAGE_BATCH_MAX_SIZE', 'INFERENCE_BACKEND', 'LAMBDA_FUNCTION_NAME', 'SANDBOX'].sort(),
    );
  });

  test('checks health on /readyz behind an internet-facing load balancer', () => {
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      HealthCheckPath: '/readyz',
      Matcher: { HttpCode: '200' },
      TargetType: 'ip',
    });
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internet-facing' });
    s.template.hasOutput('Url', { Value: { 'Fn::Join': ['', ['http://', { 'Fn::GetAtt': [Match.anyValue(), 'DNSName'] }, '/graphql']] } });
  });

  test('grants the task role lambda:InvokeFunction on the CLIP function and nothing else', () => {
    const statements = s.taskRoleStatements();
    expect(statements).toHaveLength(1);
    const [statement] = statements;
    expect(statement.Effect).toBe('Allow');
    expect(statement.Action).toBe('lambda:InvokeFunction');
    const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
    expect(resources).not.toContain('*');
    // The function ARN, and the same ARN qualified by any version (what grantInvoke grants on a function).
    const arn = resources[0];
    expect(s.imported(arn)).toEqual({ 'Fn::GetAtt': [functionId, 'Arn'] });
    expect(resources).toEqual([arn, { 'Fn::Join': ['', [arn, ':*']] }]);
  });

  test('grants no Lambda action to any other role, and no role lambda:* or a * resource for Lambda', () => {
    for (const policy of Object.values(s.template.findResources('AWS::IAM::Policy'))) {
      for (const statement of policy.Properties.PolicyDocument.Statement as Statement[]) {
        const actions = ([] as string[]).concat(statement.Action);
        const lambdaActions = actions.filter((a) => a.startsWith('lambda:') || a === '*');
        if (lambdaActions.length === 0) continue;
        expect(policy.Properties.Roles).toEqual([{ Ref: s.taskRoleId }]);
        expect(lambdaActions).toEqual(['lambda:InvokeFunction']);
        expect(([] as unknown[]).concat(statement.Resource)).not.toContain('*');
      }
    }
  });

  test('keeps the catalogue in each task: no database, no secrets, and a warning that says so', () => {
    s.template.resourceCountIs('AWS::RDS::DBCluster', 0);
    s.template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    s.template.hasResourceProperties('AWS::ECS::TaskDefinition', { ContainerDefinitions: [Match.objectLike({ Secrets: Match.absent() })] });
    expect(Object.keys(s.template.toJSON().Outputs)).not.toContain('DatabaseEndpoint');
    const { value: annotations } = capturingWarnings(() => Annotations.fromStack(s.gateway));
    const warnings = annotations.findWarning('/ClipGateway', Match.stringLikeRegexp('own SQLite catalogue'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0].entry.data).toMatch(/lost when the task is replaced.*-c catalogue=aurora/);
    // and synthesis shows it, with how to acknowledge it
    expect(s.printed).toEqual([expect.stringMatching(/own SQLite catalogue[\s\S]*Annotation::clip-gateway:catalogue-sqlite/)]);
  });

  test('builds a two-AZ VPC with public subnets only and no NAT gateway', () => {
    s.template.resourceCountIs('AWS::EC2::NatGateway', 0);
    s.template.resourceCountIs('AWS::EC2::Subnet', 2);
    s.template.allResourcesProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: true });
  });

  test('admits only the load balancer to the tasks', () => {
    const ingress = Object.values(s.template.findResources('AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties);
    expect(ingress).toHaveLength(1);
    expect(ingress[0]).toMatchObject({
      FromPort: 4000,
      ToPort: 4000,
      SourceSecurityGroupId: { 'Fn::GetAtt': [expect.any(String), 'GroupId'] },
    });
  });

  test('keeps gateway logs for one month', () => {
    const logGroupId = s.template.getResourceId('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 30 } });
    s.template.hasOutput('LogGroupName', { Value: { Ref: logGroupId } });
    s.template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [
        Match.objectLike({
          LogConfiguration: { LogDriver: 'awslogs', Options: Match.objectLike({ 'awslogs-group': { Ref: logGroupId } }) },
        }),
      ],
    });
  });

  test('builds gateway/Dockerfile from a context without model files, tests or dependencies', () => {
    const sources = dockerImageSources(s.app, s.gateway);
    expect(sources).toHaveLength(1);
    const [source] = sources;
    expect(source.dockerFile).toBe('gateway/Dockerfile');
    expect(source.platform).toBe('linux/amd64');
    for (const path of [
      'package.json',
      'package-lock.json',
      '.npmrc',
      'gateway/index.ts',
      'functions/clip/index.ts',
      'taxonomies/shopify-2025-08/categories.txt',
      'taxonomies/shopify-2025-08/LICENSE',
    ]) {
      expect([path, staged(source, path)]).toEqual([path, true]);
    }
    for (const path of ['node_modules', 'dist', '.git', 'cdk.out', 'test', 'models', 'infra']) {
      expect([path, staged(source, path)]).toEqual([path, false]);
    }
  });
});

describe('GatewayStack with props and a provisioned alias', () => {
  const s = synth(
    { provisionedConcurrency: 1 },
    {
      cpu: 2048,
      memoryLimitMiB: 4096,
      desiredCount: 3,
      maxBatchSize: 16,
      maxDelayMs: 10,
      remoteTimeout: Duration.seconds(40),
    },
  );
  const aliasId = s.clipTemplate.getResourceId('AWS::Lambda::Alias', {});

  test('sizes the service from its props', () => {
    s.template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 3 });
    s.template.hasResourceProperties('AWS::ECS::TaskDefinition', { Cpu: '2048', Memory: '4096' });
    expect(s.env('BATCH_MAX_SIZE')).toBe('16');
    expect(s.env('IMAGE_BATCH_MAX_SIZE')).toBe('16');
    expect(s.env('BATCH_MAX_DELAY_MS')).toBe('10');
    expect(s.env('REMOTE_TIMEOUT_MS')).toBe('40000');
  });

  test('invokes the alias by its ARN (a bare name would reach $LATEST, which has no provisioned concurrency)', () => {
    // An alias's Ref is its ARN.
    expect(s.imported(s.env('LAMBDA_FUNCTION_NAME'))).toEqual({ Ref: aliasId });
  });

  test('grants lambda:InvokeFunction on the alias only', () => {
    const statements = s.taskRoleStatements();
    expect(statements).toHaveLength(1);
    expect(statements[0].Action).toBe('lambda:InvokeFunction');
    const resources = ([] as unknown[]).concat(statements[0].Resource);
    expect(resources.map(s.imported)).toEqual([{ Ref: aliasId }]);
  });
});

describe('GatewayStack with federation', () => {
  test('serves the subgraph beside /graphql and outputs its routing URL', () => {
    const s = synth({}, { federation: true });
    expect(s.env('FEDERATION')).toBe('true');
    expect(s.env('INFERENCE_BACKEND')).toBe('lambda');
    const output = s.template.findOutputs('SubgraphUrl');
    expect(JSON.stringify(output.SubgraphUrl.Value)).toMatch(/\/subgraph"/);
    expect(s.gateway.subgraphUrl).toBeDefined();
  });

  test('is off by default: no FEDERATION variable and no subgraph output', () => {
    const s = defaults();
    expect(s.env('FEDERATION')).toBeUndefined();
    expect(s.template.findOutputs('SubgraphUrl')).toEqual({});
  });
});

describe('GatewayStack with the SageMaker GPU tier', () => {
  const s = synth({}, {}, {});
  const functionId = s.clipTemplate.getResourceId('AWS::Lambda::Function', {});
  const endpointId = s.gpuTemplate!.getResourceId('AWS::SageMaker::Endpoint', {});

  test('calls the endpoint and component first, with the CLIP function as the spillover, and keeps its other settings', () => {
    expect(s.env('INFERENCE_BACKEND')).toBe('sagemaker');
    expect(s.importedFromGpu(s.env('SAGEMAKER_ENDPOINT'))).toEqual({ 'Fn::GetAtt': [endpointId, 'EndpointName'] });
    expect(s.env('SAGEMAKER_INFERENCE_COMPONENT')).toBe('ClipGpu-clip');
    expect(s.env('SPILLOVER_BACKEND')).toBe('lambda');
    expect(s.imported(s.env('LAMBDA_FUNCTION_NAME'))).toEqual({ Ref: functionId });
    expect(s.env('BATCH_MAX_SIZE')).toBe('32');
    expect(s.env('SANDBOX')).toBe('true');
    expect(
      s
        .environment()
        .map((e) => e.Name)
        .sort(),
    ).toEqual(
      [
        'BATCH_MAX_DELAY_MS',
        'BATCH_MAX_SIZE',
        'IMAGE_BATCH_MAX_SIZE',
        'INFERENCE_BACKEND',
        'LAMBDA_FUNCTION_NAME',
        'SAGEMAKER_ENDPOINT',
        'SAGEMAKER_INFERENCE_COMPONENT',
        'SANDBOX',
        'SPILLOVER_BACKEND',
      ].sort(),
    );
  });

  test('grants the task role sagemaker:InvokeEndpoint on that endpoint only, and still lambda:InvokeFunction on the function', () => {
    const statements = s.taskRoleStatements();
    expect(statements).toHaveLength(2);
    const invokeEndpoint = statements.find((st) => st.Action === 'sagemaker:InvokeEndpoint');
    expect(invokeEndpoint?.Effect).toBe('Allow');
    expect(s.importedFromGpu(invokeEndpoint?.Resource)).toEqual({ 'Fn::GetAtt': [endpointId, 'EndpointArn'] });
    const invokeFunction = statements.find((st) => st.Action === 'lambda:InvokeFunction');
    const resources = ([] as unknown[]).concat(invokeFunction?.Resource);
    expect(s.imported(resources[0])).toEqual({ 'Fn::GetAtt': [functionId, 'Arn'] });
  });

  test('grants no SageMaker action to any other role, and none on a * resource', () => {
    for (const policy of Object.values(s.template.findResources('AWS::IAM::Policy'))) {
      for (const statement of policy.Properties.PolicyDocument.Statement as Statement[]) {
        const actions = ([] as string[]).concat(statement.Action).filter((a) => a.startsWith('sagemaker:') || a === '*');
        if (actions.length === 0) continue;
        expect(policy.Properties.Roles).toEqual([{ Ref: s.taskRoleId }]);
        expect(actions).toEqual(['sagemaker:InvokeEndpoint']);
        expect(([] as unknown[]).concat(statement.Resource)).not.toContain('*');
      }
    }
  });
});

describe('GatewayStack without a GPU tier', () => {
  test('has no SageMaker variable or permission', () => {
    const s = defaults();
    for (const name of ['SAGEMAKER_ENDPOINT', 'SAGEMAKER_INFERENCE_COMPONENT', 'SPILLOVER_BACKEND']) expect(s.env(name)).toBeUndefined();
    const actions = s.taskRoleStatements().flatMap((st) => ([] as string[]).concat(st.Action));
    expect(actions.filter((a) => a.startsWith('sagemaker:'))).toEqual([]);
    expect(JSON.stringify(s.template.toJSON())).not.toMatch(/SageMaker/i);
  });
});
