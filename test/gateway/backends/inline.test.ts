import { InlineBackend } from '../../../gateway/backends/inline';
import { configFromEnv } from '../../../gateway/config';
import { startGateway } from '../../helpers/gateway';
import { cosine, loadReference, TINY_CLIP_DIR } from '../../helpers/tiny-clip';

describe('LOCAL_WORKERS=0 (inference on the event loop, for comparison)', () => {
  it('serves the same embeddings as the reference', async () => {
    const reference = loadReference();
    const { backend } = configFromEnv({ LOCAL_WORKERS: '0', CLIP_MODEL_DIR: TINY_CLIP_DIR });
    const gw = await startGateway({ backend });
    try {
      expect(gw.gateway.backend).toBeInstanceOf(InlineBackend);
      const { data } = await gw.graphql<{ embed: { vector: number[] }[] }>('query($i:[MediaInput!]!){ embed(inputs:$i){ vector } }', {
        i: [{ text: reference.texts[0].text }],
      });
      expect(cosine(Float32Array.from(data!.embed[0].vector), reference.texts[0].embedding)).toBeGreaterThanOrEqual(0.9999);
    } finally {
      await gw.stop();
    }
  });
});
