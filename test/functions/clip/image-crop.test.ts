import { deflateSync, crc32 } from 'node:zlib';

import sharp from 'sharp';

import {
  ClipErrorCode,
  ClipInputError,
  decodeAndCrop,
  DEFAULT_IMAGE_LIMITS,
  readModelDirectory,
  sniffImageFormat,
} from '../../../functions/clip';
import { cmykToRgb } from '../../../functions/clip/image-crop';
import { loadReference, TINY_CLIP_DIR } from '../../helpers/tiny-clip';

const spec = readModelDirectory(TINY_CLIP_DIR).image;
const reference = loadReference();

/**
 * Tolerance against PIL, in uint8 levels. Both resize with the same Catmull-Rom kernel, but libvips
 * works in fixed point with its own rounding and extends borders differently, and the JPEG decoders
 * (mozjpeg in sharp, libjpeg-turbo in PIL) may upsample chroma differently. Measured: at most
 * 6 levels (mean under 0.3) on the downscaled images; the 9×6 image blown up to 96×64 differs by up
 * to 12 levels (mean 0.9) along its borders. One level is 1/255 of the range, 0.015 after CLIP's
 * normalisation; the embeddings test shows what that does to a vector.
 */
const MAX_LEVELS = 16;
const MEAN_LEVELS = 1.0;

const measured: string[] = [];
afterAll(() => {
  process.stdout.write(`sharp vs PIL crops, |difference| in uint8 levels:\n${measured.join('\n')}\n`);
});

describe('decodeAndCrop', () => {
  it.each(reference.images.map((image) => [image.file, image] as const))('matches the PIL reference for %s', async (file, image) => {
    const crop = await decodeAndCrop(image.bytes, spec);
    expect([crop.width, crop.height]).toEqual([spec.cropWidth, spec.cropHeight]);
    expect(crop.data).toHaveLength(image.crop.length);
    let max = 0;
    let sum = 0;
    for (let i = 0; i < crop.data.length; i++) {
      const d = Math.abs(crop.data[i] - image.crop[i]);
      max = Math.max(max, d);
      sum += d;
    }
    const mean = sum / crop.data.length;
    measured.push(`  ${file.padEnd(42)} max ${String(max).padStart(3)}  mean ${mean.toFixed(3)}`);
    expect(max).toBeLessThanOrEqual(MAX_LEVELS);
    expect(mean).toBeLessThanOrEqual(MEAN_LEVELS);
  });

  it('applies EXIF orientation before cropping', async () => {
    const rotated = reference.images.find((i) => i.file.includes('exif'))!;
    const metadata = await sharp(rotated.bytes).metadata();
    expect(metadata.orientation).toBe(6);
    // Ignoring the tag would crop the stored (sideways) pixels: far from the reference.
    const sideways = await sharp(rotated.bytes).resize(spec.cropWidth, spec.cropHeight, { fit: 'cover' }).raw().toBuffer();
    const oriented = await decodeAndCrop(rotated.bytes, spec);
    const diff = (a: Uint8Array) => a.reduce((s, v, i) => s + Math.abs(v - rotated.crop[i]), 0) / a.length;
    expect(diff(oriented.data)).toBeLessThan(1);
    expect(diff(sideways)).toBeGreaterThan(5);
  });
});

function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1 + width * 3))), // one row; the rest is missing
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('colour profiles and CMYK', () => {
  const scene = () =>
    sharp({ create: { width: 180, height: 120, channels: 3, background: { r: 40, g: 160, b: 90 } } })
      .composite([{ input: Buffer.from('<svg width="180" height="120"><circle cx="70" cy="60" r="45" fill="rgb(230,40,30)"/></svg>') }])
      .png()
      .toBuffer();
  const difference = (a: Uint8Array, b: Uint8Array) => {
    let max = 0;
    let sum = 0;
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i] - b[i]);
      max = Math.max(max, d);
      sum += d;
    }
    return { max, mean: sum / a.length };
  };

  /** `jpeg` with `icc` embedded as APP2 segments right after SOI: the same compressed pixels, now tagged. */
  function withIcc(jpeg: Buffer, icc: Buffer): Buffer {
    const header = Buffer.from('ICC_PROFILE\0', 'latin1');
    const chunk = 65519 - header.length - 2;
    const count = Math.ceil(icc.length / chunk);
    const segments = Array.from({ length: count }, (_, n) => {
      const body = Buffer.concat([header, Buffer.from([n + 1, count]), icc.subarray(n * chunk, (n + 1) * chunk)]);
      const length = Buffer.alloc(2);
      length.writeUInt16BE(body.length + 2);
      return Buffer.concat([Buffer.from([0xff, 0xe2]), length, body]);
    });
    return Buffer.concat([jpeg.subarray(0, 2), ...segments, jpeg.subarray(2)]);
  }

  it('ignores an embedded profile by default, as PIL does, and converts it to sRGB when asked', async () => {
    const untagged = await sharp(await scene())
      .jpeg({ quality: 95 })
      .toBuffer();
    const p3 = (
      await sharp(
        await sharp(await scene())
          .withIccProfile('p3')
          .jpeg()
          .toBuffer(),
      ).metadata()
    ).icc!;
    const tagged = withIcc(untagged, p3);
    expect((await sharp(tagged).metadata()).icc).toEqual(p3);
    // Ignored: the tagged file decodes to exactly the pixels of the untagged one.
    const plain = await decodeAndCrop(untagged, spec);
    expect(difference((await decodeAndCrop(tagged, spec)).data, plain.data)).toEqual({ max: 0, mean: 0 });
    // Converted: P3 to sRGB moves the saturated red and green by many levels.
    const managed = await decodeAndCrop(tagged, spec, { ...DEFAULT_IMAGE_LIMITS, iccProfiles: 'convert' });
    expect(difference(managed.data, plain.data).max).toBeGreaterThan(20);
    // An untagged image is the same either way.
    expect(
      difference((await decodeAndCrop(untagged, spec, { ...DEFAULT_IMAGE_LIMITS, iccProfiles: 'convert' })).data, plain.data).max,
    ).toBe(0);
  });

  it("turns CMYK into RGB by PIL's formula, not through a press profile", () => {
    // Pillow's cmyk2rgb: (255 - K) - C × (255 - K) / 255, rounded as MULDIV255 rounds.
    expect([...cmykToRgb(Uint8Array.from([255, 0, 0, 0, 0, 0, 0, 255, 128, 0, 255, 64, 0, 0, 0, 0]))]).toEqual([
      0, 255, 255, 0, 0, 0, 95, 191, 0, 255, 255, 255,
    ]);
  });
});

describe('decodeAndCrop refuses bad images with a typed error', () => {
  const good = reference.images[0].bytes;
  const expectError = async (bytes: Uint8Array, code: ClipErrorCode, message: RegExp, limits?: Parameters<typeof decodeAndCrop>[2]) => {
    const error = await decodeAndCrop(bytes, spec, limits).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ClipInputError);
    expect((error as ClipInputError).code).toBe(code);
    expect((error as ClipInputError).message).toMatch(message);
    expect((error as ClipInputError).message).not.toMatch(/\/|node_modules|at /);
  };

  it('empty bytes', () => expectError(new Uint8Array(0), ClipErrorCode.BAD_USER_INPUT, /empty/));
  it('random bytes', () =>
    expectError(
      Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251),
      ClipErrorCode.UNSUPPORTED_IMAGE_FORMAT,
      /not in a recognised image format; only JPEG, PNG and WebP/,
    ));
  it('a truncated JPEG', () =>
    expectError(good.subarray(0, Math.floor(good.length / 2)), ClipErrorCode.IMAGE_DECODE_FAILED, /truncated or corrupt/));
  it('a JPEG cut inside its header', () => expectError(good.subarray(0, 40), ClipErrorCode.IMAGE_DECODE_FAILED, /JPEG/));
  it('an SVG', () =>
    expectError(
      Buffer.from('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'),
      ClipErrorCode.UNSUPPORTED_IMAGE_FORMAT,
      /is SVG; only JPEG, PNG and WebP/,
    ));
  it('a TIFF', async () => expectError(await sharp(good).tiff().toBuffer(), ClipErrorCode.UNSUPPORTED_IMAGE_FORMAT, /is TIFF/));
  it('a GIF', async () => expectError(await sharp(good).gif().toBuffer(), ClipErrorCode.UNSUPPORTED_IMAGE_FORMAT, /is GIF/));
  it('a PNG whose header claims 30000×30000', () =>
    expectError(pngHeaderOnly(30000, 30000), ClipErrorCode.INPUT_TOO_LARGE, /30000×30000 pixels; the limit is 40000000/));
  it('a PNG too narrow to resize within the pixel limit', () =>
    expectError(pngHeaderOnly(1, 1_000_000), ClipErrorCode.INPUT_TOO_LARGE, /aspect ratio/));
  it('an image over the byte limit', () =>
    expectError(good, ClipErrorCode.INPUT_TOO_LARGE, /the limit is 1000 bytes/, {
      maxBytes: 1000,
      maxPixels: 40_000_000,
      fastShrinkOnLoad: false,
      iccProfiles: 'ignore',
    }));
  it('an image over a lowered pixel limit', () =>
    expectError(good, ClipErrorCode.INPUT_TOO_LARGE, /150×90 pixels; the limit is 10000/, {
      maxBytes: 1 << 20,
      maxPixels: 10_000,
      fastShrinkOnLoad: false,
      iccProfiles: 'ignore',
    }));

  it('keeps working after all of those', async () => {
    const crop = await decodeAndCrop(good, spec);
    expect(crop.data).toHaveLength(reference.images[0].crop.length);
  });
});

describe('sniffImageFormat', () => {
  it('names the three accepted formats from their leading bytes', async () => {
    expect(sniffImageFormat(await sharp(good()).png().toBuffer())).toBe('png');
    expect(sniffImageFormat(await sharp(good()).jpeg().toBuffer())).toBe('jpeg');
    expect(sniffImageFormat(await sharp(good()).webp().toBuffer())).toBe('webp');
  });
  const good = () => reference.images[0].bytes;
});
