import { ErrorCode, GatewayError } from '../common/errors';

const DATA_URI = /^data:([^;,]*)((?:;[^;,]*)*),/i;
const BASE64 = /^[A-Za-z0-9+/\-_]*={0,2}$/;

/**
 * Image bytes from raw base64 or a `data:` URI (`data:image/png;base64,...`). Standard and URL-safe
 * alphabets, whitespace ignored. Node's decoder silently skips invalid characters, so the
 * alphabet is checked first: garbage is an error, not a shorter image.
 */
export function decodeBase64Image(value: string, maxBytes: number): Uint8Array {
  let payload = value;
  const uri = DATA_URI.exec(value);
  if (uri) {
    if (!/;base64$/i.test(uri[2]))
      throw new GatewayError(ErrorCode.BAD_USER_INPUT, 'The data: URI is not base64-encoded (it lacks ;base64).');
    payload = value.slice(uri[0].length);
  } else if (/^data:/i.test(value)) {
    throw new GatewayError(ErrorCode.BAD_USER_INPUT, 'The data: URI is malformed; expected data:image/...;base64,<data>.');
  }
  payload = payload.replace(/\s+/g, '');
  if (payload.length === 0) throw new GatewayError(ErrorCode.BAD_USER_INPUT, 'The base64 data is empty.');
  const decodedLength = Math.floor((payload.length * 3) / 4);
  if (decodedLength > maxBytes + 2) {
    throw new GatewayError(ErrorCode.INPUT_TOO_LARGE, `The image is about ${decodedLength} bytes; the limit is ${maxBytes} bytes.`);
  }
  if (!BASE64.test(payload) || payload.length % 4 === 1) {
    throw new GatewayError(
      ErrorCode.BAD_USER_INPUT,
      'The base64 data contains characters outside the base64 alphabet or has a wrong length.',
    );
  }
  const bytes = Buffer.from(payload, payload.includes('-') || payload.includes('_') ? 'base64url' : 'base64');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
