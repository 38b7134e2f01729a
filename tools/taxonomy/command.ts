// `npm run catalogue -- taxonomy`: a taxonomy tree (a bundled one, or Shopify's or Google's file)
// as one TREE facet of a running gateway's taxonomy, the other facets sent again as they are.
import { parseArgs } from 'node:util';

import { MAX_BEAM_WIDTH, TAXONOMY_FORMATS, type TaxonomyFormat } from '../../gateway/catalogue';
import {
  attributesOf,
  facetInputOf,
  FacetNotResendable,
  GatewayAnswerError,
  graphql,
  TAXONOMY_QUERY,
  TAXONOMY_SET_JOB_PROBE,
  taxonomySetMutation,
  type FacetInput,
  type TaxonomyRead,
  type TaxonomySetAnswer,
} from './operations';
import { checkTaxonomy, TaxonomySourceError, type TaxonomySource } from './source';

export const TAXONOMY_USAGE = `  npm run catalogue -- taxonomy (--bundled NAME | FILE [--format shopify|google]) --facet NAME
        [--root ID] [--depth N] [--beam N] [--context TEMPLATE | --no-context] [--keep-facets | --drop-facets]
        [--url URL] [--key KEY]
`;

export const TAXONOMY_HELP = `taxonomy sets the TREE facet NAME from a taxonomy: a bundled one (--bundled shopify-2025-08 or
google-2021-09-21) or FILE, Shopify's categories.txt or Google's taxonomy-with-ids (the format is
told from the file's first lines unless --format says). The file is read and checked here first:
a bad line is reported with its number and nothing is sent. --root keeps one category's subtree
(Shopify: aa-1 or its GID; Google: the number), --depth N that many levels; --beam N candidates
a level while tagging; --context the template naming a category with its parent ({name}, {parent}),
--no-context names alone. The taxonomy's other facets are sent again as they are with --keep-facets,
or left out with --drop-facets (one of them is needed when there are others).
`;

/** A mistake in the command line: reported with the usage. */
export class TaxonomyUsageError extends Error {}

interface TaxonomyOptions {
  source: TaxonomySource;
  facet: string;
  root?: string;
  depth?: number;
  beam?: number;
  contextTemplate?: string | null;
  others?: 'keep' | 'drop';
  url: string;
  key?: string;
}

function integerOption(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(value) || value < min || value > max)
    throw new TaxonomyUsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}.`);
  return value;
}

function parseOptions(argv: string[], defaults: { url: string; key?: string }): TaxonomyOptions | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      bundled: { type: 'string' },
      format: { type: 'string' },
      facet: { type: 'string' },
      root: { type: 'string' },
      depth: { type: 'string' },
      beam: { type: 'string' },
      context: { type: 'string' },
      'no-context': { type: 'boolean', default: false },
      'keep-facets': { type: 'boolean', default: false },
      'drop-facets': { type: 'boolean', default: false },
      url: { type: 'string', default: defaults.url },
      key: { type: 'string', default: defaults.key },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  if (positionals.length > 1) throw new TaxonomyUsageError(`taxonomy takes one file, got ${positionals.length}.`);
  const [file] = positionals;
  if ((file === undefined) === (values.bundled === undefined))
    throw new TaxonomyUsageError('taxonomy needs a taxonomy: FILE or --bundled NAME, not both.');
  if (values.format !== undefined && !Object.hasOwn(TAXONOMY_FORMATS, values.format))
    throw new TaxonomyUsageError(`--format must be shopify or google, got ${JSON.stringify(values.format)}.`);
  if (values.format !== undefined && file === undefined)
    throw new TaxonomyUsageError('--format is for a file: a bundled taxonomy has its own.');
  const facet = values.facet?.trim();
  if (!facet) throw new TaxonomyUsageError('--facet NAME is needed: the TREE facet to set (e.g. --facet category).');
  if (values.context !== undefined && values['no-context'])
    throw new TaxonomyUsageError('--context and --no-context contradict each other: give one.');
  if (values['keep-facets'] && values['drop-facets'])
    throw new TaxonomyUsageError('--keep-facets and --drop-facets contradict each other: give one.');
  const root = values.root?.trim();
  if (root === '') throw new TaxonomyUsageError('--root is empty: give a category id.');
  return {
    source: file === undefined ? { bundled: values.bundled! } : { file, format: values.format as TaxonomyFormat | undefined },
    facet,
    root,
    depth: integerOption('depth', values.depth, 1, 100),
    beam: integerOption('beam', values.beam, 1, MAX_BEAM_WIDTH),
    contextTemplate: values['no-context'] ? null : values.context,
    others: values['keep-facets'] ? 'keep' : values['drop-facets'] ? 'drop' : undefined,
    url: values.url!,
    key: values.key,
  };
}

/**
 * The facets to send: the others as they are (or none), this one replaced in its place or added
 * last. Attribute facets are the gateway's making, not sent: each goes again as its TREE facet's
 * `attributes`, this one's too when it replaces a tree that had them.
 */
function facetsToSend(current: TaxonomyRead | null, facet: FacetInput, others: TaxonomyOptions['others']): FacetInput[] {
  const all = current?.facets ?? [];
  const attributes = attributesOf(facet.name, all);
  if (attributes) facet = { ...facet, attributes };
  const sent = all.filter((f) => !f.attribute);
  const otherFacets = sent.filter((f) => f.name !== facet.name);
  if (otherFacets.length > 0 && others === undefined) {
    const names = otherFacets.map((f) => f.name).join(', ');
    throw new TaxonomyUsageError(
      `the taxonomy has other facets besides ${facet.name} (${names}): --keep-facets sends them again as they are, --drop-facets leaves them out.`,
    );
  }
  if (others === 'drop') return [facet];
  const facets = sent.map((f) => (f.name === facet.name ? facet : facetInputOf(f, all)));
  return facets.some((f) => f === facet) ? facets : [...facets, facet];
}

/** Whether the gateway's taxonomySet answers with a job (TAXONOMY_SET_JOB_PROBE); no when it does not say. */
async function answersWithJob(url: string, key: string | undefined): Promise<boolean> {
  try {
    const { __type } = await graphql<{ __type: { fields: { name: string }[] } | null }>(url, key, TAXONOMY_SET_JOB_PROBE);
    return __type?.fields.some((f) => f.name === 'job') ?? false;
  } catch (error) {
    if (error instanceof GatewayAnswerError) return false;
    throw error;
  }
}

/** Runs the command; the exit code: 0 set, 1 the taxonomy or the gateway refused (said on stderr). */
export async function runTaxonomyCommand(argv: string[], defaults: { url: string; key?: string }): Promise<number> {
  const options = parseOptions(argv, defaults);
  if (options === 'help') {
    process.stdout.write(`Usage:\n${TAXONOMY_USAGE}\n${TAXONOMY_HELP}`);
    return 0;
  }
  let checked;
  try {
    checked = checkTaxonomy(options.source, { root: options.root, depth: options.depth });
  } catch (error) {
    if (!(error instanceof TaxonomySourceError)) throw error;
    process.stderr.write(`catalogue: ${error.message} Nothing was sent.\n`);
    return 1;
  }
  const facet: FacetInput = {
    name: options.facet,
    mode: 'TREE',
    tree: {
      ...checked.input,
      ...(options.beam === undefined ? {} : { beamWidth: options.beam }),
      ...(options.contextTemplate === undefined ? {} : { contextTemplate: options.contextTemplate }),
    },
  };
  const { taxonomy: current } = await graphql<{ taxonomy: TaxonomyRead | null }>(options.url, options.key, TAXONOMY_QUERY);
  let facets: FacetInput[];
  try {
    facets = facetsToSend(current, facet, options.others);
  } catch (error) {
    if (!(error instanceof FacetNotResendable)) throw error;
    process.stderr.write(`catalogue: ${error.message} Nothing was sent.\n`);
    return 1;
  }
  const withJob = await answersWithJob(options.url, options.key);
  const { taxonomySet } = await graphql<{ taxonomySet: TaxonomySetAnswer }>(options.url, options.key, taxonomySetMutation(withJob), {
    facets,
  });
  const job = taxonomySet.job;
  const progress = job ? `job ${job.id}, ${job.status}: ${job.processed} of ${job.total} prompts embedded` : '';
  if (!taxonomySet.taxonomy && job && taxonomySet.userErrors.length === 0) {
    process.stdout.write(
      `The gateway is embedding the taxonomy's prompts (${progress}); it sets the taxonomy when the job ends: follow it with the taggingJob query.\n`,
    );
    return 0;
  }
  if (!taxonomySet.taxonomy) {
    process.stderr.write(`catalogue: the gateway did not set the taxonomy:\n`);
    for (const e of taxonomySet.userErrors) process.stderr.write(`  ${e.field?.join('.') ?? ''}: ${e.message}\n`);
    return 1;
  }
  const set = taxonomySet.taxonomy.facets.find((f) => f.name === options.facet);
  const part = [
    options.root === undefined ? '' : `under ${options.root}`,
    options.depth === undefined ? '' : `${options.depth} levels at most`,
  ]
    .filter(Boolean)
    .join(', ');
  process.stdout.write(
    `Taxonomy version ${taxonomySet.taxonomy.version}: the facet ${options.facet} is ${checked.label}${part ? ` (${part})` : ''}, ` +
      `${set?.tree?.categories ?? checked.categories} categories in ${checked.levels} level${checked.levels === 1 ? '' : 's'}, beam ${set?.tree?.beamWidth ?? '?'}.\n`,
  );
  if (job) process.stdout.write(`Its prompts: ${progress}.\n`);
  const kept = facets.filter((f) => f.name !== options.facet).map((f) => f.name);
  const dropped = (current?.facets ?? []).filter((f) => f.name !== options.facet && !kept.includes(f.name)).map((f) => f.name);
  if (kept.length > 0) process.stdout.write(`Kept as they were: ${kept.join(', ')}.\n`);
  if (dropped.length > 0) process.stdout.write(`Left out: ${dropped.join(', ')}.\n`);
  return 0;
}
