import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(__dirname, '..', '..');

/** `npx cdk synth` as a user runs it: cdk.json, offline, no AWS account. */
describe('cdk synth', () => {
  const out = mkdtempSync(join(tmpdir(), 'cdk-out-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('synthesizes both stacks offline from cdk.json', async () => {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '', CDK_DISABLE_VERSION_CHECK: 'true' };
    const { stdout, stderr } = await promisify(execFile)('npx', ['cdk', 'synth', '--quiet', '--output', out], {
      cwd: ROOT,
      env,
      timeout: 120_000,
    });
    // cdk.json sets every feature flag a new app should have, so the CLI has nothing to nag about.
    expect(`${stdout}${stderr}`).not.toMatch(/feature flags? (are|is) not configured/i);
    for (const stack of ['ClipFunction', 'ClipGateway']) expect(existsSync(join(out, `${stack}.template.json`))).toBe(true);
    const fn = JSON.parse(readFileSync(join(out, 'ClipFunction.template.json'), 'utf8')) as { Resources: Record<string, { Type: string }> };
    expect(Object.values(fn.Resources).some((r) => r.Type === 'AWS::Lambda::Function')).toBe(true);
  });
});
