// What `npm run catalogue -- taxonomy` says to the gateway, in one place: the query of the current
// taxonomy, the taxonomySet mutation, and how a facet read back becomes a FacetInput to send again.

/** The fields of a facet read back, enough to send it again as it is. */
export const TAXONOMY_QUERY = `query CurrentTaxonomy {
  taxonomy {
    version
    facets {
      name labels templates mode threshold reviewBelow
      tree { source format root depth categories beamWidth contextTemplate }
      attribute { handle }
      under { facet }
    }
  }
}`;

/**
 * The job a gateway may answer taxonomySet with (one that embeds a taxonomy's prompts in a job)
 * and how to ask whether it does: asked by introspection, so that the command works against a
 * gateway with or without it; a gateway with introspection off is taken not to.
 */
export const TAXONOMY_SET_JOB_PROBE = `query TaxonomySetFields { __type(name: "TaxonomySetPayload") { fields { name } } }`;
const JOB_FIELDS = 'job { id status total processed }';

/** The taxonomySet mutation, with the job's progress when the gateway answers with one. */
export function taxonomySetMutation(withJob: boolean): string {
  return `mutation TaxonomySet($facets: [FacetInput!]!) {
  taxonomySet(facets: $facets) {
    taxonomy { version facets { name mode tree { source format root depth categories beamWidth } } }
    ${withJob ? JOB_FIELDS : ''}
    userErrors { field message code }
  }
}`;
}

export interface FacetTreeRead {
  source: string;
  format: string;
  root: string | null;
  depth: number | null;
  categories: number;
  beamWidth: number;
  contextTemplate: string | null;
}

export interface FacetRead {
  name: string;
  labels: string[];
  templates: string[];
  mode: string;
  threshold: number | null;
  reviewBelow: number | null;
  tree: FacetTreeRead | null;
  /** An attribute facet's Shopify attribute: made by the gateway from its TREE facet's `attributes`, never sent itself. */
  attribute?: { handle: string } | null;
  /** An attribute facet's TREE facet. */
  under?: { facet: string } | null;
}

export interface TaxonomyRead {
  version: number;
  facets: FacetRead[];
}

export interface TreeInput {
  bundled?: string;
  text?: string;
  format?: 'SHOPIFY' | 'GOOGLE';
  root?: string;
  depth?: number;
  beamWidth?: number;
  /** Omitted: the gateway's default template; null: names alone. */
  contextTemplate?: string | null;
}

export interface FacetInput {
  name: string;
  mode: string;
  labels?: string[];
  templates?: string[];
  threshold?: number | null;
  reviewBelow?: number | null;
  tree?: TreeInput;
  /** A TREE facet's visual attributes, each made a facet by the gateway. */
  attributes?: { only: string[]; reviewBelow: number | null };
}

export interface UserError {
  field: string[] | null;
  message: string;
  code: string | null;
}

export interface TaxonomySetAnswer {
  taxonomy: { version: number; facets: { name: string; mode: string; tree: Omit<FacetTreeRead, 'contextTemplate'> | null }[] } | null;
  /** The job embedding the prompts, from gateways that answer with one. */
  job?: { id: string; status: string; total: number; processed: number } | null;
  userErrors: UserError[];
}

/** A facet that cannot be sent again from what the gateway returns of it. */
export class FacetNotResendable extends Error {}

/**
 * A facet as the taxonomy query returned it, as the FacetInput that sets it again unchanged. A TREE
 * facet goes again by its bundled taxonomy's name with its root, depth, beam and template; one made
 * from a file's text cannot, since the gateway keeps the tree but does not return the text. A TREE
 * facet's attribute facets (the others of `facets`) go again as its `attributes`.
 */
export function facetInputOf(facet: FacetRead, facets: readonly FacetRead[] = []): FacetInput {
  if (facet.mode !== 'TREE' || !facet.tree) {
    return {
      name: facet.name,
      mode: facet.mode,
      labels: facet.labels,
      templates: facet.templates,
      threshold: facet.threshold,
      reviewBelow: facet.reviewBelow,
    };
  }
  const { source, root, depth, beamWidth, contextTemplate } = facet.tree;
  if (source === 'text') {
    throw new FacetNotResendable(
      `the facet ${JSON.stringify(facet.name)} is a tree from a file's text, which the gateway does not return, so it cannot be kept as it is: set it again from its file (npm run catalogue -- taxonomy FILE --facet ${facet.name}) after this one, or leave it out with --drop-facets.`,
    );
  }
  const attributes = attributesOf(facet.name, facets);
  return {
    name: facet.name,
    mode: 'TREE',
    reviewBelow: facet.reviewBelow,
    ...(attributes ? { attributes } : {}),
    tree: {
      bundled: source,
      ...(root === null ? {} : { root }),
      ...(depth === null ? {} : { depth }),
      beamWidth,
      contextTemplate,
    },
  };
}

/** The gateway answered, but not with data: why, and whether (and when) to ask again. */
export class GatewayAnswerError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** One GraphQL request; 429 and 503 with Retry-After are waited out a few times, as the import waits them. */
export async function graphql<T>(url: string, key: string | undefined, query: string, variables: object = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request<T>(url, key, query, variables);
    } catch (error) {
      if (!(error instanceof GatewayAnswerError) || error.retryAfterSeconds === undefined || attempt === 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(error.retryAfterSeconds!, 30) * 1000));
    }
  }
}

async function request<T>(url: string, key: string | undefined, query: string, variables: object): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
  } catch (error) {
    throw new GatewayAnswerError(
      `no answer from ${url}: ${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}`,
    );
  }
  const body = (await response.json().catch(() => undefined)) as { data?: T; errors?: { message: string }[] } | undefined;
  if (body?.data && !body.errors?.length) return body.data;
  const why = body?.errors?.map((e) => e.message).join(' ') || `HTTP ${response.status}`;
  const retryAfter = Number(response.headers.get('retry-after'));
  const shed = (response.status === 429 || response.status === 503) && retryAfter > 0;
  throw new GatewayAnswerError(`the gateway at ${url} refused: ${why}`, shed ? retryAfter : undefined);
}

/** The `attributes` that made the TREE facet `tree`'s attribute facets, or undefined when it has none. */
export function attributesOf(tree: string, facets: readonly FacetRead[]): FacetInput['attributes'] {
  const made = facets.filter((f) => f.attribute && f.under?.facet === tree);
  if (made.length === 0) return undefined;
  return { only: made.map((f) => f.attribute!.handle), reviewBelow: made[0].reviewBelow };
}
