import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(__dirname, '..', '..');

type Template = { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };

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
    // The default catalogue is per task, and the CLI says so.
    expect(output).toMatch(/own SQLite catalogue/);
    expect(Object.values(template('ClipGateway').Resources).some((r) => r.Type === 'AWS::RDS::DBCluster')).toBe(false);
  });

  it('synthesizes the Aurora catalogue offline with -c catalogue=aurora', async () => {
    const { output, template } = await synth('catalogue=aurora', 'auroraMaxAcu=8');
    expect(output).not.toMatch(/own SQLite catalogue/);
    const clusters = Object.values(template('ClipGateway').Resources).filter((r) => r.Type === 'AWS::RDS::DBCluster');
    expect(clusters.map((c) => c.Properties.ServerlessV2ScalingConfiguration)).toEqual([{ MinCapacity: 0.5, MaxCapacity: 8 }]);
  });

  it('refuses a catalogue or a capacity it does not know, naming the setting and the value', async () => {
    // The app alone (no CLI): settings are read while the stacks are built, before anything is synthesized.
    const run = (vars: Record<string, string>) =>
      promisify(execFile)('npx', ['tsx', 'infra/app.ts'], { cwd: ROOT, env: { ...env, ...vars }, timeout: 60_000 });
    await expect(run({ CLIP_INFRA_CATALOGUE: 'dynamodb' })).rejects.toMatchObject({
      stderr: expect.stringContaining('Setting catalogue must be sqlite or aurora, got "dynamodb".'),
    });
    await expect(run({ CLIP_INFRA_CATALOGUE: 'aurora', CLIP_INFRA_AURORA_MIN_ACU: 'half' })).rejects.toMatchObject({
      stderr: expect.stringContaining('Setting auroraMinAcu must be a number of ACUs in steps of 0.5 (0.5, 1, 1.5, ...), got "half".'),
    });
  });
});
