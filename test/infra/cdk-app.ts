// Helpers for the infra tests (not a test file): apps with the CLI's context, their asset manifests,
// and following a cross-stack import to the export that feeds it.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { App, type Stack } from 'aws-cdk-lib';

import { REPO_ROOT } from '../../infra';

/** The context the CDK CLI passes to the app from cdk.json, so tests synthesize what `cdk synth` does. */
const CDK_JSON_CONTEXT =
  (JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> }).context ?? {};

const outdirs: string[] = [];

/**
 * A new App writing its cloud assembly to a fresh temporary directory (removed by `removeTestOutdirs`).
 *
 * Without CDK's built-in CloudFormation validation: it is the same check whatever the stack's
 * options, and loading its rules costs each test file about 8 s of CPU, two thirds of what the
 * file costs. It runs where the templates a user deploys are made: both `cdk synth` runs of
 * cdk-cli.test.ts (every option set between them). The report of the stacks' warnings is printed
 * either way (gateway-stack.test.ts reads it).
 */
export function testApp(): App {
  const outdir = mkdtempSync(join(tmpdir(), 'clip-infra-test-'));
  outdirs.push(outdir);
  return new App({ outdir, context: { ...CDK_JSON_CONTEXT }, builtinCloudFormationValidation: false });
}

export function removeTestOutdirs(): void {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface DockerImageSource {
  /** The staged build context, absolute. */
  directory: string;
  dockerFile?: string;
  dockerBuildArgs?: Record<string, string>;
  platform?: string;
}

/** The Docker image assets of a stack, from its asset manifest (`<stack>.assets.json`). */
export function dockerImageSources(app: App, stack: Stack): DockerImageSource[] {
  const assembly = app.synth();
  const manifest = JSON.parse(readFileSync(join(assembly.directory, `${stack.artifactId}.assets.json`), 'utf8')) as {
    dockerImages?: Record<string, { source: DockerImageSource }>;
  };
  return Object.values(manifest.dockerImages ?? {}).map(({ source }) => ({
    ...source,
    directory: join(assembly.directory, source.directory),
  }));
}

/** Whether a path exists inside a staged build context. */
export function staged(source: DockerImageSource, path: string): boolean {
  return existsSync(join(source.directory, path));
}

type Template = { Outputs?: Record<string, { Value: unknown; Export?: { Name: string } }> };

/** The value a producer stack exports under the name that `{ 'Fn::ImportValue': name }` imports. */
export function exportedValue(importValue: unknown, producer: Template): unknown {
  const name = (importValue as { 'Fn::ImportValue'?: unknown })['Fn::ImportValue'];
  if (typeof name !== 'string') throw new Error(`not an import: ${JSON.stringify(importValue)}`);
  const output = Object.values(producer.Outputs ?? {}).find((o) => o.Export?.Name === name);
  if (!output) throw new Error(`no export named ${name}`);
  return output.Value;
}
