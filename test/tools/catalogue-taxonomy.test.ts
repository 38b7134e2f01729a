import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parseGoogleTaxonomy, readBundledTaxonomy } from '../../gateway/catalogue';
import { runBuiltTool } from '../helpers/built-tool';
import { startGateway, type RunningGateway } from '../helpers/gateway';

/** `npm run catalogue -- ARGS`, built. */
const run = (args: string[]) => runBuiltTool('catalogue.js', args);

const TAXONOMY = `{ taxonomy { version facets { name mode labels templates threshold reviewBelow
  tree { source format root depth categories beamWidth contextTemplate } } } }`;
const SET = `mutation ($f: [FacetInput!]!) { taxonomySet(facets: $f) { taxonomy { version } userErrors { message } } }`;

interface Facet {
  name: string;
  mode: string;
  labels: string[];
  templates: string[];
  threshold: number | null;
  reviewBelow: number | null;
  tree: { source: string; format: string; root: string | null; depth: number | null; categories: number; beamWidth: number } | null;
}

/** `npm run catalogue -- taxonomy` against a real gateway on loopback. */
describe('tools/catalogue.ts taxonomy', () => {
  let gw: RunningGateway;
  let dir: string;
  let url: string;
  const colour = {
    name: 'colour',
    mode: 'MULTI',
    labels: ['red', 'green', 'blue'],
    templates: ['a photo of something {}.', 'a {} thing.'],
    threshold: 0.4,
    reviewBelow: 0.2,
  };

  beforeAll(async () => {
    gw = await startGateway();
    url = `${gw.origin}/graphql`;
    dir = mkdtempSync(join(tmpdir(), 'catalogue-taxonomy-'));
  });
  afterAll(async () => {
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const taxonomy = async () => {
    const answer = await gw.graphql<{ taxonomy: { version: number; facets: Facet[] } | null }>(TAXONOMY);
    expect(answer.errors).toBeUndefined();
    return answer.data!.taxonomy;
  };
  const setFacets = async (facets: object[]) => {
    const answer = await gw.graphql<{ taxonomySet: { userErrors: unknown[] } }>(SET, { f: facets });
    expect(answer.data!.taxonomySet.userErrors).toEqual([]);
  };

  it("sets the bundled Google taxonomy's subtree under --root to --depth as a TREE facet, keeping the other facets as they were", async () => {
    await setFacets([colour]);
    const before = await taxonomy();
    const expected = parseGoogleTaxonomy(readBundledTaxonomy('google-2021-09-21')!.text, { root: '1', depth: 3 });
    const refused = await run([
      'taxonomy',
      '--bundled',
      'google-2021-09-21',
      '--facet',
      'category',
      '--root',
      '1',
      '--depth',
      '2',
      '--url',
      url,
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('the taxonomy has other facets besides category (colour): --keep-facets');
    expect((await taxonomy())!.version).toBe(before!.version);

    const args = ['taxonomy', '--bundled', 'google-2021-09-21', '--facet', 'category', '--root', '1', '--depth', '3', '--beam', '3'];
    const { code, stdout, stderr } = await run([...args, '--keep-facets', '--url', url]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toContain(
      `the facet category is google-2021-09-21 (under 1, 3 levels at most), ${expected.nodes.length} categories in 3 levels, beam 3.`,
    );
    expect(stdout).toContain('Kept as they were: colour.');
    const after = (await taxonomy())!;
    expect(after.version).toBe(before!.version + 1);
    expect(after.facets[0]).toEqual(before!.facets[0]);
    expect(after.facets[1]).toMatchObject({
      name: 'category',
      mode: 'TREE',
      labels: expected.nodes.map((n) => n.id),
      tree: { source: 'google-2021-09-21', format: 'google', root: '1', depth: 3, categories: expected.nodes.length, beamWidth: 3 },
    });

    // Set again from a deeper part, the bundled tree facet and the flat one go again unchanged, in their places.
    const shopify = await run(['taxonomy', '--bundled', 'shopify-2025-08', '--facet', 'shopify', '--root', 'aa-1', '--url', url]);
    expect(shopify.code).toBe(2); // other facets, and neither flag
    const added = await run([
      'taxonomy',
      '--bundled',
      'shopify-2025-08',
      '--facet',
      'shopify',
      '--root',
      'aa-1',
      '--depth',
      '2',
      '--no-context',
      '--keep-facets',
      '--url',
      url,
    ]);
    expect(added).toMatchObject({ code: 0, stdout: expect.stringContaining('Kept as they were: colour, category.') });
    const three = (await taxonomy())!;
    expect(three.facets.slice(0, 2)).toEqual(after.facets);
    expect(three.facets[2]).toMatchObject({
      name: 'shopify',
      labels: expect.arrayContaining(['gid://shopify/TaxonomyCategory/aa-1', 'gid://shopify/TaxonomyCategory/aa-1-1']),
      tree: { source: 'shopify-2025-08', root: 'aa-1', depth: 2, contextTemplate: null },
    });

    const dropped = await run([
      'taxonomy',
      '--bundled',
      'google-2021-09-21',
      '--facet',
      'category',
      '--root',
      '1',
      '--depth',
      '1',
      '--drop-facets',
      '--url',
      url,
    ]);
    expect(dropped).toMatchObject({ code: 0, stdout: expect.stringContaining('Left out: colour, shopify.') });
    expect((await taxonomy())!.facets.map((f) => [f.name, f.tree?.categories])).toEqual([['category', 1]]);
  }, 60_000);

  it("keeps a Shopify tree's attribute facets by sending its attributes again, for its own replacement too", async () => {
    const ATTRIBUTE_FACETS = `{ taxonomy { facets { name labels reviewBelow attribute { handle } under { facet categories } } } }`;
    const attributeFacets = async () =>
      (
        await gw.graphql<{ taxonomy: { facets: { name: string; attribute: object | null }[] } }>(ATTRIBUTE_FACETS)
      ).data!.taxonomy.facets.filter((f) => f.attribute);
    await setFacets([
      colour,
      {
        name: 'category',
        mode: 'TREE',
        tree: { bundled: 'shopify-2025-08', root: 'aa-1-13', depth: 2 },
        attributes: { only: ['color', 'neckline'], reviewBelow: 0.3 },
      },
    ]);
    const made = await attributeFacets();
    expect(made.map((f) => f.name)).toEqual(['color', 'neckline']);

    // Another tree added: the attribute facets go again as category's attributes, not as facets of their own.
    const added = await run([
      'taxonomy',
      '--bundled',
      'google-2021-09-21',
      '--facet',
      'google',
      '--root',
      '1',
      '--depth',
      '2',
      '--keep-facets',
      '--url',
      url,
    ]);
    expect({ code: added.code, stderr: added.stderr }).toEqual({ code: 0, stderr: '' });
    expect(await attributeFacets()).toEqual(made);
    expect((await taxonomy())!.facets.map((f) => f.name)).toEqual(['colour', 'category', 'google', 'color', 'neckline']);

    // The tree itself replaced (a larger part): its attributes come with it, over its new categories.
    const replaced = await run([
      'taxonomy',
      '--bundled',
      'shopify-2025-08',
      '--facet',
      'category',
      '--root',
      'aa-1',
      '--depth',
      '3',
      '--keep-facets',
      '--url',
      url,
    ]);
    expect({ code: replaced.code, stderr: replaced.stderr }).toEqual({ code: 0, stderr: '' });
    const after = (
      await gw.graphql<{ taxonomy: { facets: { name: string; reviewBelow: number | null; under: { categories: string[] } | null }[] } }>(
        ATTRIBUTE_FACETS,
      )
    ).data!.taxonomy.facets;
    const colourAfter = after.find((f) => f.name === 'color')!;
    expect(colourAfter.reviewBelow).toBe(0.3);
    expect(colourAfter.under!.categories.length).toBeGreaterThan(
      (made[0] as unknown as { under: { categories: string[] } }).under.categories.length,
    );
  });

  it('reports a bad line of a file with its line number and sends nothing', async () => {
    await setFacets([colour]);
    const before = (await taxonomy())!;
    const file = join(dir, 'categories.txt');
    writeFileSync(
      file,
      [
        '# Shopify Product Taxonomy - Categories: test',
        'gid://shopify/TaxonomyCategory/aa   : Apparel',
        'gid://shopify/TaxonomyCategory/aa-1 : Apparel > Clothing',
        'gid://shopify/TaxonomyCategory/aa-2-1 : Apparel > Shoes > Boots',
        '',
      ].join('\n'),
    );
    const { code, stderr } = await run(['taxonomy', file, '--facet', 'category', '--keep-facets', '--url', url]);
    expect(code).toBe(1);
    expect(stderr).toContain(`${file} (shopify format): line 4: the parent of aa-2-1, aa-2, does not appear before it. Nothing was sent.`);
    expect((await taxonomy())!.version).toBe(before.version);
    // Checked before any request: a gateway that is not there is never reached.
    const offline = await run(['taxonomy', file, '--facet', 'category', '--url', 'http://127.0.0.1:9/graphql']);
    expect(offline).toMatchObject({ code: 1, stderr: expect.stringContaining('line 4: the parent of aa-2-1') });
    const unknown = join(dir, 'unknown.txt');
    writeFileSync(unknown, 'Apparel > Shoes\n');
    expect(await run(['taxonomy', unknown, '--facet', 'category', '--url', url])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('give --format shopify or --format google'),
    });
    expect(
      await run(['taxonomy', '--bundled', 'google-2021-09-21', '--facet', 'category', '--root', '999999999', '--url', url]),
    ).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('--root "999999999" is not the id of any category'),
    });
  });

  it("takes a file's format from its first lines, and will not drop a facet made from a file's text by keeping it", async () => {
    const file = join(dir, 'shapes.txt');
    writeFileSync(file, ['1 - shape', '2 - shape > circle', '3 - shape > square', '4 - shape > square > red square', ''].join('\n'));
    const { code, stdout } = await run(['taxonomy', file, '--facet', 'shapes', '--drop-facets', '--url', url]);
    expect(code).toBe(0);
    expect(stdout).toContain('4 categories in 3 levels');
    const set = (await taxonomy())!;
    expect(set.facets).toEqual([
      expect.objectContaining({ name: 'shapes', tree: expect.objectContaining({ source: 'text', format: 'google' }) }),
    ]);
    const kept = await run([
      'taxonomy',
      '--bundled',
      'google-2021-09-21',
      '--facet',
      'category',
      '--root',
      '1',
      '--depth',
      '1',
      '--keep-facets',
      '--url',
      url,
    ]);
    expect(kept.code).toBe(1);
    expect(kept.stderr).toContain(`the facet "shapes" is a tree from a file's text`);
    expect(kept.stderr).toContain('Nothing was sent.');
    expect((await taxonomy())!.version).toBe(set.version);
  });

  it('says what is wrong with its arguments', async () => {
    const usage = async (args: string[], message: string) =>
      expect(await run(['taxonomy', ...args])).toMatchObject({ code: 2, stderr: expect.stringContaining(message) });
    await usage(['--facet', 'c'], 'taxonomy needs a taxonomy: FILE or --bundled NAME, not both.');
    await usage(['--bundled', 'google-2021-09-21'], '--facet NAME is needed');
    await usage(['--bundled', 'google-2021-09-21', '--facet', 'c', '--depth', '0'], '--depth must be an integer from 1 to 100, got "0".');
    await usage(['--bundled', 'google-2021-09-21', '--facet', 'c', '--beam', 'wide'], '--beam must be an integer from 1 to 1000');
    await usage(['x.txt', '--facet', 'c', '--format', 'excel'], '--format must be shopify or google, got "excel".');
    await usage(['--bundled', 'google-2021-09-21', '--facet', 'c', '--keep-facets', '--drop-facets'], 'contradict each other');
    expect(await run(['taxonomy', '--bundled', 'amazon', '--facet', 'c'])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('--bundled "amazon" is not a bundled taxonomy; they are shopify-2025-08, google-2021-09-21.'),
    });
  });
});
