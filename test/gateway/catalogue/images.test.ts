import crypto from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

import { createTestGateway, type TestGateway } from '../../helpers/gateway';
import { drawShape, loadReference, seededRandom } from '../../helpers/tiny-clip';

const reference = loadReference();

/** The real createHash, for the test's own hashes, which are not counted. */
const createHash = crypto.createHash;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * Every SHA-256 computed meanwhile in this process (the catalogue's and the embedding service's
 * alike), and what the embedding service was asked to embed, with the hash it was handed.
 */
function watchHashes(t: TestGateway) {
  const hashed: Buffer[] = [];
  const embedCalls: { bytes: Buffer; sha256: string | undefined }[] = [];
  const hashSpy = jest.spyOn(crypto, 'createHash').mockImplementation((algorithm, options) => {
    const hash = createHash(algorithm, options);
    if (algorithm !== 'sha256') return hash;
    const update = hash.update.bind(hash) as (data: crypto.BinaryLike) => crypto.Hash;
    hash.update = ((data: crypto.BinaryLike) => {
      hashed.push(Buffer.from(data as Uint8Array));
      return update(data);
    }) as typeof hash.update;
    return hash;
  });
  const embeddings = t.gateway.embeddings;
  const embedImage = embeddings.embedImage.bind(embeddings);
  const embedSpy = jest.spyOn(embeddings, 'embedImage').mockImplementation((bytes, signal, hash) => {
    embedCalls.push({ bytes: Buffer.from(bytes), sha256: hash });
    return embedImage(bytes, signal, hash);
  });
  return {
    /** How many times these bytes were hashed. */
    hashesOf: (bytes: Buffer) => hashed.filter((data) => data.equals(bytes)).length,
    embedCalls,
    restore() {
      hashSpy.mockRestore();
      embedSpy.mockRestore();
    },
  };
}

describe('images in the catalogue', () => {
  let t: TestGateway;
  let picture: Buffer;
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(picture));
  let url: string;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/picture.png`;
    t = await createTestGateway({ fetch: { timeoutMs: 5_000, maxRedirects: 0, allowNetworks: ['127.0.0.0/8'] } });
  });

  afterAll(async () => {
    await t.stop();
    await new Promise((resolve) => server.close(resolve));
  });

  it('hashes each image of an upsert once: the embedding service takes the hash the catalogue made', async () => {
    const random = seededRandom(41);
    const [circle, square] = await Promise.all([drawShape(reference, 'red circle', random), drawShape(reference, 'blue square', random)]);
    picture = await drawShape(reference, 'green star', random);
    const watch = watchHashes(t);
    try {
      const results = await t.gateway.catalogue.upsertProducts([
        { id: 'a', images: [{ base64: circle.toString('base64') }, { url }] },
        // The same bytes again, in another product: read (and hashed) as given, embedded once.
        { id: 'b', images: [{ base64: circle.toString('base64') }, { base64: square.toString('base64') }] },
      ]);
      expect(results.map((r) => r.ok)).toEqual([true, true]);
      expect([watch.hashesOf(circle), watch.hashesOf(square), watch.hashesOf(picture)]).toEqual([2, 1, 1]);
      const embedded = watch.embedCalls.map((c) => c.sha256).sort();
      expect(embedded).toEqual([sha256(circle), sha256(square), sha256(picture)].sort());
      for (const call of watch.embedCalls) expect(call.sha256).toBe(sha256(call.bytes));
      const [a] = await t.gateway.catalogue.getProducts(['a']);
      expect(a.imageHashes).toEqual([sha256(circle), sha256(picture)]);
    } finally {
      watch.restore();
    }
  });

  it("hashes a URL image fetched again for a re-embedding job's chunk once, the embedding service included", async () => {
    picture = await drawShape(reference, 'yellow triangle', seededRandom(42));
    await t.gateway.catalogue.upsertProducts([{ id: 'u', images: [{ url }] }]);
    picture = await drawShape(reference, 'purple star', seededRandom(43));
    const watch = watchHashes(t);
    try {
      const outcome = await t.gateway.catalogue.embedChunk({ productIds: ['u'], changesModel: false });
      expect(outcome).toMatchObject({ processed: 1, failed: 0 });
      expect(watch.hashesOf(picture)).toBe(1);
      expect(watch.embedCalls.map((c) => c.sha256)).toEqual([sha256(picture)]);
      expect(outcome.write?.products.map((p) => p.imageHashes)).toEqual([[sha256(picture)]]);
    } finally {
      watch.restore();
    }
  });

  it('reads an uploaded file like base64 (the same hash, kept inline); a refused file fails its product at its file', async () => {
    const star = await drawShape(reference, 'blue star', seededRandom(44));
    const file = (stream: () => Readable) => Promise.resolve({ filename: 'star.png', mimetype: 'image/png', createReadStream: stream });
    // What graphql-upload makes a file's stream fail with once it passes maxFileSize.
    const truncated = Object.assign(new Error('File truncated as it exceeds the 20971521 byte size limit.'), { status: 413, expose: true });
    const results = await t.gateway.catalogue.upsertProducts([
      { id: 'f', images: [{ file: file(() => Readable.from([star.subarray(0, 100), star.subarray(100)])) }] },
      {
        id: 'g',
        images: [
          { base64: star.toString('base64') },
          {
            file: file(
              () =>
                new Readable({
                  read() {
                    this.destroy(truncated);
                  },
                }),
            ),
          },
        ],
      },
      { id: 'h', images: [{ base64: star.toString('base64'), file: file(() => Readable.from([star])) }] },
    ]);
    expect(results[0]).toMatchObject({ ok: true, product: { imageHashes: [sha256(star)], imageUrls: [null] } });
    // Kept, as inline images are: a later model change has no URL to fetch it from.
    expect(Buffer.from((await t.gateway.store.getImageBytes([sha256(star)])).get(sha256(star))!)).toEqual(star);
    expect(results[1]).toMatchObject({
      ok: false,
      error: {
        field: ['products', '1', 'images', '1', 'file'],
        code: 'INPUT_TOO_LARGE',
        message: expect.stringMatching(/^products\[1\]\.images\[1\]\.file: .*IMAGE_MAX_BYTES/),
      },
    });
    expect(results[2]).toMatchObject({
      ok: false,
      error: {
        field: ['products', '2', 'images', '0'],
        message: 'products[2].images[0]: set exactly one of url, base64, file; base64 and file are set.',
      },
    });
  });
});
