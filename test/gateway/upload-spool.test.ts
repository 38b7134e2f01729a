import { dirname } from 'node:path';

import { WriteStream } from 'fs-capacitor';

// Through the multipart middleware, which is what mends graphql-upload's spool for the gateway.
import '../../gateway/uploads';

/** A file spooled as graphql-upload spools an upload: written, ended, finished. */
async function spooled(bytes: Buffer): Promise<WriteStream> {
  const file = new WriteStream();
  await new Promise<void>((resolve, reject) => {
    file.once('finish', resolve);
    file.once('error', reject);
    file.end(bytes);
  });
  return file;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe("graphql-upload's spool (fs-capacitor 6.2)", () => {
  const bytes = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));

  it('is the copy graphql-upload spools with', () => {
    const graphqlUpload = dirname(require.resolve('graphql-upload/processRequest.js'));
    expect(require.resolve('fs-capacitor', { paths: [graphqlUpload] })).toBe(require.resolve('fs-capacitor'));
  });

  it("reads a file whole, from every reader's start", async () => {
    const file = await spooled(bytes);
    try {
      expect(await readAll(file.createReadStream())).toEqual(bytes);
      expect(await readAll(file.createReadStream())).toEqual(bytes);
    } finally {
      file.destroy();
    }
  });

  it('does not end a reader while the file holds bytes it has not read', async () => {
    const file = new WriteStream();
    await new Promise((resolve) => file.once('ready', resolve));
    try {
      const reader = file.createReadStream();
      const read = readAll(reader);
      // The reader's first read finds the file empty and waits for the file's next write.
      while (file.listenerCount('write') === 0) await new Promise((resolve) => setImmediate(resolve));
      // The race: that read returns only after the whole file was written and finished (its wait
      // not yet set, so nothing wakes it), and fs-capacitor 6.2 then ends the stream at byte 0.
      file.removeAllListeners('write');
      file.removeAllListeners('finish');
      await new Promise<void>((resolve) => file.end(bytes, resolve));
      expect(file._pos).toBe(bytes.length);
      reader.push(null);
      expect(await read).toEqual(bytes);
    } finally {
      file.destroy();
    }
  });

  it('ends a reader that has read every byte', async () => {
    const file = await spooled(bytes);
    try {
      const reader = file.createReadStream();
      const read = await readAll(reader);
      expect(read.byteLength).toBe(bytes.length);
      expect(reader.readableEnded).toBe(true);
    } finally {
      file.destroy();
    }
  });
});
