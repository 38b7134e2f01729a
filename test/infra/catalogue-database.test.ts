import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnSecurityGroup } from 'aws-cdk-lib/aws-ec2';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';
import { Client } from 'pg';

import { ClipFunctionStack, DATABASE_TLS_QUERY, GatewayStack, type GatewayStackProps } from '../../infra';
import { removeTestOutdirs, testApp } from './cdk-app';

afterAll(removeTestOutdirs);

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
type Container = { Environment: { Name: string; Value: unknown }[]; Secrets?: { Name: string; ValueFrom: unknown }[] };

function synth(props: Omit<GatewayStackProps, 'invokeTarget'>) {
  const app = testApp();
  const clip = new ClipFunctionStack(app, 'ClipFunction');
  const gateway = new GatewayStack(app, 'ClipGateway', { ...props, invokeTarget: clip.invokeTarget });
  const template = Template.fromStack(gateway);
  const [taskDefinition] = Object.values(template.findResources('AWS::ECS::TaskDefinition'));
  const [container] = taskDefinition.Properties.ContainerDefinitions as Container[];
  const logicalId = (role: { node: { defaultChild?: unknown } }) => gateway.getLogicalId(role.node.defaultChild as CfnRole);
  const statementsOf = (roleId: string) =>
    Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId })))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
  return { gateway, template, container, logicalId, statementsOf };
}

describe('GatewayStack with catalogue aurora', () => {
  const s = synth({ catalogue: 'aurora', auroraMinAcu: 1, auroraMaxAcu: 8 });
  const clusterId = s.template.getResourceId('AWS::RDS::DBCluster', {});
  const secretId = s.template.getResourceId('AWS::SecretsManager::SecretTargetAttachment', {});
  const serviceSecurityGroupId = s.gateway.getLogicalId(
    s.gateway.service.service.connections.securityGroups[0].node.defaultChild as CfnSecurityGroup,
  );

  test('is one Aurora Serverless v2 PostgreSQL cluster, encrypted, with the capacity asked for', () => {
    s.template.resourceCountIs('AWS::RDS::DBCluster', 1);
    s.template.hasResourceProperties('AWS::RDS::DBCluster', {
      Engine: 'aurora-postgresql',
      EngineVersion: Match.stringLikeRegexp('^16\\.'),
      ServerlessV2ScalingConfiguration: { MinCapacity: 1, MaxCapacity: 8 },
      StorageEncrypted: true,
      Port: 5432,
      MasterUsername: 'clip',
      DatabaseName: 'catalogue',
      DeletionProtection: false,
    });
    // Deleting or replacing the cluster leaves a final snapshot of the catalogue.
    s.template.hasResource('AWS::RDS::DBCluster', { DeletionPolicy: 'Snapshot', UpdateReplacePolicy: 'Snapshot' });
    s.template.resourceCountIs('AWS::RDS::DBInstance', 1);
    s.template.allResourcesProperties('AWS::RDS::DBInstance', {
      DBClusterIdentifier: { Ref: clusterId },
      DBInstanceClass: 'db.serverless',
      PubliclyAccessible: false,
    });
  });

  test('refuses connections without TLS', () => {
    s.template.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', {
      Family: 'aurora-postgresql16',
      Parameters: { 'rds.force_ssl': '1' },
    });
  });

  test('generates the master password into Secrets Manager, never into the template', () => {
    s.template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ GenerateStringKey: 'password', SecretStringTemplate: '{"username":"clip"}' }),
    });
    s.template.hasResourceProperties('AWS::RDS::DBCluster', {
      MasterUserPassword: {
        'Fn::Join': ['', [Match.stringLikeRegexp('resolve:secretsmanager'), Match.anyValue(), ':SecretString:password::}}']],
      },
    });
  });

  test('places the cluster in two isolated subnets added after the public ones, with no NAT gateway', () => {
    s.template.resourceCountIs('AWS::EC2::Subnet', 4);
    s.template.resourceCountIs('AWS::EC2::NatGateway', 0);
    const subnets = s.template.findResources('AWS::EC2::Subnet');
    const isolated = Object.entries(subnets)
      .filter(([, r]) =>
        (r.Properties.Tags as { Key: string; Value: string }[]).some((t) => t.Key === 'aws-cdk:subnet-type' && t.Value === 'Isolated'),
      )
      .map(([id]) => id);
    expect(isolated).toHaveLength(2);
    for (const id of isolated) expect(subnets[id].Properties.MapPublicIpOnLaunch).toBe(false);
    // No route out of them: only the public subnets' route tables reach the internet gateway.
    const routeTables = Object.values(s.template.findResources('AWS::EC2::Route')).map(
      (r) => (r.Properties.RouteTableId as { Ref: string }).Ref,
    );
    expect(routeTables).toHaveLength(2);
    for (const table of routeTables) expect(table).toMatch(/^VpcpublicSubnet/);
    s.template.hasResourceProperties('AWS::RDS::DBSubnetGroup', { SubnetIds: isolated.map((id) => ({ Ref: id })) });
    // The public subnets keep the addresses and logical IDs they have without the database.
    const cidrs = Object.entries(subnets).map(([id, r]) => [id, r.Properties.CidrBlock]);
    expect(cidrs).toEqual(
      expect.arrayContaining([
        [expect.stringMatching(/^VpcpublicSubnet1/), '10.0.0.0/24'],
        [expect.stringMatching(/^VpcpublicSubnet2/), '10.0.1.0/24'],
      ]),
    );
  });

  test("admits port 5432 from the gateway service's security group, and nothing else", () => {
    const [clusterSecurityGroup] = (
      s.template.findResources('AWS::RDS::DBCluster')[clusterId].Properties.VpcSecurityGroupIds as {
        'Fn::GetAtt': [string, string];
      }[]
    ).map((g) => g['Fn::GetAtt'][0]);
    const ingress = Object.values(s.template.findResources('AWS::EC2::SecurityGroupIngress'))
      .map((r) => r.Properties)
      .filter((p) => JSON.stringify(p.GroupId) === JSON.stringify({ 'Fn::GetAtt': [clusterSecurityGroup, 'GroupId'] }));
    expect(ingress).toEqual([
      expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: 5432,
        ToPort: 5432,
        SourceSecurityGroupId: { 'Fn::GetAtt': [serviceSecurityGroupId, 'GroupId'] },
      }),
    ]);
    const inline = s.template.findResources('AWS::EC2::SecurityGroup')[clusterSecurityGroup].Properties.SecurityGroupIngress;
    expect(inline ?? []).toEqual([]);
  });

  test('gives the task DATABASE_URL without a password, and DATABASE_PASSWORD from the secret', () => {
    const url = s.container.Environment.find((e) => e.Name === 'DATABASE_URL')?.Value;
    expect(url).toEqual({
      'Fn::Join': [
        '',
        [
          'postgres://clip@',
          { 'Fn::GetAtt': [clusterId, 'Endpoint.Address'] },
          ':',
          { 'Fn::GetAtt': [clusterId, 'Endpoint.Port'] },
          '/catalogue?sslmode=no-verify',
        ],
      ],
    });
    expect(s.container.Secrets).toEqual([
      { Name: 'DATABASE_PASSWORD', ValueFrom: { 'Fn::Join': ['', [{ Ref: secretId }, ':password::']] } },
    ]);
    expect(s.container.Environment.map((e) => e.Name)).not.toContain('DATABASE_PASSWORD');
    expect(JSON.stringify(s.container)).not.toMatch(/resolve:secretsmanager|SecretString/);
  });

  test('lets the execution role, and only it, read the secret', () => {
    const taskDefinition = s.gateway.service.taskDefinition;
    const read = s
      .statementsOf(s.logicalId(taskDefinition.obtainExecutionRole()))
      .filter((st) => JSON.stringify(st.Action).includes('secretsmanager'));
    expect(read).toEqual([
      { Effect: 'Allow', Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'], Resource: { Ref: secretId } },
    ]);
    expect(JSON.stringify(s.statementsOf(s.logicalId(taskDefinition.taskRole)))).not.toContain('secretsmanager');
  });

  test('starts the service only once the writer instance and the ingress rule exist', () => {
    const instanceId = s.template.getResourceId('AWS::RDS::DBInstance', {});
    const ingressId = Object.entries(s.template.findResources('AWS::EC2::SecurityGroupIngress')).find(
      ([, r]) => r.Properties.FromPort === 5432,
    )?.[0];
    const [service] = Object.values(s.template.findResources('AWS::ECS::Service'));
    expect(service.DependsOn).toEqual(expect.arrayContaining([clusterId, instanceId, ingressId]));
    // Only the service resource waits: the security group the ingress rule names must not.
    const serviceSecurityGroup = s.template.findResources('AWS::EC2::SecurityGroup')[serviceSecurityGroupId];
    expect((serviceSecurityGroup.DependsOn as string[] | undefined) ?? []).not.toContainEqual(expect.stringMatching(/Catalogue/));
  });

  test('outputs the endpoint and the secret ARN, not the password', () => {
    s.template.hasOutput('DatabaseEndpoint', { Value: { 'Fn::GetAtt': [clusterId, 'Endpoint.Address'] } });
    s.template.hasOutput('DatabaseSecretArn', { Value: { Ref: secretId } });
    expect(JSON.stringify(s.template.toJSON().Outputs)).not.toMatch(/password::|SecretString/);
  });

  test('does not warn about per-task catalogues', () => {
    expect(Annotations.fromStack(s.gateway).findWarning('*', Match.stringLikeRegexp('SQLite'))).toEqual([]);
  });
});

describe('GatewayStack with catalogue aurora and default capacity', () => {
  test('scales from 0.5 to 4 ACUs', () => {
    const { template } = synth({ catalogue: 'aurora' });
    template.hasResourceProperties('AWS::RDS::DBCluster', { ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 } });
  });
});

describe('GatewayStack catalogue validation', () => {
  test('refuses an unknown catalogue, naming the setting and the value', () => {
    expect(() => synth({ catalogue: 'dynamodb' as never })).toThrow('catalogue must be sqlite or aurora, got "dynamodb".');
  });

  test('refuses capacities Aurora Serverless v2 does not take, or that would never apply', () => {
    expect(() => synth({ catalogue: 'aurora', auroraMinAcu: 0 })).toThrow(
      'auroraMinAcu must be from 0.5 to 256 ACUs in steps of 0.5, got 0.',
    );
    expect(() => synth({ catalogue: 'aurora', auroraMinAcu: 0.75 })).toThrow(/auroraMinAcu .* got 0\.75/);
    expect(() => synth({ catalogue: 'aurora', auroraMaxAcu: 512 })).toThrow(/auroraMaxAcu .* got 512/);
    expect(() => synth({ catalogue: 'aurora', auroraMinAcu: 8, auroraMaxAcu: 2 })).toThrow(
      'auroraMaxAcu (2) must be at least auroraMinAcu (8).',
    );
    expect(() => synth({ auroraMaxAcu: 8 })).toThrow('auroraMaxAcu is set (8) but catalogue is sqlite: it needs catalogue aurora.');
  });
});

describe('the TLS mode in DATABASE_URL', () => {
  const ssl = (query: string) => new Client({ connectionString: `postgres://clip@db.example:5432/catalogue${query}` }).ssl;

  test('makes pg encrypt without checking the certificate against CAs Node does not have', () => {
    expect(ssl(DATABASE_TLS_QUERY)).toEqual({ rejectUnauthorized: false });
  });

  test('is not sslmode=require, which pg 8 reads as verify-full against Node CAs (refusing the RDS certificate)', () => {
    // pg says so itself, as a process warning: caught here, so that it is checked and not printed.
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      expect(ssl('?sslmode=require')).toEqual({});
      expect(warn).toHaveBeenCalledWith(
        expect.stringMatching(/SSL modes 'prefer', 'require', and 'verify-ca' are treated as aliases for 'verify-full'/),
      );
    } finally {
      warn.mockRestore();
    }
    expect(ssl('?sslmode=verify-full')).toEqual({});
  });
});
