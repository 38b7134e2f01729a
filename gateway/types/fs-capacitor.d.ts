// fs-capacitor 6.2 (graphql-upload 15's spool) ships JavaScript without declarations: the part of its
// ReadStream that upload-spool.ts mends, as its dist/index.js has it.

declare module 'fs-capacitor' {
  import { Readable, Writable } from 'node:stream';

  /** The file being spooled: the bytes written so far (`_pos`) as the stream's own state. */
  class WriteStream extends Writable {
    _pos: number;
    createReadStream(options?: { highWaterMark?: number }): ReadStream;
  }

  /** A reader of the spooled file from its start: `_pos` bytes read so far. */
  class ReadStream extends Readable {
    _pos: number;
    _writeStream: WriteStream;
  }
}
