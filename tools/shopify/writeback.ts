// `shopify-writeback`: the outbox of tag changes (store.tagChanges) as Admin GraphQL operations, a
// page of changes at a time, coalesced per product. Written to a file (JSON Lines, one request body a
// line) or sent to the shop through the AdminClient. Sending keeps its place in a cursor file: the
// seq up to which every change has been applied, written (atomically) after each product, so that a
// run stopped or killed goes on where it was, sending at most one product's operations again, which
// are idempotent (final values).
import { appendFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync, openSync, closeSync, fsyncSync } from 'node:fs';

import type { CatalogueStore, ProductRow, TagChangeRow } from '../../gateway/store';
import { knownProductGid, type AdminClient } from './admin-client';
import { labelNamesOf, type LabelName } from './label-names';
import { coalesce, operationsFor, type OperationOptions, type ProductChanges } from './operations';

/** Changes read from the outbox at once. */
export const DEFAULT_PAGE_SIZE = 500;

export type WritebackTarget =
  | { kind: 'file'; out: string; after: number; client?: AdminClient }
  | { kind: 'send'; client: AdminClient; endpoint: string; cursorFile: string; restart: boolean };

export interface WritebackOptions {
  store: CatalogueStore;
  target: WritebackTarget;
  operations: OperationOptions;
  /** Changes read at once (default 500). */
  pageSize?: number;
  /** One line for the person running it. */
  say: (line: string) => void;
}

export interface WritebackSummary {
  /** Products whose operations were written or applied. */
  products: number;
  operations: number;
  /** Products that could not be written back, with why. */
  failures: { productId: string; seqs: [number, number]; message: string }[];
  notes: string[];
  /** The last seq read. */
  lastSeq: number;
}

/** Where a sending run is: every change up to `seq` is in the shop (or failed and reported). */
interface Cursor {
  endpoint: string;
  seq: number;
}

function readCursor(file: string, endpoint: string, restart: boolean): number {
  if (restart || !existsSync(file)) return 0;
  let cursor: Cursor;
  try {
    cursor = JSON.parse(readFileSync(file, 'utf8')) as Cursor;
  } catch (error) {
    throw new Error(`the cursor file ${file} is not JSON (${(error as Error).message}); remove it or run with --restart`);
  }
  if (!Number.isSafeInteger(cursor.seq) || cursor.seq < 0)
    throw new Error(`the cursor file ${file} holds no seq; remove it or run with --restart`);
  if (cursor.endpoint !== endpoint)
    throw new Error(`the cursor file ${file} is for ${cursor.endpoint}, not ${endpoint}: give another --cursor, or --restart`);
  return cursor.seq;
}

/** Replaces the file's content all at once: a kill leaves the old cursor or the new one, never half of one. */
function writeAtomically(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  const fd = openSync(temporary, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
}

/**
 * The seq the cursor may move to once the products before `index` are done: every change of the
 * page up to it belongs to a product done, i.e. one before the first change of the first product
 * not done (products are in the order of their first change).
 */
function settledSeq(products: ProductChanges[], index: number, pageEnd: number): number {
  return index < products.length ? products[index].firstSeq - 1 : pageEnd;
}

/** A product's changes with its labels as the shop reads them, the category's (a GID Shopify takes as it is) left alone. */
function named(product: ProductChanges, nameOf: LabelName, categoryFacet: string): ProductChanges {
  const facets = new Map(
    [...product.facets].map(([facet, { labels, seen }]) =>
      facet === categoryFacet
        ? [facet, { labels, seen }]
        : [facet, { labels: labels.map((label) => nameOf(facet, label)), seen: new Set([...seen].map((label) => nameOf(facet, label))) }],
    ),
  );
  return { ...product, facets };
}

export async function writeBack(options: WritebackOptions): Promise<WritebackSummary> {
  const { store, target, say } = options;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const summary: WritebackSummary = { products: 0, operations: 0, failures: [], notes: [], lastSeq: 0 };
  let after = target.kind === 'file' ? target.after : readCursor(target.cursorFile, target.endpoint, target.restart);
  if (after > 0) say(`Starting after change ${after}.`);
  const failuresFile = target.kind === 'send' ? `${target.cursorFile}.failures.jsonl` : undefined;
  if (failuresFile && after === 0) rmSync(failuresFile, { force: true });
  const temporaryOut = target.kind === 'file' ? `${target.out}.${process.pid}.tmp` : undefined;
  if (temporaryOut) writeFileSync(temporaryOut, '');
  summary.lastSeq = after;
  const nameOf = await labelNamesOf(store);

  for (;;) {
    const page: TagChangeRow[] = await store.tagChanges(after, pageSize);
    if (page.length === 0) break;
    const pageEnd = page[page.length - 1].seq;
    const products = coalesce(page).map((product) => named(product, nameOf, options.operations.categoryFacet));
    const rows = new Map<string, ProductRow>((await store.getProducts(products.map((p) => p.productId))).map((row) => [row.id, row]));
    for (let i = 0; i < products.length; i++) {
      const product = products[i];
      const fail = (message: string) => {
        const failure = { productId: product.productId, seqs: [product.firstSeq, product.lastSeq] as [number, number], message };
        summary.failures.push(failure);
        if (failuresFile) appendFileSync(failuresFile, `${JSON.stringify(failure)}\n`);
      };
      const client = target.client;
      const attributes = rows.get(product.productId)?.attributes;
      const gid = client ? await client.productGid(product.productId, attributes) : knownProductGid(attributes);
      if (!gid) {
        fail(
          client
            ? `the shop has no product with handle ${JSON.stringify(product.productId)}, and the catalogue's product has no attributes.shopifyProductId.`
            : `no attributes.shopifyProductId; set SHOPIFY_SHOP and SHOPIFY_ADMIN_TOKEN to look the product up by its handle.`,
        );
      } else {
        const plan = operationsFor(product, gid, options.operations);
        summary.notes.push(...plan.notes.map((note) => `${product.productId}: ${note}`));
        for (const problem of plan.problems) fail(problem);
        if (target.kind === 'file') {
          const lines = plan.operations.map((operation) =>
            JSON.stringify({
              product: product.productId,
              seq: product.lastSeq,
              operation: operation.name,
              query: operation.query,
              variables: operation.variables,
            }),
          );
          if (lines.length > 0) appendFileSync(temporaryOut!, `${lines.join('\n')}\n`);
          summary.operations += plan.operations.length;
        } else {
          for (const operation of plan.operations) {
            const outcome = await target.client.apply(operation);
            summary.operations++;
            if (!outcome.ok) fail(outcome.message);
          }
        }
        summary.products++;
      }
      if (target.kind === 'send')
        writeAtomically(
          target.cursorFile,
          JSON.stringify({ endpoint: target.endpoint, seq: settledSeq(products, i + 1, pageEnd) } satisfies Cursor),
        );
    }
    after = pageEnd;
    summary.lastSeq = pageEnd;
    if (page.length < pageSize) break;
  }
  if (target.kind === 'file') renameSync(temporaryOut!, target.out);
  return summary;
}
