import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { openSqliteStore, type TagRow } from '../../../gateway/store';
import { builtEntry } from '../../helpers/build';
import { seedShapeCatalogue, shapeProducts } from '../../helpers/catalogue';
import { createTestGateway } from '../../helpers/gateway';
import { normalizeTags, STAND_IN_TOKEN, startShopifyAdmin, type ShopifyAdminStandIn } from '../../helpers/shopify-admin';
import { loadReference } from '../../helpers/tiny-clip';

const CATEGORIES = ['aa-1-13-8', 'aa-1-4', 'aa-8-3'].map((id) => `gid://shopify/TaxonomyCategory/${id}`);
const UNKNOWN_CATEGORY = 'gid://shopify/TaxonomyCategory/zz-999999999';
/** p04 carries the shop's GID, as a Shopify import keeps it; the others are found by their handle. */
const P04_GID = 'gid://shopify/Product/4242';

/** Checked once, when the file loads: the command must be built from the sources under test. */
const CATALOGUE = builtEntry('tools', 'catalogue.js');
let dir: string;
/** Each product's labels per facet once the catalogue is made, as the shop should end up with them. */
let final: Map<string, Map<string, string[]>>;
/** The labels p01's colour had before its manual tag, which an earlier write-back would have put in the shop. */
let p01AutoColour: string;
/** p02's category before its manual one, which Shopify refuses. */
let p02AutoCategory: string;

/** `npm run catalogue -- ARGS` against the catalogue in `dir`, with these Shopify variables and no others. */
function start(
  args: string[],
  shopify: Record<string, string>,
): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const env: Record<string, string | undefined> = { ...process.env, DATA_DIR: dir, DATABASE_URL: undefined, ...shopify };
  for (const name of ['SHOPIFY_SHOP', 'SHOPIFY_ADMIN_TOKEN', 'SHOPIFY_ADMIN_URL', 'SHOPIFY_API_VERSION'])
    if (!(name in shopify)) delete env[name];
  const child = spawn(process.execPath, [CATALOGUE, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return { child, done: new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr }))) };
}

const run = (args: string[], shopify: Record<string, string>) => start(args, shopify).done;

/** The shop as the catalogue's import left it: p00-p05 but p03, some tags of their own, p01 with its old colour tag. */
async function shop(options: Parameters<typeof startShopifyAdmin>[0] = {}): Promise<ShopifyAdminStandIn> {
  const standIn = await startShopifyAdmin(options);
  for (const handle of ['p00', 'p01', 'p02', 'p05']) standIn.addProduct(handle, undefined, ['existing', 'Sale']);
  standIn.products.get(standIn.byHandle('p01')!.id)!.tags = normalizeTags(['existing', 'Sale', `colour:${p01AutoColour}`]);
  standIn.addProduct('shop-handle-of-p04', P04_GID, ['existing']);
  return standIn;
}

const variablesFor = (standIn: ShopifyAdminStandIn) => ({ SHOPIFY_ADMIN_URL: standIn.endpoint, SHOPIFY_ADMIN_TOKEN: STAND_IN_TOKEN });

/**
 * The shop's products hold the catalogue's final labels: tags of flat facets beside their own,
 * metafields, the category. p02's latest category is one Shopify refuses: the shop keeps the one
 * before it when a run sent that one first (the changes were read in pages of 4, the automatic
 * category in an earlier page than the manual one), else none.
 */
function expectShopToHoldTheCatalogue(standIn: ShopifyAdminStandIn, p02: 'automatic' | 'none'): void {
  for (const [handle, facets] of final) {
    if (handle === 'p03') continue;
    const product = handle === 'p04' ? standIn.products.get(P04_GID)! : standIn.byHandle(handle)!;
    const own = handle === 'p04' ? ['existing'] : ['existing', 'Sale'];
    const flat = [...facets].filter(([facet]) => facet !== 'category');
    expect({ handle, tags: product.tags }).toEqual({
      handle,
      tags: normalizeTags([...own, ...flat.flatMap(([facet, labels]) => labels.map((label) => `${facet}:${label}`))]),
    });
    for (const [facet, labels] of flat)
      expect(product.metafields.get(`clip.${facet}`)).toEqual({
        namespace: 'clip',
        key: facet,
        type: 'list.single_line_text_field',
        value: JSON.stringify(labels),
      });
    const category = handle !== 'p02' ? facets.get('category')![0] : p02 === 'automatic' ? p02AutoCategory : null;
    expect({ handle, category: product.category }).toEqual({ handle, category });
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'shopify-writeback-'));
  const path = join(dir, 'catalogue.sqlite');
  // A real catalogue: the tiny CLIP tags six products in three facets, the category's labels Shopify GIDs.
  const gateway = await createTestGateway({ store: { kind: 'sqlite', path } });
  const classes = loadReference().classes;
  const facets = [
    { name: 'category', labels: CATEGORIES },
    { name: 'colour', labels: [...new Set(classes.map((c) => c.split(' ')[0]))] },
    { name: 'shape', labels: [...new Set(classes.map((c) => c.split(' ')[1]))] },
  ];
  const products = (await shapeProducts(11)).slice(0, 6);
  products[4].attributes = { ...products[4].attributes, shopifyProductId: P04_GID } as (typeof products)[4]['attributes'];
  await seedShapeCatalogue(gateway.graphql, products, facets);
  await gateway.stop();

  // Then people change some tags: later changes of the same products, which write-back coalesces.
  const store = await openSqliteStore({ path });
  const tagsOf = async () => (await store.getTags(products.map((p) => p.id))) as Map<string, TagRow[]>;
  const before = await tagsOf();
  const template = before.get('p00')![0];
  const manual = (label: string) => ({
    label,
    score: 1,
    similarity: 1,
    needsReview: false,
    model: template.model,
    taxonomyVersion: template.taxonomyVersion,
  });
  p01AutoColour = before.get('p01')!.find((t) => t.facet === 'colour')!.label;
  p02AutoCategory = before.get('p02')!.find((t) => t.facet === 'category')!.label;
  await store.setManualTags('p01', 'colour', [manual('violet')]);
  await store.setManualTags('p02', 'category', [manual(UNKNOWN_CATEGORY)]);
  await store.setManualTags('p05', 'shape', [manual('circle'), manual('star')]);
  await store.setManualTags('p05', 'shape', [manual('circle')]);
  final = new Map();
  for (const [id, tags] of await tagsOf()) {
    const facets = new Map<string, string[]>();
    for (const tag of tags) facets.set(tag.facet, [...(facets.get(tag.facet) ?? []), tag.label].sort());
    final.set(id, facets);
  }
  expect((await store.tagChanges(undefined, 100)).length).toBeGreaterThanOrEqual(6 * 3 + 4);
  await store.close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run catalogue -- shopify-writeback --send', () => {
  it("brings every product's tags, metafields and category to the shop, names those the shop refuses and goes on, through throttling", async () => {
    const standIn = await shop({ tooManyRequests: 1 });
    standIn.throttle(2);
    try {
      const cursor = join(dir, 'send.cursor.json');
      const { code, stdout } = await run(['shopify-writeback', '--send', '--cursor', cursor, '--page-size', '4'], variablesFor(standIn));
      expect(code).toBe(1);
      expect(stdout).toContain('; 2 failed.');
      expect(stdout).toMatch(
        /\n {2}p02 \(changes \d+-\d+\): productUpdate: Invalid product_taxonomy_node_id \(INVALID_PRODUCT_TAXONOMY_NODE_ID\)\n/,
      );
      expect(stdout).toMatch(/\n {2}p03 \(changes \d+-\d+\): the shop has no product with handle "p03"/);
      expect(stdout).toContain('The shop throttled 3 requests; each was sent again.');
      expect([standIn.tooManyAnswered, standIn.requests.filter((r) => r.throttled).length]).toEqual([1, 2]);
      expectShopToHoldTheCatalogue(standIn, 'automatic');
      // p04 is known by its GID: never looked up by its handle.
      expect(standIn.requests.filter((r) => r.operation === 'ProductByHandle' && !r.throttled).map((r) => r.variables.handle)).toEqual([
        'p00',
        'p01',
        'p02',
        'p03',
        'p05',
      ]);
      expect(
        readFileSync(`${cursor}.failures.jsonl`, 'utf8')
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { productId: string }).productId)
          // In the outbox's order, which is the order the concurrent upserts committed in.
          .sort(),
      ).toEqual(['p02', 'p03']);

      // Run again: nothing is new, nothing is sent.
      const requests = standIn.requests.length;
      const again = await run(['shopify-writeback', '--send', '--cursor', cursor], variablesFor(standIn));
      expect(again.stdout).toContain('0 operations for 0 products');
      expect(again.code).toBe(0);
      expect(standIn.requests.length).toBe(requests);
    } finally {
      await standIn.stop();
    }
  });

  it('killed while sending, goes on from its cursor file and ends with the same shop, sending each product at most twice', async () => {
    const reference = await shop();
    const cursor = join(dir, 'kill.cursor.json');
    try {
      await run(
        ['shopify-writeback', '--send', '--cursor', join(dir, 'reference.cursor.json'), '--page-size', '4'],
        variablesFor(reference),
      );
    } finally {
      await reference.stop();
    }
    const all = reference.mutations;
    const standIn = await shop();
    try {
      const held = standIn.holdAfter(Math.floor(all / 2));
      const { child, done } = start(['shopify-writeback', '--send', '--cursor', cursor, '--page-size', '4'], variablesFor(standIn));
      await held;
      child.kill('SIGKILL');
      expect((await done).code).toBeNull();
      const stopped = JSON.parse(readFileSync(cursor, 'utf8')) as { seq: number; endpoint: string };
      expect(stopped.endpoint).toBe(standIn.endpoint);
      expect(stopped.seq).toBeGreaterThan(0);
      standIn.release();

      const { stdout, stderr } = await run(['shopify-writeback', '--send', '--cursor', cursor, '--page-size', '4'], variablesFor(standIn));
      expect(stderr).toBe('');
      expect(stdout).toContain(`Starting after change ${stopped.seq}.`);
      expectShopToHoldTheCatalogue(standIn, 'automatic');
      // At least once, and at most one product's operations twice (the one under way when killed).
      expect(standIn.mutations).toBeGreaterThanOrEqual(all);
      expect(standIn.mutations).toBeLessThanOrEqual(all + 5);
      const failed = readFileSync(`${cursor}.failures.jsonl`, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { productId: string }).productId);
      expect([...new Set(failed)].sort()).toEqual(['p02', 'p03']);

      const requests = standIn.requests.length;
      expect((await run(['shopify-writeback', '--send', '--cursor', cursor], variablesFor(standIn))).code).toBe(0);
      expect(standIn.requests.length).toBe(requests);
    } finally {
      await standIn.stop();
    }
  });

  it('stops at once when the shop refuses the token, naming it, and keeps no place', async () => {
    const standIn = await shop();
    try {
      const cursor = join(dir, 'refused.cursor.json');
      const { code, stdout, stderr } = await run(['shopify-writeback', '--send', '--cursor', cursor], {
        SHOPIFY_ADMIN_URL: standIn.endpoint,
        SHOPIFY_ADMIN_TOKEN: 'shpat_wrong',
      });
      expect(code).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toContain(
        `catalogue: the shop refused SHOPIFY_ADMIN_TOKEN at ${standIn.endpoint} (HTTP 401: [API] Invalid API key or access token (unrecognized login or wrong password)).`,
      );
      expect(existsSync(cursor)).toBe(false);
      expect(standIn.requests).toEqual([]);
    } finally {
      await standIn.stop();
    }
  });

  it('refuses to run without the shop, naming the variables and options it needs', async () => {
    const none = await run(['shopify-writeback', '--send'], {});
    expect(none).toMatchObject({ code: 1, stderr: 'catalogue: SHOPIFY_SHOP must be set for shopify-writeback --send\n' });
    const both = await run(['shopify-writeback', '--send', '--out', 'x.jsonl'], {});
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('catalogue: shopify-writeback needs either --out FILE or --send.');
    const shop = await run(['shopify-writeback', '--send'], { SHOPIFY_SHOP: 'my shop', SHOPIFY_ADMIN_TOKEN: 'x' });
    expect(shop.stderr).toBe('catalogue: SHOPIFY_SHOP must be a shop\'s name, my-shop or my-shop.myshopify.com, got "my shop"\n');
  });
});

describe('npm run catalogue -- shopify-writeback --out FILE', () => {
  it('writes one request body a line, which replayed to a shop gives what sending gives', async () => {
    const lookup = await shop();
    const replayed = await shop();
    try {
      const out = join(dir, 'operations.jsonl');
      const { code, stdout } = await run(['shopify-writeback', '--out', out], variablesFor(lookup));
      expect(code).toBe(1);
      expect(stdout).toMatch(new RegExp(`^\\d+ operations for 5 products written to ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      expect(lookup.mutations).toBe(0);
      const lines = readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map(
          (l) => JSON.parse(l) as { product: string; seq: number; operation: string; query: string; variables: Record<string, unknown> },
        );
      expect(new Set(lines.map((l) => l.product))).toEqual(new Set(['p00', 'p01', 'p02', 'p04', 'p05']));
      for (const line of lines) {
        // The replay's shop made its own GIDs: the file names the looked-up shop's.
        const body = JSON.stringify({ query: line.query, variables: line.variables })
          .split(lookup.byHandle(line.product)?.id ?? P04_GID)
          .join(replayed.byHandle(line.product)?.id ?? P04_GID);
        const response = await fetch(replayed.endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-shopify-access-token': STAND_IN_TOKEN },
          body,
        });
        expect(response.status).toBe(200);
      }
      expectShopToHoldTheCatalogue(replayed, 'none');
    } finally {
      await lookup.stop();
      await replayed.stop();
    }
  });

  it('without the shop, writes the products whose GID the catalogue keeps and names the others', async () => {
    const out = join(dir, 'known.jsonl');
    const { code, stdout } = await run(['shopify-writeback', '--out', out], {});
    expect(code).toBe(1);
    expect(stdout).toMatch(
      /p00 \(changes \d+-\d+\): no attributes.shopifyProductId; set SHOPIFY_SHOP and SHOPIFY_ADMIN_TOKEN to look the product up by its handle./,
    );
    const products = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { product: string }).product);
    expect(new Set(products)).toEqual(new Set(['p04']));
  });
});
