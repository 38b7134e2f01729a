import { startGateway } from '../../helpers/gateway';
import { cosine, loadReference } from '../../helpers/tiny-clip';

describe('LOCAL_WORKERS=0 (inference on the event loop, for comparison)', () => {
  it('serves the same embeddings as the reference', async () => {
    const reference = loadReference();
    const gw = await startGateway({ localWorkers: 0 });
    try {
      const { data } = await gw.graphql<{ embed: { vector: number[] }[] }>('query($i:[MediaInput!]!){ embed(inputs:$i){ vector } }', {
        i: [{ text: reference.texts[0].text }],
      });
      expect(cosine(Float32Array.from(data!.embed[0].vector), reference.texts[0].embedding)).toBeGreaterThanOrEqual(0.9999);
    } finally {
      await gw.stop();
    }
  });
});
