import { dot, meanUnitVector } from '../../functions/clip';
import { ErrorCode } from '../common/errors';
import type { CatalogueStore, FacetRow, ProductRow, TagRow, TaxonomyRow } from '../store';
import { labelPromptsOf, requireGateOpen, rescoredByCategory, withGatedTags } from './attribute-tags';
import type { Embedder } from './embedder';
import { failure, FieldError, storeCall } from './errors';
import type { ModelRoles } from './models';
import type { Products } from './products';
import { PromptFailed, PromptVectors } from './prompt-vectors';
import { tagsFor, tagsForMany, type ScoredFacet, type TaggingContext } from './tagging';
import { pathTo, scoredTreeFacet, treeFacetPrompts } from './tree-facets';
import { facetRows, taxonomyProblems, type FacetInput, type TaxonomyLimits } from './taxonomy';
import { taxonomyPromptTexts } from './taxonomy-prompts';

/** Names listed in full in a message before the rest is counted. */
const LISTED_NAMES = 10;

/** The current taxonomy with its label vectors. */
export type CurrentTaxonomy = { taxonomy: TaxonomyRow; facets: ScoredFacet[] };

/**
 * The taxonomy and the tags it makes: label prompts embedded once per model and prompt text (their
 * vectors stored), automatic tags computed from stored vectors (a taxonomy change re-tags the
 * catalogue without embedding any image), and manual tags checked against the facets.
 */
export class Labels {
  /** Label vectors of one taxonomy version, made once per version and process from the prompts' stored vectors. */
  private scored?: { version: number; facets: Promise<ScoredFacet[]> };
  private readonly prompts: PromptVectors;

  constructor(
    private readonly store: CatalogueStore,
    private readonly embeddings: Embedder,
    private readonly models: ModelRoles,
    private readonly products: Products,
    private readonly limits: TaxonomyLimits,
  ) {
    this.prompts = new PromptVectors(store, embeddings, models.model);
  }

  getTaxonomy(): Promise<TaxonomyRow | undefined> {
    return storeCall(() => this.store.getTaxonomy());
  }

  /**
   * Checks the facets and lists the prompts the store lacks for this model: what the taxonomy job
   * that sets them embeds (taxonomy-jobs.ts). Throws the first problem as a FieldError;
   * `taxonomyProblems` gives them all.
   */
  async taxonomyJob(facets: readonly FacetInput[]): Promise<{ facets: FacetRow[]; texts: string[] }> {
    const problems = taxonomyProblems(facets, this.limits);
    if (problems.length > 0) throw problems[0];
    await this.models.requireActive(['facets'], 'setting the taxonomy (its labels are scored against the stored vectors)');
    const rows = facetRows(facets);
    return { facets: rows, texts: await this.prompts.missing(taxonomyPromptTexts(rows)) };
  }

  /** The label vectors of the current taxonomy (undefined when none is set). */
  async current(): Promise<CurrentTaxonomy | undefined> {
    const taxonomy = await this.getTaxonomy();
    if (!taxonomy) return undefined;
    if (this.scored?.version !== taxonomy.version) {
      const facets = this.scoreFacets(taxonomy.facets);
      this.scored = { version: taxonomy.version, facets };
      facets.catch(() => {
        if (this.scored?.facets === facets) this.scored = undefined;
      });
    }
    return { taxonomy, facets: await this.scored.facets };
  }

  /**
   * The automatic tags of products coming in (none without a taxonomy): each product's alone
   * (tagsFor, the same to the last bit whatever else comes with it), then the facets gated by a
   * category (attribute facets), as autoTagsMany adds them.
   */
  async autoTags(products: { productId: string; vector: Float32Array }[], current: CurrentTaxonomy | undefined): Promise<TagRow[]> {
    if (!current) return [];
    const context = this.context(current);
    const tags = products.flatMap(({ productId, vector }) => tagsFor(productId, vector, current.facets, context));
    return withGatedTags(this.store, products, tags, current.facets, context);
  }

  /**
   * The automatic tags of these products (none without a taxonomy), from one matrix product; then
   * the facets gated by a category (attribute facets), once each product's category is known: its
   * manual one, read from the store, else the one just found (attribute-tags.ts).
   */
  async autoTagsMany(products: { productId: string; vector: Float32Array }[], current: CurrentTaxonomy | undefined): Promise<TagRow[]> {
    if (!current) return [];
    const context = this.context(current);
    return withGatedTags(this.store, products, await tagsForMany(products, current.facets, context), current.facets, context);
  }

  /**
   * Replaces the manual tags of one product's facet (an empty list removes them, and the facet's
   * automatic tag comes back at the next re-tagging). A manual tag scores 1; its similarity is the
   * product vector's with the label's.
   */
  async setManualTags(productId: string, facetName: string, labels: readonly string[]): Promise<ProductRow> {
    const [product] = await this.products.get([productId]);
    if (!product)
      throw new FieldError(['productId'], ErrorCode.NOT_FOUND, `productId: no product has the id ${JSON.stringify(productId)}.`);
    await this.models.requireActive(['productId'], 'setting tags (their similarity is the stored vector against the label)');
    const current = await this.current();
    const f = current?.taxonomy.facets.findIndex((facet) => facet.name === facetName) ?? -1;
    if (!current || f < 0)
      throw new FieldError(['facet'], ErrorCode.BAD_USER_INPUT, `facet: the taxonomy has no facet named ${JSON.stringify(facetName)}.`);
    const { facet, labelVectors, nodeVectors } = current.facets[f];
    const unique = [...new Set(labels.map((l) => l.trim()))];
    if (facet.mode !== 'multi' && unique.length > 1)
      throw new FieldError(
        ['labels'],
        ErrorCode.BAD_USER_INPUT,
        `labels: facet ${JSON.stringify(facet.name)} is ${facet.mode.toUpperCase()} and takes one label, not ${unique.length}.`,
      );
    const missing = unique.findIndex((l) => !facet.labels.includes(l));
    if (missing >= 0)
      throw new FieldError(
        ['labels', String(missing)],
        ErrorCode.BAD_USER_INPUT,
        `labels[${missing}]: facet ${JSON.stringify(facet.name)} has no label ${JSON.stringify(unique[missing])}.`,
      );
    if (unique.length > 0) await requireGateOpen(this.store, current.facets, facet, productId);
    // A TREE facet's category comes with its ancestors: the path a tagging would have given it.
    const written = facet.mode === 'tree' && unique.length === 1 ? pathTo(facet, unique[0])!.map((i) => facet.labels[i]) : unique;
    const labelVector = (label: string) => (nodeVectors ?? labelVectors)[facet.labels.indexOf(label)] ?? null;
    const vector = await storeCall(() => this.store.getProductVector(this.models.model, productId));
    // A category changed by hand re-scores the attributes it gates, in the same write.
    const rescored =
      facet.mode === 'tree'
        ? await rescoredByCategory(
            current.facets,
            facet.name,
            { productId, vector },
            unique.length === 1 ? written : null,
            this.context(current),
          )
        : undefined;
    await storeCall(() =>
      this.store.setManualTags(
        productId,
        facet.name,
        written.map((label) => ({
          label,
          score: 1,
          similarity: vector && labelVector(label) ? dot(vector, labelVector(label)!) : 0,
          needsReview: false,
          model: this.models.key,
          taxonomyVersion: current.taxonomy.version,
        })),
        rescored,
      ),
    );
    return product;
  }

  /**
   * Throws BAD_USER_INPUT unless the current taxonomy has this facet with this label, naming the
   * one that is unknown and the known ones: asking for a label that does not exist is a mistake to
   * show, not an empty answer.
   */
  async requireLabel(facetName: string, label: string): Promise<void> {
    const taxonomy = await this.getTaxonomy();
    if (!taxonomy)
      throw new FieldError(
        ['facet'],
        ErrorCode.BAD_USER_INPUT,
        `facet: the catalogue has no taxonomy yet, so it has no facet named ${quote(facetName)}; set a taxonomy first.`,
      );
    const facet = taxonomy.facets.find((f) => f.name === facetName);
    if (!facet)
      throw new FieldError(
        ['facet'],
        ErrorCode.BAD_USER_INPUT,
        `facet: the taxonomy has no facet named ${quote(facetName)}; ${known(
          'facet',
          taxonomy.facets.map((f) => f.name),
        )}.`,
      );
    if (!facet.labels.includes(label))
      throw new FieldError(
        ['label'],
        ErrorCode.BAD_USER_INPUT,
        `label: facet ${quote(facet.name)} has no label ${quote(label)}; ${known('label', facet.labels)}.`,
      );
  }

  /**
   * Each label's vector: the normalised mean of its prompts' (one per template). Every prompt of
   * every facet is looked up in the store at once, and only those it lacks are embedded (and
   * stored); a prompt that fails names the first label it is a prompt of.
   */
  private async scoreFacets(facets: readonly FacetRow[]): Promise<ScoredFacet[]> {
    const trees = facets.map(treeFacetPrompts);
    const prompts = facets.map((facet, f) => (trees[f] ? [] : labelPromptsOf(facet)));
    let vectors: Map<string, Float32Array>;
    try {
      vectors = await this.prompts.vectorsOf([...prompts.flat(2), ...trees.flatMap((tree) => tree?.prompts.texts ?? [])]);
    } catch (error) {
      if (!(error instanceof PromptFailed)) throw error;
      const f = prompts.findIndex((labels) => labels.some((texts) => texts.includes(error.text)));
      if (f < 0)
        throw failure(['facets', String(trees.findIndex((tree) => tree?.prompts.texts.includes(error.text))), 'tree'], error.reason);
      const l = prompts[f].findIndex((texts) => texts.includes(error.text));
      throw failure(['facets', String(f), 'labels', String(l)], error.reason);
    }
    const logitScale = this.embeddings.model.info.logitScale;
    return facets.map((facet, f) => {
      const tree = trees[f];
      if (tree) return scoredTreeFacet(facet, tree, vectors, logitScale);
      return { facet, labelVectors: prompts[f].map((texts) => meanUnitVector(texts.map((text) => vectors.get(text)!))) };
    });
  }

  private context(current: { taxonomy: TaxonomyRow }): TaggingContext {
    return { logitScale: this.embeddings.model.info.logitScale, model: this.models.key, taxonomyVersion: current.taxonomy.version };
  }
}

/** A name as messages quote it: JSON, cut to 100 characters. */
function quote(name: string): string {
  return JSON.stringify(name.slice(0, 100));
}

/** `its labels are "a", "b" and "c"` (`its only label is "a"`); past LISTED_NAMES, the first ones and how many more. */
function known(noun: string, names: readonly string[]): string {
  if (names.length === 1) return `its only ${noun} is ${quote(names[0])}`;
  const quoted = names.slice(0, LISTED_NAMES).map(quote);
  const rest = names.length - quoted.length;
  const list = rest > 0 ? `${quoted.join(', ')} and ${rest} more` : `${quoted.slice(0, -1).join(', ')} and ${quoted[quoted.length - 1]}`;
  return `its ${noun}s are ${list}`;
}
