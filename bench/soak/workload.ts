// The workload: every image and every embedded text distinct, so that neither the gateway's
// caches nor the catalogue's stored vectors answer instead of the model.
import { seeded } from '../lib';
import type { Check } from './outcome';
import { KINDS, type MixKind } from './settings';

/** The bundled tiny CLIP's vocabulary (8 colours × 4 shapes); the bench model has random weights, so any labels do. */
export const COLOURS = ['red', 'orange', 'yellow', 'green', 'cyan', 'blue', 'purple', 'pink'];
export const SHAPES = ['circle', 'square', 'star', 'triangle'];
export const STYLES = ['photo', 'picture', 'drawing', 'rendering'];
export const FACETS = [
  { name: 'colour', labels: COLOURS },
  { name: 'shape', labels: SHAPES },
];
/** classify's labels: the same set every time, as a shop's would be (cached after the first). */
export const CLASSIFY_LABELS = COLOURS.slice(0, 5).flatMap((c, i) => [`${c} ${SHAPES[i % 4]}`, `${c} ${SHAPES[(i + 1) % 4]}`]);

/**
 * The JPEG with a comment segment (COM, FF FE) after its start marker: other bytes, so another
 * content hash for the gateway's image cache and the catalogue, the same pixels. A few base
 * images then give any number of distinct ones at the cost of a copy, where making and encoding
 * a fresh picture per request would take the load generator's CPU from the gateway on two cores.
 */
export function jpegVariant(base: Buffer, tag: string): Buffer {
  const text = Buffer.from(tag, 'latin1');
  const segment = Buffer.alloc(4 + text.length);
  segment[0] = 0xff;
  segment[1] = 0xfe;
  segment.writeUInt16BE(text.length + 2, 2);
  text.copy(segment, 4);
  return Buffer.concat([base.subarray(0, 2), segment, base.subarray(2)]);
}

export interface Built {
  body: string;
  check: Check;
  /** An upsert's product, to be read back afterwards. */
  product?: { id: string; title: string };
}

export const QUERIES = {
  embed: 'query($i:[MediaInput!]!){ embed(inputs:$i){ vector } }',
  classify: 'query($i:[ImageInput!]!,$l:[String!]!){ classify(images:$i, labels:$l, topK:3){ labels { label score } } }',
  similarity: 'query($a:[MediaInput!]!,$b:[MediaInput!]!){ similarity(a:$a, b:$b) }',
  search: 'query($q:SearchQuery!){ productSearch(query:$q, first:10){ score product { id } } }',
  upsert:
    'mutation($p:[ProductInput!]!){ productsUpsert(products:$p){ products { id title tags { facet label } } userErrors { field message code } } }',
  product: 'query($id:ID!){ product(id:$id){ id title tags { facet label } } }',
  jobStart:
    'mutation($k:String!){ taggingJobStart(reembed:true, idempotencyKey:$k){ job { id status total } userErrors { field message code } } }',
  job: 'query($id:ID!){ taggingJob(id:$id){ id status total processed failed errors { field message code } } }',
};

export class Workload {
  private n = 0;
  private readonly random = seeded(20261203);
  private readonly cumulative: [MixKind, number][];
  private readonly total: number;

  constructor(
    private readonly jpegs: Buffer[],
    private readonly dim: number,
    mix: Record<MixKind, number>,
  ) {
    let sum = 0;
    this.cumulative = KINDS.filter((k) => mix[k] > 0).map((k) => [k, (sum += mix[k])]);
    this.total = sum;
  }

  pick(): MixKind {
    const r = this.random() * this.total;
    return this.cumulative.find(([, upTo]) => r < upTo)?.[0] ?? this.cumulative[this.cumulative.length - 1][0];
  }

  image(): string {
    const n = this.n++;
    return jpegVariant(this.jpegs[n % this.jpegs.length], `soak ${n}`).toString('base64');
  }

  /** "a drawing of a green pink red star": the counter in base 8, one colour word per digit, so never the same text twice. */
  text(): string {
    let n = this.n++;
    const words: string[] = [];
    do {
      words.push(COLOURS[n % 8]);
      n = Math.floor(n / 8);
    } while (n > 0);
    return `a ${STYLES[this.n % STYLES.length]} of a ${words.join(' ')} ${SHAPES[this.n % SHAPES.length]}`;
  }

  build(kind: MixKind): Built {
    const dim = this.dim;
    const vectors =
      (count: number): Check =>
      (data) => {
        const embed = data.embed as ({ vector: number[] } | null)[] | undefined;
        if (embed?.length !== count || !embed.every((e) => e?.vector.length === dim)) return `expected ${count} vectors of ${dim}`;
        return undefined;
      };
    const hits: Check = (data) => ((data.productSearch as unknown[] | undefined)?.length ? undefined : 'no products found');
    const json = (query: string, variables: Record<string, unknown>) => JSON.stringify({ query, variables });
    switch (kind) {
      case 'embedText':
        return { body: json(QUERIES.embed, { i: Array.from({ length: 4 }, () => ({ text: this.text() })) }), check: vectors(4) };
      case 'embedImage':
        return { body: json(QUERIES.embed, { i: [{ imageBase64: this.image() }] }), check: vectors(1) };
      case 'classify':
        return {
          body: json(QUERIES.classify, { i: [{ base64: this.image() }], l: CLASSIFY_LABELS }),
          check: (data) => {
            const result = data.classify as ({ labels: unknown[] } | null)[] | undefined;
            return result?.length === 1 && result[0]?.labels.length === 3 ? undefined : 'expected 1 classification of 3 labels';
          },
        };
      case 'similarity':
        return {
          body: json(QUERIES.similarity, { a: [{ text: this.text() }, { text: this.text() }], b: [{ imageBase64: this.image() }] }),
          check: (data) => {
            const rows = data.similarity as number[][] | null | undefined;
            return rows?.length === 2 && rows.every((r) => r.length === 1 && Number.isFinite(r[0])) ? undefined : 'expected a 2×1 matrix';
          },
        };
      case 'searchText':
        return { body: json(QUERIES.search, { q: { text: this.text() } }), check: hits };
      case 'searchImage':
        return { body: json(QUERIES.search, { q: { image: { base64: this.image() } } }), check: hits };
      case 'upsert': {
        const id = `soak-${this.n}`;
        const title = `soak product ${this.n}`;
        return {
          body: json(QUERIES.upsert, { p: [{ id, title, images: [{ base64: this.image() }], attributes: { source: 'soak' } }] }),
          check: (data) => {
            const payload = data.productsUpsert as { products: ({ id: string; tags: unknown[] } | null)[] } | undefined;
            const product = payload?.products[0];
            return product?.id === id && product.tags.length === FACETS.length ? undefined : `expected ${id} with one tag per facet`;
          },
          product: { id, title },
        };
      }
    }
  }
}
