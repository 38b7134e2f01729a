import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { IMPORT_FORMATS } from '../../../gateway/catalogue';
import { newApiKey } from '../../../gateway/common';
import { ImportFormat } from '../../../gateway/schema/catalogue/enums';
import { configFromEnv, defaultConfig } from '../../../gateway/config';
import { startGateway, type RunningGateway } from '../../helpers/gateway';
import { EXPORT_FIXTURES, exportOnLoopback, type ShopExport } from '../../helpers/shop-export';

/** productsImport: a shop's export sent as a GraphQL multipart request by an admin key, imported by an IMPORT job. */

const IMPORT = `mutation ($file: Upload!, $format: ImportFormat!, $key: String) {
  productsImport(file: $file, format: $format, idempotencyKey: $key) {
    job { id kind status total importSource { file format } }
    userErrors { field message code }
  }
}`;
const JOB = `query ($id: ID!) { taggingJob(id: $id) { status kind total processed failed errors { field message code } } }`;

interface Job {
  id: string;
  kind: string;
  status: string;
  total: number;
  processed: number;
  failed: number;
  importSource: { file: string; format: string } | null;
  errors: { field: string[] | null; message: string; code: string }[];
}
interface Answer {
  status: number;
  data?: { productsImport: { job: Job | null; userErrors: { field: string[] | null; message: string; code: string }[] } } | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

const admin = newApiKey('admin');
const writer = newApiKey('write');
const MAX_IMPORT_BYTES = 64 * 1024;
const MAX_IMAGE_BYTES = 16 * 1024;

describe('productsImport', () => {
  let gw: RunningGateway;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'products-import-'));
    const base = defaultConfig();
    gw = await startGateway({
      apiKeys: [admin.entry, writer.entry].map((entry) => ({
        sha256: entry.split(':')[0],
        scope: entry.split(':')[1] as 'admin' | 'write',
      })),
      fetch: { ...configFromEnv({}).fetch, allowNetworks: ['127.0.0.1/32'] },
      imageLimits: { ...base.imageLimits, maxBytes: MAX_IMAGE_BYTES },
      catalogue: { ...base.catalogue, maxImportBytes: MAX_IMPORT_BYTES },
      jobs: { ...base.jobs, pollMs: 50 },
    });
  });
  afterAll(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The file sent as the spec's multipart request (operations, map, then the file), with `key` as the bearer. */
  async function send(bytes: Uint8Array, name: string, format: string, key = admin.key, idempotencyKey?: string): Promise<Answer> {
    const form = new FormData();
    form.append('operations', JSON.stringify({ query: IMPORT, variables: { file: null, format, key: idempotencyKey } }));
    form.append('map', JSON.stringify({ 0: ['variables.file'] }));
    form.append('0', new Blob([bytes], { type: 'text/csv' }), name);
    const response = await fetch(`${gw.origin}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'apollo-require-preflight': 'true' },
      body: form,
    });
    return { status: response.status, ...((await response.json()) as object) };
  }

  async function ended(id: string): Promise<Job> {
    for (let i = 0; i < 1200; i++) {
      const job = (await query<{ taggingJob: Job }>(JOB, { id })).taggingJob;
      if (!['QUEUED', 'RUNNING'].includes(job.status)) return job;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`job ${id} did not end`);
  }

  /** A query with the admin key (with API_KEYS, queries need a key too). */
  async function query<T>(text: string, variables: Record<string, unknown> = {}): Promise<T> {
    const answer = await fetch(`${gw.origin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin.key}` },
      body: JSON.stringify({ query: text, variables }),
    });
    return ((await answer.json()) as { data: T }).data;
  }

  const product = async (id: string) =>
    (
      await query<{ product: { title: string; imageUrls: string[]; attributes: Record<string, unknown> } | null }>(
        'query ($id: ID!) { product(id: $id) { title imageUrls attributes } }',
        { id },
      )
    ).product;

  it('names every format the readers have in the ImportFormat enum, each once', () => {
    expect(Object.values(ImportFormat).sort()).toEqual([...IMPORT_FORMATS].sort());
  });

  it("imports Shopify's product CSV in an IMPORT job: products by handle, images in order, the GIF left out and each failure named by line", async () => {
    const gif = '/s/files/1/0612/3456/7890/files/shirt-back.jpg';
    const shop: ShopExport = await exportOnLoopback('products_export_classic.csv', /https:\/\/cdn\.shopify\.com/, dir, { gifs: [gif] });
    try {
      const answer = await send(readFileSync(shop.file), 'products_export.csv', 'SHOPIFY_CSV', admin.key, 'export-2026-12-07');
      expect(answer.data?.productsImport.userErrors).toEqual([]);
      const made = answer.data!.productsImport.job!;
      // Four entries: two products, a row without a handle and a product without an image.
      expect(made).toMatchObject({ kind: 'IMPORT', total: 4, importSource: { file: 'products_export.csv', format: 'SHOPIFY_CSV' } });

      const job = await ended(made.id);
      expect(job).toMatchObject({ status: 'SUCCEEDED', processed: 2, failed: 2 });
      const shirt = await product('linen-shirt');
      const gifLine =
        readFileSync(shop.file, 'utf8')
          .split('\n')
          .findIndex((line) => line.includes(gif)) + 1;
      const shirtLine =
        readFileSync(shop.file, 'utf8')
          .split('\n')
          .findIndex((line) => line.startsWith('linen-shirt,')) + 1;
      expect(job.errors).toEqual(
        expect.arrayContaining([
          {
            field: ['line', String(shirtLine), 'images', expect.stringMatching(/^\d+$/)],
            code: 'UNSUPPORTED_IMAGE_FORMAT',
            message: expect.stringMatching(new RegExp(`^line ${shirtLine} \\(linen-shirt\\): left out ${shop.host}${gif}: .*GIF`)),
          },
          { field: ['line', '24'], code: 'BAD_USER_INPUT', message: expect.stringMatching(/^line 24: the row has no handle/) },
          { field: ['line', '25'], code: 'BAD_USER_INPUT', message: expect.stringMatching(/^line 25 \(gift-card\): no image/) },
        ]),
      );
      expect(job.errors).toHaveLength(3);
      expect(gifLine).toBeGreaterThan(0);
      expect(shirt?.title).toBe('Linen Shirt');
      expect(shirt?.imageUrls).not.toContain(`${shop.host}${gif}`);
      expect(shirt?.imageUrls.every((url) => url.startsWith(`${shop.host}/`))).toBe(true);
      expect(shirt?.attributes).toMatchObject({ vendor: expect.any(String), options: expect.any(Object) });
      expect((await product('gallery-vase'))?.imageUrls).toHaveLength(10);

      // The same key and file answer with the same job: nothing is imported twice.
      const again = await send(readFileSync(shop.file), 'products_export.csv', 'SHOPIFY_CSV', admin.key, 'export-2026-12-07');
      expect(again.data?.productsImport.job?.id).toBe(made.id);
      // The same key with another file is the caller's mistake, named.
      const other = await send(readFileSync(shop.file), 'other.csv', 'SHOPIFY_CSV', admin.key, 'export-2026-12-07');
      expect(other.data?.productsImport.userErrors).toEqual([
        {
          field: ['idempotencyKey'],
          code: 'BAD_USER_INPUT',
          message: expect.stringContaining('the file "products_export.csv" (shopify-csv)'),
        },
      ]);

      // Imported again under a new key: every image the gateway keeps is revalidated (304), none fetched again but the GIF.
      const fetched = shop.served.length;
      const second = await send(readFileSync(shop.file), 'products_export.csv', 'SHOPIFY_CSV');
      expect(await ended(second.data!.productsImport.job!.id)).toMatchObject({ status: 'SUCCEEDED', processed: 2, failed: 2 });
      expect(shop.served.slice(fetched)).toEqual([gif]);
    } finally {
      await shop.close();
    }
  });

  it('imports a Merchant Center TSV feed, its variants grouped by item_group_id', async () => {
    const shop = await exportOnLoopback('merchant-catalogue.tsv', /https:\/\/shop\.test/, dir);
    try {
      const answer = await send(readFileSync(shop.file), 'feed.tsv', 'MERCHANT_TSV');
      const job = await ended(answer.data!.productsImport.job!.id);
      expect(job).toMatchObject({ status: 'SUCCEEDED', kind: 'IMPORT' });
      expect(job.processed).toBeGreaterThan(0);
      expect((await product('dress-7'))?.attributes).toMatchObject({ color: ['red', 'blue'] });
    } finally {
      await shop.close();
    }
  });

  it('refuses a file that is not of its format, one without products, and one over CATALOGUE_MAX_IMPORT_BYTES, naming file; makes no job', async () => {
    const feed = readFileSync(join(EXPORT_FIXTURES, 'merchant-catalogue.tsv'));
    const notShopify = await send(feed, 'not-shopify.tsv', 'SHOPIFY_CSV');
    expect(notShopify.data?.productsImport).toEqual({
      job: null,
      userErrors: [
        {
          field: ['file'],
          code: 'BAD_USER_INPUT',
          message: expect.stringMatching(
            /^file: it cannot be read as shopify-csv: not-shopify\.tsv cannot be read as CSV: Invalid Opening Quote/,
          ),
        },
      ],
    });
    const empty = await send(Buffer.from(''), 'empty.jsonl', 'JSONL');
    expect(empty.data?.productsImport.userErrors).toEqual([
      { field: ['file'], code: 'BAD_USER_INPUT', message: 'file: empty.jsonl holds no product (read as jsonl).' },
    ]);

    // Larger than an image may be (an admin's request may carry it), larger than an import may be.
    const line = `${JSON.stringify({ id: 'p', images: ['http://127.0.0.1/x.png'] })}\n`;
    const tooLarge = await send(Buffer.from(line.repeat(Math.ceil((MAX_IMPORT_BYTES + 1) / line.length))), 'big.jsonl', 'JSONL');
    expect(tooLarge.status).toBe(200);
    expect(tooLarge.data?.productsImport.userErrors).toEqual([
      {
        field: ['file'],
        code: 'INPUT_TOO_LARGE',
        message: `file: The uploaded file is over the limit of ${MAX_IMPORT_BYTES} bytes (CATALOGUE_MAX_IMPORT_BYTES).`,
      },
    ]);
    const jobs = await query<{ taggingJobs: { importSource: { file: string } | null }[] }>(
      '{ taggingJobs(first: 50) { importSource { file } } }',
    );
    const files = jobs.taggingJobs.map((j) => j.importSource?.file);
    expect(files).toContain('products_export.csv');
    for (const name of ['not-shopify.tsv', 'empty.jsonl', 'big.jsonl']) expect(files).not.toContain(name);
  });

  it("needs an admin key; an admin key's images are still held to IMAGE_MAX_BYTES", async () => {
    const small = readFileSync(join(EXPORT_FIXTURES, 'products_export_newer.csv'));
    const refused = await send(small, basename('products_export_newer.csv'), 'SHOPIFY_CSV', writer.key);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(refused.data?.productsImport ?? null).toBeNull();

    // An admin's multipart request may carry a file as large as an import; an image of it is still refused over its own limit.
    const form = new FormData();
    const query = 'query ($i: [MediaInput!]!) { embed(inputs: $i) { dim } }';
    form.append('operations', JSON.stringify({ query, variables: { i: [{ imageFile: null }] } }));
    form.append('map', JSON.stringify({ 0: ['variables.i.0.imageFile'] }));
    form.append('0', new Blob([Buffer.alloc(MAX_IMAGE_BYTES * 2, 1)], { type: 'image/png' }), 'big.png');
    const response = await fetch(`${gw.origin}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.key}`, 'apollo-require-preflight': 'true' },
      body: form,
    });
    const body = (await response.json()) as { errors?: { message: string; extensions?: { code?: string } }[] };
    expect(JSON.stringify(body)).toContain(`over the limit of ${MAX_IMAGE_BYTES} bytes (IMAGE_MAX_BYTES)`);
  });
});
