/**
 * Attribute values for products whose category is known, from vectors alone: per attribute, one
 * matrix product of the products it applies to with its values' vectors (matrix.ts), then a softmax
 * of logitScale × similarity over the attribute's values per product, as a facet is scored
 * (tagging.ts). Products whose category has no visual attribute, or is unknown, get none.
 */
import { matrixProduct } from '../matrix';
import type { ApplicableAttribute, ApplicableAttributes } from './applies';

/** One scored value of one attribute of one product. */
export interface AttributeTag {
  productId: string;
  /** The attribute's handle (`color`). */
  attribute: string;
  /** `gid://shopify/TaxonomyValue/...`. */
  valueId: string;
  valueName: string;
  /** Softmax over the attribute's values of logitScale × similarity. */
  score: number;
  /** Cosine similarity of the product's vector with the value's. */
  similarity: number;
}

export interface AttributeProduct {
  productId: string;
  /** Unit length, from the same model as the value vectors. */
  vector: Float32Array;
  /** Category ids from the root down to the product's category, short or GID (see ApplicableAttributes.forPath); empty when unknown. */
  categoryPath: readonly string[];
}

export interface AttributeScorerOptions {
  /** CLIP's trained logit scale (100 for OpenAI's checkpoints); no default: it is the model's. */
  logitScale: number;
}

/** What a change of a product's category does to its attribute tags. */
export interface AttributeRescore {
  /** The product's attribute tags under its new category: they replace all it had. */
  tags: AttributeTag[];
  /** Attributes the old category had and the new one has not: their tags go. */
  dropped: string[];
}

/** One attribute's values as the right-hand matrix: dim × values, row-major, a column per value. */
interface AttributeMatrix {
  attribute: ApplicableAttribute;
  columns: Float32Array;
}

/**
 * Scores products' visual attributes. Built once per model: the value vectors are checked (one per
 * value of every attribute some category has, all of one dimension) and laid out as matrices here,
 * not per call.
 */
export class AttributeScorer {
  readonly dimension: number;
  private readonly matrices = new Map<string, AttributeMatrix>();
  private readonly logitScale: number;

  /** `valueVectors`: a unit vector per value id, e.g. the mean of its prompts' vectors (prompts.ts). */
  constructor(
    readonly applicable: ApplicableAttributes,
    valueVectors: ReadonlyMap<string, Float32Array>,
    options: AttributeScorerOptions,
  ) {
    if (!Number.isFinite(options.logitScale) || options.logitScale <= 0) {
      throw new RangeError(`logitScale must be a positive number: ${options.logitScale}`);
    }
    this.logitScale = options.logitScale;
    let dimension = 0;
    for (const attribute of applicable.attributes) {
      const vectors = attribute.values.map((value) => {
        const vector = valueVectors.get(value.id);
        if (!vector) throw new RangeError(`attribute ${attribute.handle}: no vector for its value ${value.name} (${value.id}).`);
        if (vector.length === 0) throw new RangeError(`attribute ${attribute.handle}: the vector of ${value.name} (${value.id}) is empty.`);
        dimension ||= vector.length;
        if (vector.length !== dimension) {
          throw new RangeError(
            `attribute ${attribute.handle}: the vector of ${value.name} (${value.id}) has ${vector.length} dimensions, others ${dimension}.`,
          );
        }
        return vector;
      });
      const columns = new Float32Array(dimension * vectors.length);
      vectors.forEach((vector, v) => {
        for (let i = 0; i < dimension; i++) columns[i * vectors.length + v] = vector[i];
      });
      this.matrices.set(attribute.handle, { attribute, columns });
    }
    this.dimension = dimension;
  }

  /**
   * The attribute tags of many products: per product, its category's attributes in the
   * allowlist's order; per attribute the best value (single) or every value reaching 1 / values,
   * best first (multi). Products in the order given.
   */
  async score(products: readonly AttributeProduct[]): Promise<AttributeTag[]> {
    // Which products each attribute applies to, from each product's category.
    const rows = new Map<string, number[]>();
    const lists = products.map((product, p) => {
      const attributes = this.applicable.forPath(product.categoryPath, `product ${product.productId}'s category path`);
      if (attributes.length > 0 && product.vector.length !== this.dimension) {
        throw new RangeError(
          `product ${product.productId}: its vector has ${product.vector.length} dimensions, the values' ${this.dimension}.`,
        );
      }
      for (const { handle } of attributes) {
        let members = rows.get(handle);
        if (!members) rows.set(handle, (members = []));
        members.push(p);
      }
      return attributes;
    });
    // Each product's tags per attribute, in its list's order.
    const picked = lists.map((attributes) => new Array<AttributeTag[]>(attributes.length));
    // One buffer holds every attribute's rows in turn, rather than a matrix of up to 20 MB per attribute.
    const scratch = new Float32Array(Math.max(0, ...[...rows.values()].map((m) => m.length)) * this.dimension);
    for (const [handle, members] of rows) {
      const { attribute, columns } = this.matrices.get(handle)!;
      const count = attribute.values.length;
      const a = scratch.subarray(0, members.length * this.dimension);
      members.forEach((p, r) => a.set(products[p].vector, r * this.dimension));
      const similarities = await matrixProduct(a, members.length, columns, this.dimension, count);
      members.forEach((p, r) => {
        picked[p][lists[p].indexOf(attribute)] = this.pick(products[p].productId, attribute, similarities, r * count);
      });
    }
    return picked.flat(2);
  }

  /**
   * A product's attributes after a manual change of its category: every attribute tag it should
   * have under the new path (none if the new category has no visual attribute), and the attributes
   * of the old path it no longer has. Its vector is the one already stored: no image inference.
   */
  async rescore(
    product: { productId: string; vector: Float32Array },
    previousPath: readonly string[],
    categoryPath: readonly string[],
  ): Promise<AttributeRescore> {
    const before = this.applicable.forPath(previousPath, `product ${product.productId}'s previous category path`);
    const tags = await this.score([{ ...product, categoryPath }]);
    const now = new Set(this.applicable.forPath(categoryPath).map((a) => a.handle));
    return { tags, dropped: before.map((a) => a.handle).filter((h) => !now.has(h)) };
  }

  /** The kept values of one attribute for one product, from its similarities with every value at `offset`. */
  private pick(productId: string, attribute: ApplicableAttribute, similarities: Float32Array, offset: number): AttributeTag[] {
    const count = attribute.values.length;
    let best = offset;
    for (let at = offset + 1; at < offset + count; at++) if (similarities[at] > similarities[best]) best = at;
    // Softmax of logitScale × similarity, shifted by the largest for exp's sake.
    let total = 0;
    for (let at = offset; at < offset + count; at++) total += Math.exp((similarities[at] - similarities[best]) * this.logitScale);
    const tag = (at: number, score: number): AttributeTag => ({
      productId,
      attribute: attribute.handle,
      valueId: attribute.values[at - offset].id,
      valueName: attribute.values[at - offset].name,
      score,
      similarity: similarities[at],
    });
    if (attribute.mode === 'single') return [tag(best, 1 / total)];
    const kept: AttributeTag[] = [];
    for (let at = offset; at < offset + count; at++) {
      const score = Math.exp((similarities[at] - similarities[best]) * this.logitScale) / total;
      if (score >= 1 / count) kept.push(tag(at, score));
    }
    return kept.sort((x, y) => y.score - x.score);
  }
}
