import type { Embedder } from '../../../gateway/catalogue/embedder';
import { PROMPT_STEP, PromptFailed, PromptVectors } from '../../../gateway/catalogue/prompt-vectors';
import type { CatalogueStore } from '../../../gateway/store';
import { shapeProducts } from '../../helpers/catalogue';
import { createTestGateway, gatewaysOnOneFile, histogram, type TestGateway } from '../../helpers/gateway';
import { loadReference } from '../../helpers/tiny-clip';

const reference = loadReference();
const TEMPLATES = ['a photo of a {}.', 'a drawing of a {}.'];
const KIND = [{ name: 'kind', labels: reference.classes, templates: TEMPLATES }];
const promptsOf = (labels: readonly string[]) => labels.flatMap((label) => TEMPLATES.map((t) => t.replace('{}', label)));

/** Texts the gateway's backend was asked to embed, so far. */
async function textsEmbedded(t: TestGateway): Promise<number> {
  return (await histogram(t.gateway, 'batchSize', { kind: 'text' })).sum;
}

function bytes(vector: Float32Array | undefined): string | undefined {
  return vector && Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('hex');
}

describe('label vectors stored per model and prompt', () => {
  /** A gateway on the test's catalogue file: a new process's worth of caches and runner, the same store. */
  const gatewayOnFile = gatewaysOnOneFile('label-vectors-');

  it('a gateway restarted on the same store embeds no label prompt, and tags exactly as the first did', async () => {
    const [first, second] = await shapeProducts(41);
    const a = await gatewayOnFile();
    await a.gateway.catalogue.setTaxonomy(KIND);
    expect(await textsEmbedded(a)).toBe(reference.classes.length * TEMPLATES.length);
    await a.gateway.catalogue.upsertProducts([first]);
    const tagsInA = (await a.gateway.catalogue.getTags([first.id])).get(first.id);
    // What the first gateway embedded, from its own cache (no backend call): the vectors it stored.
    const prompts = promptsOf(reference.classes);
    const embeddedInA = await Promise.all(prompts.map((text) => a.gateway.embeddings.embedText(text)));
    expect(await textsEmbedded(a)).toBe(prompts.length);
    await a.stop();

    const b = await gatewayOnFile();
    const before = await textsEmbedded(b);
    await b.gateway.catalogue.upsertProducts([second, { ...first, title: 'again' }]);
    expect(await textsEmbedded(b)).toBe(before);
    expect(before).toBe(0);
    // The same label vectors, so the same tags to the last bit of their scores.
    expect((await b.gateway.catalogue.getTags([first.id])).get(first.id)).toEqual(tagsInA);
    expect((await b.gateway.catalogue.getTags([second.id])).get(second.id)).toEqual([
      expect.objectContaining({ label: second.title, taxonomyVersion: 1 }),
    ]);
    const stored = await b.gateway.store.getLabelVectors(b.gateway.catalogue.model, prompts);
    expect(prompts.map((text) => bytes(stored.get(text)))).toEqual(embeddedInA.map(bytes));
  });

  it('a new taxonomy version embeds only the prompts of the label it adds, after a restart too', async () => {
    const a = await gatewayOnFile();
    const [first, second] = reference.classes;
    await a.gateway.catalogue.setTaxonomy([{ name: 'kind', labels: [first], templates: TEMPLATES }]);
    expect(await textsEmbedded(a)).toBe(TEMPLATES.length);
    await a.stop();

    const b = await gatewayOnFile();
    const taxonomy = await b.gateway.catalogue.setTaxonomy([
      { name: 'kind', labels: [first, second], templates: TEMPLATES },
      // Another facet sharing a label and a template: its prompts are the same texts, embedded once.
      { name: 'again', labels: [second], templates: [TEMPLATES[0]] },
    ]);
    expect(taxonomy.version).toBe(2);
    expect(await textsEmbedded(b)).toBe(TEMPLATES.length);
    const stored = await b.gateway.store.getLabelVectors(b.gateway.catalogue.model, promptsOf([first, second]));
    expect(stored.size).toBe(2 * TEMPLATES.length);
  });
});

describe('PromptVectors when a prompt cannot be embedded', () => {
  let t: TestGateway;
  let store: CatalogueStore;
  /** The gateway's embedder, failing the prompts named in `failing` (a stand-in for a backend refusing one input). */
  const failing = new Set<string>();
  const asked: string[] = [];
  let embedder: Embedder;

  beforeEach(async () => {
    t = await createTestGateway();
    store = t.gateway.store;
    failing.clear();
    asked.length = 0;
    const real = t.gateway.embeddings;
    embedder = {
      model: real.model,
      embedText: (text, signal) => {
        asked.push(text);
        return failing.has(text) ? Promise.reject(new Error(`refused ${text}`)) : real.embedText(text, signal);
      },
      embedImage: (data, signal, sha256) => real.embedImage(data, signal, sha256),
    };
  });

  afterEach(() => t.stop());

  it('stores the rest of the step, and names the prompt that failed; asked again, embeds only that one', async () => {
    const prompts = new PromptVectors(store, embedder, t.gateway.catalogue.model);
    const texts = promptsOf(reference.classes.slice(0, 3));
    failing.add(texts[3]);
    const error = await prompts.vectorsOf(texts).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PromptFailed);
    expect((error as PromptFailed).text).toBe(texts[3]);
    expect(((error as PromptFailed).reason as Error).message).toBe(`refused ${texts[3]}`);
    expect((await prompts.missing(texts)).sort()).toEqual([texts[3]]);

    failing.clear();
    asked.length = 0;
    const progress: [number, number][] = [];
    const vectors = await prompts.vectorsOf([...texts, texts[0]], (done, of) => progress.push([done, of]));
    expect(asked).toEqual([texts[3]]);
    expect(progress).toEqual([[1, 1]]);
    expect([...vectors.keys()].sort()).toEqual([...texts].sort());
  });

  it('embeds past one step, storing each step before the next', async () => {
    const prompts = new PromptVectors(store, embedder, t.gateway.catalogue.model);
    const texts = Array.from({ length: PROMPT_STEP + 3 }, (_, i) => `a photo of thing ${i}.`);
    const progress: number[] = [];
    const vectors = await prompts.vectorsOf(texts, (done) => progress.push(done));
    expect(progress).toEqual([PROMPT_STEP, PROMPT_STEP + 3]);
    expect(vectors.size).toBe(texts.length);
    expect((await store.getLabelVectors(t.gateway.catalogue.model, texts)).size).toBe(texts.length);
  });
});
