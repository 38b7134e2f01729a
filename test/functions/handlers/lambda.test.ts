import type { Context } from 'aws-lambda';

import { decodeAndCrop } from '../../../functions/clip';
import { ClipModel } from '../../../functions/clip/model';
import { handler, warm } from '../../../functions/handlers/lambda';
import { decodeDescribeAnswer, decodeResults, encodeRequest } from '../../../functions/protocol';
import { cosine, loadReference, TINY_CLIP_DIR } from '../../helpers/tiny-clip';

const reference = loadReference();

/** Calls the handler as the Lambda runtime does: the JSON payload parsed, and a context object. */
const invoke = async (payload: unknown) =>
  JSON.parse(JSON.stringify(await handler(JSON.parse(JSON.stringify(payload)), {} as Context))) as unknown;

describe('the Lambda handler', () => {
  let model: ClipModel;
  beforeAll(async () => {
    model = await ClipModel.load(TINY_CLIP_DIR, { log: () => {} });
  });
  afterAll(async () => {
    await model.release();
    await (await warm()).release();
  });

  it('loads the model once, during init, and describes it, speaking version 1 alone (Invoke carries JSON)', async () => {
    expect(await warm()).toBe(await warm());
    const { description, protocols } = decodeDescribeAnswer(await invoke(encodeRequest({ kind: 'describe' })));
    expect(protocols).toEqual([1]);
    expect(description.info).toMatchObject({ name: 'tiny-clip', dim: 64, imageSize: 64 });
    expect(description.preprocess).toMatchObject({ cropWidth: 64, cropHeight: 64, shortestEdge: 64 });
  });

  it('embeds texts, crops and encoded images like the core does', async () => {
    const texts = reference.texts.slice(0, 3).map((t) => t.text);
    const textItems = decodeResults(await invoke(encodeRequest({ kind: 'text', items: texts })), 3, 64);
    textItems.forEach((item, i) => expect(item.ok && cosine(item.vector, reference.texts[i].embedding)).toBeGreaterThanOrEqual(0.9999));

    const crops = reference.images.slice(0, 2).map((i) => i.crop);
    const cropItems = decodeResults(await invoke(encodeRequest({ kind: 'crops', items: crops })), 2, 64);
    cropItems.forEach((item, i) => expect(item.ok && cosine(item.vector, reference.images[i].embedding)).toBeGreaterThanOrEqual(0.9999));

    const images = [reference.images[0].bytes, Buffer.from('not an image')];
    const imageItems = decodeResults(await invoke(encodeRequest({ kind: 'images', items: images })), 2, 64);
    const [local] = await model.embedCrops([(await decodeAndCrop(reference.images[0].bytes, model.spec.image)).data]);
    expect(imageItems[0].ok && local.ok && cosine(imageItems[0].vector, local.vector)).toBeGreaterThanOrEqual(0.9999);
    expect(imageItems[1]).toMatchObject({ ok: false, code: 'UNSUPPORTED_IMAGE_FORMAT' });
  });

  it('answers a malformed request with a request-level error instead of throwing', async () => {
    expect(await invoke({ v: 1, kind: 'crops', crops: [42] })).toEqual({
      v: 1,
      error: { code: 'BAD_USER_INPUT', message: 'Malformed request: crops must be a list of strings.' },
    });
  });
});
