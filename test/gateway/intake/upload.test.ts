import { Readable } from 'node:stream';

import { ErrorCode, GatewayError } from '../../../gateway/common/errors';
import { readUpload, type UploadedFile } from '../../../gateway/intake/upload';

/** An error as graphql-upload makes them (http-errors): a status, exposed to the client. */
function httpError(status: number, message: string): Error {
  return Object.assign(new Error(message), { status, statusCode: status, expose: status < 500 });
}

/** A file whose stream is `stream` (or whose createReadStream throws `refused`), counting the streams made. */
function fileOf(stream: () => Readable, refused?: Error): UploadedFile & { streams: Readable[] } {
  const streams: Readable[] = [];
  return {
    filename: 'a.png',
    mimetype: 'image/png',
    streams,
    createReadStream() {
      if (refused) throw refused;
      const made = stream();
      streams.push(made);
      return made;
    },
  };
}

/** A stream that never ends by itself: `chunkBytes` a read, counting the reads asked of it. */
function endless(chunkBytes: number): { stream: Readable; reads: () => number } {
  let reads = 0;
  const stream = new Readable({
    read() {
      reads++;
      this.push(Buffer.alloc(chunkBytes, 1));
    },
  });
  return { stream, reads: () => reads };
}

const reason = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as GatewayError,
  );

describe('readUpload', () => {
  it('reads the whole file, chunk by chunk, in order', async () => {
    const file = fileOf(() => Readable.from([Buffer.from([1, 2, 3]), Buffer.from([4]), Buffer.from([5, 6])]));
    expect(Array.from(await readUpload(Promise.resolve(file), 6))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('refuses a file the moment its count passes the limit, naming IMAGE_MAX_BYTES, without reading on', async () => {
    const { stream, reads } = endless(16 * 1024);
    const error = await reason(readUpload(Promise.resolve(fileOf(() => stream)), 40 * 1024));
    expect(error).toBeInstanceOf(GatewayError);
    expect([error?.code, error?.message]).toEqual([
      ErrorCode.INPUT_TOO_LARGE,
      'The uploaded file is over the limit of 40960 bytes (IMAGE_MAX_BYTES).',
    ]);
    // Three chunks pass the limit; the stream buffers a chunk or two ahead, never the rest of an endless file.
    expect(reads()).toBeLessThan(8);
    expect(stream.destroyed).toBe(true);
  });

  it("takes graphql-upload's own refusal of an oversized file (413) for the same INPUT_TOO_LARGE, from the stream or before it", async () => {
    const truncated = httpError(413, 'File truncated as it exceeds the 41 byte size limit.');
    const midStream = fileOf(
      () =>
        new Readable({
          read() {
            this.push(Buffer.alloc(10));
            this.destroy(truncated);
          },
        }),
    );
    const expected = ['INPUT_TOO_LARGE', 'The uploaded file is over the limit of 40 bytes (IMAGE_MAX_BYTES).'];
    const fromStream = await reason(readUpload(Promise.resolve(midStream), 40));
    expect([fromStream?.code, fromStream?.message]).toEqual(expected);
    const beforeStream = await reason(readUpload(Promise.resolve(fileOf(() => Readable.from([]), truncated)), 40));
    expect([beforeStream?.code, beforeStream?.message]).toEqual(expected);
  });

  it.each([
    [
      'missing from the request',
      httpError(400, 'File missing in the request.'),
      'BAD_USER_INPUT',
      "The request's map names a file for this input that is not among the request's parts.",
    ],
    [
      'cut off with its request',
      httpError(499, 'Request disconnected during file upload stream parsing.'),
      'CLIENT_CLOSED_REQUEST',
      'The client closed the request while the file was uploading.',
    ],
    [
      'ended before its part did',
      new Error('Unexpected end of form'),
      'BAD_USER_INPUT',
      'The uploaded file could not be read: Unexpected end of form',
    ],
  ])('says what a file %s means', async (_case, failure, code, message) => {
    const error = await reason(readUpload(Promise.reject(failure as Error), 100));
    expect([error?.code, error?.message]).toEqual([code, message]);
  });

  it('refuses an empty file', async () => {
    const error = await reason(readUpload(Promise.resolve(fileOf(() => Readable.from([]))), 100));
    expect([error?.code, error?.message]).toEqual(['BAD_USER_INPUT', 'The uploaded file is empty.']);
  });

  it('stops waiting for the file, and reading it, when the client goes away', async () => {
    const gone = new GatewayError(ErrorCode.CLIENT_CLOSED_REQUEST, 'The client closed the request before it was answered.');
    // Waiting for a file whose part never begins.
    const waiting = new AbortController();
    const never = readUpload(new Promise<UploadedFile>(() => {}), 100, waiting.signal);
    waiting.abort(gone);
    expect(await reason(never)).toBe(gone);
    // Reading a file whose bytes stopped coming.
    const stalled = new Readable({ read() {} });
    stalled.push(Buffer.alloc(10));
    const reading = new AbortController();
    const read = readUpload(Promise.resolve(fileOf(() => stalled)), 100, reading.signal);
    await new Promise((resolve) => setImmediate(resolve));
    reading.abort(gone);
    expect(await reason(read)).toBe(gone);
    expect(stalled.destroyed).toBe(true);
    // Already gone: nothing is read.
    const file = fileOf(() => Readable.from([Buffer.alloc(1)]));
    expect(await reason(readUpload(Promise.resolve(file), 100, reading.signal))).toBe(gone);
    expect(file.streams).toEqual([]);
  });
});
