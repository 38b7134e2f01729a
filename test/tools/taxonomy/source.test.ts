import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { bundledTaxonomyDir } from '../../../gateway/catalogue';
import { guessFormat } from '../../../tools/taxonomy';

describe('guessFormat', () => {
  it("tells the published files apart by their opening comment, whatever their first categories' shape", () => {
    const opening = (file: string) => readFileSync(join(bundledTaxonomyDir(), file), 'utf8').slice(0, 2000);
    expect(guessFormat(opening('shopify-2025-08/categories.txt'))).toBe('shopify');
    expect(guessFormat(opening('google-2021-09-21/taxonomy-with-ids.en-US.txt'))).toBe('google');
  });

  it('tells a file without a comment by its first category line, past a byte-order mark, blank lines and Windows line ends', () => {
    expect(guessFormat('\uFEFF\r\n\r\ngid://shopify/TaxonomyCategory/aa : Apparel\r\n')).toBe('shopify');
    expect(guessFormat('# my own list\n\n212 - Apparel > Shirts\n')).toBe('google');
    expect(guessFormat('Apparel > Shirts\n212 - Apparel\n')).toBeUndefined();
    expect(guessFormat('')).toBeUndefined();
  });
});
