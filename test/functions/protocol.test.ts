import type { ModelDescription } from '../../functions/clip';
import {
  decodeDescribeAnswer,
  decodeDescription,
  decodeResults,
  decodeRequest,
  encodeDescribeAnswer,
  encodeResults,
  encodeRequest,
  ProtocolError,
  wireSizeOf,
} from '../../functions/protocol';

describe('the wire protocol', () => {
  it('round-trips requests, bytes as base64', () => {
    const crops = [Uint8Array.from([0, 1, 2, 255]), new Uint8Array(0)];
    const wire = JSON.parse(JSON.stringify(encodeRequest({ kind: 'crops', items: crops })));
    expect(wire).toEqual({ v: 1, kind: 'crops', crops: ['AAEC/w==', ''] });
    const back = decodeRequest(wire);
    expect(back.kind === 'crops' && back.items.map((c) => Array.from(c))).toEqual([[0, 1, 2, 255], []]);
    expect(decodeRequest(JSON.parse(JSON.stringify(encodeRequest({ kind: 'text', items: ['a', 'é'] }))))).toEqual({
      kind: 'text',
      items: ['a', 'é'],
    });
  });

  it('round-trips results: vectors as little-endian float32 base64, errors with their code', () => {
    const vector = Float32Array.from([0.5, -0.25, 1e-8]);
    const wire = JSON.parse(
      JSON.stringify(
        encodeResults([
          { ok: true, vector },
          { ok: false, code: 'IMAGE_DECODE_FAILED', message: 'No.' },
        ]),
      ),
    );
    expect(wire.items[0].vector).toBe(Buffer.from(vector.buffer).toString('base64'));
    const items = decodeResults(wire, 2, 3);
    expect(items[0].ok && Array.from(items[0].vector)).toEqual(Array.from(vector));
    expect(items[1]).toEqual({ ok: false, code: 'IMAGE_DECODE_FAILED', message: 'No.' });
  });

  it('is far more compact than JSON numbers', () => {
    const vector = Float32Array.from({ length: 512 }, (_, i) => Math.sin(i) / 20);
    const compact = JSON.stringify(encodeResults([{ ok: true, vector }])).length;
    expect(compact).toBeLessThan(JSON.stringify(Array.from(vector)).length / 3);
  });

  it.each([
    [null, 'the request is not a JSON object'],
    [{ v: 2, kind: 'text', texts: [] }, 'protocol version 2 is not supported'],
    [{ v: 1, kind: 'video' }, 'request kind "video" is not one of'],
    [{ v: 1, kind: 'text', texts: [1] }, 'texts must be a list of strings'],
    [{ v: 1, kind: 'crops', crops: ['not base64!'] }, 'crops[0] is not a base64 string'],
  ])('refuses the malformed request %j', (payload, message) => {
    expect(() => decodeRequest(payload)).toThrow(ProtocolError);
    expect(() => decodeRequest(payload)).toThrow(message);
  });

  it.each([
    [{ v: 1, items: [] }, 'the response has 0 items for 1 inputs'],
    [{ v: 1, items: [{ vector: 'AAAA' }] }, 'items[0] has 0.75 dimensions, not 3'],
    [{ v: 1, items: [{}] }, 'items[0] is neither a vector nor an error'],
    [{ v: 1, error: { code: 'BAD_USER_INPUT', message: 'x' } }, 'the function refused the request'],
    ['oops', 'not a version 1 protocol object'],
  ])('refuses the malformed response %j', (payload, message) => {
    expect(() => decodeResults(payload, 1, 3)).toThrow(message);
  });

  it('budgets inputs by their encoded size', () => {
    expect(wireSizeOf('crops', new Uint8Array(150_528))).toBe(200_707);
    expect(wireSizeOf('text', 'a "quoted" text')).toBe(JSON.stringify('a "quoted" text').length + 1);
  });

  it('says in the describe answer which versions the function speaks; an older function speaks 1', () => {
    const description = { info: { name: 'tiny-clip', dim: 64 }, preprocess: { cropWidth: 64 } } as unknown as ModelDescription;
    const answer = JSON.parse(JSON.stringify(encodeDescribeAnswer(description, [1, 2])));
    expect(answer).toEqual({ v: 1, description, protocols: [1, 2] });
    expect(decodeDescribeAnswer(answer)).toEqual({ description, protocols: [1, 2] });
    expect(decodeDescription(answer)).toEqual(description);
    // What a function released before version 2 answers.
    expect(decodeDescribeAnswer({ v: 1, description })).toEqual({ description, protocols: [1] });
    expect(() => decodeDescribeAnswer({ v: 1, description, protocols: [] })).toThrow(
      "the response's protocols must be a non-empty list of positive integers, got []",
    );
    expect(() => decodeDescribeAnswer({ v: 1, description, protocols: ['2'] })).toThrow(ProtocolError);
    expect(() => decodeDescribeAnswer({ v: 1 })).toThrow('the response has no model description');
    expect(() => decodeDescribeAnswer({ v: 2, description })).toThrow('the response is not a version 1 model description');
  });
});
