import { mkdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import express from 'express';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';

import { newApiKey } from '../../../gateway/common/auth';
import { launchChromium } from '../../helpers/browser';
import { DEFAULT_JOB_RUNNER_OPTIONS } from '../../../gateway/catalogue';
import { startGateway, type RunningGateway } from '../../helpers/gateway';
import { TINY_CLIP_DIR } from '../../helpers/tiny-clip';

const IMAGES = join(TINY_CLIP_DIR, 'images');
/** Screenshots of every view, kept as test artifacts (ignored by git); README's picture is made from the classify one. */
export const SCREENSHOTS = join(__dirname, '..', '..', '..', 'test-artifacts', 'console');
const LABELS = ['red circle', 'blue star', 'green square', 'yellow triangle'];
const PRODUCTS = [
  { id: 'p-red', title: 'Red circle', file: 'wide-red-circle.jpg' },
  { id: 'p-star', title: 'Blue star', file: 'tall-blue-star.png' },
  { id: 'p-square', title: 'Green square', file: 'large-green-square.jpg' },
  { id: 'p-triangle', title: 'Yellow triangle', file: 'rgba-yellow-triangle.png' },
];

interface PageCanvas {
  width: number;
  height: number;
  toDataURL(): string;
  ownerDocument: { createElement(tag: 'canvas'): PageCanvas };
}

/** Whether a canvas holds anything: its pixels differ from a blank canvas of its size. */
function drawnOn(canvas: Locator): Promise<boolean> {
  return canvas.evaluate((element) => {
    const drawn = element as unknown as PageCanvas;
    const blank = drawn.ownerDocument.createElement('canvas');
    blank.width = drawn.width;
    blank.height = drawn.height;
    return drawn.toDataURL() !== blank.toDataURL();
  });
}

/**
 * The web console in a real browser, against a gateway on the tiny CLIP: classify, similarity,
 * catalogue and model, with nothing loaded from anywhere but the gateway and the shop's image host.
 */
describe('the web console in a browser', () => {
  let gw: RunningGateway;
  let shop: Server;
  let shopOrigin: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const elsewhere: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // The shop's image host, where its product pictures live (the gateway fetches them by URL).
    shop = await new Promise((resolve) => {
      const listening = express()
        .use('/images', express.static(IMAGES))
        .listen(0, '127.0.0.1', () => resolve(listening));
    });
    shopOrigin = `http://127.0.0.1:${(shop.address() as AddressInfo).port}`;
    gw = await startGateway({
      sandbox: false,
      fetch: { timeoutMs: 5_000, maxRedirects: 0, allowNetworks: ['127.0.0.1/32'] },
      // A product per chunk and a pause between them: a re-tagging job runs long enough to be followed.
      jobs: { ...DEFAULT_JOB_RUNNER_OPTIONS, chunkSize: 1, tagChunkSize: 1, pauseMs: 250, pollMs: 50 },
    });
    const taxonomy = await gw.graphql(
      `mutation { taxonomySet(facets: [{ name: "shape", labels: ["circle", "star", "square", "triangle"], templates: ["a photo of a {}."], reviewBelow: 1 }]) { userErrors { message } } }`,
    );
    expect(taxonomy.errors).toBeUndefined();
    const upsert = await gw.graphql<{ productsUpsert: { userErrors: unknown[] } }>(
      `mutation($p: [ProductInput!]!) { productsUpsert(products: $p) { userErrors { message } } }`,
      { p: PRODUCTS.map(({ id, title, file }) => ({ id, title, images: [{ url: `${shopOrigin}/images/${file}` }] })) },
    );
    expect(upsert.data?.productsUpsert.userErrors).toEqual([]);

    browser = await launchChromium();
    // A phone-sized screen would stack the same views; the desktop one is what the screenshots show.
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.route('**/*', (route) => {
      const url = route.request().url();
      const origin = url.startsWith('data:') || url.startsWith('blob:') ? 'local' : new URL(url).origin;
      if (origin === 'local' || origin === gw.origin || origin === shopOrigin) return route.continue();
      elsewhere.push(url);
      return route.abort('internetdisconnected');
    });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    mkdirSync(SCREENSHOTS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await new Promise((resolve) => shop?.close(resolve));
  });

  afterEach(() => {
    expect(elsewhere).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('opens at / and classifies an uploaded red circle (a multipart upload): the first bar reads "red circle" with the score the API gives', async () => {
    const opened = await page.goto(`${gw.origin}/`);
    expect(opened?.url()).toBe(`${gw.origin}/console`);
    await page.getByRole('heading', { name: 'Classify' }).waitFor();

    await page.getByLabel('Images: choose files').setInputFiles(join(IMAGES, 'wide-red-circle.jpg'));
    await page.getByRole('listitem').filter({ hasText: 'wide-red-circle.jpg' }).waitFor();
    await page.getByLabel('Labels, one per line').fill(LABELS.join('\n'));
    const sent = page.waitForRequest(
      (request) => request.url() === `${gw.origin}/graphql` && /query Classify/.test(request.postData() ?? ''),
    );
    await page.getByRole('button', { name: 'Classify' }).click();
    const card = page.locator('.card').first();
    await card.locator('canvas').waitFor();
    // The file went as it is, in a GraphQL multipart request with the preflight header uploads need.
    const upload = await sent;
    expect(upload.headers()['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(upload.headers()['apollo-require-preflight']).toBe('true');
    const form = upload.postDataBuffer()!.toString('latin1');
    expect(form).toContain('{"0":["variables.images.0.file"]}');
    expect(form).toContain('filename="wide-red-circle.jpg"');
    // (Chromium leaves a file's bytes out of what it reports; the scores below, the API's for those bytes, show they came.)

    const api = await gw.graphql<{ classify: { labels: { label: string; score: number }[] }[] }>(
      `query($i: [ImageInput!]!, $l: [String!]!) { classify(images: $i, labels: $l) { labels { label score } } }`,
      { i: [{ base64: readFileSync(join(IMAGES, 'wide-red-circle.jpg')).toString('base64') }], l: LABELS },
    );
    const expected = api.data!.classify[0].labels;
    expect(expected[0].label).toBe('red circle');
    const first = card.locator('.scores li').first();
    expect(await first.locator('.label').textContent()).toBe('red circle');
    expect(await first.locator('.score').textContent()).toBe(`${(expected[0].score * 100).toFixed(1)}%`);
    expect(await card.locator('.scores li').count()).toBe(LABELS.length);
    // The chart is drawn (pixels, not a blank canvas), and says in words what it shows.
    expect(await card.locator('canvas').getAttribute('aria-label')).toContain(`red circle ${(expected[0].score * 100).toFixed(1)}%`);
    expect(await drawnOn(card.locator('canvas'))).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, 'classify.png'), fullPage: true });
  });

  it('shows a failed image on its own card only', async () => {
    await page.goto(`${gw.origin}/console#classify`);
    await page.getByLabel('Images: choose files').setInputFiles([
      { name: 'tall-blue-star.png', mimeType: 'image/png', buffer: readFileSync(join(IMAGES, 'tall-blue-star.png')) },
      { name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('not a png') },
    ]);
    await page.getByLabel('Labels, one per line').fill(LABELS.join('\n'));
    await page.getByRole('button', { name: 'Classify' }).click();
    await page.locator('.card.failed').waitFor();
    expect(await page.locator('.card').count()).toBe(2);
    expect(await page.locator('.card:not(.failed) .scores li .label').first().textContent()).toBe('blue star');
    expect(await page.locator('.card.failed [role=alert]').textContent()).toMatch(/image/i);
  });

  it('draws a similarity heatmap: a cell per text and image, values on hover as in the API', async () => {
    await page.goto(`${gw.origin}/console#similarity`);
    const texts = ['a photo of a red circle.', 'a photo of a blue star.', 'a photo of a green square.'];
    const files = ['wide-red-circle.jpg', 'tall-blue-star.png'];
    await page.getByLabel('Texts, one per line (the rows)').fill(texts.join('\n'));
    await page.getByLabel('Images: choose files').setInputFiles(files.map((f) => join(IMAGES, f)));
    await page.getByRole('button', { name: 'Compare' }).click();
    await page.locator('table.values td').first().waitFor();

    const api = await gw.graphql<{ similarity: number[][] }>(`query($a: [MediaInput!]!, $b: [MediaInput!]!) { similarity(a: $a, b: $b) }`, {
      a: texts.map((text) => ({ text })),
      b: files.map((f) => ({ imageBase64: readFileSync(join(IMAGES, f)).toString('base64') })),
    });
    const values = api.data!.similarity;
    expect(await page.locator('table.values td').count()).toBe(texts.length * files.length);
    expect(await page.locator('table.values tbody tr').nth(1).locator('td').nth(1).textContent()).toBe(values[1][1].toFixed(4));

    // Hover across the chart until a cell answers; its tooltip names its row and column and holds the API's value.
    const canvas = page.locator('.heatmap canvas');
    expect(await drawnOn(canvas)).toBe(true);
    const box = (await canvas.boundingBox())!;
    const tip = page.locator('.heatmap .tip');
    let shown = '';
    for (let y = 0.1; y < 1 && !shown; y += 0.1) {
      for (let x = 0.1; x < 1 && !shown; x += 0.1) {
        await page.mouse.move(box.x + box.width * x, box.y + box.height * y);
        if (await tip.isVisible()) shown = (await tip.textContent()) ?? '';
      }
    }
    const match = /^(.+) × #(\d+): (-?\d\.\d{4})$/.exec(shown);
    expect(match).not.toBeNull();
    const row = texts.indexOf(match![1]);
    expect(row).toBeGreaterThanOrEqual(0);
    expect(match![3]).toBe(values[row][Number(match![2]) - 1].toFixed(4));
    await page.screenshot({ path: join(SCREENSHOTS, 'similarity.png'), fullPage: true });
  });

  it('searches the catalogue for "a blue star" and shows the blue star first, with its picture from the shop', async () => {
    await page.goto(`${gw.origin}/console#catalogue`);
    await page.getByLabel('By text').fill('a blue star');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const results = page.getByRole('list', { name: 'Search results' });
    await results.waitFor();
    const first = results.locator('.product').first();
    expect(await first.locator('.title').textContent()).toBe('Blue star');
    expect(await first.locator('img').getAttribute('src')).toBe(`${shopOrigin}/images/tall-blue-star.png`);
    expect(await results.locator('.product').count()).toBe(PRODUCTS.length);

    // Top products per label of the facet: the star leads "star".
    const starTop = page.getByRole('list', { name: 'Top products for star' });
    await starTop.waitFor();
    expect(await starTop.locator('.title').first().textContent()).toBe('Blue star');
    await page.screenshot({ path: join(SCREENSHOTS, 'catalogue.png'), fullPage: true });
  });

  it('reviews a tag: changing it makes a manual tag, shown in the product’s tags', async () => {
    // Every automatic tag scoring under 1 awaits review; take the first, and change its label.
    const review = await gw.graphql<{ tagsForReview: { edges: { node: { productId: string; label: string } }[] } }>(
      '{ tagsForReview(first: 1) { edges { node { productId label } } } }',
    );
    const tag = review.data!.tagsForReview.edges[0]!.node;
    const other = ['circle', 'star', 'square', 'triangle'].find((l) => l !== tag.label)!;
    await page.goto(`${gw.origin}/console#catalogue`);
    const label = page.getByLabel(`Label for ${tag.productId} shape`);
    await label.waitFor();
    await label.selectOption(other);
    await page.getByRole('row').filter({ has: label }).getByRole('button', { name: 'Save as manual tag' }).click();
    await page.getByText(`${tag.productId}: shape is now ${other} (manual).`).waitFor();
    const stored = await gw.graphql<{ product: { tags: { label: string; source: string; score: number }[] } }>(
      `query($id: ID!) { product(id: $id) { tags { label source score } } }`,
      { id: tag.productId },
    );
    expect(stored.data!.product.tags).toEqual([{ label: other, source: 'MANUAL', score: 1 }]);
    // The list now holds other tags only.
    await page.getByLabel(`Label for ${tag.productId} shape`).waitFor({ state: 'detached' });

    await page.getByLabel('Product id').fill(tag.productId);
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    const row = page.locator('table.tags tbody tr');
    await row.first().waitFor();
    expect(await row.first().locator('td').allTextContents()).toEqual([
      'shape',
      other,
      ' 100.0%',
      expect.stringMatching(/^-?\d\.\d{3}$/),
      'manual',
    ]);
    await page.screenshot({ path: join(SCREENSHOTS, 'catalogue-review.png'), fullPage: true });
  });

  it('starts a tagging job and follows its progress to the end, through the subscription', async () => {
    await page.goto(`${gw.origin}/console#catalogue`);
    const followed: string[] = [];
    page.on('websocket', (socket) => {
      socket.on('framesent', ({ payload }) => {
        const message = JSON.parse(String(payload)) as { type: string; payload?: { query?: string } };
        if (message.type === 'subscribe') followed.push(`${socket.url()} ${message.payload?.query?.split('(')[0]}`);
      });
    });
    await page.getByRole('button', { name: 'Re-tag every product' }).click();
    const job = page.getByRole('list', { name: 'Tagging jobs' }).locator('.job').first();
    await job.filter({ hasText: `succeeded · ${PRODUCTS.length} / ${PRODUCTS.length}` }).waitFor({ timeout: 20_000 });
    expect(await job.locator('progress').getAttribute('value')).toBe(String(PRODUCTS.length));
    expect(followed).toEqual([`${gw.origin.replace('http', 'ws')}/graphql subscription FollowTaggingJob`]);
  });

  it('shows the model served and the gateway’s health', async () => {
    await page.goto(`${gw.origin}/console#model`);
    await page.getByText('ready (HTTP 200)').waitFor();
    const facts = await page.locator('dl.facts').first().locator('dd').allTextContents();
    const { data } = await gw.graphql<{ model: { name: string; dim: number; backend: string } }>('{ model { name dim backend } }');
    expect(facts.slice(0, 2)).toEqual([data!.model.name, String(data!.model.dim)]);
    expect(facts).toContain(data!.model.backend);
    await page.screenshot({ path: join(SCREENSHOTS, 'model.png'), fullPage: true });
  });

  it('fits a phone-sized screen and can be driven from the keyboard', async () => {
    const phone = await context.newPage();
    try {
      await phone.setViewportSize({ width: 390, height: 844 });
      await phone.goto(`${gw.origin}/console#classify`);
      await phone.getByRole('heading', { name: 'Classify' }).waitFor();
      // Nothing wider than the screen: no sideways scrolling.
      expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      // Tab from the top reaches the views' links, and Enter on one opens it.
      for (let i = 0; i < 3; i++) await phone.keyboard.press('Tab');
      expect(await phone.evaluate('document.activeElement?.textContent')).toBe('Catalogue');
      await phone.keyboard.press('Enter');
      await phone.getByRole('heading', { name: 'Catalogue' }).waitFor();
      await phone.screenshot({ path: join(SCREENSHOTS, 'phone-catalogue.png'), fullPage: true });
    } finally {
      await phone.close();
    }
  });
});

/** With API keys configured, the console asks for one and keeps it in the tab's session storage only. */
describe('the web console with API keys', () => {
  it('asks for a key, sends it, and keeps it only for the session', async () => {
    const { key, entry } = newApiKey('read');
    const [sha256, scope] = entry.split(':') as [string, 'read'];
    const gw = await startGateway({ sandbox: false, apiKeys: [{ sha256, scope }] });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${gw.origin}/console#model`);
      const dialog = page.getByRole('dialog', { name: 'API key' });
      await dialog.waitFor();
      await dialog.getByLabel('Key').fill(key);
      await dialog.getByRole('button', { name: 'Use this key' }).click();
      await page.getByText('ready (HTTP 200)').waitFor();
      expect(await page.evaluate('({ session: Object.values(sessionStorage), local: Object.keys(localStorage) })')).toEqual({
        session: [key],
        local: [],
      });
    } finally {
      await browser.close();
      await gw.stop();
    }
  }, 60_000);
});
