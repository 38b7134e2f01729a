/**
 * The contract's unused images: an image no product uses any more (its products deleted, or their
 * images replaced) loses its vectors of every model, its kept bytes and its URL fetches, in the
 * write that let it go; an image another product still uses keeps them all.
 */
import type { CatalogueStore, ProductsWrite } from '../../../../gateway/store';
import { hash, MODEL_A, MODEL_B, product, vec, type Subject } from './fixtures';

const url = (name: string) => `https://shop.example/${name}.jpg`;

/** Products whose images are all known: a vector of each model, inline bytes or a URL fetch. */
function write(products: { id: string; images: string[] }[], model = MODEL_A): ProductsWrite {
  const images = [...new Set(products.flatMap((p) => p.images))];
  return {
    model,
    products: products.map((p) =>
      product(p.id, { imageHashes: p.images.map(hash), imageUrls: p.images.map((name) => (name.startsWith('inline') ? null : url(name))) }),
    ),
    imageVectors: images.map((name, i) => ({ hash: hash(name), vector: vec(1, i, 0, 0) })),
    imageBytes: images.filter((name) => name.startsWith('inline')).map((name) => ({ hash: hash(name), bytes: Uint8Array.from([1, 2, 3]) })),
    fetchedUrls: images
      .filter((name) => !name.startsWith('inline'))
      .map((name) => ({ url: url(name), hash: hash(name), etag: `"${name}"`, lastModified: null })),
    productVectors: [],
  };
}

export function unusedImagesContract(subject: Subject): void {
  describe('unused images', () => {
    let store: CatalogueStore;
    beforeEach(() => {
      store = subject.store;
    });

    /** Which of the images still have a vector of each model, kept bytes or a URL fetch. */
    async function kept(names: string[]): Promise<Record<string, string[]>> {
      const hashes = names.map(hash);
      const [a, b, bytes, fetched] = await Promise.all([
        store.getImageVectors(MODEL_A, hashes),
        store.getImageVectors(MODEL_B, hashes),
        store.getImageBytes(hashes),
        store.getFetchedUrls(names.map(url)),
      ]);
      return Object.fromEntries(
        names.map((name) => [
          name,
          [
            ...(a.has(hash(name)) ? ['vector A'] : []),
            ...(b.has(hash(name)) ? ['vector B'] : []),
            ...(bytes.has(hash(name)) ? ['bytes'] : []),
            ...(fetched.has(url(name)) ? ['fetch'] : []),
          ],
        ]),
      );
    }

    it('releases what deleted products used and no other product uses, of every model; keeps what another uses', async () => {
      const products = [
        { id: 'a', images: ['shared', 'inline-a', 'only-a'] },
        { id: 'b', images: ['shared', 'only-b'] },
      ];
      await store.saveProducts(write(products));
      // Vectors of a second model, as a model change makes them.
      await store.putImageVectors(
        MODEL_B,
        [hash('shared'), hash('inline-a'), hash('only-a')].map((h) => ({ hash: h, vector: vec(0, 1, 0, 0, 0, 0, 0, 0) })),
      );
      expect(await kept(['shared', 'inline-a', 'only-a'])).toEqual({
        shared: ['vector A', 'vector B', 'fetch'],
        'inline-a': ['vector A', 'vector B', 'bytes'],
        'only-a': ['vector A', 'vector B', 'fetch'],
      });

      expect(await store.deleteProducts(['a'])).toEqual(['a']);
      expect(await kept(['shared', 'inline-a', 'only-a', 'only-b'])).toEqual({
        shared: ['vector A', 'vector B', 'fetch'],
        'inline-a': [],
        'only-a': [],
        'only-b': ['vector A', 'fetch'],
      });
      await store.deleteProducts(['b']);
      expect(await kept(['shared', 'only-b'])).toEqual({ shared: [], 'only-b': [] });
    });

    it('releases the images a product no longer has, and never one it keeps or takes on in the same write', async () => {
      await store.saveProducts(write([{ id: 'p', images: ['old', 'kept'] }]));
      // Replaced: `old` goes, `kept` stays, `new` arrives; the same image twice is one image.
      await store.saveProducts(write([{ id: 'p', images: ['kept', 'new', 'new'] }]));
      expect(await kept(['old', 'kept', 'new'])).toEqual({ old: [], kept: ['vector A', 'fetch'], new: ['vector A', 'fetch'] });
      // Upserted again as it is: nothing changes.
      await store.upsertProducts([product('p', { imageHashes: [hash('kept'), hash('new')], imageUrls: [url('kept'), url('new')] })]);
      expect(await kept(['kept', 'new'])).toEqual({ kept: ['vector A', 'fetch'], new: ['vector A', 'fetch'] });
      // Another product takes an image over as the first lets it go: it stays.
      await store.upsertProducts([
        product('p', { imageHashes: [hash('new')], imageUrls: [url('new')] }),
        product('q', { imageHashes: [hash('kept')], imageUrls: [url('kept')] }),
      ]);
      expect(await kept(['kept', 'new'])).toEqual({ kept: ['vector A', 'fetch'], new: ['vector A', 'fetch'] });
      await store.deleteProducts(['p', 'q']);
      expect(await kept(['kept', 'new'])).toEqual({ kept: [], new: [] });
    });
  });
}
