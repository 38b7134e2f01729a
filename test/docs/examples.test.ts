// The README's and the guides' shell examples, run as written against a real gateway, print the
// answers the pages show below them. One substitution: `localhost:4000` in an example's text
// becomes the test gateway's address (and CLIP_GATEWAY_URL, the address `npm run catalogue`
// takes instead of its default http://localhost:4000/graphql, is set to it). Nothing else of an
// example is changed. They run where the project's files are (a directory linking them, so that
// what they write stays out of the checkout: examples/shell.ts). Which examples and pages are not
// run, and why: examples/pages.ts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { builtEntry } from '../helpers/build';
import { startBuiltGateway, type TestGateway } from '../helpers/gateway-process';
import { differences, itemsOf } from './examples/answers';
import {
  examplesOf,
  examplesToRun,
  PAGES_NOT_RUN,
  readPage,
  ROOT,
  SESSIONS,
  SKIPPED_EXAMPLES,
  skipKey,
  TALKS_TO_A_GATEWAY,
} from './examples/pages';
import { projectLookalike, runInOneSession } from './examples/shell';

/**
 * What a fresh `npm start` in a clean shell has: none of the gateway's variables set (those this
 * process has are blanked: blank is unset), an empty catalogue.
 */
function freshStart(dataDir: string): Record<string, string> {
  // Named by the configuration reference, which is made from the code (and a test keeps it so);
  // cheaper than loading the gateway's config module into this process.
  const names = [...readPage('docs/configuration.md').matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((match) => match[1]!);
  if (!names.includes('CLIP_MODEL')) throw new Error('docs/configuration.md no longer lists its variables as | `NAME` |.');
  // The helper's own: a port of the machine's choosing on 127.0.0.1, and no Sandbox page.
  const helpers = ['PORT', 'HOST', 'SANDBOX'];
  const unset = names.filter((name) => process.env[name] !== undefined && !helpers.includes(name)).map((name) => [name, '']);
  return { ...Object.fromEntries(unset), DATA_DIR: dataDir };
}

/** Runs a page's examples and says where what they print differs from the page, by the example's line. */
async function runPage(page: string, gateway: TestGateway, cwd: string, ids: Map<string, string>): Promise<string[]> {
  const examples = examplesToRun(page);
  const address = new URL(gateway.origin).host;
  const { printed, stderr } = await runInOneSession(examples, {
    cwd,
    address,
    env: { CLIP_GATEWAY_URL: `${gateway.origin}/graphql` },
    timeoutMs: 45_000, // under jest's 60 s, so that its message (what was printed so far) is the one seen
  });
  const problems = examples.flatMap((example, i) => {
    const { stdout, status } = printed[i]!;
    const where = `${page}:${example.line}`;
    if (status !== 0) return [`${where}: its last command ended with ${status}; it printed:\n${stdout}`];
    if (!example.answer) {
      return stdout.trim() === '' ? [] : [`${where}: the page shows no answer, but it printed:\n${stdout}`];
    }
    return differences(itemsOf(example.answer.body, true), itemsOf(stdout), ids).map(
      (difference) => `${where} (the answer at line ${example.answer!.line}): ${difference}`,
    );
  });
  return problems.length === 0 ? [] : [...problems, `stderr of the session:\n${stderr}`];
}

describe.each(SESSIONS)('the shell examples of $pages, on one gateway ($why)', ({ pages }) => {
  let gateway: TestGateway;
  let dataDir: string;
  let lookalike: ReturnType<typeof projectLookalike>;
  // A UUID a page shows twice stands for the same job each time.
  const ids = new Map<string, string>();

  beforeAll(async () => {
    // The examples' `npm run catalogue` runs the build without building it first (see
    // projectLookalike): it must be there, and as new as the gateway's sources, as the gateway's is.
    builtEntry('tools', 'catalogue.js');
    dataDir = mkdtempSync(join(tmpdir(), 'docs-examples-data-'));
    lookalike = projectLookalike();
    gateway = await startBuiltGateway(freshStart(dataDir));
  });

  afterAll(async () => {
    await gateway?.stop();
    lookalike?.remove();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it.each(pages)('%s: each prints the answer the page shows below it', async (page) => {
    expect(await runPage(page, gateway, lookalike.dir, ids)).toEqual([]);
  });
});

describe('which examples run', () => {
  const runPages = SESSIONS.flatMap(({ pages }) => pages);
  const tracked = execFileSync('git', ['ls-files', '--', '*.md'], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n');

  it('every shell example of those pages runs, or is listed as skipped with the reason', () => {
    const examples = runPages.flatMap((page) => examplesOf(readPage(page)).map((example) => skipKey(page, example)));
    const run = runPages.flatMap((page) => examplesToRun(page));
    // The README, the catalogue guide and the API guide hold more than a dozen examples.
    expect(run.length).toBeGreaterThan(12);
    expect(Object.keys(SKIPPED_EXAMPLES).filter((key) => !examples.includes(key))).toEqual([]);
  });

  it('every other page with shell examples says why it is not run, and none of its examples talks to a gateway', () => {
    const withExamples = tracked.filter((page) => examplesOf(readPage(page)).length > 0);
    expect(withExamples.filter((page) => !runPages.includes(page) && !(page in PAGES_NOT_RUN))).toEqual([]);
    expect(Object.keys(PAGES_NOT_RUN).filter((page) => !withExamples.includes(page))).toEqual([]);
    const talking = Object.keys(PAGES_NOT_RUN).flatMap((page) =>
      examplesOf(readPage(page))
        .filter((example) => TALKS_TO_A_GATEWAY.test(example.script))
        .map((example) => `${page}:${example.line}`),
    );
    expect(talking).toEqual([]);
  });

  it('the skipped examples of the pages that run do not talk to a gateway either', () => {
    const talking = runPages.flatMap((page) =>
      examplesOf(readPage(page))
        .filter((example) => skipKey(page, example) in SKIPPED_EXAMPLES && TALKS_TO_A_GATEWAY.test(example.script))
        .map((example) => `${page}:${example.line}`),
    );
    expect(talking).toEqual([]);
  });
});

describe('the comparison, so that it can fail', () => {
  const compare = (page: string, output: string) => differences(itemsOf(page, true), itemsOf(output), new Map());

  it('takes numbers equal to 1e-6, and nothing further off', () => {
    expect(compare('{"score":0.9998246227934302}', '{"score":0.9998246227}')).toEqual([]);
    expect(compare('{"score":0.9998246227934302}', '{"score":0.9998}')).toEqual([
      'line 1: $.score: expected 0.9998246227934302, got 0.9998',
    ]);
    expect(compare('{"score":1}', '{"score":"1"}')).toHaveLength(1);
  });

  it('wants the same keys in the same order, the same strings and lists, and as many lines', () => {
    expect(compare('{"a":1,"b":2}', '{"b":2,"a":1}')).toEqual(['line 1: $: expected the keys a, b, got b, a']);
    expect(compare('{"a":[1,2]}', '{"a":[1,2,3]}')).toEqual(['line 1: $.a: expected 2 items, got 3']);
    expect(compare('{"a":"red"}', '{"a":"blue"}')).toHaveLength(1);
    expect(compare('{"a":null}', '{"a":0}')).toHaveLength(1);
    expect(compare('{"a":1}\n{"a":1}', '{"a":1}')).toHaveLength(1);
    expect(compare('4 imported', '{"a":1}')).toHaveLength(1);
    expect(compare('4 imported\n\n{"a":1}', '\n4 imported\n{"a":1}\n')).toEqual([]);
  });

  it('lets "…" stand for the rest of a list, never for a shorter one or other numbers', () => {
    expect(compare('{"v":[0.1,0.2, …]}', '{"v":[0.1,0.2,0.3,0.4]}')).toEqual([]);
    expect(compare('{"v":[0.1,0.2, …]}', '{"v":[0.1,0.2]}')).toEqual(['line 1: $.v: expected more than 2 items, got 2']);
    expect(compare('{"v":[0.1,0.2, …]}', '{"v":[0.1,0.3,0.4]}')).toHaveLength(1);
    expect(compare('{"m":"a … b"}', '{"m":"a … b"}')).toEqual([]);
  });

  it('takes any UUID and ISO timestamp where the page shows one, the same UUID for the same one', () => {
    const job = 'a2ec983a-a45d-4692-932b-6b654add8e97';
    const other = '440e2c48-248f-4b5d-991b-1086e510774a';
    const third = '0b8c6a52-1c1e-4b0e-9d6e-2f3a4b5c6d7e';
    expect(
      compare(`${job}\n{"id":"${job}","at":"2026-12-06T22:03:57.030Z"}`, `${other}\n{"id":"${other}","at":"2027-01-02T03:04:05.678Z"}`),
    ).toEqual([]);
    expect(compare(`${job}\n{"m":"job ${job} has ended"}`, `${other}\n{"m":"job ${third} has ended"}`)).toHaveLength(1);
    expect(compare(`{"a":"${job}","b":"${third}"}`, `{"a":"${other}","b":"${other}"}`)).toHaveLength(1);
    expect(compare('{"at":"2026-12-06T22:03:57.030Z"}', '{"at":"yesterday"}')).toHaveLength(1);
  });
});
