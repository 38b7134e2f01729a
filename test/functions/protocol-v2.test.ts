import type { EmbedRequest, ModelDescription } from '../../functions/clip';
import {
  decodeDescribeAnswerV2,
  decodeRequestV2,
  decodeResultsV2,
  encodeDescribeAnswerV2,
  encodeRefusalV2,
  encodeRequest,
  encodeRequestV2,
  encodeResultsV2,
  isWireV2ContentType,
  ProtocolError,
  WIRE_V2_CONTENT_TYPE,
  WIRE_V2_REQUEST_OVERHEAD_BYTES,
  wireSizeOf,
  wireSizeOfV2,
} from '../../functions/protocol';

/** What an HTTP client does to a frame: bytes out, bytes in, at an offset of its own (a pooled Buffer). */
const overTheWire = (frame: Uint8Array) => {
  const copy = Buffer.alloc(frame.byteLength + 3);
  copy.set(frame, 3);
  return copy.subarray(3);
};

/** A frame from parts, for malformed ones: prefix with `headerLength` (default the header's), header, padding to 8, data. */
function frameOf(header: string, data: Uint8Array = new Uint8Array(0), headerLength = Buffer.byteLength(header)): Buffer {
  const head = Buffer.from(header);
  const start = Math.ceil((8 + head.length) / 8) * 8;
  const frame = Buffer.alloc(start + data.length);
  frame.write('CLP2', 0, 'latin1');
  frame.writeUInt32LE(headerLength, 4);
  head.copy(frame, 8);
  frame.set(data, start);
  return frame;
}

const VIT_B32_CROP_BYTES = 224 * 224 * 3;
const SAGEMAKER_AND_LAMBDA_LIMIT = 6_291_456;

describe('wire protocol version 2 (binary)', () => {
  it('lays a request out as magic, header length, JSON header, padding to 8, raw bytes', () => {
    const frame = encodeRequestV2({ kind: 'crops', items: [Uint8Array.from([0, 1, 2, 255])] });
    const header = '{"v":2,"kind":"crops","lengths":[4]}';
    expect(frame.subarray(0, 4).toString('latin1')).toBe('CLP2');
    expect(frame.readUInt32LE(4)).toBe(header.length);
    expect(frame.subarray(8, 8 + header.length).toString()).toBe(header);
    const start = Math.ceil((8 + header.length) / 8) * 8;
    expect(Array.from(frame.subarray(8 + header.length, start))).toEqual(new Array(start - 8 - header.length).fill(0));
    expect(Array.from(frame.subarray(start))).toEqual([0, 1, 2, 255]);
  });

  it('round-trips texts as UTF-8, non-ASCII and empty ones included', () => {
    const texts = ['a red circle', 'é', '猫の写真', 'a 🐈 on a mat', '', 'quote " and \\ and \n'];
    expect(decodeRequestV2(overTheWire(encodeRequestV2({ kind: 'text', items: texts })))).toEqual({ kind: 'text', items: texts });
    expect(decodeRequestV2(overTheWire(encodeRequestV2({ kind: 'text', items: [] })))).toEqual({ kind: 'text', items: [] });
  });

  it('round-trips crops and images byte for byte, zero-length ones included', () => {
    const crops = [Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7) & 255), new Uint8Array(0), Uint8Array.from([9])];
    for (const kind of ['crops', 'images'] as const) {
      const back = decodeRequestV2(overTheWire(encodeRequestV2({ kind, items: crops })));
      expect(back.kind).toBe(kind);
      expect(back.kind !== 'describe' && back.items.map((c) => Buffer.from(c as Uint8Array).toString('hex'))).toEqual(
        crops.map((c) => Buffer.from(c).toString('hex')),
      );
    }
    expect(decodeRequestV2(encodeRequestV2({ kind: 'describe' }))).toEqual({ kind: 'describe' });
  });

  it('round-trips results: float32 vectors bit for bit, errors in their own slots', () => {
    const vector = (seed: number) => Float32Array.from({ length: 5 }, (_, i) => Math.sin(seed + i) / 3);
    const results = [
      { ok: false as const, code: 'IMAGE_DECODE_FAILED', message: 'The image could not be processed.' },
      { ok: true as const, vector: vector(1) },
      { ok: true as const, vector: Float32Array.from([0, -0, 1e-38, -3.4e38, 1]) },
      { ok: false as const, code: 'BAD_USER_INPUT', message: 'Ünïcödé in a message.' },
      { ok: true as const, vector: vector(2) },
    ];
    const back = decodeResultsV2(overTheWire(encodeResultsV2(results)), 5, 5);
    expect(back.map((r) => (r.ok ? Buffer.from(r.vector.buffer).toString('hex') : r))).toEqual(
      results.map((r) => (r.ok ? Buffer.from(r.vector.buffer).toString('hex') : r)),
    );
    // Fresh arrays, not views on the frame: a cached vector must not keep a whole answer alive.
    expect(back[1].ok && back[1].vector.buffer.byteLength).toBe(20);
    const failures = [{ ok: false as const, code: 'INFERENCE_FAILED', message: 'No.' }];
    expect(decodeResultsV2(encodeResultsV2(failures), 1, 512)).toEqual(failures);
    expect(decodeResultsV2(encodeResultsV2([]), 0, 512)).toEqual([]);
  });

  it('carries the describe answer with the versions the function speaks, and refusals', () => {
    const description = { info: { name: 'tiny-clip', dim: 64 }, preprocess: { cropWidth: 64 } } as unknown as ModelDescription;
    expect(decodeDescribeAnswerV2(encodeDescribeAnswerV2(description, [1, 2]))).toEqual({ description, protocols: [1, 2] });
    const refusal = encodeRefusalV2('BAD_USER_INPUT', 'Malformed request: no.');
    expect(() => decodeResultsV2(refusal, 1, 64)).toThrow('the function refused the request: BAD_USER_INPUT: Malformed request: no.');
    expect(() => decodeDescribeAnswerV2(refusal)).toThrow('the function refused the request');
  });

  it.each([
    [Buffer.from('CLP'), 'the request is 3 bytes, shorter than the 8-byte start of a version 2 frame'],
    [Buffer.from('{"v":1,"kind":"text","texts":[]}'), 'does not start with the version 2 magic "CLP2": it looks like JSON'],
    [Buffer.from('GIF89a\0\0\0\0'), 'the request does not start with the version 2 magic "CLP2"'],
    [frameOf('{"v":2,"kind":"describe"}', undefined, 4000), "the request's header of 4000 bytes (padded to 4008) runs past the end"],
    [frameOf('{"v":2,'), "the request's header is not UTF-8 JSON"],
    [frameOf('[2]'), "the request's header is not a JSON object"],
    [frameOf('{"v":1,"kind":"describe"}'), "the request's header says protocol version 1 in a version 2 frame"],
    [frameOf('{"v":2,"kind":"video","lengths":[]}'), 'request kind "video" is not one of describe, text, crops, images'],
    [frameOf('{"v":2,"kind":"crops"}'), 'lengths must be a list of non-negative integers, one per input'],
    [frameOf('{"v":2,"kind":"crops","lengths":[1.5]}'), 'lengths must be a list of non-negative integers'],
    [frameOf('{"v":2,"kind":"crops","lengths":[-1,2]}'), 'lengths must be a list of non-negative integers'],
    [frameOf('{"v":2,"kind":"crops","lengths":[4,4]}', new Uint8Array(7)), 'the data section is 7 bytes, but lengths add up to 8'],
    [frameOf('{"v":2,"kind":"crops","lengths":[4]}', new Uint8Array(5)), 'the data section is 5 bytes, but lengths add up to 4'],
    [frameOf('{"v":2,"kind":"describe"}', new Uint8Array(8)), 'a describe request carries no data, but this one has 8 bytes'],
    [frameOf('{"v":2,"kind":"text","lengths":[1,2]}', Uint8Array.from([0x61, 0xc3, 0x28])), 'texts[1] is not valid UTF-8'],
  ])('refuses malformed request frame %#', (frame, message) => {
    expect(() => decodeRequestV2(frame)).toThrow(ProtocolError);
    expect(() => decodeRequestV2(frame)).toThrow(message);
  });

  it.each([
    [
      frameOf('{"v":2,"count":2,"dim":2,"errors":[]}', new Float32Array(4) as unknown as Uint8Array),
      1,
      'the answer has 2 items for 1 inputs',
    ],
    [frameOf('{"v":2,"count":1,"dim":3,"errors":[]}', new Uint8Array(12)), 1, "the answer's vectors have 3 dimensions, not 2"],
    [
      frameOf('{"v":2,"count":1,"dim":2,"errors":[]}', new Uint8Array(12)),
      1,
      'the data section is 12 bytes, but 1 vectors of 2 float32 take 8',
    ],
    [frameOf('{"v":2,"count":1,"dim":2}', new Uint8Array(8)), 1, 'the answer has no errors list'],
    [
      frameOf('{"v":2,"count":2,"dim":2,"errors":[{"index":1,"code":"X","message":"x"},{"index":1,"code":"X","message":"x"}]}'),
      2,
      'errors[1].index must be an input',
    ],
    [frameOf('{"v":2,"count":1,"dim":2,"errors":[{"index":1,"code":"X","message":"x"}]}'), 1, 'errors[0].index must be an input'],
    [frameOf('{"v":2,"count":1,"dim":2,"errors":[{"index":0,"code":"X"}]}'), 1, 'errors[0] has no code and message'],
    [Buffer.from('{"v":2,"count":1}'), 1, 'the answer does not start with the version 2 magic'],
  ])('refuses malformed answer frame %#', (frame, count, message) => {
    expect(() => decodeResultsV2(frame, count, 2)).toThrow(ProtocolError);
    expect(() => decodeResultsV2(frame, count, 2)).toThrow(message);
  });

  it('budgets inputs with wireSizeOfV2: never less than the frame takes', () => {
    const texts = ['', 'a', 'é'.repeat(100), '猫'.repeat(3000), 'x'.repeat(99_999)];
    const sized = (request: EmbedRequest) =>
      WIRE_V2_REQUEST_OVERHEAD_BYTES + request.items.reduce<number>((n, item) => n + wireSizeOfV2(request.kind, item), 0);
    const requests: EmbedRequest[] = [
      { kind: 'text', items: texts },
      { kind: 'text', items: [] },
      { kind: 'images', items: [new Uint8Array(0), new Uint8Array(9), new Uint8Array(1_000_000)] },
    ];
    for (const request of requests) {
      const frame = encodeRequestV2(request);
      expect(frame.byteLength).toBeLessThanOrEqual(sized(request));
      expect(frame.byteLength).toBeGreaterThan(sized(request) - WIRE_V2_REQUEST_OVERHEAD_BYTES);
    }
    expect(wireSizeOfV2('crops', new Uint8Array(VIT_B32_CROP_BYTES))).toBe(150_535);
    expect(wireSizeOfV2('text', 'é')).toBe(4);
  });

  it('fits 32 ViT-B/32 crops in one call under the 6 MiB limit, which version 1 cannot', () => {
    const crops = Array.from({ length: 32 }, (_, i) => new Uint8Array(VIT_B32_CROP_BYTES).fill(i));
    const frame = encodeRequestV2({ kind: 'crops', items: crops });
    expect(frame.byteLength).toBeLessThan(SAGEMAKER_AND_LAMBDA_LIMIT);
    expect(frame.byteLength).toBeLessThanOrEqual(WIRE_V2_REQUEST_OVERHEAD_BYTES + 32 * wireSizeOfV2('crops', crops[0]));
    expect(Buffer.byteLength(JSON.stringify(encodeRequest({ kind: 'crops', items: crops })))).toBeGreaterThan(SAGEMAKER_AND_LAMBDA_LIMIT);
    // Under the gateway's default budget of 6,000,000 bytes a call: 29 crops in version 1, 39 in version 2.
    const perCall = (size: number) => Math.floor((6_000_000 - WIRE_V2_REQUEST_OVERHEAD_BYTES) / size);
    expect([perCall(wireSizeOf('crops', crops[0])), perCall(wireSizeOfV2('crops', crops[0]))]).toEqual([29, 39]);
    const back = decodeRequestV2(frame);
    expect(back.kind === 'crops' && back.items.map((c) => c[0])).toEqual(crops.map((_, i) => i));
  });

  it('is chosen by its content type, parameters and case aside', () => {
    expect(WIRE_V2_CONTENT_TYPE).toBe('application/vnd.clip-gateway.v2');
    expect(isWireV2ContentType('application/vnd.clip-gateway.v2')).toBe(true);
    expect(isWireV2ContentType('Application/VND.clip-gateway.v2; charset=binary')).toBe(true);
    for (const other of ['application/json', 'application/octet-stream', 'application/vnd.clip-gateway.v20', '', undefined, null]) {
      expect(isWireV2ContentType(other)).toBe(false);
    }
  });
});
