import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import sharp from 'sharp';

import { bundledModelDir } from '../../functions/models';

/** The bundled tiny CLIP made by scripts/tiny_clip/make_tiny_clip.py, in the layout of a real export. */
export const TINY_CLIP_DIR = bundledModelDir();

interface RawReference {
  domain: {
    colours: Record<string, [number, number, number]>;
    shapes: string[];
    templates: string[];
    colour_jitter: number;
    background_tint: number;
  };
  texts: { text: string; ids: number[]; embedding: string }[];
  images: { file: string; crop: string; embedding: string }[];
}

export interface Reference {
  domain: RawReference['domain'];
  classes: string[];
  texts: { text: string; ids: number[]; embedding: Float32Array }[];
  images: { file: string; bytes: Buffer; crop: Uint8Array; embedding: Float32Array }[];
}

const floats = (b64: string) => {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};

/** Token ids, PIL crops and PyTorch embeddings written by the training script. */
export function loadReference(): Reference {
  const raw = JSON.parse(readFileSync(join(TINY_CLIP_DIR, 'reference.json'), 'utf8')) as RawReference;
  return {
    domain: raw.domain,
    classes: Object.keys(raw.domain.colours).flatMap((colour) => raw.domain.shapes.map((shape) => `${colour} ${shape}`)),
    texts: raw.texts.map((t) => ({ text: t.text, ids: t.ids, embedding: floats(t.embedding) })),
    images: raw.images.map((i) => ({
      file: i.file,
      bytes: readFileSync(join(TINY_CLIP_DIR, i.file)),
      crop: new Uint8Array(Buffer.from(i.crop, 'base64')),
      embedding: floats(i.embedding),
    })),
  };
}

/** A small deterministic PRNG (mulberry32), so generated images are the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));

function shapeSvg(shape: string, cx: number, cy: number, r: number, angle: number, fill: string): string {
  const polygon = (points: [number, number][]) =>
    `<polygon points="${points.map(([x, y]) => `${x.toFixed(2)},${y.toFixed(2)}`).join(' ')}" fill="${fill}"/>`;
  const around = (count: number, radius: (k: number) => number, offset: number) =>
    Array.from({ length: count }, (_, k): [number, number] => {
      const a = angle + offset + (k * 2 * Math.PI) / count;
      return [cx + radius(k) * Math.cos(a), cy + radius(k) * Math.sin(a)];
    });
  switch (shape) {
    case 'circle':
      return `<circle cx="${cx}" cy="${cy}" r="${r}" fill="${fill}"/>`;
    case 'square':
      return polygon(around(4, () => r * Math.SQRT2, Math.PI / 4));
    case 'triangle':
      return polygon(around(3, () => r * 1.15, -Math.PI / 2));
    case 'star':
      return polygon(around(10, (k) => (k % 2 === 0 ? r * 1.2 : r * 0.5), -Math.PI / 2));
    default:
      throw new Error(`unknown shape ${shape}`);
  }
}

/**
 * Draws `colour shape` as the training script's domain describes it, but with an SVG rendered by
 * sharp (librsvg) instead of PIL, and with this PRNG instead of the script's seeds: images the
 * model has never seen, made by a different renderer.
 */
export async function drawShape(
  reference: Reference,
  label: string,
  random: () => number,
  format: 'png' | 'jpeg' = 'png',
): Promise<Buffer> {
  const [colour, shape] = label.split(' ');
  const { colours, colour_jitter: jitter, background_tint: tint } = reference.domain;
  const width = 64 + Math.floor(random() * 65);
  const height = 64 + Math.floor(random() * 65);
  const grey = Math.floor(random() * 256);
  const background = [0, 1, 2].map(() => clamp(grey + (random() * 2 - 1) * tint));
  const fill = colours[colour].map((c) => clamp(c + (random() * 2 - 1) * jitter));
  const side = Math.min(width, height);
  const r = (0.2 + random() * 0.16) * side;
  const slack = Math.max(0, side / 2 - r * 1.25);
  const cx = width / 2 + (random() * 2 - 1) * slack;
  const cy = height / 2 + (random() * 2 - 1) * slack;
  const angle = random() * 2 * Math.PI;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="rgb(${background.join(',')})"/>
    ${shapeSvg(shape, cx, cy, r, angle, `rgb(${fill.join(',')})`)}
  </svg>`;
  const image = sharp(Buffer.from(svg));
  return format === 'png' ? image.png().toBuffer() : image.jpeg({ quality: 90 }).toBuffer();
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}
