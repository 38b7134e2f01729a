import type { IncomingMessage } from 'node:http';

/**
 * Reads a request body of at most `limit` bytes. A larger one is read to its end but not kept
 * (`tooLarge`), so that the caller can still answer 413: destroying the request instead would
 * reset the connection, and the client would see a network error rather than the reason.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<{ body: Buffer; tooLarge: boolean }> {
  return new Promise((resolve, reject) => {
    // A declared size over the limit is answered at once; the server closes the connection after.
    if (Number(req.headers['content-length']) > limit) return resolve({ body: Buffer.alloc(0), tooLarge: true });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () =>
      resolve(size > limit ? { body: Buffer.alloc(0), tooLarge: true } : { body: Buffer.concat(chunks), tooLarge: false }),
    );
    req.on('error', reject);
  });
}
