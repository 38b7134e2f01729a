import type { EmbedRequest, ModelDescription } from '../../../functions/clip';
import {
  decodeRequest,
  decodeRequestV2,
  encodeDescribeAnswer,
  encodeResults,
  encodeResultsV2,
  isWireV2ContentType,
  type ProtocolVersion,
} from '../../../functions/protocol';
import { RemoteBackend, type Transport } from '../../../gateway/backends/remote';
import { BINARY_CODEC, codecFor, JSON_CODEC, textOf, type WireMessage } from '../../../gateway/backends/wire-codec';

/** ViT-B/32's crop: 224 × 224 × 3 bytes. */
const VIT_B32_CROP = 224 * 224 * 3;
const DESCRIPTION: ModelDescription = {
  info: {
    name: 'vit-b32-shaped',
    dim: 512,
    imageSize: 224,
    cropWidth: 224,
    cropHeight: 224,
    contextLength: 77,
    logitScale: 100,
    dtype: 'fp32',
    device: 'cuda',
  },
  preprocess: {
    doResize: true,
    kernel: 'cubic',
    doCenterCrop: true,
    cropWidth: 224,
    cropHeight: 224,
    doRescale: true,
    rescaleFactor: 1 / 255,
    doNormalize: true,
    mean: [0.48145466, 0.4578275, 0.40821073],
    std: [0.26862954, 0.26130258, 0.27577711],
  },
};

/**
 * A function that speaks `protocols`, answering each call in the version it was asked in, as the
 * HTTP adapter does; it records the calls' sizes and versions.
 */
class GpuFunction implements Transport {
  readonly kind = 'http' as const;
  readonly target = 'http://gpu.test';
  readonly calls: { version: number; bytes: number; items: number }[] = [];

  constructor(
    private readonly protocols: ProtocolVersion[],
    readonly binary: boolean,
  ) {}

  async call(message: WireMessage): Promise<WireMessage> {
    const binary = isWireV2ContentType(message.contentType);
    const request = binary ? decodeRequestV2(message.body) : decodeRequest(JSON.parse(textOf(message)));
    if (request.kind === 'describe') {
      return { contentType: 'application/json', body: Buffer.from(JSON.stringify(encodeDescribeAnswer(DESCRIPTION, this.protocols))) };
    }
    this.calls.push({ version: binary ? 2 : 1, bytes: message.body.byteLength, items: request.items.length });
    const results = request.items.map((_, i) => ({ ok: true as const, vector: new Float32Array(512).fill(i) }));
    return binary
      ? { contentType: message.contentType, body: encodeResultsV2(results) }
      : { contentType: 'application/json', body: Buffer.from(JSON.stringify(encodeResults(results))) };
  }

  close(): void {}
}

const crops = (count: number): EmbedRequest => ({
  kind: 'crops',
  items: Array.from({ length: count }, (_, i) => new Uint8Array(VIT_B32_CROP).fill(i)),
});

describe('the wire protocol a remote backend writes', () => {
  it('is version 2 only where both the function and the transport can carry it', () => {
    expect(codecFor([1, 2], true)).toBe(BINARY_CODEC);
    expect(codecFor([1, 2], false)).toBe(JSON_CODEC);
    expect(codecFor([1], true)).toBe(JSON_CODEC);
  });

  it('puts 32 ViT-B/32 crops in one call in version 2, where version 1 needs two', async () => {
    const v2 = new GpuFunction([1, 2], true);
    const v1 = new GpuFunction([1], true);
    const backends = [new RemoteBackend(v2), new RemoteBackend(v1)];
    await Promise.all(backends.map((b) => b.start()));
    expect(backends.map((b) => b.protocol)).toEqual([2, 1]);
    const [binary, json] = await Promise.all(backends.map((b) => b.embed(crops(32))));
    for (const results of [binary, json]) expect(results.map((r) => r.ok && r.vector[0])).toHaveLength(32);
    // The vectors come back in input order across the calls.
    expect(json.map((r) => r.ok && r.vector[0])).toEqual([...Array.from({ length: 29 }, (_, i) => i), 0, 1, 2]);
    expect(v2.calls.map(({ version, items }) => [version, items])).toEqual([[2, 32]]);
    expect(v2.calls[0].bytes).toBeLessThan(6_000_000);
    expect(v1.calls.map(({ version, items }) => [version, items])).toEqual([
      [1, 29],
      [1, 3],
    ]);
  });
});
