/**
 * The binary frame of protocol version 2, apart from what its header says:
 *
 *   offset 0   4 bytes  magic "CLP2" (0x43 0x4c 0x50 0x32)
 *   offset 4   4 bytes  H, the header's length in bytes, uint32 little-endian
 *   offset 8   H bytes  the header: a UTF-8 JSON object with `v: 2`
 *   then       0–7 zero bytes, so that the data section starts at a multiple of 8
 *   then       the data section, to the end of the frame: raw bytes whose layout the header gives
 *
 * The padding lets a reader view float32 vectors in place (numpy.frombuffer, a Float32Array on
 * the frame's own buffer) when the frame itself sits at an aligned address.
 */
import { ProtocolError } from './common';

const MAGIC = Uint8Array.from([0x43, 0x4c, 0x50, 0x32]);
const PREFIX_BYTES = 8;
const ALIGN = 8;
/** Refuses what is not UTF-8 instead of replacing it, so that a corrupted text is named, not embedded. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

const aligned = (offset: number) => Math.ceil(offset / ALIGN) * ALIGN;

/**
 * One frame: `header`, then a data section of `dataBytes` that `fill` writes from `start`. One
 * allocation and one copy of every input: the cost of encoding is a memcpy of the payload.
 */
export function writeFrame(header: object, dataBytes = 0, fill?: (frame: Buffer, start: number) => void): Buffer {
  const json = JSON.stringify(header);
  const headerBytes = Buffer.byteLength(json);
  const start = aligned(PREFIX_BYTES + headerBytes);
  // Unsafe (not zeroed) because every byte is written below: prefix, header, padding, data.
  const frame = Buffer.allocUnsafe(start + dataBytes);
  frame.set(MAGIC, 0);
  frame.writeUInt32LE(headerBytes, 4);
  frame.write(json, PREFIX_BYTES, 'utf8');
  frame.fill(0, PREFIX_BYTES + headerBytes, start);
  fill?.(frame, start);
  return frame;
}

/** A frame's header (checked to be a version 2 JSON object) and its data section, a view on the frame. */
export function readFrame(frame: Uint8Array, what: string): { header: Record<string, unknown>; data: Uint8Array } {
  if (!(frame instanceof Uint8Array)) throw new ProtocolError(`the ${what} is not binary`);
  if (frame.byteLength < PREFIX_BYTES) {
    throw new ProtocolError(`the ${what} is ${frame.byteLength} bytes, shorter than the ${PREFIX_BYTES}-byte start of a version 2 frame`);
  }
  if (MAGIC.some((byte, i) => frame[i] !== byte)) {
    const hint = frame[0] === 0x7b ? ': it looks like JSON, which is version 1 and goes as application/json' : '';
    throw new ProtocolError(`the ${what} does not start with the version 2 magic "CLP2"${hint}`);
  }
  const headerBytes = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(4, true);
  const start = aligned(PREFIX_BYTES + headerBytes);
  if (start > frame.byteLength) {
    throw new ProtocolError(
      `the ${what}'s header of ${headerBytes} bytes (padded to ${start}) runs past the end of the frame (${frame.byteLength} bytes)`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(strictUtf8.decode(frame.subarray(PREFIX_BYTES, PREFIX_BYTES + headerBytes)));
  } catch {
    throw new ProtocolError(`the ${what}'s header is not UTF-8 JSON`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new ProtocolError(`the ${what}'s header is not a JSON object`);
  }
  const { v } = header as { v?: unknown };
  if (v !== 2) throw new ProtocolError(`the ${what}'s header says protocol version ${JSON.stringify(v)} in a version 2 frame`);
  return { header: header as Record<string, unknown>, data: frame.subarray(start) };
}

/** UTF-8 text from a frame, refusing invalid bytes with `what` named. */
export function readUtf8(bytes: Uint8Array, what: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new ProtocolError(`${what} is not valid UTF-8`);
  }
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Writes float32 values little-endian at `offset`: a plain copy on little-endian hosts (all that Node runs on in practice). */
export function writeFloats(frame: Buffer, offset: number, values: Float32Array): void {
  if (HOST_IS_LITTLE_ENDIAN) {
    frame.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), offset);
    return;
  }
  for (let i = 0; i < values.length; i++) frame.writeFloatLE(values[i], offset + i * 4);
}

/** Reads `count` little-endian float32 values from `offset` into a fresh array (never a view: a cached vector must not pin the frame). */
export function readFloats(data: Uint8Array, offset: number, count: number): Float32Array {
  const values = new Float32Array(count);
  if (HOST_IS_LITTLE_ENDIAN) {
    new Uint8Array(values.buffer).set(data.subarray(offset, offset + count * 4));
    return values;
  }
  const view = new DataView(data.buffer, data.byteOffset + offset, count * 4);
  for (let i = 0; i < count; i++) values[i] = view.getFloat32(i * 4, true);
  return values;
}
