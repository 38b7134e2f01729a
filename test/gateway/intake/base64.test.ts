import { decodeBase64Image } from '../../../gateway/intake/base64';

describe('decodeBase64Image', () => {
  const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 250, 251, 255]);
  const decode = (value: string, max = 1000) => Buffer.from(decodeBase64Image(value, max));

  it('accepts raw base64, URL-safe base64, data: URIs and line breaks', () => {
    expect(decode(bytes.toString('base64'))).toEqual(bytes);
    expect(decode(bytes.toString('base64url'))).toEqual(bytes);
    expect(decode(`data:image/png;base64,${bytes.toString('base64')}`)).toEqual(bytes);
    expect(decode(`DATA:image/png;name=x.png;base64,${bytes.toString('base64')}`)).toEqual(bytes);
    expect(decode(bytes.toString('base64').replace(/(.{4})/g, '$1\n'))).toEqual(bytes);
  });

  it.each([
    ['', 'BAD_USER_INPUT', 'The base64 data is empty.'],
    ['abc$', 'BAD_USER_INPUT', 'The base64 data contains characters outside the base64 alphabet or has a wrong length.'],
    ['data:image/png,abcd', 'BAD_USER_INPUT', 'The data: URI is not base64-encoded (it lacks ;base64).'],
    ['data:nonsense', 'BAD_USER_INPUT', 'The data: URI is malformed; expected data:image/...;base64,<data>.'],
    ['A'.repeat(2000), 'INPUT_TOO_LARGE', 'The image is about 1500 bytes; the limit is 1000 bytes.'],
  ])('refuses %j', (value, code, message) => {
    expect(() => decodeBase64Image(value, 1000)).toThrow(message);
    try {
      decodeBase64Image(value, 1000);
    } catch (error) {
      expect((error as { code: string }).code).toBe(code);
    }
  });
});
