import type { Browser } from 'playwright-core';

import { launchChromium } from '../../helpers/browser';
import { startGateway, type RunningGateway } from '../../helpers/gateway';

const QUERY = '{ model { name dim } }';

/** GraphiQL at /graphiql in a real browser, with every other origin cut off. */
describe('the explorer in a browser', () => {
  let gw: RunningGateway;
  let browser: Browser | undefined;

  beforeAll(async () => {
    gw = await startGateway({ sandbox: false });
  });
  afterAll(async () => {
    await browser?.close();
    await gw.stop();
  });

  it('loads everything from the gateway and runs a query offline', async () => {
    browser = await launchChromium();
    const context = await browser.newContext();
    const requested: string[] = [];
    const elsewhere: string[] = [];
    const posted: string[] = [];
    const pageErrors: string[] = [];
    // Offline but for the gateway: any other origin is recorded and refused.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (new URL(url).origin === gw.origin || url.startsWith('data:')) return route.continue();
      elsewhere.push(url);
      return route.abort('internetdisconnected');
    });
    context.on('request', (request) => {
      requested.push(request.url());
      if (request.method() === 'POST') posted.push(request.postData() ?? '');
    });
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(String(error)));

    const opened = await page.goto(`${gw.origin}/graphiql`);
    if (opened?.status() !== 200) throw new Error(`/graphiql answered ${opened?.status()}: ${await opened?.text()}`);
    const queryEditor = page.locator('.graphiql-query-editor .monaco-editor');
    await queryEditor.waitFor({ state: 'visible', timeout: 20_000 });

    await queryEditor.click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.insertText(QUERY);
    // Monaco may have closed a brace on its own: drop whatever follows the text typed.
    await page.keyboard.press('ControlOrMeta+Shift+End');
    await page.keyboard.press('Delete');
    await page.locator('.graphiql-execute-button').click();
    await page.locator('.graphiql-response', { hasText: 'tiny-clip' }).waitFor({ timeout: 20_000 });

    // The query typed, as sent; everything requested came from the gateway, and nothing broke.
    expect(posted.map((body) => JSON.parse(body).query)).toContain(QUERY);
    expect(elsewhere).toEqual([]);
    expect(requested.filter((url) => new URL(url).origin !== gw.origin && !url.startsWith('data:'))).toEqual([]);
    expect(requested).toEqual(expect.arrayContaining([`${gw.origin}/graphiql/graphiql.js`, `${gw.origin}/graphiql/graphiql.css`]));
    expect(pageErrors).toEqual([]);
  });
});
