// graphql-upload 15 spools each uploaded file to disk with fs-capacitor 6.2, whose ReadStream can end
// before the file does: a read that found no new bytes ends the stream if, by the time it returns,
// the file's write stream has finished, though bytes were written in between. Under load an image
// then reads as empty or cut short. fs-capacitor 8.0 reads again in that case; it and graphql-upload
// 16+ are ES modules only, which this CommonJS build and its tests do not load. This gives 6.2's
// ReadStream 8.0's rule: its end waits while the file holds bytes it has not read.
import { ReadStream } from 'fs-capacitor';

const push = ReadStream.prototype.push;

ReadStream.prototype.push = function pushUnlessBytesLeft(this: ReadStream, chunk: unknown, encoding?: BufferEncoding): boolean {
  if (chunk === null && this._pos < this._writeStream._pos) {
    this._read(this.readableHighWaterMark);
    return true;
  }
  return push.call(this, chunk, encoding);
};
