import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Entry, ProductInput } from '../../../gateway/imports/entry';
import { readMerchantTsv as readTsv, readMerchantXml as readXml } from '../../../gateway/imports/merchant-feed';

const fixture = (name: string) => join(__dirname, 'fixtures', name);
const readMerchantTsv = (file: string) => readTsv(createReadStream(file), file);
const readMerchantXml = (file: string) => readXml(createReadStream(file));
const img = (name: string) => ({ url: `https://shop.test/img/${name}` });

async function readAll(entries: AsyncGenerator<Entry>): Promise<Entry[]> {
  const all: Entry[] = [];
  for await (const entry of entries) all.push(entry);
  return all;
}

const products = (entries: Entry[]): ProductInput[] => entries.flatMap((entry) => (entry.ok ? [entry.product] : []));
const failures = (entries: Entry[]) => entries.filter((entry) => !entry.ok);

// The catalogue both merchant-catalogue fixtures hold: ungrouped products in feed order, then the
// dress-7 group (its variants on three non-consecutive rows) at the end.
const MUG: ProductInput = {
  id: 'mug-1',
  title: 'Stoneware mug',
  description: 'Holds 350 ml\t"dishwasher safe" & microwave safe\nGlazed by hand.',
  images: [img('mug-1.jpg'), img('mug-2.jpg')],
  attributes: {
    googleProductCategory: 'Home & Garden > Kitchen & Dining > Tableware > Drinkware > Mugs',
    brand: 'Acme',
    link: 'https://shop.test/mug-1',
    color: 'white',
    material: 'stoneware',
  },
};
const POSTER: ProductInput = {
  id: 'poster-3',
  title: 'Harbour poster',
  description: 'Printed on matte paper.',
  images: [img('poster-3.png')],
  attributes: { productType: 'Art', link: 'https://shop.test/poster-3' },
};
const SOCK: ProductInput = {
  id: 'sock-2',
  title: 'Wool socks',
  description: 'Warm.',
  images: [img('sock-2.jpg'), img('sock-2%2Cback.jpg')],
  attributes: { gender: 'unisex', ageGroup: 'adult', link: 'https://shop.test/sock-2', color: 'grey', size: '42', material: 'wool' },
};
const DRESS: ProductInput = {
  id: 'dress-7',
  title: 'Linen dress',
  description: 'A <b>linen</b> dress & belt',
  // 12 distinct images across the variants (dress-red-1 three times): the first 10 in feed order.
  images: [1, 2, 3, 4, 5].map((i) => img(`dress-red-${i}.jpg`)).concat([1, 2, 3, 4, 5].map((i) => img(`dress-blue-${i}.jpg`))),
  attributes: {
    googleProductCategory: '2271',
    productType: 'Dresses > Summer',
    pattern: 'solid',
    gender: 'female',
    ageGroup: 'adult',
    brand: 'Acme',
    link: 'https://shop.test/dress-7',
    color: ['red', 'blue'],
    size: ['S', 'M', 'L'],
    material: 'linen',
  },
};

describe('readMerchantTsv', () => {
  it('reads the catalogue: ungrouped products at once, the group at the end, failures at their rows', async () => {
    const entries = await readAll(readMerchantTsv(fixture('merchant-catalogue.tsv')));
    expect(entries).toEqual([
      { line: 2, ok: true, product: MUG },
      { line: 5, ok: true, product: POSTER },
      { line: 8, ok: false, id: 'lamp-9', message: 'Item "lamp-9" has no image_link: a product needs at least one image.' },
      { line: 10, ok: false, message: 'The item has no id (id is missing or empty).' },
      { line: 11, ok: true, product: SOCK },
      { line: 4, ok: true, product: DRESS },
    ]);
  });

  it('refuses a header without id, title or image_link, naming the missing columns', async () => {
    await expect(readAll(readMerchantTsv(fixture('merchant-missing-columns.tsv')))).rejects.toThrow(
      /merchant-missing-columns\.tsv: the header row has no title, image_link columns; a Merchant Center TSV feed needs id, title and image_link/,
    );
  });

  it('fails a row with more fields than the header, and stops at a quote never closed, at the row it opens on', async () => {
    const entries = await readAll(readMerchantTsv(fixture('merchant-unclosed-quote.tsv')));
    expect(entries).toEqual([
      { line: 2, ok: true, product: { id: 'a1', title: 'One', description: 'Fine', images: [img('a1.jpg')] } },
      { line: 3, ok: false, message: 'The row has 6 fields; the header has 5.' },
      {
        line: 5,
        ok: false,
        message:
          'This row and the rest of the file cannot be read: Quote Not Closed: the parsing is finished with an opening quote at line 6. The 1 grouped product read so far is not imported: its variants may be incomplete.',
      },
    ]);
  });

  it('reads headers in the spreadsheet form "Name [attribute]", in any order', async () => {
    const entries = await readAll(readMerchantTsv(fixture('merchant-bracketed.tsv')));
    expect(entries).toEqual([{ line: 2, ok: true, product: { id: '1a', title: 'Red wool sweater', images: [img('sweater.jpg')] } }]);
  });
});

describe('readMerchantXml', () => {
  it('reads the catalogue (RSS 2.0): CDATA and entities, repeated additional images, failures at their <item>', async () => {
    const entries = await readAll(readMerchantXml(fixture('merchant-catalogue.xml')));
    expect(entries).toEqual([
      { line: 7, ok: true, product: MUG },
      { line: 43, ok: true, product: POSTER },
      { line: 74, ok: false, id: 'lamp-9', message: 'Item "lamp-9" has no image_link: a product needs at least one image.' },
      { line: 97, ok: false, message: 'The item has no id (id is missing or empty).' },
      { line: 103, ok: true, product: SOCK },
      { line: 22, ok: true, product: DRESS },
    ]);
  });

  it('gives the same products and failures as the TSV of the same catalogue', async () => {
    const tsv = await readAll(readMerchantTsv(fixture('merchant-catalogue.tsv')));
    const xml = await readAll(readMerchantXml(fixture('merchant-catalogue.xml')));
    expect(products(xml)).toEqual(products(tsv));
    expect(failures(xml).map(({ line: _line, ...rest }) => rest)).toEqual(failures(tsv).map(({ line: _line, ...rest }) => rest));
  });

  it('reads Atom 1.0: <id>, <title>, <summary> and <link href>, ignoring nested g: elements', async () => {
    const entries = await readAll(readMerchantXml(fixture('merchant-atom.xml')));
    expect(entries).toEqual([
      {
        line: 6,
        ok: true,
        product: {
          id: '1a',
          title: 'Red wool sweater',
          description: 'Comfortable and soft.',
          images: [img('sweater.jpg'), img('sweater-back.jpg')],
          attributes: { link: 'https://shop.test/item1-info-page.html', color: 'red' },
        },
      },
    ]);
  });

  it('stops at a malformed document with one failure naming the line and the parser message', async () => {
    const entries = await readAll(readMerchantXml(fixture('merchant-malformed.xml')));
    expect(entries).toHaveLength(2);
    expect(entries[0]).toEqual({
      line: 4,
      ok: true,
      product: { id: 'cup-1', title: 'Paper cup', images: [img('cup-1.jpg')] },
    });
    expect(entries[1]).toMatchObject({ line: 16, ok: false });
    const { message } = entries[1] as { message: string };
    expect(message).toBe(
      'The XML is malformed: 16:35: unexpected close tag (the last item read whole starts at line 9). The 1 grouped product read so far is not imported: its variants may be incomplete.',
    );
  });

  it('reports a bare & where saxes does: at the end of the document, after the last item read whole', async () => {
    const entries = await readAll(readMerchantXml(fixture('merchant-bare-ampersand.xml')));
    expect(entries).toEqual([
      { line: 4, ok: true, product: { id: 'plate-1', title: 'Plate', images: [img('plate-1.jpg')] } },
      {
        line: 16,
        ok: false,
        message: 'The XML is malformed: 16:0: unclosed tag: g:title (the last item read whole starts at line 4).',
      },
    ]);
  });
});
