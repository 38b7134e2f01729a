import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { newApiKey } from '../../gateway/common';
import { configFromEnv } from '../../gateway/config';
import { runBuiltTool } from '../helpers/built-tool';
import { startGateway, type RunningGateway } from '../helpers/gateway';
import { drawShape, loadReference, seededRandom } from '../helpers/tiny-clip';

/** `npm run catalogue -- ARGS`, built. */
const run = (args: string[]) => runBuiltTool('catalogue.js', args);

/**
 * `npm run catalogue -- import` with an admin key against a gateway that rate-limits its own
 * machine's clients (RATE_LIMIT_LOOPBACK=true) at a low interactive rate: the admin key's import is
 * bulk, held to its own bucket, where a write key's is refused and waits.
 */
describe('tools/catalogue.ts import in bulk', () => {
  const keys = { write: newApiKey('write'), admin: newApiKey('admin') };
  let gw: RunningGateway;
  let dir: string;

  beforeAll(async () => {
    const env = {
      RATE_LIMIT_LOOPBACK: 'true',
      // Interactive: 1 product and 1 image a second, in bursts of 2, so a batch of 2 empties both buckets.
      RATE_LIMIT_WRITES_PER_SECOND: '1',
      RATE_LIMIT_WRITES_BURST: '2',
      RATE_LIMIT_INPUTS_PER_SECOND: '1',
      RATE_LIMIT_INPUTS_BURST: '2',
      API_KEYS: [keys.write.entry, keys.admin.entry].join(','),
    };
    const config = configFromEnv(env);
    expect(config.rateLimits).toMatchObject({ bulkWritesPerSecond: 1000, bulkWritesBurst: 1024 });
    expect(configFromEnv({ RATE_LIMIT_BULK_WRITES_PER_SECOND: '0', RATE_LIMIT_BULK_WRITES_BURST: '64' }).rateLimits).toMatchObject({
      bulkWritesPerSecond: 0,
      bulkWritesBurst: 64,
    });
    expect(() => configFromEnv({ RATE_LIMIT_BULK_WRITES_BURST: '0' })).toThrow(/^RATE_LIMIT_BULK_WRITES_BURST must be/);
    gw = await startGateway({ rateLimits: config.rateLimits, apiKeys: config.apiKeys });
    dir = mkdtempSync(join(tmpdir(), 'catalogue-bulk-'));
  });
  afterAll(async () => {
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function writeProducts(name: string, count: number): Promise<string> {
    const reference = loadReference();
    const random = seededRandom(count + name.length);
    const lines: string[] = [];
    for (let i = 0; i < count; i++) {
      const png = await drawShape(reference, reference.classes[i % reference.classes.length], random);
      lines.push(JSON.stringify({ id: `${name}-${i}`, images: [`data:image/png;base64,${png.toString('base64')}`] }));
    }
    const file = join(dir, `${name}.jsonl`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  }

  const rateLimited = async () => (await gw.gateway.metrics.shed.get()).values.find((v) => v.labels.reason === 'rate_limited')?.value ?? 0;

  async function importAs(scope: keyof typeof keys, file: string) {
    return run(['import', file, '--url', `${gw.origin}/graphql`, '--batch', '4', '--key', keys[scope].key]);
  }

  it("imports with an admin key without one refusal, where a write key's batches are refused and wait", async () => {
    const bulkFile = await writeProducts('bulk', 12);
    const before = await rateLimited();
    const bulk = await importAs('admin', bulkFile);
    expect(bulk).toMatchObject({ code: 0, stdout: expect.stringContaining('12 imported, 0 failed, of 12 products') });
    expect(bulk.stderr).toContain("Importing in bulk: the gateway takes this admin key's products at up to 1000 a second");
    expect(await rateLimited()).toBe(before);

    // The same import with a write key: its 4-product batches are over a burst of 2, so after the
    // first each is refused (429) at least once, and waited for.
    const interactiveFile = await writeProducts('interactive', 8);
    const interactive = await importAs('write', interactiveFile);
    expect(interactive).toMatchObject({ code: 0, stdout: expect.stringContaining('8 imported, 0 failed, of 8 products') });
    expect(interactive.stderr).toContain("The gateway holds this key's writes to 1 product a second; an admin key");
    expect((await rateLimited()) - before).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
