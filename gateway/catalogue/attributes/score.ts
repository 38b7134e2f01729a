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
    const perProduct = products.map((product, p) => {
      const attributes = this.applicable.forPath(product.categoryPath, `product ${product.productId}'s category path`);
      if (attributes.length > 0 && product.vector.length !== this.dimension) {
        throw new RangeError(
          `product ${product.productId}: its vector has ${product.vector.length} dimensions, the values' ${this.dimension}.`,
        );
      }
      for (const { handle } of attributes) {
        let list = rows.get(handle);
        if (!list) rows.set(handle, (list = []));
        list.push(p);
      }
      return { attributes, tags: new Map<string, AttributeTag[]>() };
    });
    for (const [handle, members] of rows) {
      const { attribute, columns } = this.matrices.get(handle)!;
      const count = attribute.values.length;
      const a = new Float32Array(members.length * this.dimension);
      members.forEach((p, r) => a.set(products[p].vector, r * this.dimension));
      const similarities = await matrixProduct(a, members.length, columns, this.dimension, count);
      members.forEach((p, r) => {
        perProduct[p].tags.set(handle, this.pick(products[p].productId, attribute, similarities.subarray(r * count, (r + 1) * count)));
      });
    }
    return perProduct.flatMap(({ attributes, tags }) => attributes.flatMap((a) => tags.get(a.handle)!));
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

  /** The kept values of one attribute for one product from its similarities with every value. */
  private pick(productId: string, attribute: ApplicableAttribute, similarities: Float32Array): AttributeTag[] {
    let best = 0;
    for (let v = 1; v < similarities.length; v++) if (similarities[v] > similarities[best]) best = v;
    // Softmax of logitScale × similarity, shifted by the largest for exp's sake.
    const weights = Array.from(similarities, (s) => Math.exp((s - similarities[best]) * this.logitScale));
    const total = weights.reduce((sum, w) => sum + w, 0);
    const tag = (v: number): AttributeTag => ({
      productId,
      attribute: attribute.handle,
      valueId: attribute.values[v].id,
      valueName: attribute.values[v].name,
      score: weights[v] / total,
      similarity: similarities[v],
    });
    if (attribute.mode === 'single') return [tag(best)];
    const threshold = 1 / similarities.length;
    return weights
      .map((_, v) => tag(v))
      .filter((t) => t.score >= threshold)
      .sort((x, y) => y.score - x.score);
  }
}
