import type { TestGateway } from './gateway';
import { drawShape, loadReference, seededRandom } from './tiny-clip';

/**
 * One product per class of the tiny CLIP (32: "red circle", ...), each with a freshly drawn
 * picture as base64, ids p00..p31 in class order, and its colour and shape as attributes.
 */
export async function shapeProducts(seed: number) {
  const reference = loadReference();
  const random = seededRandom(seed);
  return Promise.all(
    reference.classes.map(async (label, i) => ({
      id: `p${String(i).padStart(2, '0')}`,
      title: label,
      images: [{ base64: (await drawShape(reference, label, random)).toString('base64') }],
      attributes: { colour: label.split(' ')[0], shape: label.split(' ')[1] },
    })),
  );
}

/**
 * The catalogue of `shapeProducts`, tagged: a taxonomy (by default of one facet, `kind`, over the
 * tiny CLIP's classes), then the products upserted, through `graphql` (a test gateway's). Throws on
 * any error.
 */
export async function seedShapeCatalogue(
  graphql: TestGateway['graphql'],
  products: Awaited<ReturnType<typeof shapeProducts>>,
  facets: unknown[] = [{ name: 'kind', labels: loadReference().classes }],
): Promise<void> {
  const steps: [string, Record<string, unknown>][] = [
    ['mutation ($f: [FacetInput!]!) { taxonomySet(facets: $f) { userErrors { message } } }', { f: facets }],
    ['mutation ($p: [ProductInput!]!) { productsUpsert(products: $p) { userErrors { message } } }', { p: products }],
  ];
  for (const [mutation, variables] of steps) {
    const answer = await graphql<Record<string, { userErrors: unknown[] }>>(mutation, variables);
    const userErrors = Object.values(answer.data ?? {}).flatMap((payload) => payload.userErrors);
    if (answer.errors || userErrors.length > 0) throw new Error(`${mutation}: ${JSON.stringify(answer.errors ?? userErrors)}`);
  }
}
