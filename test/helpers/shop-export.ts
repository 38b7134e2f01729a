// A shop's export as the tests import it: a fixture file whose image URLs on the shop's CDN are
// served from this machine instead, as a CDN serves them.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { drawShape, loadReference, seededRandom } from './tiny-clip';

/** The fixture exports: both Shopify CSV generations, Merchant Center TSV and XML feeds. */
export const EXPORT_FIXTURES = join(__dirname, '..', 'gateway', 'imports', 'fixtures');

/** A 1×1 GIF: Merchant Center and shops take GIFs; CLIP's decoder here does not. */
export const GIF_1X1 = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

export interface ShopExport {
  /** The export, written into the caller's folder under the fixture's name, its URLs on `host`. */
  file: string;
  /** The image server, `http://127.0.0.1:PORT`: a gateway must be allowed to fetch from 127.0.0.1. */
  host: string;
  /** The paths answered with their bytes (200), in order; a 304 is not listed. */
  served: string[];
  close(): Promise<void>;
}

/**
 * `fixture` with its image URLs on `origin` moved to a server on loopback that answers each path
 * with a drawing of the tiny CLIP's domain (the paths in `gifs` with a GIF), with validators as a
 * CDN sends them: an unchanged image is answered 304, without its bytes. `delayMs` slows each answer.
 */
export async function exportOnLoopback(
  fixture: string,
  origin: RegExp,
  dir: string,
  { gifs = [], delayMs = 0 }: { gifs?: string[]; delayMs?: number } = {},
): Promise<ShopExport> {
  const reference = loadReference();
  const served: string[] = [];
  const random = seededRandom(27);
  const pictures = new Map<string, Buffer>(gifs.map((path) => [path, GIF_1X1]));
  const images = createServer(async (req, res) => {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    const picture = pictures.get(req.url ?? '/');
    if (!picture) return res.writeHead(404).end();
    const etag = `"${createHash('sha256').update(picture).digest('hex')}"`;
    if (req.headers['if-none-match'] === etag) return res.writeHead(304, { etag }).end();
    served.push(req.url ?? '/');
    res.writeHead(200, { 'content-type': 'image/png', etag }).end(picture);
  });
  await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
  const host = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;
  const paths: string[] = [];
  const text = readFileSync(join(EXPORT_FIXTURES, fixture), 'utf8').replace(
    new RegExp(`${origin.source}(/[^,"<\\s]*)`, 'g'),
    (_, path: string) => {
      paths.push(path);
      return `${host}${path}`;
    },
  );
  for (const path of paths) {
    if (!pictures.has(path))
      pictures.set(path, await drawShape(reference, reference.classes[pictures.size % reference.classes.length], random));
  }
  const file = join(dir, fixture);
  writeFileSync(file, text);
  return { file, host, served, close: () => new Promise((resolve) => images.close(() => resolve())) };
}
