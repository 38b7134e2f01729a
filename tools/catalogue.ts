#!/usr/bin/env node
// `npm run catalogue -- import FILE`: sends a product file to a running gateway over GraphQL, in
// batches, with a progress bar. Resumable: progress is saved after every batch, and a second run
// on the same file goes on where the first stopped. Failed products are listed at the end and
// written to FILE.failures.jsonl.
// `npm run catalogue -- key [--scope read|write|admin]`: a new API key and its API_KEYS entry.
// `npm run catalogue -- taxonomy`: a taxonomy tree as a TREE facet of a running gateway (tools/taxonomy/).
import { appendFileSync, createReadStream, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { SingleBar } from 'cli-progress';

import { newApiKey, SCOPES, type Scope } from '../gateway/common';
import { FORMATS, formatOf, readProducts, type Entry, type Format, type ProductInput } from '../gateway/imports';
import { runShopifyCommand, SHOPIFY_COMMANDS, SHOPIFY_USAGE, ShopifyUsageError } from './shopify';
import { runTaxonomyCommand, TAXONOMY_HELP, TAXONOMY_USAGE, TaxonomyUsageError } from './taxonomy';

const USAGE = `Usage:
  npm run catalogue -- import FILE [--format F] [--url URL] [--key KEY] [--batch N] [--restart]
  npm run catalogue -- key [--scope read|write|admin]
${SHOPIFY_USAGE}${TAXONOMY_USAGE}
FILE is JSON Lines (.jsonl: one product per line) or CSV (.csv, with a header row).
  JSON Lines: {"id": "p1", "title": "...", "description": "...", "images": ["https://...", {"base64": "..."}], "attributes": {...}}
  CSV columns: id, title, description, images (URLs separated by spaces or |), attributes (a JSON object)

Options:
  --format F   the file's format: ${FORMATS.join(', ')} (default: csv for a .csv file, else jsonl)
  --url URL    the gateway's GraphQL endpoint (default: $CLIP_GATEWAY_URL, else http://localhost:4000/graphql)
  --key KEY    an API key with the write scope (default: $CLIP_GATEWAY_KEY); an admin key imports in bulk,
               held to the gateway's bulk write rate rather than the interactive one
  --batch N    products per request (default 32)
  --restart    ignore saved progress and start from the first product

key prints a new random API key and its entry for the gateway's API_KEYS (the key's SHA-256 and
scope; the key itself is stored nowhere). --scope read (the default) allows queries; write allows
queries and mutations, as import needs; admin allows what write does, registering webhook endpoints
and productsImport (a file imported by the gateway itself, in a job).

${TAXONOMY_HELP}`;

const UPSERT = `mutation Import($products: [ProductInput!]!) {
  productsUpsert(products: $products) { products { id } userErrors { field message code } }
}`;

interface Progress {
  /** Which file this is about: a changed file starts over. */
  file: { size: number; mtimeMs: number };
  /** Entries already sent (by position in the file, header excluded). */
  done: number;
  imported: number;
  failed: number;
  /** Images left out of products imported without them (the gateway could not decode them). */
  imagesLeftOut?: number;
}

class UsageError extends Error {}
/** The gateway refused the key (HTTP 401 or 403): sending again cannot help. */
class RefusedError extends Error {}

/** Codes of an image the gateway cannot decode (a GIF, BMP or TIFF a Merchant Center feed allows, a broken file). */
const UNDECODABLE = new Set(['UNSUPPORTED_IMAGE_FORMAT', 'IMAGE_DECODE_FAILED']);

/**
 * One product's outcome: stored, or why not; `undecodable` names its images the gateway could not
 * decode when they are all that is wrong with it (the rest of the product can still be imported).
 */
type Outcome = { ok: true } | { ok: false; message: string; undecodable?: { index: number; message: string }[] };

/** One batch to the gateway: the per-product outcome, or a thrown Error when the request as a whole failed. */
async function sendBatch(url: string, key: string | undefined, products: ProductInput[]): Promise<Outcome[]> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query: UPSERT, variables: { products } }),
  });
  const body = (await response.json().catch(() => undefined)) as
    | {
        data?: {
          productsUpsert?: { products: ({ id: string } | null)[]; userErrors: { field?: string[]; message: string; code?: string }[] };
        };
        errors?: { message: string }[];
      }
    | undefined;
  tellWritePolicy(response.headers.get('ratelimit-policy'));
  const payload = body?.data?.productsUpsert;
  if (!payload) {
    const why = body?.errors?.map((e) => e.message).join(' ') ?? `HTTP ${response.status}`;
    const retryAfter = Number(response.headers.get('retry-after'));
    if ((response.status === 503 || response.status === 429) && retryAfter > 0) throw new ComeBackLater(why, retryAfter);
    throw new (response.status === 401 || response.status === 403 ? RefusedError : Error)(`the gateway refused the batch: ${why}`);
  }
  return products.map((_, i) => {
    if (payload.products[i]) return { ok: true };
    const errors = payload.userErrors.filter((e) => e.field?.[0] === 'products' && e.field?.[1] === String(i));
    const message = errors.map((e) => e.message).join(' ') || 'the gateway did not store it';
    const images = errors.every((e) => e.field?.[2] === 'images' && UNDECODABLE.has(e.code ?? ''));
    return errors.length > 0 && images
      ? { ok: false, message, undecodable: errors.map((e) => ({ index: Number(e.field![3]), message: e.message })) }
      : { ok: false, message };
  });
}

let writePolicyTold = false;

/**
 * Says once which of the gateway's write rates this import is held to, as its RateLimit-Policy
 * answer names it: an admin key's bulk rate, or the interactive one (then how to import in bulk).
 * Nothing when the gateway does not limit this client (one on its own machine, by default).
 */
function tellWritePolicy(header: string | null): void {
  const policy = /"([^"]+)";q=([0-9.]+)/.exec(header ?? '');
  if (writePolicyTold || !policy) return;
  writePolicyTold = true;
  const [, name, rate] = policy;
  process.stderr.write(
    name === 'bulk-writes'
      ? `Importing in bulk: the gateway takes this admin key's products at up to ${rate} a second, and as fast as it embeds them.\n`
      : `The gateway holds this key's writes to ${rate} product${rate === '1' ? '' : 's'} a second; an admin key (npm run catalogue -- key --scope admin) imports in bulk.\n`,
  );
}

/** The gateway is overloaded (503) or this client over its rate (429): it says when to come back. */
class ComeBackLater extends Error {
  constructor(
    why: string,
    readonly seconds: number,
  ) {
    super(`the gateway refused the batch: ${why}`);
  }
}

/** Most waits on a gateway's Retry-After for one batch: a busy gateway is waited for, a stuck one is not (about 10 minutes at most). */
const MAX_COME_BACK_LATER = 20;

async function sendWithRetries(url: string, key: string | undefined, products: ProductInput[]): Promise<Outcome[]> {
  let failures = 0;
  let waits = 0;
  for (;;) {
    try {
      return await sendBatch(url, key, products);
    } catch (error) {
      if (error instanceof RefusedError) throw error;
      // Shed load is not a failure of the batch: wait as long as the gateway asks, then send it again.
      if (error instanceof ComeBackLater && ++waits <= MAX_COME_BACK_LATER) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(error.seconds, 30) * 1000));
        continue;
      }
      if (++failures === 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** failures));
    }
  }
}

async function importFile(
  file: string,
  options: { format: Format; url: string; key?: string; batch: number; restart: boolean },
): Promise<number> {
  if (!existsSync(file)) throw new UsageError(`${file} does not exist.`);
  const stat = statSync(file);
  const progressFile = `${file}.progress.json`;
  const failuresFile = `${file}.failures.jsonl`;
  let progress: Progress = { file: { size: stat.size, mtimeMs: stat.mtimeMs }, done: 0, imported: 0, failed: 0 };
  if (!options.restart && existsSync(progressFile)) {
    const saved = JSON.parse(readFileSync(progressFile, 'utf8')) as Progress;
    if (saved.file.size === stat.size && saved.file.mtimeMs === stat.mtimeMs) progress = saved;
    else process.stderr.write(`${file} changed since the saved progress; starting from the first product.\n`);
  }
  if (progress.done === 0) rmSync(failuresFile, { force: true });
  else process.stderr.write(`Resuming after ${progress.done} products (${progress.imported} imported, ${progress.failed} failed).\n`);

  let total = 0;
  for await (const _entry of readProducts(createReadStream(file), file, options.format)) total++;
  const bar = new SingleBar({
    format: 'importing [{bar}] {value}/{total} products | {imported} imported, {failed} failed | eta {eta_formatted}',
    hideCursor: true,
    stream: process.stderr,
    noTTYOutput: true,
    notTTYSchedule: 2000,
  });
  bar.start(total, progress.done, { imported: progress.imported, failed: progress.failed });

  const fail = (line: number, id: string | undefined, message: string) => {
    progress.failed++;
    appendFileSync(failuresFile, `${JSON.stringify({ line, id, message })}\n`);
  };
  /** An image left out of a product that was imported without it, in the same file as the failures. */
  const leftOut = (line: number, id: string, image: ProductInput['images'][number], message: string) => {
    progress.imagesLeftOut = (progress.imagesLeftOut ?? 0) + 1;
    appendFileSync(failuresFile, `${JSON.stringify({ line, id, image: image.url ?? 'an inline image', message })}\n`);
  };
  let position = 0;
  let batch: Entry[] = [];
  const flush = async () => {
    const sendable = batch.filter((e): e is Entry & { ok: true; product: ProductInput } => e.ok);
    for (const entry of batch) if (!entry.ok) fail(entry.line, entry.id, entry.message);
    if (sendable.length > 0) {
      const outcomes = await sendWithRetries(
        options.url,
        options.key,
        sendable.map((e) => e.product),
      );
      // A product whose only fault is images the gateway cannot decode goes again without them.
      const again: { entry: (typeof sendable)[number]; product: ProductInput; left: { index: number; message: string }[] }[] = [];
      outcomes.forEach((outcome, i) => {
        if (outcome.ok) progress.imported++;
        else if (outcome.undecodable && outcome.undecodable.length < sendable[i].product.images.length) {
          const left = new Set(outcome.undecodable.map((u) => u.index));
          again.push({
            entry: sendable[i],
            product: { ...sendable[i].product, images: sendable[i].product.images.filter((_, j) => !left.has(j)) },
            left: outcome.undecodable,
          });
        } else fail(sendable[i].line, sendable[i].product.id, outcome.message);
      });
      if (again.length > 0) {
        const retried = await sendWithRetries(
          options.url,
          options.key,
          again.map((a) => a.product),
        );
        retried.forEach((outcome, i) => {
          const { entry, left } = again[i];
          if (!outcome.ok) return fail(entry.line, entry.product.id, outcome.message);
          progress.imported++;
          for (const { index, message } of left) leftOut(entry.line, entry.product.id, entry.product.images[index], message);
        });
      }
    }
    progress.done += batch.length;
    batch = [];
    // Replaced whole: a kill while saving leaves the old progress or the new, never half of it.
    writeFileSync(`${progressFile}.tmp`, JSON.stringify(progress));
    renameSync(`${progressFile}.tmp`, progressFile);
    bar.update(progress.done, { imported: progress.imported, failed: progress.failed });
  };
  try {
    for await (const entry of readProducts(createReadStream(file), file, options.format)) {
      if (position++ < progress.done) continue;
      batch.push(entry);
      if (batch.length === options.batch) await flush();
    }
    await flush();
  } finally {
    bar.stop();
  }
  const leftOutCount = progress.imagesLeftOut ?? 0;
  process.stdout.write(
    `${progress.imported} imported, ${progress.failed} failed, of ${total} products in ${file}.${leftOutCount > 0 ? ` ${leftOutCount} ${leftOutCount === 1 ? 'image' : 'images'} left out: the gateway cannot decode ${leftOutCount === 1 ? 'it' : 'them'}.` : ''}\n`,
  );
  if (progress.failed > 0 || leftOutCount > 0) {
    const reported = readFileSync(failuresFile, 'utf8').trim().split('\n').slice(0, 10);
    for (const line of reported) {
      const { line: at, id, image, message } = JSON.parse(line) as { line: number; id?: string; image?: string; message: string };
      process.stdout.write(`  line ${at}${id ? ` (${id})` : ''}: ${image ? `left out ${image}: ` : ''}${message}\n`);
    }
    process.stdout.write(`All of them: ${failuresFile}\n`);
  }
  rmSync(progressFile, { force: true });
  return progress.failed > 0 ? 1 : 0;
}

/** A new key on stdout: the key for the client, the entry for the gateway. */
function printKey(scope: string): number {
  if (!SCOPES.includes(scope as Scope)) throw new UsageError(`--scope must be read, write or admin, got ${JSON.stringify(scope)}.`);
  const { key, entry } = newApiKey(scope as Scope);
  process.stdout.write(
    `API key (${scope}), for the client: send it as Authorization: Bearer <key>, or with import's --key:\n  ${key}\n` +
      `Its API_KEYS entry, for the gateway (comma-separated with the others):\n  ${entry}\n` +
      `The key is shown only here: keep it somewhere safe.\n`,
  );
  return 0;
}

async function main(argv: string[]): Promise<number> {
  // The shop's commands read the catalogue's store and parse their own options (tools/shopify/commands.ts).
  if ((SHOPIFY_COMMANDS as readonly string[]).includes(argv[0]))
    return runShopifyCommand(argv[0], argv.slice(1)).catch((error: unknown) => {
      throw error instanceof ShopifyUsageError ? new UsageError(error.message) : error;
    });
  // taxonomy talks to a running gateway, as import does, with options of its own (tools/taxonomy/command.ts).
  if (argv[0] === 'taxonomy')
    return runTaxonomyCommand(argv.slice(1), {
      url: process.env.CLIP_GATEWAY_URL || 'http://localhost:4000/graphql',
      key: process.env.CLIP_GATEWAY_KEY || undefined,
    }).catch((error: unknown) => {
      throw error instanceof TaxonomyUsageError ? new UsageError(error.message) : error;
    });
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      url: { type: 'string', default: process.env.CLIP_GATEWAY_URL || 'http://localhost:4000/graphql' },
      key: { type: 'string', default: process.env.CLIP_GATEWAY_KEY || undefined },
      batch: { type: 'string', default: '32' },
      restart: { type: 'boolean', default: false },
      scope: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [command, file, ...extra] = positionals;
  if (command === 'key') {
    if (positionals.length > 1) throw new UsageError('key takes no arguments.');
    return printKey(values.scope ?? 'read');
  }
  if (command !== 'import')
    throw new UsageError(
      command
        ? `unknown command ${JSON.stringify(command)}; the commands are import, key, taxonomy, ${SHOPIFY_COMMANDS.join(', ')}.`
        : 'no command given.',
    );
  if (values.scope !== undefined) throw new UsageError('--scope is for the key command.');
  if (!file || extra.length > 0) throw new UsageError('import takes one file.');
  const format = (values.format ?? formatOf(file)) as Format;
  if (!FORMATS.includes(format))
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(values.format)}.`);
  const batch = Number(values.batch);
  if (!Number.isInteger(batch) || batch < 1 || batch > 256)
    throw new UsageError(`--batch must be an integer from 1 to 256, got ${JSON.stringify(values.batch)}.`);
  return importFile(file, { format, url: values.url!, key: values.key, batch, restart: values.restart! });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const usage = error instanceof UsageError || (error as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`catalogue: ${error instanceof Error ? error.message : String(error)}\n${usage ? `\n${USAGE}` : ''}`);
    process.exit(usage ? 2 : 1);
  },
);
