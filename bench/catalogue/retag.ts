// Re-tagging from stored vectors: setTaxonomy over a catalogue of synthetic products, the label
// prompts' own cost apart, and the tagging arithmetic alone for comparison.
import { DEFAULT_FACET_TEMPLATES, tagsForMany, type FacetInput, type ScoredFacet } from '../../gateway/catalogue';
import { modelKey } from '../../gateway/store';
import { fmt, metric, seeded } from '../lib';
import type { Catalogue } from './composed';
import { progress, type CatalogueBenchOptions } from './options';
import { idOf } from './products';
import type { ClusteredVectors } from './vectors';

// prettier-ignore
export const LABELS_50 = [
  'sneaker', 'boot', 'sandal', 'loafer', 'slipper', 'high heel', 'running shoe', 'hiking boot', 'flip-flop', 'clog',
  'jacket', 'coat', 'shirt', 't-shirt', 'sweater', 'hoodie', 'dress', 'skirt', 'jeans', 'shorts',
  'handbag', 'backpack', 'wallet', 'belt', 'scarf', 'hat', 'cap', 'glove', 'sock', 'tie',
  'watch', 'necklace', 'ring', 'bracelet', 'earring', 'sunglasses', 'umbrella', 'suitcase', 'lamp', 'chair',
  'table', 'sofa', 'mug', 'plate', 'vase', 'pillow', 'blanket', 'clock', 'mirror', 'rug',
];

/** 50 labels in one facet, then the same number over three facets (three tags a product instead of one). */
export const RETAG_CASES: { name: string; facets: FacetInput[] }[] = [
  { name: `1 facet × ${LABELS_50.length} labels`, facets: [{ name: 'kind', labels: LABELS_50 }] },
  {
    name: '3 facets: 12 + 12 + 26 labels',
    facets: [
      { name: 'colour', labels: ['red', 'orange', 'yellow', 'green', 'teal', 'blue', 'navy', 'purple', 'pink', 'brown', 'black', 'white'] },
      {
        name: 'material',
        labels: ['leather', 'suede', 'canvas', 'cotton', 'wool', 'linen', 'silk', 'denim', 'nylon', 'metal', 'wood', 'glass'],
      },
      { name: 'type', labels: LABELS_50.slice(0, 26).map((l) => `${l} style`) },
    ],
  },
];

export interface RetagCase {
  name: string;
  facets: number;
  labels: number;
  labelMs: number;
  prompts: number;
  setMs: number;
  tags: number;
  checked: number;
  imagesBefore: number;
  imagesAfter: number;
  imageBatchesBefore: number;
  imageBatchesAfter: number;
  storeTime: [string, { calls: number; ms: number }][];
  mathMs: number;
}

export interface RetagFigures {
  size: number;
  cases: RetagCase[];
}

export async function imageBatches(metrics: Catalogue['metrics']): Promise<number> {
  const count = metric(await metrics.registry.metrics(), 'clip_gateway_inference_seconds_count', 'kind="image",outcome="ok"');
  return Number.isNaN(count) ? 0 : count;
}

export async function retagging(catalogue: Catalogue, data: ClusteredVectors, size: number): Promise<RetagFigures> {
  const { service, embeddings, metrics, sent, storeTime } = catalogue;
  const cases: RetagCase[] = [];
  for (const c of RETAG_CASES) {
    // The label prompts alone first, the text cache cold: their cost is the model's, not the re-tag's.
    const prompts = c.facets.flatMap((f) => (f.labels ?? []).map((l) => DEFAULT_FACET_TEMPLATES[0].replaceAll('{}', l)));
    const l0 = performance.now();
    const vectors = await Promise.all(prompts.map((p) => embeddings.embedText(p)));
    const labelMs = performance.now() - l0;
    const imagesBefore = sent.images;
    const imageBatchesBefore = await imageBatches(metrics);
    storeTime.clear();
    // setTaxonomy as a whole, its prompts now in the text cache: what it takes is the re-tag.
    const s0 = performance.now();
    const taxonomy = await service.setTaxonomy(c.facets);
    const setMs = performance.now() - s0;
    const times = [...storeTime].sort((a, b) => b[1].ms - a[1].ms);
    // Every product tagged once per facet by this version: checked on a random sample.
    const random = seeded(17);
    const sample = Array.from({ length: 1000 }, () => idOf((random() * size) | 0));
    const tags = await service.getTags(sample);
    const checked = sample.filter((id) => {
      const auto = (tags.get(id) ?? []).filter((t) => t.source === 'auto' && t.taxonomyVersion === taxonomy.version);
      return auto.length === c.facets.length;
    }).length;
    // The arithmetic alone, on the vectors that were written (in memory) and the same label vectors: how much of the re-tag is the tagging math.
    const scored: ScoredFacet[] = [];
    let at = 0;
    for (const row of taxonomy.facets) {
      scored.push({ facet: row, labelVectors: vectors.slice(at, at + row.labels.length) });
      at += row.labels.length;
    }
    // In pages of 2000, as the service re-tags.
    const context = { logitScale: embeddings.model.info.logitScale, model: modelKey(service.model), taxonomyVersion: taxonomy.version };
    const m0 = performance.now();
    let tagCount = 0;
    for (let from = 0; from < size; from += 2000) {
      const page = Array.from({ length: Math.min(2000, size - from) }, (_, i) => ({
        productId: idOf(from + i),
        vector: data.vector(from + i),
      }));
      tagCount += (await tagsForMany(page, scored, context)).length;
    }
    const mathMs = performance.now() - m0;
    cases.push({
      name: c.name,
      facets: c.facets.length,
      labels: prompts.length,
      labelMs,
      prompts: prompts.length,
      setMs,
      tags: tagCount,
      checked,
      imagesBefore,
      imagesAfter: sent.images,
      imageBatchesBefore,
      imageBatchesAfter: await imageBatches(metrics),
      storeTime: times,
      mathMs,
    });
    progress(`  ${c.name}: setTaxonomy ${fmt(setMs / 1000, 2)} s (${fmt(size / (setMs / 1000), 0)} products/s)`);
  }
  return { size, cases };
}

export function reportRetag(options: CatalogueBenchOptions, figures: RetagFigures): void {
  const { say, targets } = options;
  const { size, cases } = figures;
  say(`### 6.2 Re-tagging from stored vectors (SQLite, ${size.toLocaleString('en')} products)`);
  say();
  say(
    `\`CatalogueService.setTaxonomy\` (composed as \`createGateway\` composes it: the local backend with the bench model, \`EmbeddingService\` with the default batching and caches) over the SQLite store of 6.3 holding ${size.toLocaleString('en')} synthetic products with their vectors. The label prompts (\`${DEFAULT_FACET_TEMPLATES[0]}\`) are first embedded alone with the text cache cold, and timed: that is the label-embedding time. Then \`setTaxonomy\` is timed as a whole with those prompts cached: that is the re-tag time (reading every product's vector, the tagging arithmetic, writing the tags), from which products/s. Image inputs are counted by a wrapper around the backend and image batches from the gateway's \`clip_gateway_inference_seconds_count{kind="image"}\`, before and after.`,
  );
  say();
  say(
    `| taxonomy | label prompts | embedding the labels ms | setTaxonomy (re-tag) s | products re-tagged/s | tags written | sample checked | image inputs before → after | image batches before → after |`,
  );
  say(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  for (const c of cases) {
    say(
      `| ${c.name} | ${c.prompts} | ${fmt(c.labelMs, 0)} | ${fmt(c.setMs / 1000, 2)} | **${fmt(size / (c.setMs / 1000), 0)}** | ${c.tags.toLocaleString('en')} | ${c.checked}/1000 | ${c.imagesBefore} → ${c.imagesAfter} | ${c.imageBatchesBefore} → ${c.imageBatchesAfter} |`,
    );
  }
  say();
  say(
    `Where the re-tag's time goes (store methods' time inside setTaxonomy; the rest is JS: the tagging arithmetic, promises, the service):`,
  );
  say();
  say(`| taxonomy | store method | calls | ms | share of setTaxonomy |`);
  say(`| --- | --- | ---: | ---: | ---: |`);
  for (const c of cases) {
    let storeMs = 0;
    for (const [method, t] of c.storeTime) {
      storeMs += t.ms;
      if (t.ms >= 1)
        say(`| ${c.name} | \`${method}\` | ${t.calls.toLocaleString('en')} | ${fmt(t.ms, 0)} | ${fmt((t.ms / c.setMs) * 100, 0)}% |`);
    }
    say(`| ${c.name} | everything else (JS) | | ${fmt(c.setMs - storeMs, 0)} | ${fmt(((c.setMs - storeMs) / c.setMs) * 100, 0)}% |`);
    say(
      `| ${c.name} | for comparison: \`tagsForMany\` alone over the same ${size.toLocaleString('en')} vectors in memory | ${size.toLocaleString('en')} | ${fmt(c.mathMs, 0)} | (${fmt(size / (c.mathMs / 1000), 0)} products/s) |`,
    );
  }
  say();
  const first = cases[0];
  const rate = size / (first.setMs / 1000);
  const noImages = cases.every((c) => c.imagesAfter === c.imagesBefore && c.imageBatchesAfter === c.imageBatchesBefore);
  targets.push([
    `catalogue: re-tag ${size.toLocaleString('en')} products, ${first.name} (≥ 50,000 products/s, no image inference)`,
    `${fmt(rate, 0)}/s, ${first.imagesAfter - first.imagesBefore} images`,
    rate >= 50_000 && noImages && cases.every((c) => c.checked === 1000),
  ]);
}
