import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parseGoogleTaxonomy, parseShopifyCategories } from '../../../../gateway/catalogue/tree/parse';
import { leavesOf, pathOf, type TaxonomyTree } from '../../../../gateway/catalogue/tree/tree';

const ROOT = join(__dirname, '..', '..', '..', '..');
const fixture = (name: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'taxonomy', name), 'utf8');
const GID = 'gid://shopify/TaxonomyCategory/';

/** Each node as `id parent-id depth name`, in order: the whole shape of a small tree in one comparison. */
const shape = (tree: TaxonomyTree) => tree.nodes.map((n) => `${n.id} ${n.parent < 0 ? '-' : tree.nodes[n.parent].id} ${n.depth} ${n.name}`);

const levelSizes = (tree: TaxonomyTree) => {
  const sizes: number[] = [];
  for (const node of tree.nodes) sizes[node.depth - 1] = (sizes[node.depth - 1] ?? 0) + 1;
  return sizes;
};

describe("parseShopifyCategories (Shopify's categories.txt)", () => {
  it('reads every category in file order, ids the GIDs, comments and blank lines skipped, repeated names under their own parents', () => {
    const tree = parseShopifyCategories(fixture('shopify-small.txt'));
    expect(shape(tree).map((s) => s.replaceAll(GID, ''))).toEqual([
      'aa - 1 Apparel & Accessories',
      'aa-1 aa 2 Clothing',
      'aa-1-1 aa-1 3 Activewear',
      'aa-1-1-2 aa-1-1 4 Activewear Tops',
      'aa-1-1-2-2 aa-1-1-2 5 T-Shirts',
      'aa-1-13 aa-1 3 Clothing Tops',
      'aa-1-13-8 aa-1-13 4 T-Shirts',
      'aa-8 aa 2 Shoes',
      'aa-8-3 aa-8 3 Boots',
      'ap - 1 Animals & Pet Supplies',
      'ap-1 ap 2 Live Animals',
    ]);
    expect(tree.roots).toEqual([0, 9]);
    expect(tree.nodes[1].children).toEqual([2, 5]);
    expect(tree.nodes.map((n) => n.line)).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(pathOf(tree, 6)).toEqual(['Apparel & Accessories', 'Clothing', 'Clothing Tops', 'T-Shirts']);
  });

  it('keeps the subtree of --root, given as a GID or its short form, and --depth levels counted from the top of the result', () => {
    const text = fixture('shopify-small.txt');
    const ids = (tree: TaxonomyTree) => tree.nodes.map((n) => n.id.replace(GID, ''));
    expect(ids(parseShopifyCategories(text, { root: 'aa-1' }))).toEqual([
      'aa-1',
      'aa-1-1',
      'aa-1-1-2',
      'aa-1-1-2-2',
      'aa-1-13',
      'aa-1-13-8',
    ]);
    expect(ids(parseShopifyCategories(text, { root: `${GID}aa-8` }))).toEqual(['aa-8', 'aa-8-3']);
    const clothing = parseShopifyCategories(text, { root: 'aa-1', depth: 2 });
    expect(shape(clothing).map((s) => s.replaceAll(GID, ''))).toEqual([
      'aa-1 - 1 Clothing',
      'aa-1-1 aa-1 2 Activewear',
      'aa-1-13 aa-1 2 Clothing Tops',
    ]);
    expect(clothing.roots).toEqual([0]);
    expect(ids(parseShopifyCategories(text, { depth: 1 }))).toEqual(['aa', 'ap']);
    expect(ids(parseShopifyCategories(text, { root: 'aa-8-3' }))).toEqual(['aa-8-3']);
  });

  it('refuses an unknown --root and a depth under 1, naming the value', () => {
    const text = fixture('shopify-small.txt');
    expect(() => parseShopifyCategories(text, { root: 'zz' })).toThrow(`root "${GID}zz" is not the id of any category in this taxonomy.`);
    expect(() => parseShopifyCategories(text, { depth: 0 })).toThrow('depth must be a positive integer, got 0');
    expect(() => parseShopifyCategories(text, { depth: 1.5 })).toThrow('depth must be a positive integer, got 1.5');
  });

  it.each([
    [
      'shopify-bad-line.txt',
      'line 7: expected "gid://shopify/TaxonomyCategory/<id> : <path>", found "gid://shopify/TaxonomyCategory/aa-1-1-2 Apparel',
    ],
    ['shopify-orphan.txt', 'line 11: the parent of aa-8-3, aa-8, does not appear before it.'],
    [
      'shopify-wrong-parent.txt',
      "line 10: the path's parent (Apparel & Accessories > Clothing > Activewear) differs from the path of the id's parent aa-1-13 on line 9 (Apparel & Accessories > Clothing > Clothing Tops).",
    ],
    ['shopify-repeated-id.txt', `line 12: the id ${GID}aa-1-13-8 repeats line 10.`],
  ])('refuses %s at the line at fault: %s', (file, message) => {
    expect(() => parseShopifyCategories(fixture(file))).toThrow(message);
    expect(() => parseShopifyCategories(fixture(file))).toThrow(expect.objectContaining({ name: 'TaxonomyParseError' }));
  });

  it('refuses a path whose length disagrees with its id, an empty name, a name past 200 characters and a repeated path', () => {
    const line = (short: string, path: string) => `${GID}${short} : ${path}`;
    expect(() => parseShopifyCategories([line('aa', 'A'), line('aa-1', 'A > B > C')].join('\n'))).toThrow(
      'line 2: the path has 3 names but the id aa-1 is at level 2.',
    );
    expect(() => parseShopifyCategories([line('aa', 'A'), line('aa-1', 'A >  > C')].join('\n'))).toThrow(
      "line 2: the path's name 2 is empty.",
    );
    const long = 'x'.repeat(201);
    expect(() => parseShopifyCategories(`# c\n${line('aa', long)}`)).toThrow(
      "line 2: the path's name 1 has 201 characters; the limit is 200.",
    );
    expect(parseShopifyCategories(line('aa', 'x'.repeat(200))).nodes[0].name).toHaveLength(200);
    expect(() => parseShopifyCategories([line('aa', 'A'), line('aa-1', 'A > B'), line('aa-2', 'A > B')].join('\n'))).toThrow(
      'line 3: the path A > B repeats line 2.',
    );
  });

  it('reads Windows line ends and a byte-order mark as the same file', () => {
    const text = fixture('shopify-small.txt');
    expect(shape(parseShopifyCategories(`\uFEFF${text.replaceAll('\n', '\r\n')}`))).toEqual(shape(parseShopifyCategories(text)));
  });

  it('reads the shipped 2025-08 file whole: 10,595 categories in 26 trees, 8 levels, one parent of 80', () => {
    const tree = parseShopifyCategories(readFileSync(join(ROOT, 'taxonomies', 'shopify-2025-08', 'categories.txt'), 'utf8'));
    expect(tree.nodes).toHaveLength(10_595);
    expect(tree.roots).toHaveLength(26);
    expect(levelSizes(tree)).toEqual([26, 211, 1467, 3724, 3431, 1300, 386, 50]);
    const fanOuts = tree.nodes.map((n) => n.children.length);
    expect(Math.max(...fanOuts)).toBe(80);
    expect(tree.nodes.filter((n) => n.children.length === 80).map((n) => n.name)).toEqual(['Tools']);
    // Names repeat under different parents; paths run past the 200 characters of a flat label.
    expect(tree.nodes.filter((n) => n.name === 'T-Shirts').map((n) => n.id.replace(GID, ''))).toEqual([
      'aa-1-1-2-2',
      'aa-1-2-9-7',
      'aa-1-13-8',
      'aa-1-7-8-8',
      'ae-2-2-10-1-15',
    ]);
    const longest = Math.max(...tree.nodes.map((_, i) => pathOf(tree, i).join(' > ').length));
    expect(longest).toBeGreaterThan(200);
    expect(leavesOf(tree).length + tree.nodes.filter((n) => n.children.length > 0).length).toBe(10_595);
    const apparel = parseShopifyCategories(readFileSync(join(ROOT, 'taxonomies', 'shopify-2025-08', 'categories.txt'), 'utf8'), {
      root: 'aa',
      depth: 2,
    });
    expect(apparel.nodes[0].name).toBe('Apparel & Accessories');
    expect(levelSizes(apparel)).toEqual([1, tree.nodes[tree.roots.find((r) => tree.nodes[r].id === `${GID}aa`)!].children.length]);
  });
});

describe("parseGoogleTaxonomy (Google's taxonomy-with-ids)", () => {
  it('reads every category in file order, ids the numbers, the parent found by its path, repeated names under their own parents', () => {
    const tree = parseGoogleTaxonomy(fixture('google-small.txt'));
    expect(shape(tree)).toEqual([
      '1 - 1 Animals & Pet Supplies',
      '3237 1 2 Live Animals',
      '166 - 1 Apparel & Accessories',
      '1604 166 2 Clothing',
      '5322 1604 3 Activewear',
      '212 1604 3 Shirts & Tops',
      '187 166 2 Shoes',
      '5 187 3 Activewear',
    ]);
    expect(tree.roots).toEqual([0, 2]);
    expect(tree.nodes[0].line).toBe(2);
  });

  it('keeps the subtree of --root by its number, and --depth', () => {
    const text = fixture('google-small.txt');
    expect(shape(parseGoogleTaxonomy(text, { root: '166', depth: 2 }))).toEqual([
      '166 - 1 Apparel & Accessories',
      '1604 166 2 Clothing',
      '187 166 2 Shoes',
    ]);
    expect(() => parseGoogleTaxonomy(text, { root: '999' })).toThrow('root "999" is not the id of any category in this taxonomy.');
    expect(() => parseGoogleTaxonomy(text, { depth: -1 })).toThrow('depth must be a positive integer, got -1');
  });

  it.each([
    ['google-bad-line.txt', 'line 6: expected "<number> - <path>", found "1604 Apparel & Accessories > Clothing".'],
    ['google-orphan.txt', 'line 5: its parent path (Apparel & Accessories > Clothing) does not appear before it.'],
    ['google-repeated-id.txt', 'line 9: the id 1604 repeats line 5.'],
  ])('refuses %s at the line at fault: %s', (file, message) => {
    expect(() => parseGoogleTaxonomy(fixture(file))).toThrow(message);
  });

  it('refuses a repeated path, whose children could not be placed', () => {
    expect(() => parseGoogleTaxonomy('1 - A\n2 - A > B\n3 - A > B')).toThrow('line 3: the path A > B repeats line 2.');
  });

  it('reads the shipped 2021-09-21 file whole: 5,595 categories in 21 trees', () => {
    const tree = parseGoogleTaxonomy(readFileSync(join(ROOT, 'taxonomies', 'google-2021-09-21', 'taxonomy-with-ids.en-US.txt'), 'utf8'));
    expect(tree.nodes).toHaveLength(5_595);
    expect(tree.roots).toHaveLength(21);
    expect(tree.nodes.find((n) => n.id === '212')).toMatchObject({ name: 'Shirts & Tops', depth: 3 });
    expect(
      pathOf(
        tree,
        tree.nodes.findIndex((n) => n.id === '212'),
      ),
    ).toEqual(['Apparel & Accessories', 'Clothing', 'Shirts & Tops']);
  });
});
