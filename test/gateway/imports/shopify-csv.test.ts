import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Entry } from '../../../gateway/imports/entry';
import { readShopifyCsv } from '../../../gateway/imports/shopify-csv';
import { plainText } from '../../../gateway/imports/shopify-product';

// The fixtures are one catalogue exported under each of Shopify's header generations, columns in
// Shopify's order: linen-shirt (4 variants over Color and Size, its images out of position order,
// one image twice, one without a position, variant images), gallery-vase (12 images, listed last
// position first; no options), a row without a handle, and gift-card (no image at all).
const FIXTURES = path.join(__dirname, 'fixtures');
const CLASSIC = path.join(FIXTURES, 'products_export_classic.csv');
const NEWER = path.join(FIXTURES, 'products_export_newer.csv');
const CDN = 'https://cdn.shopify.com/s/files/1/0612/3456/7890/files/';

async function read(file: string): Promise<Entry[]> {
  const entries: Entry[] = [];
  for await (const entry of readShopifyCsv(createReadStream(file), file)) entries.push(entry);
  return entries;
}

const EXPECTED: Entry[] = [
  {
    line: 2,
    ok: true,
    product: {
      id: 'linen-shirt',
      title: 'Linen Shirt',
      description: 'Breathable linen, cut loose & easy. 100% European linen Shell buttons, sizes S, M',
      images: ['shirt-front.jpg', 'shirt-back.jpg', 'shirt-detail.jpg', 'shirt-flat.jpg', 'shirt-navy.jpg'].map((name) => ({
        url: CDN + name,
      })),
      attributes: {
        tags: ['linen', 'summer', 'shirts'],
        productCategory: 'Apparel & Accessories > Clothing > Clothing Tops > Shirts',
        type: 'Shirts',
        vendor: 'Fieldhouse',
        status: 'active',
        options: { Color: ['Sand', 'Navy'], Size: ['S', 'M'] },
      },
    },
  },
  {
    line: 12,
    ok: true,
    product: {
      id: 'gallery-vase',
      title: 'Gallery Vase \u2013 Celadon',
      description: 'Hand-thrown, with a "celadon" glaze\u2014each one slightly different.',
      images: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => ({ url: `${CDN}vase-${String(n).padStart(2, '0')}.jpg` })),
      attributes: {
        tags: ['ceramics', 'home'],
        productCategory: 'gid://shopify/TaxonomyCategory/hg-3-74',
        type: 'Vases',
        vendor: 'Atelier Ro',
        status: 'draft',
      },
    },
  },
  { line: 24, ok: false, message: 'the row has no handle (Handle / URL handle), so it belongs to no product' },
  { line: 25, ok: false, id: 'gift-card', message: "no image: Shopify's rows for this handle have no Image Src / Product image URL" },
];

describe('readShopifyCsv', () => {
  it('reads the classic header (Handle, Body (HTML), Image Src, ...) into one product per handle', async () => {
    expect(await read(CLASSIC)).toEqual(EXPECTED);
  });

  it('reads the newer header (URL handle, Description, Product image URL, ...) into the same products', async () => {
    expect(await read(NEWER)).toEqual(EXPECTED);
  });

  it('gives the same entries for both generations of one catalogue', async () => {
    const [classic, newer] = await Promise.all([read(CLASSIC), read(NEWER)]);
    expect(newer).toEqual(classic);
    expect(classic.filter((entry) => entry.ok)).toHaveLength(2);
  });

  describe('files written for one case each', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'shopify-csv-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const write = (name: string, text: string) => {
      const file = path.join(dir, name);
      writeFileSync(file, text);
      return file;
    };
    const HEADER = 'Handle,Title,Body (HTML),Image Src,Image Position,Variant Image\n';

    it('refuses a header of neither generation, naming the columns each lacks', async () => {
      const file = write('orders.csv', 'Name,Email,Image Src\n#1001,a@example.com,\n');
      await expect(read(file)).rejects.toThrow(
        `${file} is not a Shopify product CSV: its header lacks Handle, Title, Body (HTML), Image Position (Shopify's classic header), or URL handle, Title, Description, Product image URL, Image position (Shopify's newer header).`,
      );
    });

    it('matches the header whatever its case and surrounding spaces, and reads a byte-order mark', async () => {
      const file = write(
        'case.csv',
        '\ufeff HANDLE ,title,body (html),IMAGE SRC,image position\nmug,Mug,<b>Stoneware</b>,https://x.test/mug.jpg,1\n',
      );
      expect(await read(file)).toEqual([
        { line: 2, ok: true, product: { id: 'mug', title: 'Mug', description: 'Stoneware', images: [{ url: 'https://x.test/mug.jpg' }] } },
      ]);
    });

    it('fails a row whose field count differs from the header with its line, and reads the rows around it', async () => {
      const file = write(
        'width.csv',
        `${HEADER}mug,Mug,,https://x.test/1.jpg,1,\nmug,,,https://x.test/2.jpg,2\nmug,,,https://x.test/3.jpg,3,\n`,
      );
      expect(await read(file)).toEqual([
        {
          line: 2,
          ok: true,
          product: { id: 'mug', title: 'Mug', images: [{ url: 'https://x.test/1.jpg' }, { url: 'https://x.test/3.jpg' }] },
        },
        { line: 3, ok: false, message: 'the row has 5 fields; the header has 6' },
      ]);
    });

    it('fails a row whose image position is not a whole number, naming the value', async () => {
      const file = write('position.csv', `${HEADER}mug,Mug,,https://x.test/1.jpg,first,\nmug,,,https://x.test/2.jpg,2,\n`);
      expect(await read(file)).toEqual([
        { line: 2, ok: true, product: { id: 'mug', title: 'Mug', images: [{ url: 'https://x.test/2.jpg' }] } },
        {
          line: 2,
          ok: false,
          id: 'mug',
          message: 'the image position is not a whole number from 1: "first"; the row\'s image is left out',
        },
      ]);
    });

    it('fails the rows of a handle that comes back after another product', async () => {
      const file = write(
        'apart.csv',
        `${HEADER}mug,Mug,,https://x.test/m.jpg,1,\nbowl,Bowl,,https://x.test/b.jpg,1,\nmug,,,https://x.test/m2.jpg,2,\n`,
      );
      expect(await read(file)).toEqual([
        { line: 2, ok: true, product: { id: 'mug', title: 'Mug', images: [{ url: 'https://x.test/m.jpg' }] } },
        { line: 3, ok: true, product: { id: 'bowl', title: 'Bowl', images: [{ url: 'https://x.test/b.jpg' }] } },
        { line: 4, ok: false, id: 'mug', message: "the handle's rows are not together: it appeared earlier, before other products" },
      ]);
    });

    it('stops at a quote that never closes, failing the product still open and naming the line', async () => {
      const file = write('quote.csv', `${HEADER}mug,Mug,,https://x.test/m.jpg,1,\nbowl,Bowl,"<p>never closed,https://x.test/b.jpg,1,\n`);
      const entries = await read(file);
      expect(entries).toEqual([
        { line: 2, ok: false, id: 'mug', message: 'its rows end where the file cannot be read (line 3)' },
        {
          line: 3,
          ok: false,
          message: `${file} cannot be read from here as CSV: Quote Not Closed: the parsing is finished with an opening quote at line 3`,
        },
      ]);
    });

    it('refuses an empty file', async () => {
      const file = write('empty.csv', '');
      await expect(read(file)).rejects.toThrow(`${file} is empty: a Shopify product CSV starts with a header row.`);
    });
  });
});

describe('plainText', () => {
  it('drops tags, scripts and comments, decodes entities once, and collapses whitespace', () => {
    expect(
      plainText(
        '<h2>Care</h2>\n<p>Wash&nbsp;cold &amp; dry flat.<!-- note --></p><script>alert(1)</script><p>&lt;b&gt; is text &#x2713; &#169; &unknown;</p>',
      ),
    ).toBe('Care Wash cold & dry flat. <b> is text \u2713 \u00a9 &unknown;');
  });
});
