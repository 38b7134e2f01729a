#!/usr/bin/env node
// `npm run docs:config`: writes docs/configuration.md, the configuration reference, from the code.
// Meanings come from CONFIGURATION_VARIABLES (gateway/config.ts, gateway/backends/from-env.ts);
// defaults, accepted values and when a variable is required come from the code reading each one,
// recorded while configFromEnv runs over environments that reach every backend and the hub.
// `--check` writes nothing and exits 1 when the file differs from what the code says.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { loadModelFromEnv } from '../functions/handlers/model-from-env';
import { serveSettingsFromEnv } from '../functions/handlers/serve-settings';
import { EnvReader, recordReads, type Env, type VariableMeaning, type VariableMeanings, type VariableRead } from '../functions/options';
import { BACKEND_KINDS, SPILLOVER_KINDS } from '../gateway/backends';
import { CONFIGURATION_VARIABLES, configFromEnv, listenFromEnv } from '../gateway/config';
import { SHOPIFY_VARIABLES, shopifyFromEnv } from '../gateway/shopify';

/** Every variable the gateway's process reads: its configuration's, and the host's (the shop's webhooks). */
export const GATEWAY_VARIABLES: VariableMeanings = { ...CONFIGURATION_VARIABLES, ...SHOPIFY_VARIABLES };

/** The repository: above tools/ when run from the sources, above dist/tools/ when built. */
function repositoryRoot(from: string = __dirname): string {
  return existsSync(join(from, 'package.json')) ? from : repositoryRoot(dirname(from));
}

export const REFERENCE_FILE = join(repositoryRoot(), 'docs', 'configuration.md');

/** Values for the variables some backend requires, so that reading its configuration gets past them. */
const REQUIRED_VALUES: Env = {
  LAMBDA_FUNCTION_NAME: 'clip',
  CLIP_FUNCTION_URL: 'http://127.0.0.1:9000',
  SAGEMAKER_ENDPOINT: 'clip',
  SPILLOVER_FUNCTION_URL: 'http://127.0.0.1:9001',
};

/**
 * Environments that between them make configFromEnv read every variable: each backend alone, a
 * SageMaker primary with each spillover, and a hub model. The first gives the defaults; the hub's
 * home is a placeholder there, so that no machine's home directory ends up in the reference.
 */
export function gatewayScenarios(): Env[] {
  return [
    {},
    ...BACKEND_KINDS.map((kind) => ({ ...REQUIRED_VALUES, INFERENCE_BACKEND: kind })),
    ...SPILLOVER_KINDS.map((kind) => ({ ...REQUIRED_VALUES, INFERENCE_BACKEND: 'sagemaker', SPILLOVER_BACKEND: kind })),
    { CLIP_MODEL: 'Xenova/clip-vit-base-patch32', HF_HOME: '$HF_HOME' },
    { CLIP_MODEL: 'Xenova/clip-vit-base-patch32' },
  ];
}

/** Every read `run` makes of each environment, in order. */
export function recordedReads(scenarios: Env[], run: (env: Env) => void): VariableRead[] {
  const reads: VariableRead[] = [];
  for (const scenario of scenarios) run(recordReads({ ...scenario }, (read) => reads.push(read)));
  return reads;
}

/** What the gateway reads: its configuration, where it listens and the shop's webhooks, as gateway/index.ts does. */
export function gatewayReads(): VariableRead[] {
  return recordedReads(gatewayScenarios(), (env) => {
    configFromEnv(env);
    listenFromEnv(env);
    shopifyFromEnv(new EnvReader(env));
  });
}

/**
 * What the function process reads: how it listens, and its model's settings. Both a directory and
 * a repo are named, so that loading stops, refused, once every variable has been read.
 */
export async function functionReads(): Promise<VariableRead[]> {
  const reads = recordedReads([{}], (env) => serveSettingsFromEnv(env));
  const env = recordReads({ CLIP_MODEL_DIR: 'model', CLIP_MODEL: 'Xenova/clip-vit-base-patch32' }, (read) => reads.push(read));
  await loadModelFromEnv(env, () => {}).then(
    () => {
      throw new Error('loadModelFromEnv loaded a model with both CLIP_MODEL_DIR and CLIP_MODEL set');
    },
    (error: unknown) => {
      if (!(error instanceof TypeError) || !/both set/.test(error.message)) throw error;
    },
  );
  return reads;
}

const MIB = 1024 * 1024;

/** A default as the reference shows it. */
export function shownValue(name: string, value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.map((item) => `\`${String(item)}\``).join(', ');
  if (typeof value === 'string') return `\`${value}\``;
  if (typeof value === 'number' && name.endsWith('_BYTES') && value % MIB === 0) return `${value} (${value / MIB} MiB)`;
  return String(value);
}

/** One row of the reference. */
export interface ReferenceRow {
  name: string;
  shownDefault: string;
  accepts: string;
  meaning: string;
}

const meaningOf = (entry: VariableMeaning) => (typeof entry === 'string' ? entry : entry.meaning);

/**
 * The reference's rows by heading. A variable's default is the one the gateway reads it with;
 * else the meaning's `unset`; else the function's own (the local backend leaves CLIP_DTYPE and
 * CLIP_DEVICE to the model, which the function reads with the same defaults); else none, or when
 * it is required. Throws when a variable read has no meaning, a meaning names a variable nobody
 * reads, or an `unset` restates a default the code reads the variable with.
 */
export function referenceRows(
  meanings: VariableMeanings,
  gateway: VariableRead[],
  functionSide: VariableRead[],
): { heading: string; rows: ReferenceRow[] }[] {
  const described = new Map(Object.values(meanings).flatMap((section) => Object.entries(section)));
  const missing = [...new Set(gateway.map((read) => read.name))].filter((name) => !described.has(name));
  if (missing.length > 0) {
    throw new Error(
      `The gateway reads ${missing.join(', ')} but CONFIGURATION_VARIABLES gives no meaning for ${missing.length === 1 ? 'it' : 'them'}: ` +
        'add it beside the code that reads it (gateway/config.ts, or gateway/backends/from-env.ts for the backend and the model).',
    );
  }
  const unread = [...described.keys()].filter((name) => !gateway.some((read) => read.name === name));
  if (unread.length > 0) throw new Error(`CONFIGURATION_VARIABLES describes ${unread.join(', ')}, which the gateway never reads.`);
  return Object.entries(meanings).map(([heading, section]) => ({
    heading,
    rows: Object.entries(section).map(([name, entry]) => {
      const reads = gateway.filter((read) => read.name === name);
      const withDefault = reads.find((read) => read.how === 'get');
      const unset = typeof entry === 'string' ? undefined : entry.unset;
      if (withDefault && unset !== undefined) {
        throw new Error(`${name} is read with a default, so its meaning must not give one of its own (unset: ${JSON.stringify(unset)}).`);
      }
      const modelDefault = functionSide.find((read) => read.name === name && read.how === 'get');
      const whens = [...new Set(reads.flatMap((read) => (read.how === 'required' ? [read.when] : [])))];
      const shownDefault =
        withDefault?.how === 'get'
          ? shownValue(name, withDefault.fallback)
          : (unset ??
            (modelDefault?.how === 'get'
              ? shownValue(name, modelDefault.fallback)
              : whens.length > 0
                ? `none; required ${whens.join(' or ')}`
                : 'none'));
      return { name, shownDefault, accepts: reads[0]!.expected, meaning: meaningOf(entry) };
    }),
  }));
}

/** A heading's anchor as GitHub makes it. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

const cell = (text: string) => text.replace(/\|/g, '\\|');
/** Prose from a rule, where `<read|write>` would read as an HTML tag. */
const proseCell = (text: string) => cell(text.replace(/</g, '&lt;').replace(/>/g, '&gt;'));

const INTRO = `<!-- Made by \`npm run docs:config\` from gateway/config.ts and gateway/backends/from-env.ts: edit those, then run it. -->

# Configuration

The gateway is configured by environment variables, read once when it starts. Each one is checked
as it is read, and a bad value stops the gateway with a message naming the variable and quoting
what it was set to (\`LOCAL_WORKERS must be a non-negative integer, got "x"\`); settings that do
not go together are refused the same way (\`DATA_DIR and DATABASE_URL are both set\`). A variable
set to nothing, or only spaces, counts as unset. True or false also take \`1\`/\`0\`, \`yes\`/\`no\`
and \`on\`/\`off\`.

The defaults below are the code's own: this page is made from it by \`npm run docs:config\`, and a
test fails when the two disagree. The CLIP function (on Lambda, or served over HTTP) reads some of
the same variables and a few of its own: see [the function's variables](serverless-functions.md#the-functions-variables).
`;

/** The whole reference, as docs/configuration.md holds it. */
export async function configurationReference(): Promise<string> {
  const sections = referenceRows(GATEWAY_VARIABLES, gatewayReads(), await functionReads());
  const contents = sections.map(({ heading }) => `- [${heading}](#${anchorOf(heading)})`).join('\n');
  const tables = sections.map(({ heading, rows }) =>
    [
      `## ${heading}`,
      '',
      '| variable | default | accepts | meaning |',
      '| --- | --- | --- | --- |',
      ...rows.map((row) => `| \`${row.name}\` | ${cell(row.shownDefault)} | ${proseCell(row.accepts)} | ${cell(row.meaning)} |`),
    ].join('\n'),
  );
  return [INTRO.trimEnd(), contents, ...tables].join('\n\n') + '\n';
}

async function main(args: string[]): Promise<number> {
  const reference = await configurationReference();
  if (args.includes('--check')) {
    const current = readFileSync(REFERENCE_FILE, 'utf8');
    if (current === reference) return 0;
    process.stderr.write('docs/configuration.md differs from the code: run npm run docs:config.\n');
    return 1;
  }
  writeFileSync(REFERENCE_FILE, reference);
  process.stdout.write(`Wrote ${REFERENCE_FILE}.\n`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`docs:config: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
