import { readdirSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism, homedir } from 'node:os';
import { join, relative } from 'node:path';

import { EnvReader, positiveInt, recordReads, type VariableMeanings, type VariableRead } from '../../functions/options';
import {
  configurationReference,
  functionReads,
  GATEWAY_VARIABLES,
  gatewayReads,
  REFERENCE_FILE,
  referenceRows,
  shownValue,
} from '../../tools/config-reference';

const ROOT = join(__dirname, '..', '..');

/** Every TypeScript file under `dir`, the browser pages left out (they read no environment). */
function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'page' || name === 'node_modules') return [];
    if (statSync(join(ROOT, path)).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/**
 * Variable names a file reads, as written in it: through an EnvReader, or from an environment
 * object; with `valuesToo`, also names given as an object's values (a flag's variable).
 */
function variablesIn(file: string, valuesToo = false): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const names = [
    ...text.matchAll(/\.(?:get|optional|required)(?:<[^>()]*>)?\(\s*'([A-Z][A-Z0-9_]*)'/g),
    ...text.matchAll(/\benv(?:\.|\[')([A-Z][A-Z0-9_]*)/g),
    ...(valuesToo ? text.matchAll(/:\s*'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)'/g) : []),
  ].map((match) => match[1]!);
  return [...new Set(names)];
}

/** The rows of the first table under a page's heading: the variables each names, and its default cell. */
function tableUnder(page: string, heading: string): { names: string[]; shownDefault: string }[] {
  const text = readFileSync(join(ROOT, page), 'utf8');
  const start = text.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`${page} has no heading ${heading}`);
  const section = text.slice(start + heading.length + 2).split(/\n## /)[0]!;
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const [names, shownDefault] = line.split(' | ');
      return { names: [...names!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1]!), shownDefault: shownDefault! };
    });
}

/** Whether a page names the variable in code (`NAME`, or inside a longer span such as `TERM=dumb`). */
function named(page: string, name: string): boolean {
  return new RegExp(`\`[^\`\\n]*\\b${name}\\b[^\`\\n]*\``).test(readFileSync(join(ROOT, page), 'utf8'));
}

const described = new Set(Object.values(GATEWAY_VARIABLES).flatMap((section) => Object.keys(section)));

describe('the configuration reference', () => {
  it('is docs/configuration.md as the code makes it (npm run docs:config writes it)', async () => {
    const made = await configurationReference();
    const committed = readFileSync(REFERENCE_FILE, 'utf8');
    if (committed !== made) {
      throw new Error(`${relative(ROOT, REFERENCE_FILE)} differs from the code: run npm run docs:config and commit the result.`);
    }
  });

  it('gives a meaning to every variable a gateway source reads, wherever it reads it', () => {
    const files = [...sources('gateway'), 'functions/hub/env.ts'];
    const read = files.flatMap((file) => variablesIn(file).map((name) => ({ file, name })));
    // The scan must see the reading code, or it would pass by seeing nothing.
    expect(read.length).toBeGreaterThan(70);
    expect(read.filter(({ name }) => !described.has(name))).toEqual([]);
  });

  it('has read every variable it describes, so its defaults are the ones the code reads with', () => {
    const recorded = new Set(gatewayReads().map((read) => read.name));
    expect([...described].filter((name) => !recorded.has(name))).toEqual([]);
    expect([...recorded].filter((name) => !described.has(name))).toEqual([]);
  });

  it("keeps this machine's home directory out of the defaults", async () => {
    expect(await configurationReference()).not.toContain(homedir());
  });

  it('shows defaults from the code, and none where a variable has none', async () => {
    const rows = new Map(
      referenceRows(GATEWAY_VARIABLES, gatewayReads(), await functionReads()).flatMap((s) => s.rows.map((r) => [r.name, r])),
    );
    expect(rows.get('PORT')).toMatchObject({ shownDefault: '4000', accepts: 'an integer from 0 to 65535' });
    expect(rows.get('BODY_LIMIT_BYTES')!.shownDefault).toBe('33554432 (32 MiB)');
    expect(rows.get('CORS_ORIGINS')!.shownDefault).toBe('`*`');
    expect(rows.get('API_KEYS')!.shownDefault).toBe('none');
    expect(rows.get('DATABASE_URL')!.shownDefault).toBe('none');
    // Left to the model by the local backend: the function's default for the same variable.
    expect(rows.get('CLIP_DTYPE')!.shownDefault).toBe('`fp32`');
    expect(rows.get('LAMBDA_FUNCTION_NAME')!.shownDefault).toBe(
      'none; required when INFERENCE_BACKEND is lambda or when SPILLOVER_BACKEND is lambda',
    );
    expect(rows.get('HF_TOKEN_PATH')!.shownDefault).toBe('`$HF_HOME/token`');
  });
});

describe("the other guides' variables", () => {
  const FUNCTION_GUIDE = 'docs/serverless-functions.md';

  it("lists every variable the function reads in the serverless guide's table, with the code's defaults", async () => {
    const rows = tableUnder(FUNCTION_GUIDE, "## The function's variables");
    const rowOf = (name: string) => rows.find((row) => row.names.includes(name));
    const reads = await functionReads();
    const files = [...sources('functions/handlers'), 'functions/hub/env.ts'];
    const names = new Set([...reads.map((read) => read.name), ...files.flatMap((file) => variablesIn(file))]);
    expect(names.size).toBeGreaterThan(15);
    expect([...names].filter((name) => !rowOf(name))).toEqual([]);

    const gatewayDefaults = new Map(gatewayReads().flatMap((read) => (read.how === 'get' ? [[read.name, read.fallback]] : [])));
    for (const read of reads) {
      if (read.how !== 'get') continue;
      const cell = rowOf(read.name)!.shownDefault;
      if (cell === 'as for the gateway') expect([read.name, gatewayDefaults.get(read.name)]).toEqual([read.name, read.fallback]);
      // As many threads as the machine has cores: a number no page can hold.
      else if (read.name === 'CLIP_INTRA_OP_THREADS') expect([cell, read.fallback]).toEqual(['every core', availableParallelism()]);
      else expect([read.name, cell]).toEqual([read.name, expect.stringContaining(shownValue(read.name, read.fallback))]);
    }
  });

  it('names the variables of lambda:local and sagemaker:local in the serverless guide', () => {
    const files = [...sources('functions/lambda-local'), ...sources('functions/sagemaker-local')];
    const names = [...new Set(files.flatMap((file) => variablesIn(file, true)))];
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((name) => !named(FUNCTION_GUIDE, name))).toEqual([]);
  });

  it('names the variables of the commands in the command-line guide or the reference', () => {
    const files = ['functions/cli.ts', 'functions/terminal-charts.ts', ...sources('tools')];
    const names = [...new Set(files.flatMap((file) => variablesIn(file)))];
    expect(names).toEqual(expect.arrayContaining(['NO_COLOR', 'CLIP_GATEWAY_KEY']));
    expect(names.filter((name) => !named('docs/command-line.md', name) && !named('docs/configuration.md', name))).toEqual([]);
  });
});

describe('referenceRows', () => {
  const gateway: VariableRead[] = [
    { name: 'A_SIZE', expected: 'a positive integer', how: 'get', fallback: 3 },
    { name: 'B_URL', expected: 'an http(s) URL', how: 'optional' },
  ];

  it('refuses a variable the code reads without a meaning, naming it and where meanings go', () => {
    expect(() => referenceRows({ S: { A_SIZE: 'a size' } }, gateway, [])).toThrow(
      /reads B_URL but CONFIGURATION_VARIABLES gives no meaning for it: add it beside the code that reads it/,
    );
  });

  it('refuses a meaning for a variable nobody reads', () => {
    const meanings: VariableMeanings = { S: { A_SIZE: 'a size', B_URL: 'a URL', C_GONE: 'gone' } };
    expect(() => referenceRows(meanings, gateway, [])).toThrow('CONFIGURATION_VARIABLES describes C_GONE, which the gateway never reads.');
  });

  it('refuses a default written by hand for a variable the code reads with one', () => {
    const meanings: VariableMeanings = { S: { A_SIZE: { meaning: 'a size', unset: '3' }, B_URL: 'a URL' } };
    expect(() => referenceRows(meanings, gateway, [])).toThrow(/A_SIZE is read with a default/);
  });

  it('shows lists, strings, sizes and booleans as they are typed', () => {
    expect(shownValue('X', [])).toBe('none');
    expect(shownValue('X', ['a', 'b'])).toBe('`a`, `b`');
    expect(shownValue('X', 'local')).toBe('`local`');
    expect(shownValue('X_BYTES', 20 * 1024 * 1024)).toBe('20971520 (20 MiB)');
    expect(shownValue('X_BYTES', 6_000_000)).toBe('6000000');
    expect(shownValue('X', false)).toBe('false');
  });
});

describe('recordReads', () => {
  it('reports each read with its rule and default, and changes nothing the reader answers', () => {
    const reads: VariableRead[] = [];
    const env = recordReads({ SET: '7', BAD: 'x' }, (read) => reads.push(read));
    const reader = new EnvReader(env);
    expect(reader.get('SET', positiveInt, 1)).toBe(7);
    expect(reader.get('UNSET', positiveInt, 1)).toBe(1);
    expect(reader.optional('UNSET', positiveInt)).toBeUndefined();
    expect(() => reader.required('UNSET', positiveInt, 'when it matters')).toThrow('UNSET must be set when it matters');
    expect(() => reader.get('BAD', positiveInt, 1)).toThrow('BAD must be a positive integer, got "x"');
    expect(reads).toEqual([
      { name: 'SET', expected: 'a positive integer', how: 'get', fallback: 1 },
      { name: 'UNSET', expected: 'a positive integer', how: 'get', fallback: 1 },
      { name: 'UNSET', expected: 'a positive integer', how: 'optional' },
      { name: 'UNSET', expected: 'a positive integer', how: 'required', when: 'when it matters' },
      { name: 'BAD', expected: 'a positive integer', how: 'get', fallback: 1 },
    ]);
  });

  it('reports nothing from a reader over another object', () => {
    const reads: VariableRead[] = [];
    recordReads({ SET: '7' }, (read) => reads.push(read));
    expect(new EnvReader({ SET: '7' }).get('SET', positiveInt, 1)).toBe(7);
    expect(reads).toEqual([]);
  });
});
