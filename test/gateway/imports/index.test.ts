import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { FORMATS, NotAProductFile, readProducts, type Entry, type Format } from '../../../gateway/imports';

/** readProducts over every format: a stream's failure ends the reading with it (never a wait for an end that will not come). */

const FIXTURES = join(__dirname, 'fixtures');
const FILE_OF: Record<Format, string> = {
  'shopify-csv': 'products_export_classic.csv',
  'merchant-tsv': 'merchant-catalogue.tsv',
  'merchant-xml': 'merchant-catalogue.xml',
  // The project's own formats, made from the Shopify fixture's first products.
  jsonl: '',
  csv: '',
};
const OWN: Record<'jsonl' | 'csv', string> = {
  jsonl: '{"id": "p1", "images": ["https://shop.test/1.jpg"]}\n{"id": "p2", "images": ["https://shop.test/2.jpg"]}\n',
  csv: 'id,title,images\np1,One,https://shop.test/1.jpg\np2,Two,https://shop.test/2.jpg\n',
};
const bytesOf = (format: Format) =>
  format === 'jsonl' || format === 'csv' ? Buffer.from(OWN[format]) : readFileSync(join(FIXTURES, FILE_OF[format]));

async function readAll(entries: AsyncGenerator<Entry>): Promise<Entry[]> {
  const all: Entry[] = [];
  for await (const entry of entries) all.push(entry);
  return all;
}

describe('readProducts', () => {
  it.each(FORMATS.map((format) => [format]))('%s: reads products from a stream as from a file', async (format) => {
    const bytes = bytesOf(format);
    const entries = await readAll(readProducts(Readable.from([bytes]), `upload.${format}`, format));
    expect(entries.filter((e) => e.ok).length).toBeGreaterThan(0);
    if (format !== 'jsonl' && format !== 'csv') {
      const file = join(FIXTURES, FILE_OF[format]);
      expect(await readAll(readProducts(createReadStream(file), `upload.${format}`, format))).toEqual(entries);
    }
  });

  it.each(FORMATS.map((format) => [format]))('%s: a stream that fails halfway fails the reading with its error', async (format) => {
    const bytes = bytesOf(format);
    const failure = new Error('the upload was cut short');
    async function* halfThenFail() {
      yield bytes.subarray(0, Math.floor(bytes.length / 2));
      throw failure;
    }
    await expect(readAll(readProducts(Readable.from(halfThenFail()), `upload.${format}`, format))).rejects.toBe(failure);
  });

  it('refuses as a whole a file that cannot be read as a Shopify CSV before its header (a TSV feed)', async () => {
    const reading = readAll(readProducts(Readable.from([bytesOf('merchant-tsv')]), 'feed.tsv', 'shopify-csv'));
    await expect(reading).rejects.toThrow(NotAProductFile);
    await expect(reading).rejects.toThrow(/^feed\.tsv cannot be read as CSV: Invalid Opening Quote/);
  });
});
