// A process that writes product vectors to a SQLite catalogue for as long as it lives, its search
// index made first: the index tests kill it (SIGKILL) part-way through a write. Run with tsx:
//   node --import tsx writer.ts <database file>
// It prints "ready" once the index is registered, then "wrote <n>" after each committed batch.
import { openSqliteStore } from '../../../../../gateway/store';
import { seededRandom } from '../../../../helpers/tiny-clip';
import { gaussian, normalise, product } from '../../contract/fixtures';

const MODEL = { name: 'hnsw-test', dtype: 'fp32', dim: 16 };

async function main(): Promise<void> {
  const path = process.argv[2];
  const store = await openSqliteStore({ path, approximateSearchAbove: 0, log: () => undefined });
  await store.migrate();
  await store.prepareSearch(MODEL);
  process.stdout.write('ready\n');
  const random = seededRandom(7);
  for (let batch = 0; ; batch++) {
    // New products, vectors replaced, products deleted: every kind of change the index catches up on.
    const ids = Array.from({ length: 50 }, (_, i) => `w${batch}-${i}`);
    await store.upsertProducts(ids.map((id) => product(id)));
    await store.putProductVectors(
      MODEL,
      ids.map((productId) => ({ productId, vector: normalise(Float32Array.from({ length: 16 }, () => gaussian(random))) })),
    );
    await store.putProductVectors(MODEL, [
      { productId: `p${batch % 400}`, vector: normalise(Float32Array.from({ length: 16 }, () => gaussian(random))) },
    ]);
    await store.deleteProducts([`p${(batch * 7) % 400}`, `w${batch - 1}-3`]);
    process.stdout.write(`wrote ${batch}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
