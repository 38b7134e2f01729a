import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { GoogleMapping } from '../../../tools/shopify';

const gid = (id: string) => `gid://shopify/TaxonomyCategory/${id}`;

describe('tools/shopify/google-mapping.ts', () => {
  describe("the repository's Shopify 2025-08 to Google 2021-09-21 mapping", () => {
    const mapping = GoogleMapping.load();

    it('maps known Shopify categories to the Google ids their mapped paths have', () => {
      // taxonomies/: aa-1-13-8 "Apparel & Accessories > Clothing > Clothing Tops > T-Shirts" ⇒
      // "Apparel & Accessories > Clothing > Shirts & Tops", which is "212 - ..." in Google's file.
      expect(mapping.shopifyPath(gid('aa-1-13-8'))).toBe('Apparel & Accessories > Clothing > Clothing Tops > T-Shirts');
      expect(mapping.googleId(gid('aa-1-13-8'))).toBe('212');
      expect(mapping.googleId(gid('aa-1-4'))).toBe('2271'); // Dresses
      expect(mapping.googleId(gid('aa-8-3'))).toBe('187'); // Boots ⇒ Apparel & Accessories > Shoes
      expect(mapping.googleId(gid('ap-2-1'))).toBe('3'); // Bird Supplies
    });

    it("takes a Google id as it is when Google's taxonomy has it, and gives nothing for what maps nowhere", () => {
      expect(mapping.googleId('212')).toBe('212');
      expect(mapping.googleId('999999')).toBeUndefined();
      expect(mapping.googleId(gid('zz-1'))).toBeUndefined();
      expect(mapping.googleId(gid('bu'))).toBeUndefined(); // Bundles: Shopify maps it to nothing
      expect(mapping.unresolvedMappings()).toEqual([]);
    });
  });

  describe('files of its own', () => {
    let dir: string;
    beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'google-mapping-'))));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const files = (categories: string, mapping: string, google: string) => {
      writeFileSync(join(dir, 'categories.txt'), categories);
      writeFileSync(join(dir, 'mapping.txt'), mapping);
      writeFileSync(join(dir, 'google.txt'), google);
      return { categories: join(dir, 'categories.txt'), mapping: join(dir, 'mapping.txt'), google: join(dir, 'google.txt') };
    };

    it("gives a category Shopify's mapping leaves out the Google category of its nearest mapped ancestor", () => {
      const mapping = GoogleMapping.load(
        files(
          `# c\n${gid('aa')} : Apparel\n${gid('aa-1')} : Apparel > Clothing\n${gid('aa-1-9')} : Apparel > Clothing > Capes\n`,
          '→ Apparel\n⇒ Apparel & Accessories\n\n→ Apparel > Clothing\n⇒ Apparel & Accessories > Clothing\n',
          '166 - Apparel & Accessories\n1604 - Apparel & Accessories > Clothing\n',
        ),
      );
      expect(mapping.googleId(gid('aa-1-9'))).toBe('1604');
      expect(mapping.googleId(gid('aa'))).toBe('166');
    });

    it('names the file and the line of a line not in its format', () => {
      expect(() => GoogleMapping.load(files(`${gid('aa')} Apparel\n`, '', ''))).toThrow(
        `${join(dir, 'categories.txt')}:1: not "gid://shopify/TaxonomyCategory/... : path": "gid://shopify/TaxonomyCategory/aa Apparel"`,
      );
      expect(() => GoogleMapping.load(files('', '→ A\n→ B\n⇒ C\n', ''))).toThrow(
        `${join(dir, 'mapping.txt')}:1: "→ A" has no "⇒" line after it`,
      );
      expect(() => GoogleMapping.load(files('', '', '# v\n166 Apparel\n'))).toThrow(
        `${join(dir, 'google.txt')}:2: not "ID - path": "166 Apparel"`,
      );
    });
  });
});
