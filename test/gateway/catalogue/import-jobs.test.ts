import { GatewayError, ErrorCode } from '../../../gateway/common/errors';
import { createTestGateway, type TestGateway } from '../../helpers/gateway';
import { GIF_1X1 } from '../../helpers/shop-export';
import { loadReference } from '../../helpers/tiny-clip';

/** An import job's chunk as the runner does it: the file's products upserted, undecodable images left out, failures named by line. */

const reference = loadReference();
const png = (i: number) => ({ base64: reference.images[i].bytes.toString('base64') });
const gif = { base64: GIF_1X1.toString('base64') };
const entry = (line: number, product: { id: string; title?: string; images: { base64: string }[] }) =>
  JSON.stringify({ line, ok: true, product });

describe('import jobs: a chunk of a file', () => {
  let t: TestGateway;
  beforeEach(async () => {
    t = await createTestGateway();
  });
  afterEach(() => t.stop());

  it('stores each product without the images the gateway cannot decode, reporting each by line and place; a product of none fails alone', async () => {
    const { catalogue } = t.gateway;
    const outcome = await catalogue.importChunk({
      entries: [
        entry(2, { id: 'two-gifs', title: 'Shirt', images: [gif, png(0), gif] }),
        entry(3, { id: 'only-gif', images: [gif] }),
        JSON.stringify({ line: 4, ok: false, id: 'no-image', message: 'the product has no image' }),
        entry(6, { id: 'plain', images: [png(1), png(2)] }),
      ],
    });
    expect(outcome).toMatchObject({ productIds: [], tags: [], processed: 2, failed: 2 });
    expect(outcome.errors).toEqual([
      {
        field: ['line', '2', 'images', '0'],
        code: 'UNSUPPORTED_IMAGE_FORMAT',
        message: expect.stringMatching(/^line 2 \(two-gifs\): left out image 0: The image is GIF; only JPEG, PNG and WebP are accepted\.$/),
      },
      {
        field: ['line', '2', 'images', '2'],
        code: 'UNSUPPORTED_IMAGE_FORMAT',
        message: expect.stringMatching(/^line 2 \(two-gifs\): left out image 2: The image is GIF; only JPEG, PNG and WebP are accepted\.$/),
      },
      {
        field: ['line', '3'],
        code: 'UNSUPPORTED_IMAGE_FORMAT',
        message: expect.stringMatching(
          /^line 3 \(only-gif\): images\[0\]\.base64: The image is GIF; only JPEG, PNG and WebP are accepted\.$/,
        ),
      },
      { field: ['line', '4'], code: 'BAD_USER_INPUT', message: 'line 4 (no-image): the product has no image' },
    ]);
    const [shirt, plain, onlyGif] = await catalogue
      .getProducts(['two-gifs', 'plain', 'only-gif'])
      .then((rows) => [rows.find((r) => r.id === 'two-gifs'), rows.find((r) => r.id === 'plain'), rows.find((r) => r.id === 'only-gif')]);
    expect(shirt).toMatchObject({ title: 'Shirt', imageHashes: [expect.any(String)] });
    expect(plain?.imageHashes).toHaveLength(2);
    expect(onlyGif).toBeUndefined();
  });

  it('leaves the chunk to be claimed again when the backend is unavailable, rather than counting its products as failed', async () => {
    const { catalogue, backend } = t.gateway;
    jest
      .spyOn(backend, 'embed')
      .mockRejectedValue(new GatewayError(ErrorCode.BACKEND_UNAVAILABLE, 'The backend could not run this input; try again later.'));
    await expect(catalogue.importChunk({ entries: [entry(2, { id: 'p', images: [png(0)] })] })).rejects.toMatchObject({
      code: 'BACKEND_UNAVAILABLE',
      message: expect.stringMatching(/^line 2: /),
    });
    expect(await catalogue.getProducts(['p'])).toEqual([]);
  });
});
