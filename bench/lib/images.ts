import sharp from 'sharp';

import { seeded } from './random';

/**
 * Photo-sized JPEGs (640×480, ~40–60 KB) with distinct content: random rectangles and circles on a
 * gradient, so that no two share a cache entry and decoding costs what a real upload costs.
 */
export async function makeJpegs(count: number, seed = 1): Promise<Buffer[]> {
  const random = seeded(seed);
  const colour = () => `rgb(${[0, 1, 2].map(() => Math.floor(random() * 256)).join(',')})`;
  return Promise.all(
    Array.from({ length: count }, () => {
      const shapes = Array.from({ length: 12 }, () => {
        const x = Math.floor(random() * 640);
        const y = Math.floor(random() * 480);
        const r = 10 + Math.floor(random() * 120);
        return random() < 0.5
          ? `<circle cx="${x}" cy="${y}" r="${r}" fill="${colour()}"/>`
          : `<rect x="${x}" y="${y}" width="${r * 2}" height="${r}" fill="${colour()}"/>`;
      }).join('');
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480"><defs><linearGradient id="g"><stop offset="0" stop-color="${colour()}"/><stop offset="1" stop-color="${colour()}"/></linearGradient></defs><rect width="640" height="480" fill="url(#g)"/>${shapes}</svg>`;
      return sharp(Buffer.from(svg)).jpeg({ quality: 85 }).toBuffer();
    }),
  );
}
