import {
  getNullableType,
  isInputObjectType,
  isListType,
  type DocumentNode,
  type GraphQLArgument,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';

import type { Demand } from './admission';

/** What one operation would cost, counted from its document and variables before it runs. */
export interface OperationDemand extends Demand {
  /** Products (or other records) written: an upsert's products, a delete's ids, 1 for any other mutation. */
  writes: number;
  /** Fields resolved, with pages counted by their `first`, plus inference inputs by weight (see COST). */
  cost: number;
  /** The page that asks for the most items (the largest `first`), if any: checked against the page bound before the cost. */
  largestPage?: Page;
}

/** A field that returns a page: its name, its `first`, and whether it pages on with `after`. */
export interface Page {
  field: string;
  first: number;
  cursor: boolean;
}

/**
 * Weights of the cost: one per field resolved (a field under a page of `first: n` counts n
 * times), and an inference input by what it takes in the model: an image about what ten short
 * prompts take (BENCHMARKS.md: 14.9 images/s against 173 7-token texts/s in raw ONNX Runtime),
 * a text about what resolving a field takes. What matters is the ratio to the limit, not the unit.
 */
export const COST = { field: 1, text: 1, image: 10 } as const;

const NONE: OperationDemand = { texts: 0, images: 0, prompts: 0, writes: 0, cost: 0 };

/**
 * Root fields whose inputs the model sees only in a job: taxonomySet makes a job of its label
 * prompts and the request embeds none of them (it at most waits for the job), so its prompts are
 * neither inference the request must fit in its deadline nor cost of its own.
 */
const EMBEDDED_BY_JOBS = new Set(['taxonomySet']);

/**
 * The inference inputs of one argument value, read through the schema's input types: every
 * ImageInput is an image; a MediaInput is a text or an image; a SearchQuery's text is a text;
 * and wherever labels meet templates (classify; not taxonomySet, see EMBEDDED_BY_JOBS) each label becomes one
 * prompt per template. Walking the types rather than naming fields keeps new fields that take
 * these inputs counted.
 */

function inputsOf(type: GraphQLInputType, value: unknown, into: Demand): void {
  if (value === null || value === undefined) return;
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    if (Array.isArray(value)) for (const item of value) inputsOf(nullable.ofType, item, into);
    else inputsOf(nullable.ofType, value, into); // a single value given for a list is coerced to one
    return;
  }
  if (!isInputObjectType(nullable) || typeof value !== 'object') return;
  const object = value as Record<string, unknown>;
  switch (nullable.name) {
    case 'ImageInput':
      into.images += 1;
      return;
    case 'MediaInput':
      if (typeof object.text === 'string') into.texts += 1;
      else into.images += 1;
      return;
    case 'SearchQuery':
      if (typeof object.text === 'string') into.texts += 1;
      break;
  }
  const fields = nullable.getFields();
  if ('labels' in fields && 'templates' in fields) into.prompts += prompts(object);
  for (const [name, field] of Object.entries(fields)) inputsOf(field.type, object[name], into);
}

/** Labels × templates (one template when none are given). */
function prompts(values: Record<string, unknown>): number {
  const labels = Array.isArray(values.labels) ? values.labels.length : 0;
  const templates = Array.isArray(values.templates) && values.templates.length > 0 ? values.templates.length : 1;
  return labels * templates;
}

function argumentInputs(args: readonly GraphQLArgument[], values: Record<string, unknown>): Demand {
  const demand: Demand = { texts: 0, images: 0, prompts: 0 };
  if (args.some((a) => a.name === 'labels') && args.some((a) => a.name === 'templates')) demand.prompts += prompts(values);
  for (const arg of args) inputsOf(arg.type, values[arg.name], demand);
  return demand;
}

function writesOf(args: Record<string, unknown>): number {
  for (const name of ['products', 'ids']) if (Array.isArray(args[name])) return Math.max(1, (args[name] as unknown[]).length);
  return 1;
}

/**
 * Counts an operation's demand with graphql-query-complexity's walk (fragments, aliases, @skip
 * and @include, variables all resolved as execution would). Root fields carry the inference
 * inputs; deeper fields only read what is stored. Returns nothing counted when the variables
 * cannot be coerced: execution then refuses the request itself, before any resolver runs.
 */
export function operationDemand(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
  variables: Record<string, unknown> | undefined,
): OperationDemand {
  const roots = new Set([schema.getQueryType(), schema.getMutationType()].filter((t) => t !== null && t !== undefined));
  const mutation = schema.getMutationType();
  const demand: OperationDemand = { ...NONE };
  const estimator: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
    // Introspection costs nothing: its size is the schema's, fixed, and tools need all of it.
    if (field.name.startsWith('__') || type.name.startsWith('__')) return 0;
    // A router's _entities resolves every representation it carries, as a page does `first` items.
    const page =
      typeof args.first === 'number' && args.first > 0
        ? args.first
        : field.name === '_entities' && Array.isArray(args.representations)
          ? Math.max(1, args.representations.length)
          : 1;
    if (typeof args.first === 'number' && args.first > (demand.largestPage?.first ?? 0)) {
      demand.largestPage = { field: field.name, first: args.first, cursor: field.args.some((arg) => arg.name === 'after') };
    }
    let cost = COST.field + page * childComplexity;
    if (roots.has(type as never)) {
      const inputs = EMBEDDED_BY_JOBS.has(field.name) ? { texts: 0, images: 0, prompts: 0 } : argumentInputs(field.args, args);
      demand.texts += inputs.texts;
      demand.images += inputs.images;
      demand.prompts += inputs.prompts;
      cost += (inputs.texts + inputs.prompts) * COST.text + inputs.images * COST.image;
      if (type === mutation) demand.writes += writesOf(args);
    }
    return cost;
  };
  try {
    demand.cost = getComplexity({ schema, query: document, operationName, variables: variables ?? {}, estimators: [estimator] });
  } catch {
    return { ...NONE };
  }
  return demand;
}
