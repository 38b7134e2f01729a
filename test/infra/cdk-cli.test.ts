import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { builtEntry } from '../helpers/build';

const ROOT = join(__dirname, '..', '..');
/** The app cdk.json runs with tsx, compiled: its refusal needs no CLI and no TypeScript compiler. */
const APP = builtEntry('infra', 'app.js');

type Template = { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };

// One synth is tsx, the CDK CLI and the copy of every image's build context: 15 s on an idle
// machine, near a minute on a busy one, past jest's default.
jest.setTimeout(180_000);

/** `npx cdk synth` as a user runs it: cdk.json, offline, no AWS account. */
describe('cdk synth', () => {
  const outs: string[] = [];
  afterAll(() => outs.forEach((out) => rmSync(out, { recursive: true, force: true })));
  const env = { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '', CDK_DISABLE_VERSION_CHECK: 'true' };

  async function synth(...context: string[]) {
    const out = mkdtempSync(join(tmpdir(), 'cdk-out-'));
    outs.push(out);
    const args = ['cdk', 'synth', '--quiet', '--output', out, ...context.flatMap((c) => ['-c', c])];
    const { stdout, stderr } = await promisify(execFile)('npx', args, { cwd: ROOT, env, timeout: 120_000 });
    const template = (stack: string) => JSON.parse(readFileSync(join(out, `${stack}.template.json`), 'utf8')) as Template;
    return { out, output: `${stdout}${stderr}`, template };
  }

  it('synthesizes both stacks offline from cdk.json', async () => {
    const { out, output, template } = await synth();
    // cdk.json sets every feature flag a new app should have, so the CLI has nothing to nag about.
    expect(output).not.toMatch(/feature flags? (are|is) not configured/i);
    for (const stack of ['ClipFunction', 'ClipGateway']) expect(existsSync(join(out, `${stack}.template.json`))).toBe(true);
    expect(Object.values(template('ClipFunction').Resources).some((r) => r.Type === 'AWS::Lambda::Function')).toBe(true);
    // The default catalogue is per task, and the CLI says so, with how to acknowledge it.
    expect(output).toMatch(/own SQLite catalogue[\s\S]*Annotation::clip-gateway:catalogue-sqlite/);
    expect(Object.values(template('ClipGateway').Resources).some((r) => r.Type === 'AWS::RDS::DBCluster')).toBe(false);
    // No GPU tier unless asked for: no stack, no SageMaker resource, and the gateway on Lambda alone.
    expect(existsSync(join(out, 'ClipGpu.template.json'))).toBe(false);
    for (const stack of ['ClipFunction', 'ClipGateway'])
      expect(Object.values(template(stack).Resources).filter((r) => r.Type.startsWith('AWS::SageMaker::'))).toEqual([]);
  });

  // One synth for every option a production deployment would set, side by side: each is a minute of
  // a busy machine. With the defaults above, these are the templates CDK's own CloudFormation
  // validation checks (the unit tests of the stacks synthesize without it: see test/infra/cdk-app.ts).
  it('synthesizes the SageMaker GPU tier (-c gpu=sagemaker) and the Aurora catalogue (-c catalogue=aurora) offline, and points the gateway at both', async () => {
    const { out, output, template } = await synth(
      'gpu=sagemaker',
      'gpuMaxInstances=2',
      'gpuInitialCopies=0',
      'catalogue=aurora',
      'auroraMaxAcu=8',
      'architecture=arm64',
      'memorySize=4096',
      'reservedConcurrency=10',
      'provisionedConcurrency=2',
      'federation=true',
    );
    const [fn] = Object.values(template('ClipFunction').Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(fn.Properties).toMatchObject({ Architectures: ['arm64'], MemorySize: 4096, ReservedConcurrentExecutions: 10 });
    const [alias] = Object.values(template('ClipFunction').Resources).filter((r) => r.Type === 'AWS::Lambda::Alias');
    expect(alias.Properties).toMatchObject({ ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 2 } });
    expect(existsSync(join(out, 'ClipGpu.template.json'))).toBe(true);
    const gpu = Object.values(template('ClipGpu').Resources);
    const [endpointConfig] = gpu.filter((r) => r.Type === 'AWS::SageMaker::EndpointConfig');
    expect((endpointConfig.Properties.ProductionVariants as Record<string, unknown>[])[0]).toMatchObject({
      InstanceType: 'ml.g6.xlarge',
      ManagedInstanceScaling: { Status: 'ENABLED', MinInstanceCount: 0, MaxInstanceCount: 2 },
    });
    const [component] = gpu.filter((r) => r.Type === 'AWS::SageMaker::InferenceComponent');
    expect(component.Properties).toMatchObject({ InferenceComponentName: 'ClipGpu-clip', RuntimeConfig: { CopyCount: 0 } });
    const [target] = gpu.filter((r) => r.Type === 'AWS::ApplicationAutoScaling::ScalableTarget');
    expect(target.Properties).toMatchObject({ MinCapacity: 0, MaxCapacity: 2 });
    const [taskDefinition] = Object.values(template('ClipGateway').Resources).filter((r) => r.Type === 'AWS::ECS::TaskDefinition');
    const [container] = taskDefinition.Properties.ContainerDefinitions as { Environment: { Name: string; Value: unknown }[] }[];
    const env = Object.fromEntries(container.Environment.map((e) => [e.Name, e.Value]));
    expect(env).toMatchObject({
      INFERENCE_BACKEND: 'sagemaker',
      SAGEMAKER_INFERENCE_COMPONENT: 'ClipGpu-clip',
      SPILLOVER_BACKEND: 'lambda',
      FEDERATION: 'true',
    });
    expect(env.SAGEMAKER_ENDPOINT).toEqual({ 'Fn::ImportValue': expect.stringMatching(/^ClipGpu:.*EndpointName/) });
    expect(output).not.toMatch(/own SQLite catalogue/);
    const clusters = Object.values(template('ClipGateway').Resources).filter((r) => r.Type === 'AWS::RDS::DBCluster');
    expect(clusters.map((c) => c.Properties.ServerlessV2ScalingConfiguration)).toEqual([{ MinCapacity: 0.5, MaxCapacity: 8 }]);
  });

  // Every refusal is tested in-process (settings.test.ts); this proves the app, as a process, says it and fails.
  it('refuses a bad setting as a process: the setting and its value on stderr, and a non-zero exit', async () => {
    // The app alone (no CLI), as built: settings are read before any stack is built, let alone synthesized.
    const run = promisify(execFile)(process.execPath, [APP], {
      cwd: ROOT,
      env: { ...env, CLIP_INFRA_CATALOGUE: 'dynamodb' },
      timeout: 60_000,
    });
    await expect(run).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('Setting catalogue must be sqlite or aurora, got "dynamodb".'),
    });
  });
});
