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
  images: RawImage[];
  decoding?: RawImage[];
}

/** What PIL saw in a reference file (written by the script since the decoding references). */
export interface ImageFacts {
  /** jpeg, png or webp. */
  format?: string;
  /** PIL's mode on opening: RGB, L, LA, P, RGBA, CMYK, or I (a 16-bit greyscale PNG in PIL 9.4). */
  mode?: string;
  /** [width, height] as stored (before any EXIF orientation). */
  size?: [number, number];
  /** Bits per sample in the file: 8, or 16 for the 16-bit PNGs. */
  bits?: number;
  /** The embedded ICC profile's description, or null for none; never applied by the reference. */
  profile?: string | null;
}

/** Only in the decoding references: what the image exercises and what PIL does with it. */
export interface DecodingFacts {
  /** Where the embedded profile's bytes came from (a Debian package and path), or null. */
  profileSource: string | null;
  /** An alpha channel or a transparent palette index: PIL's convert("RGB") drops it, never composites. */
  transparency: boolean;
  progressive: boolean;
  /** What PIL's convert("RGB"), and so the crop, does with this image. */
  note: string;
}

interface RawImage {
  file: string;
  crop: string;
  embedding: string;
  format?: string;
  mode?: string;
  size?: [number, number];
  bits?: number;
  profile?: string | null;
  profile_source?: string | null;
  transparency?: boolean;
  progressive?: boolean;
  note?: string;
}

export interface ReferenceImage extends ImageFacts {
  file: string;
  bytes: Buffer;
  crop: Uint8Array;
  embedding: Float32Array;
}

export interface Reference {
  domain: RawReference['domain'];
  classes: string[];
  texts: { text: string; ids: number[]; embedding: Float32Array }[];
  /** Shapes in the plain formats: every decoder must crop these as PIL does. */
  images: ReferenceImage[];
  /**
   * Colour profiles (Adobe RGB (1998), Display P3, scikit-image's rocket.jpg) and image modes (L, LA,
   * P with and without transparency, 16-bit grey and RGB, RGBA, CMYK, progressive JPEG, lossless and
   * lossy WebP), each with PIL's crop of it: no colour management, alpha dropped, PIL's own CMYK
   * and 16-bit conversions. Kept apart from `images` so that tests of those stay as they are.
   */
  decoding: (ReferenceImage & DecodingFacts)[];
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
    images: raw.images.map(referenceImage),
    decoding: (raw.decoding ?? []).map((i) => ({
      ...referenceImage(i),
      profileSource: i.profile_source ?? null,
      transparency: i.transparency ?? false,
      progressive: i.progressive ?? false,
      note: i.note ?? '',
    })),
  };
}

function referenceImage(i: RawImage): ReferenceImage {
  return {
    file: i.file,
    bytes: readFileSync(join(TINY_CLIP_DIR, i.file)),
    crop: new Uint8Array(Buffer.from(i.crop, 'base64')),
    embedding: floats(i.embedding),
    format: i.format,
    mode: i.mode,
    size: i.size,
    bits: i.bits,
    profile: i.profile,
  };
}

/** A small deterministic PRNG (mulberry32), and seeded noise bytes, so generated images are the same on every run: the benches' ones. */
export { seeded as seededRandom, seededBytes } from '../../bench/lib/random';

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

/** HSL (hue in turns, saturation and lightness in [0, 1]) to 0–255 RGB. */
function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => {
    const k = (n + h * 12) % 12;
    return clamp(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

const rgb = (c: readonly number[]) => `rgb(${c.map(clamp).join(',')})`;

/**
 * Draws `colour shape` the way a new user's test images might look, with SVG constructions neither
 * the training script (PIL polygons on grey) nor {@link drawShape} (one filled `<polygon>` or
 * `<circle>` on grey) uses: `<ellipse>` circles, rotated `<rect>` squares with rounded corners,
 * `<path>` triangles with uneven vertices, `<polygon>` stars of varying depth, filled flat, with a
 * gradient or inside a stroke outline, on muted tints of any hue or gradients between two of them,
 * on canvases of 96–320 px and aspect ratios up to 1.8, saved as PNG, JPEG (quality 70–95) or
 * WebP. The shape spans a third to three quarters of the short side and lies anywhere inside the
 * centre crop. The training script never saw any of it.
 */
export async function drawUnseenShape(reference: Reference, label: string, random: () => number): Promise<Buffer> {
  const [colour, shape] = label.split(' ');
  const between = (lo: number, hi: number) => lo + random() * (hi - lo);
  const side = Math.floor(between(96, 321));
  const long = Math.floor(side * between(1, 1.8));
  const [width, height] = random() < 0.5 ? [side, long] : [long, side];
  const tint = () => hslToRgb(random(), between(0.05, 0.35), between(0.15, 0.9));

  const defs: string[] = [];
  let background: string;
  const backgroundKind = random();
  if (backgroundKind < 0.5) {
    background = rgb(tint());
  } else if (backgroundKind < 0.8) {
    const a = random() * 2 * Math.PI;
    const [x1, y1, x2, y2] = [0.5 - Math.cos(a) / 2, 0.5 - Math.sin(a) / 2, 0.5 + Math.cos(a) / 2, 0.5 + Math.sin(a) / 2];
    defs.push(
      `<linearGradient id="bg" x1="${x1.toFixed(3)}" y1="${y1.toFixed(3)}" x2="${x2.toFixed(3)}" y2="${y2.toFixed(3)}">` +
        `<stop offset="0" stop-color="${rgb(tint())}"/><stop offset="1" stop-color="${rgb(tint())}"/></linearGradient>`,
    );
    background = 'url(#bg)';
  } else {
    defs.push(
      `<radialGradient id="bg" cx="${between(0.2, 0.8).toFixed(3)}" cy="${between(0.2, 0.8).toFixed(3)}" r="${between(0.5, 0.9).toFixed(3)}">` +
        `<stop offset="0" stop-color="${rgb(tint())}"/><stop offset="1" stop-color="${rgb(tint())}"/></radialGradient>`,
    );
    background = 'url(#bg)';
  }

  const base = reference.domain.colours[colour];
  const fill = base.map((c) => c + (random() * 2 - 1) * reference.domain.colour_jitter);
  const angle = random() * 360;
  const rad = (angle * Math.PI) / 180;
  // The shape's outline around (0, 0) at extent 1, then scaled to fit the centre crop.
  let extent = between(1 / 3, 3 / 4) * side;
  let outline: [number, number][];
  const roundness = between(0, 0.08);
  const squash = between(0.93, 1);
  const starDepth = between(0.38, 0.5);
  const corners = (count: number, radius: (k: number) => number, offset: number) =>
    Array.from({ length: count }, (_, k): [number, number] => {
      const a = rad + offset + (k * 2 * Math.PI) / count;
      return [radius(k) * Math.cos(a), radius(k) * Math.sin(a)];
    });
  switch (shape) {
    case 'circle':
      outline = Array.from({ length: 36 }, (_, k): [number, number] => {
        const t = (k * Math.PI) / 18;
        const [x, y] = [0.5 * Math.cos(t), 0.5 * squash * Math.sin(t)];
        return [x * Math.cos(rad) - y * Math.sin(rad), x * Math.sin(rad) + y * Math.cos(rad)];
      });
      break;
    case 'square':
      outline = corners(4, () => Math.SQRT1_2, Math.PI / 4);
      break;
    case 'triangle': {
      const jitter = Array.from({ length: 3 }, () => between(0.94, 1.06));
      outline = corners(3, (k) => jitter[k] / Math.sqrt(3), -Math.PI / 2);
      break;
    }
    case 'star':
      outline = corners(10, (k) => (k % 2 === 0 ? 0.5 : 0.5 * starDepth), -Math.PI / 2);
      break;
    default:
      throw new Error(`unknown shape ${shape}`);
  }
  const xs = outline.map(([x]) => x);
  const ys = outline.map(([, y]) => y);
  const box = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
  extent = Math.min(extent, (0.94 * side) / box);
  const [left, top] = [(width - side) / 2, (height - side) / 2];
  const margin = 0.03 * side;
  const place = (lo: number, hi: number, offset: number) =>
    offset + margin - lo * extent + random() * Math.max(0, side - 2 * margin - (hi - lo) * extent);
  const cx = place(Math.min(...xs), Math.max(...xs), left);
  const cy = place(Math.min(...ys), Math.max(...ys), top);

  let paint = rgb(fill);
  let stroke = '';
  const style = random();
  if (style < 0.3) {
    const lighter = fill.map((c) => c + (255 - c) * between(0.15, 0.35));
    const darker = fill.map((c) => c * between(0.7, 0.85));
    defs.push(
      `<linearGradient id="fg" gradientTransform="rotate(${(random() * 360).toFixed(1)} 0.5 0.5)">` +
        `<stop offset="0" stop-color="${rgb(lighter)}"/><stop offset="1" stop-color="${rgb(darker)}"/></linearGradient>`,
    );
    paint = 'url(#fg)';
  } else if (style < 0.6) {
    const edge = random() < 0.5 ? fill.map((c) => c * between(0.4, 0.7)) : random() < 0.5 ? [20, 20, 20] : [245, 245, 245];
    stroke = ` stroke="${rgb(edge)}" stroke-width="${(extent * between(0.02, 0.06)).toFixed(2)}" stroke-linejoin="round"`;
  }
  const at = (x: number, y: number) => `${(cx + x * extent).toFixed(2)},${(cy + y * extent).toFixed(2)}`;
  let element: string;
  switch (shape) {
    case 'circle':
      element = `<ellipse cx="${cx.toFixed(2)}" cy="${cy.toFixed(2)}" rx="${(extent / 2).toFixed(2)}" ry="${((extent / 2) * squash).toFixed(2)}" transform="rotate(${angle.toFixed(1)} ${cx.toFixed(2)} ${cy.toFixed(2)})"`;
      break;
    case 'square':
      element =
        `<rect x="${(cx - extent / 2).toFixed(2)}" y="${(cy - extent / 2).toFixed(2)}" width="${extent.toFixed(2)}" height="${extent.toFixed(2)}" ` +
        `rx="${(extent * roundness).toFixed(2)}" transform="rotate(${angle.toFixed(1)} ${cx.toFixed(2)} ${cy.toFixed(2)})"`;
      break;
    case 'triangle':
      element = `<path d="M ${outline.map(([x, y]) => at(x, y)).join(' L ')} Z"`;
      break;
    default:
      element = `<polygon points="${outline.map(([x, y]) => at(x, y)).join(' ')}"`;
  }
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><defs>${defs.join('')}</defs>` +
    `<rect width="${width}" height="${height}" fill="${background}"/>${element} fill="${paint}"${stroke}/></svg>`;
  const image = sharp(Buffer.from(svg));
  const format = random();
  if (format < 0.4) return image.png().toBuffer();
  if (format < 0.8) return image.jpeg({ quality: Math.floor(between(70, 96)) }).toBuffer();
  return image.webp({ quality: Math.floor(between(75, 96)) }).toBuffer();
}
