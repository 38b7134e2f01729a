// The pages' shell examples: which are run against a gateway, which are not and why, and the
// answer each one shows.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..', '..');

/** A fenced block of a page: its info string (`sh`, `json`, or ''), text, and where it starts. */
export interface Fence {
  line: number;
  info: string;
  body: string;
  /** Offsets in the page of its first and past its last character. */
  start: number;
  end: number;
}

/** A shell example and the answer the page shows right after it, when it shows one. */
export interface Example {
  line: number;
  script: string;
  answer?: Fence;
}

/**
 * The pages whose examples talk to a running gateway, in the order they run: the catalogue guide
 * goes on from the README's catalogue (it says so), on the same gateway; the API guide starts
 * afresh.
 */
export const SESSIONS: { pages: string[]; why: string }[] = [
  { pages: ['README.md', 'docs/catalogue.md'], why: 'the catalogue guide goes on from the README' },
  { pages: ['docs/api.md'], why: 'a fresh gateway' },
];

/** Examples of those pages that are not run, by page and first line, and why. */
export const SKIPPED_EXAMPLES: Record<string, string> = {
  'README.md: npm ci && npm start': 'installs node_modules again and starts a gateway on :4000; the test starts its own',
  'README.md: npm test': 'the whole test suite, which this test is part of',
};

/** Pages with shell examples that do not talk to a running gateway, and why they are not run here. */
export const PAGES_NOT_RUN: Record<string, string> = {
  'docs/command-line.md': 'CLIP without a gateway (npm run clip), model downloads (the network), gpu:check (a GPU), usage lines',
  'docs/development.md': 'npm test, the whole suite',
  'docs/federation.md': 'starts a second gateway with FEDERATION=true',
  'docs/models.md': 'downloads from the Hugging Face hub (the network), apt-get and PyTorch',
  'docs/protection.md': 'starts a second gateway with production settings',
  'docs/serverless-functions.md': 'second processes: the local Lambda and SageMaker endpoints and a gateway on them',
  'docs/serverless-gpu.md': 'AWS, Cloud Run, CUDA',
  'RELIABILITY.md': 'the soak (15 minutes, its own gateway processes) and the fault tests',
  'infra/README.md': 'cdk deploy to an AWS account',
};

/** A shell example talks to a running gateway when it uses its address or the pages' gql function. */
export const TALKS_TO_A_GATEWAY = /localhost:4000\/graphql|(^|[\s;(|&])gql\b/m;

/** The page's fenced blocks, in order. */
export function fencesOf(text: string): Fence[] {
  return [...text.matchAll(/^(```+)([^\n`]*)\n([\s\S]*?)^\1[ \t]*$/gm)].map((match) => ({
    line: text.slice(0, match.index).split('\n').length,
    info: match[2]!.trim(),
    body: match[3]!,
    start: match.index!,
    end: match.index! + match[0].length,
  }));
}

/** The shell (`sh`) examples of a page, each with the answer block (json, or plain) that follows it. */
export function examplesOf(text: string): Example[] {
  const fences = fencesOf(text);
  return fences.flatMap((fence, i) => {
    if (fence.info !== 'sh') return [];
    const next = fences[i + 1];
    const answered = next !== undefined && ['json', ''].includes(next.info) && text.slice(fence.end, next.start).trim() === '';
    return [{ line: fence.line, script: fence.body, answer: answered ? next : undefined }];
  });
}

export function readPage(page: string): string {
  return readFileSync(join(ROOT, page), 'utf8');
}

/** The key of an example in SKIPPED_EXAMPLES. */
export function skipKey(page: string, example: Example): string {
  return `${page}: ${example.script.split('\n')[0]!.trim()}`;
}

/** The examples of a page that run, in order. */
export function examplesToRun(page: string): Example[] {
  return examplesOf(readPage(page)).filter((example) => !(skipKey(page, example) in SKIPPED_EXAMPLES));
}
