import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { EmbedResult } from '../../functions/clip';
import type { ClipModel } from '../../functions/clip/model';
import { bundledModelDir } from '../../functions/models';

/** The least cosine similarity accepted between an embedding on the checked provider and on the CPU. */
export const MIN_COSINE = 0.9999;

/** Texts compared besides the images: prompts as users write them, an empty one, non-ASCII, one past the context length. */
export const CHECK_TEXTS = [
  'a photo of a red circle.',
  'a photo of a dog',
  'itap of a pink triangle',
  'A   PHOTO of a Blue\tSquare!',
  '',
  'Café crème naïve 🍰',
  'a diagram of a rocket on a launch pad',
  'the quick brown fox jumps over the lazy dog '.repeat(12),
];

/** The images bundled with the tiny CLIP (models/tiny-clip/images): every format and colour mode the function decodes. */
export function bundledImages(): { name: string; bytes: Buffer }[] {
  const dir = join(bundledModelDir(), 'images');
  return readdirSync(dir)
    .filter((name) => /\.(?:jpe?g|png|webp)$/i.test(name))
    .sort()
    .map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));
}

export interface Agreement {
  /** The image's file name or the text, as the report shows it. */
  label: string;
  /** Cosine similarity of the two embeddings; NaN when either failed. */
  cosine: number;
  /** Why there is no cosine. */
  error?: string;
}

/** Embeds the same inputs on both models and compares each pair. */
export async function compareWithCpu(
  checked: ClipModel,
  cpu: ClipModel,
  images: { name: string; bytes: Buffer }[],
  texts: string[],
): Promise<{ images: Agreement[]; texts: Agreement[] }> {
  const imageBytes = images.map((image) => image.bytes);
  const [checkedImages, cpuImages] = [await checked.embedImages(imageBytes), await cpu.embedImages(imageBytes)];
  const [checkedTexts, cpuTexts] = [await checked.embedTexts(texts), await cpu.embedTexts(texts)];
  return {
    images: images.map((image, i) => agreement(image.name, checkedImages[i], cpuImages[i])),
    texts: texts.map((text, i) =>
      agreement(JSON.stringify(text.length > 40 ? `${text.slice(0, 37)}...` : text), checkedTexts[i], cpuTexts[i]),
    ),
  };
}

function agreement(label: string, checked: EmbedResult, cpu: EmbedResult): Agreement {
  if (!checked.ok) return { label, cosine: NaN, error: `checked provider: ${checked.code}: ${checked.message}` };
  if (!cpu.ok) return { label, cosine: NaN, error: `CPU: ${cpu.code}: ${cpu.message}` };
  let dot = 0;
  let a = 0;
  let b = 0;
  for (let i = 0; i < checked.vector.length; i++) {
    dot += checked.vector[i] * cpu.vector[i];
    a += checked.vector[i] ** 2;
    b += cpu.vector[i] ** 2;
  }
  return { label, cosine: dot / Math.sqrt(a * b) };
}

/** "24 of 24 at or above 0.9999; lowest 0.999998 (wide-red-circle.jpg)", and the failures by name. */
export function summarise(what: string, agreements: Agreement[]): { line: string; failures: string[] } {
  const failures = agreements.flatMap((a) =>
    a.error !== undefined ? [`${a.label}: ${a.error}`] : a.cosine < MIN_COSINE ? [`${a.label}: cosine ${a.cosine.toFixed(6)}`] : [],
  );
  const measured = agreements.filter((a) => a.error === undefined);
  const lowest = measured.reduce<Agreement | undefined>((low, a) => (low === undefined || a.cosine < low.cosine ? a : low), undefined);
  const passed = agreements.length - failures.length;
  const low = lowest ? `; lowest ${lowest.cosine.toFixed(6)} (${lowest.label})` : '';
  return { line: `${what}: ${passed} of ${agreements.length} at or above ${MIN_COSINE}${low}`, failures };
}
