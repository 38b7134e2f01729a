import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import { startBuiltGateway, type TestGateway } from '../helpers/gateway-process';
import { loadReference } from '../helpers/tiny-clip';

const PRODUCTS = 150;

interface Job {
  status: string;
  total: number;
  processed: number;
  failed: number;
}

/**
 * A job survives kill -9: a real gateway process works through a job (a tagging job, an import of
 * a file), is killed mid-way, and a new process on the same DATA_DIR finishes it, every product
 * tagged once, every product of the file stored.
 */
describe('a job across SIGKILL (the process)', () => {
  const running: ChildProcess[] = [];
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'gateway-jobs-'));
  });

  afterEach(() => {
    for (const child of running.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  function start(env: Record<string, string>): Promise<TestGateway> {
    return startBuiltGateway(
      {
        LOCAL_WORKERS: '1',
        CLIP_MODEL_DIR: '',
        DATA_DIR: dataDir,
        JOB_CHUNK_SIZE: '5',
        JOB_TAG_CHUNK_SIZE: '5',
        JOB_POLL_MS: '100',
        JOB_LEASE_MS: '1000',
        ...env,
      },
      { onSpawn: (child) => running.push(child) },
    );
  }

  const JOB = 'query ($id: ID!) { taggingJob(id: $id) { status total processed failed } }';

  /** Waits for `second` to finish the job (every product done, none failed), then stops it. */
  async function finishes(second: TestGateway, id: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    let job: Job;
    do {
      await new Promise((resolve) => setTimeout(resolve, 50));
      job = (await second.graphql<{ taggingJob: Job }>(JOB, { id })).taggingJob;
    } while (job.status === 'RUNNING' && Date.now() < deadline);
    expect(job).toEqual({ status: 'SUCCEEDED', total: PRODUCTS, processed: PRODUCTS, failed: 0 });
    second.child.kill('SIGTERM');
    await second.exited;
  }

  it('is finished by the next process on the same DATA_DIR, every product tagged once', async () => {
    // A pause after each chunk of 5: the job takes ~3 s, so the kill lands mid-way.
    const first = await start({ JOB_PAUSE_MS: '100' });
    const image = loadReference().images[0].bytes.toString('base64');
    const ids = Array.from({ length: PRODUCTS }, (_, i) => `p${String(i).padStart(3, '0')}`);
    await first.graphql(
      `mutation { taxonomySet(facets: [{ name: "kind", labels: ["red circle", "blue star", "green square"] }]) { userErrors { message } } }`,
    );
    const upserted = await first.graphql<{ productsUpsert: { userErrors: unknown[] } }>(
      'mutation ($p: [ProductInput!]!) { productsUpsert(products: $p) { userErrors { message } } }',
      { p: ids.map((id) => ({ id, images: [{ base64: image }] })) },
    );
    expect(upserted.productsUpsert.userErrors).toEqual([]);
    // Untagged products with stored vectors, as after an import without a taxonomy.
    const db = new Database(join(dataDir, 'catalogue.sqlite'));
    db.exec('DELETE FROM tags');
    db.close();

    const { taggingJobStart } = await first.graphql<{ taggingJobStart: { job: { id: string } } }>(
      'mutation { taggingJobStart(idempotencyKey: "nightly") { job { id } } }',
    );
    const id = taggingJobStart.job.id;
    let job: Job;
    do {
      await new Promise((resolve) => setTimeout(resolve, 20));
      job = (await first.graphql<{ taggingJob: Job }>(JOB, { id })).taggingJob;
    } while (job.processed < PRODUCTS / 4);
    await first.kill();
    expect(job.status).toBe('RUNNING');
    expect(job.processed).toBeLessThan(PRODUCTS);

    const second = await start({ JOB_PAUSE_MS: '0' });
    // The same key after the restart: still the one job.
    const again = await second.graphql<{ taggingJobStart: { job: { id: string } } }>(
      'mutation { taggingJobStart(idempotencyKey: "nightly") { job { id } } }',
    );
    expect(again.taggingJobStart.job.id).toBe(id);
    await finishes(second, id);

    const after = new Database(join(dataDir, 'catalogue.sqlite'), { readonly: true });
    try {
      const perProduct = after.prepare("SELECT product_id, count(*) AS n FROM tags WHERE source = 'auto' GROUP BY product_id").all() as {
        product_id: string;
        n: number;
      }[];
      expect(perProduct.map((r) => r.product_id)).toEqual(ids);
      expect(perProduct.every((r) => r.n === 1)).toBe(true);
      // Each product went through exactly one completed chunk: none was lost, none done twice.
      const chunks = after.prepare('SELECT product_ids, status FROM job_chunks WHERE job_id = ?').all(id) as {
        product_ids: string;
        status: string;
      }[];
      expect(chunks.every((c) => c.status === 'done')).toBe(true);
      const tagged = chunks.flatMap((c) => JSON.parse(c.product_ids) as string[]);
      expect(tagged.sort()).toEqual(ids);
    } finally {
      after.close();
    }
  });

  it('finishes an import of a file (productsImport) killed mid-way, every product of the file stored', async () => {
    // A pause after each chunk of the file's products (32 a chunk): the kill lands after the first.
    const first = await start({ JOB_PAUSE_MS: '1500' });
    const images = loadReference().images.map((image) => image.bytes.toString('base64'));
    const ids = Array.from({ length: PRODUCTS }, (_, i) => `f${String(i).padStart(3, '0')}`);
    const file = ids
      .map((id, i) => JSON.stringify({ id, title: `Product ${i}`, images: [{ base64: images[i % images.length] }] }))
      .join('\n');
    const form = new FormData();
    const query = 'mutation ($file: Upload!) { productsImport(file: $file, format: JSONL) { job { id total } userErrors { message } } }';
    form.append('operations', JSON.stringify({ query, variables: { file: null } }));
    form.append('map', JSON.stringify({ 0: ['variables.file'] }));
    form.append('0', new Blob([file]), 'products.jsonl');
    // No API_KEYS: a client on the gateway's machine may run admin operations.
    const answer = await fetch(`${first.origin}/graphql`, { method: 'POST', headers: { 'apollo-require-preflight': 'true' }, body: form });
    const { data } = (await answer.json()) as { data: { productsImport: { job: { id: string; total: number }; userErrors: unknown[] } } };
    expect(data.productsImport.userErrors).toEqual([]);
    const { id, total } = data.productsImport.job;
    expect(total).toBe(PRODUCTS);
    let job: Job;
    const firstChunk = Date.now() + 30_000;
    do {
      await new Promise((resolve) => setTimeout(resolve, 20));
      job = (await first.graphql<{ taggingJob: Job }>(JOB, { id })).taggingJob;
    } while (job.processed + job.failed === 0 && Date.now() < firstChunk);
    await first.kill();
    expect(job.status).toBe('RUNNING');
    expect(job.processed).toBeLessThan(PRODUCTS);

    const second = await start({ JOB_PAUSE_MS: '0' });
    await finishes(second, id);

    const after = new Database(join(dataDir, 'catalogue.sqlite'), { readonly: true });
    try {
      const stored = after.prepare('SELECT id, title FROM products ORDER BY id').all() as { id: string; title: string }[];
      expect(stored).toEqual(ids.map((id, i) => ({ id, title: `Product ${i}` })));
    } finally {
      after.close();
    }
  });
});
