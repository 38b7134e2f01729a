// Seeding the soak's catalogue: the taxonomy, products with base64 images, products with image
// URLs; every one of them written, or the soak does not start.
import { closeClient, newClient } from './processes';
import { progress } from './progress';
import type { Session } from './session';
import { FACETS, QUERIES, Workload } from './workload';

export async function seed(session: Session, jpegs: Buffer[], imageOrigin: string): Promise<void> {
  const { run, settings } = session;
  const seedStarted = performance.now();
  const setup = newClient(session.origin, settings.timeoutMs);
  const modelInfo = (await session.must(setup, '{ model { name dim imageSize dtype backend device } }', {}, 'model')).model as {
    dim: number;
  } & Record<string, unknown>;
  run.gateway.model = modelInfo;
  progress(`gateway at ${session.origin} serving ${String(modelInfo.name)} (${modelInfo.dim} dims)`);
  await session.must(
    setup,
    'mutation($f:[FacetInput!]!){ taxonomySet(facets:$f){ taxonomy { version } userErrors { field message code } } }',
    { f: FACETS },
    'taxonomySet',
  );
  const workload = new Workload(jpegs, modelInfo.dim, settings.mix);
  session.workload = workload;
  const upsertAll = async (products: { id: string; title: string; images: Record<string, string>[] }[], what: string) => {
    for (let i = 0; i < products.length; i += 4) {
      const batch = products.slice(i, i + 4);
      const data = await session.must(setup, QUERIES.upsert, { p: batch }, what);
      const got = (data.productsUpsert as { products: ({ id: string; tags: unknown[] } | null)[] }).products;
      batch.forEach((p, j) => {
        if (got[j]?.id !== p.id) throw new Error(`${what}: ${p.id} was not written`);
        session.written.set(p.id, p.title);
      });
    }
  };
  progress(`seeding ${settings.seedProducts} products with base64 images and ${settings.urlProducts} with image URLs`);
  await upsertAll(
    Array.from({ length: settings.seedProducts }, (_, i) => ({
      id: `seed-${i}`,
      title: `seed product ${i}`,
      images: [{ base64: workload.image() }],
    })),
    'seeding products',
  );
  await upsertAll(
    Array.from({ length: settings.urlProducts }, (_, i) => ({
      id: `url-${i}`,
      title: `url product ${i}`,
      images: [{ url: `${imageOrigin}/img/${i}.jpg` }],
    })),
    'seeding URL products',
  );
  closeClient(setup);
  run.seeding = { products: settings.seedProducts, urlProducts: settings.urlProducts, seconds: (performance.now() - seedStarted) / 1000 };
  await session.sampler.take(-1, 'seeded');
}
