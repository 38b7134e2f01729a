// The shop's commands of `npm run catalogue --`: shopify-writeback and merchant-supplemental. They
// read the catalogue's store directly, where the gateway keeps it (DATA_DIR or DATABASE_URL, read as
// the gateway reads them), and need no running gateway.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { openConfiguredStore, storeFromEnv, type CatalogueStore } from '../../gateway/store';
import { EnvReader, httpUrl, nonEmpty, type Env, type Rule, type VariableMeanings } from '../../functions/options';
import { AdminClient, AdminRefused, AdminUnavailable, adminEndpoint, shopHost } from './admin-client';
import { GoogleMapping } from './google-mapping';
import { ADMIN_API_VERSION, DEFAULT_OPERATION_OPTIONS, validNamespace } from './operations';
import { writeSupplementalFeed } from './supplemental-feed';
import { DEFAULT_PAGE_SIZE, writeBack, type WritebackTarget } from './writeback';

export const SHOPIFY_COMMANDS = ['shopify-writeback', 'merchant-supplemental'] as const;

export const SHOPIFY_USAGE = `  npm run catalogue -- shopify-writeback (--out FILE [--after SEQ] | --send [--cursor FILE] [--restart])
        [--category-facet NAME] [--namespace NS] [--page-size N]
  npm run catalogue -- merchant-supplemental --out FILE.tsv [--category-facet NAME] [--color-facet NAME]
        [--pattern-facet NAME] [--material-facet NAME] [--id-attribute NAME]
`;

/** The variables of the shop's commands, as the configuration reference lists them. */
export const SHOPIFY_ADMIN_VARIABLES: VariableMeanings = {
  'Shopify write-back (npm run catalogue -- shopify-writeback)': {
    SHOPIFY_SHOP: { meaning: 'The shop: `my-shop` or `my-shop.myshopify.com`', unset: 'needed by --send' },
    SHOPIFY_ADMIN_TOKEN: {
      meaning: 'An Admin API access token with write_products, sent as X-Shopify-Access-Token',
      unset: 'needed by --send',
    },
    SHOPIFY_API_VERSION: `The Admin API version (default ${ADMIN_API_VERSION}; productUpdate(product:) needs 2024-10 or later)`,
    SHOPIFY_ADMIN_URL: {
      meaning: "The Admin GraphQL endpoint in place of the shop's, e.g. a stand-in or a proxy",
      unset: 'https://{shop}/admin/api/{version}/graphql.json',
    },
  },
};

const apiVersion: Rule<string> = {
  expected: 'an API version such as 2025-10 (2024-10 or later), or unstable',
  accepts: (value): value is string =>
    typeof value === 'string' && (value === 'unstable' || (/^20[0-9]{2}-(01|04|07|10)$/.test(value) && value >= '2024-10')),
  parse: (raw) => raw.trim(),
};

/** Never quoted back: a token is a secret. */
const token: Rule<string> = { ...nonEmpty, expected: 'an Admin API access token', problem: () => 'is blank' };

/** Where and how to reach the shop: the endpoint and the token. */
export function shopifyAdminFromEnv(read: EnvReader, when: string): { endpoint: string; token: string } {
  const version = read.get('SHOPIFY_API_VERSION', apiVersion, ADMIN_API_VERSION);
  const url = read.optional('SHOPIFY_ADMIN_URL', httpUrl);
  const shop = url === undefined ? read.required('SHOPIFY_SHOP', nonEmpty, when) : read.optional('SHOPIFY_SHOP', nonEmpty);
  if (shop !== undefined) shopHost(shop);
  return { endpoint: url ?? adminEndpoint(shop!, version), token: read.required('SHOPIFY_ADMIN_TOKEN', token, when) };
}

/** A mistake in the command line: reported with the usage. */
export class ShopifyUsageError extends Error {}

/** The catalogue's store where the gateway keeps it (DATA_DIR or DATABASE_URL), which must exist already. */
async function openStore(env: Env): Promise<CatalogueStore> {
  const config = storeFromEnv(new EnvReader(env));
  if (config.kind === 'sqlite' && config.path !== ':memory:' && !existsSync(config.path))
    throw new Error(`no catalogue at ${config.path}: set DATA_DIR to the gateway's data directory, or DATABASE_URL`);
  const store = await openConfiguredStore(config);
  await store.migrate();
  return store;
}

function integerOption(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(value) || value < min || value > max)
    throw new ShopifyUsageError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}.`);
  return value;
}

function facetName(option: string, raw: string | undefined, fallback: string): string {
  if (raw === undefined) return fallback;
  if (raw.trim() === '') throw new ShopifyUsageError(`${option} must name a facet, got ${JSON.stringify(raw)}.`);
  return raw;
}

/** Runs one of SHOPIFY_COMMANDS with the arguments after it; the exit code. */
export async function runShopifyCommand(
  command: string,
  args: string[],
  env: Env = process.env,
  say = (line: string) => process.stdout.write(`${line}\n`),
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      send: { type: 'boolean', default: false },
      after: { type: 'string' },
      cursor: { type: 'string' },
      restart: { type: 'boolean', default: false },
      'category-facet': { type: 'string' },
      namespace: { type: 'string' },
      'page-size': { type: 'string' },
      'color-facet': { type: 'string' },
      'pattern-facet': { type: 'string' },
      'material-facet': { type: 'string' },
      'id-attribute': { type: 'string' },
    },
  });
  if (positionals.length > 0) throw new ShopifyUsageError(`${command} takes no file argument; give the file with --out.`);
  const categoryFacet = facetName('--category-facet', values['category-facet'], DEFAULT_OPERATION_OPTIONS.categoryFacet);
  if (command === 'merchant-supplemental') {
    for (const option of ['send', 'restart'] as const)
      if (values[option]) throw new ShopifyUsageError(`--${option} is for shopify-writeback.`);
    for (const option of ['after', 'cursor', 'namespace', 'page-size'] as const)
      if (values[option] !== undefined) throw new ShopifyUsageError(`--${option} is for shopify-writeback.`);
    if (!values.out) throw new ShopifyUsageError('merchant-supplemental needs --out FILE.tsv.');
    const mapping = GoogleMapping.load();
    const store = await openStore(env);
    try {
      const summary = await writeSupplementalFeed({
        store,
        out: values.out,
        mapping,
        facets: {
          category: categoryFacet,
          color: facetName('--color-facet', values['color-facet'], 'color'),
          pattern: facetName('--pattern-facet', values['pattern-facet'], 'pattern'),
          material: facetName('--material-facet', values['material-facet'], 'material'),
        },
        idAttribute: values['id-attribute'],
      });
      say(`${summary.rows} rows for ${summary.products} products in ${values.out}.`);
      for (const note of summary.notes.slice(0, 20)) say(`  ${note}`);
      if (summary.notes.length > 20) say(`  ... and ${summary.notes.length - 20} more.`);
      return 0;
    } finally {
      await store.close();
    }
  }

  for (const option of ['color-facet', 'pattern-facet', 'material-facet', 'id-attribute'] as const)
    if (values[option] !== undefined) throw new ShopifyUsageError(`--${option} is for merchant-supplemental.`);
  if (values.send === (values.out !== undefined)) throw new ShopifyUsageError('shopify-writeback needs either --out FILE or --send.');
  if (values.send && values.after !== undefined)
    throw new ShopifyUsageError('--after is for --out; --send goes on from its --cursor file.');
  if (!values.send && (values.cursor !== undefined || values.restart))
    throw new ShopifyUsageError('--cursor and --restart are for --send.');
  const namespace = values.namespace ?? DEFAULT_OPERATION_OPTIONS.namespace;
  if (!validNamespace(namespace))
    throw new ShopifyUsageError(`--namespace must be 3-255 letters, digits, - or _ (Shopify's rule), got ${JSON.stringify(namespace)}.`);
  const pageSize = integerOption('--page-size', values['page-size'], DEFAULT_PAGE_SIZE, 1, 10_000);

  const read = new EnvReader(env);
  let target: WritebackTarget;
  if (values.send) {
    const admin = shopifyAdminFromEnv(read, 'for shopify-writeback --send');
    target = {
      kind: 'send',
      client: new AdminClient(admin),
      endpoint: admin.endpoint,
      cursorFile: values.cursor ?? 'shopify-writeback.cursor.json',
      restart: values.restart!,
    };
  } else {
    // With the shop's credentials, products are looked up by handle; without, only known GIDs go in the file.
    const canLookUp = env.SHOPIFY_ADMIN_TOKEN && (env.SHOPIFY_SHOP || env.SHOPIFY_ADMIN_URL);
    const client = canLookUp ? new AdminClient(shopifyAdminFromEnv(read, 'to look products up')) : undefined;
    target = { kind: 'file', out: values.out!, after: integerOption('--after', values.after, 0, 0, Number.MAX_SAFE_INTEGER), client };
  }

  const store = await openStore(env);
  try {
    const summary = await writeBack({ store, target, operations: { categoryFacet, namespace }, pageSize, say });
    const where = target.kind === 'file' ? `written to ${target.out}` : `applied to ${target.endpoint}`;
    say(
      `${summary.operations} operations for ${summary.products} products ${where}, changes up to ${summary.lastSeq}; ${summary.failures.length} failed.`,
    );
    if (target.kind === 'send' && target.client.counts.throttled > 0)
      say(`The shop throttled ${target.client.counts.throttled} requests; each was sent again.`);
    for (const note of summary.notes.slice(0, 20)) say(`  ${note}`);
    for (const failure of summary.failures.slice(0, 20))
      say(`  ${failure.productId} (changes ${failure.seqs[0]}-${failure.seqs[1]}): ${failure.message}`);
    if (summary.failures.length > 20) say(`  ... and ${summary.failures.length - 20} more.`);
    if (target.kind === 'send' && summary.failures.length > 0) say(`All of them: ${target.cursorFile}.failures.jsonl`);
    return summary.failures.length > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof AdminRefused || error instanceof AdminUnavailable) {
      const resume = target.kind === 'send' ? ` Products done so far are in ${target.cursorFile}; run again to go on.` : '';
      process.stderr.write(`catalogue: ${error.message}.${resume}\n`);
      return 1;
    }
    throw error;
  } finally {
    await store.close();
  }
}
