import sharp from 'sharp';

import { check, oneOf, positiveInt } from '../options';
import { ClipErrorCode, ClipInputError } from './errors';
import type { ImagePreprocessSpec } from './model-dir';
import { resampleLikePil } from './resample';

/** Limits for untrusted images, checked before any pixel is decoded. */
export interface ImageLimits {
  /** Largest encoded image accepted, in bytes. Default 20 MiB. */
  maxBytes: number;
  /** Largest image accepted, in pixels (width × height), and largest intermediate after resizing. Default 40 megapixels. */
  maxPixels: number;
  /**
   * Let JPEG and WebP decoders shrink while decoding when the image is much larger than the crop.
   * Several times faster on big photos, but the pixels differ from the reference preprocessing by
   * a few levels. Default false.
   */
  fastShrinkOnLoad: boolean;
  /**
   * What an embedded ICC colour profile (Adobe RGB from cameras, Display P3 from phones) does.
   * `ignore`: nothing; the decoded values are taken as they are, as PIL, Hugging Face's
   * processors and the pipeline CLIP was trained with take them, so vectors match theirs exactly.
   * `convert`: the pixels are converted from the profile to sRGB first (colour-managed: what a
   * browser shows), which moves them away from that reference by several levels. Default `ignore`.
   */
  iccProfiles: IccProfileHandling;
  /**
   * Who resizes. `libvips`: sharp, multi-threaded and off the event loop; within a level or two of
   * Pillow while an image shrinks by less than 4× on each side, a few levels away beyond that
   * (libvips box-averages first; a 640×427 photo to 64 px: mean 0.5, max 19). `pillow`: Pillow's
   * own fixed-point resampling (resample.ts), bit for bit what Hugging Face's CLIPImageProcessor
   * makes, run in JavaScript on the calling thread: 5-10 times the CPU of libvips (28 ms against 4.6 for
   * 1000×1000 to 224).
   * Decoding is libvips's either way (it already matches PIL's). Default `libvips`.
   */
  resampling: Resampling;
}

export const ICC_PROFILE_HANDLING = ['ignore', 'convert'] as const;
export type IccProfileHandling = (typeof ICC_PROFILE_HANDLING)[number];
export const RESAMPLING = ['libvips', 'pillow'] as const;
export type Resampling = (typeof RESAMPLING)[number];

export const DEFAULT_IMAGE_LIMITS: ImageLimits = {
  maxBytes: 20 * 1024 * 1024,
  maxPixels: 40_000_000,
  fastShrinkOnLoad: false,
  iccProfiles: 'ignore',
  resampling: 'libvips',
};

export function checkImageLimits(limits: ImageLimits): void {
  check('imageLimits.maxBytes', limits.maxBytes, positiveInt);
  check('imageLimits.maxPixels', limits.maxPixels, positiveInt);
  check('imageLimits.iccProfiles', limits.iccProfiles, oneOf(ICC_PROFILE_HANDLING));
  check('imageLimits.resampling', limits.resampling, oneOf(RESAMPLING));
}

/**
 * PIL's CMYK to RGB (Pillow's cmyk2rgb: R = (255 - K) - C × (255 - K) / 255, rounded as its
 * MULDIV255 rounds), which is what convert("RGB") gives the reference processors: no colour
 * profile, so no CMYK press simulation either.
 */
export function cmykToRgb(cmyk: Uint8Array): Uint8Array {
  const pixels = cmyk.length / 4;
  const rgb = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    const nk = 255 - cmyk[p * 4 + 3];
    for (let c = 0; c < 3; c++) {
      const t = cmyk[p * 4 + c] * nk + 128;
      rgb[p * 3 + c] = nk - (((t >> 8) + t) >> 8);
    }
  }
  return rgb;
}

/** A centre crop as the model sees it before normalisation: uint8 RGB, row-major HWC. */
export interface ImageCrop {
  data: Uint8Array;
  width: number;
  height: number;
}

export type ImageFormat = 'jpeg' | 'png' | 'webp';

const startsWith = (bytes: Uint8Array, prefix: number[], offset = 0) => prefix.every((b, i) => bytes[offset + i] === b);
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

/**
 * Identifies the format from the leading bytes, before libvips sees anything: only the three
 * formats CLIP deployments meet in practice reach a decoder, which keeps SVG (scripts, external
 * references), TIFF and PDF loaders out of reach of untrusted input.
 */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | { other: string } {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'webp';
  if (startsWith(bytes, ascii('GIF8'))) return { other: 'GIF' };
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return { other: 'TIFF' };
  if (startsWith(bytes, ascii('BM'))) return { other: 'BMP' };
  if (startsWith(bytes, ascii('%PDF'))) return { other: 'PDF' };
  if (startsWith(bytes, ascii('ftyp'), 4)) return { other: 'HEIF/AVIF' };
  const head = Buffer.from(bytes.subarray(0, 512))
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trimStart()
    .toLowerCase();
  if (head.startsWith('<') && head.includes('<svg')) return { other: 'SVG' };
  return { other: 'unknown' };
}

/** Output size of CLIP's resize: the shortest edge to `edge`, the long one scaled and floored. */
function resizedSize(width: number, height: number, spec: ImagePreprocessSpec): { width: number; height: number } {
  if (!spec.doResize) return { width, height };
  if (spec.resizeTo) return spec.resizeTo;
  const edge = spec.shortestEdge!;
  // Hugging Face's get_resize_output_image_size: int(size * long / short), a floor.
  return width <= height
    ? { width: edge, height: Math.floor((edge * height) / width) }
    : { width: Math.floor((edge * width) / height), height: edge };
}

function tooLarge(message: string): ClipInputError {
  return new ClipInputError(ClipErrorCode.INPUT_TOO_LARGE, message);
}

/**
 * Decodes an encoded image and makes the crop the model sees, in the reference order of CLIP's
 * preprocessing: EXIF orientation, RGB, resize (shortest edge), centre crop. Rescaling and
 * normalisation happen next to the model (`toPixelValues`), so this crop is what travels.
 *
 * RGB is PIL's convert("RGB") for every mode: greyscale replicated, alpha dropped (not composited,
 * the colour under transparent pixels kept), palettes expanded, CMYK by PIL's own formula (see
 * cmykToRgb), 16-bit samples to their high byte. One divergence, on purpose: PIL opens a 16-bit
 * greyscale PNG as 32-bit integers and its convert("RGB") clips every value above 255, so the
 * reference processors see a white image; here such a PNG keeps its picture (high bytes, as PIL
 * does for 16-bit RGB).
 *
 * Throws `ClipInputError` for anything wrong with the input; never for a neighbour's.
 */
export async function decodeAndCrop(
  bytes: Uint8Array,
  spec: ImagePreprocessSpec,
  limits: ImageLimits = DEFAULT_IMAGE_LIMITS,
): Promise<ImageCrop> {
  if (bytes.length === 0) throw new ClipInputError(ClipErrorCode.BAD_USER_INPUT, 'The image is empty (0 bytes).');
  if (bytes.length > limits.maxBytes) {
    throw tooLarge(`The image is ${bytes.length} bytes; the limit is ${limits.maxBytes} bytes.`);
  }
  const format = sniffImageFormat(bytes);
  if (typeof format !== 'string') {
    const what = format.other === 'unknown' ? 'The data is not in a recognised image format' : `The image is ${format.other}`;
    throw new ClipInputError(ClipErrorCode.UNSUPPORTED_IMAGE_FORMAT, `${what}; only JPEG, PNG and WebP are accepted.`);
  }

  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const options: sharp.SharpOptions = {
    limitInputPixels: limits.maxPixels,
    failOn: 'warning',
    sequentialRead: true,
    ignoreIcc: (limits.iccProfiles ?? 'ignore') === 'ignore',
  };
  let orientedWidth: number;
  let orientedHeight: number;
  let hasAlpha: boolean;
  let cmyk: boolean;
  try {
    // Header only: the pixel limit is checked below, with a message that says so.
    const metadata = await sharp(input, { ...options, limitInputPixels: false }).metadata();
    if (metadata.format !== format) throw new Error(`header says ${metadata.format}, bytes say ${format}`);
    hasAlpha = metadata.hasAlpha;
    cmyk = metadata.space === 'cmyk';
    orientedWidth = metadata.autoOrient?.width ?? metadata.width;
    orientedHeight = metadata.autoOrient?.height ?? metadata.height;
  } catch (cause) {
    throw new ClipInputError(
      ClipErrorCode.IMAGE_DECODE_FAILED,
      `The ${format.toUpperCase()} image could not be read: its header is damaged or incomplete.`,
      { cause },
    );
  }
  if (!(orientedWidth > 0 && orientedHeight > 0)) {
    throw new ClipInputError(ClipErrorCode.IMAGE_DECODE_FAILED, `The ${format.toUpperCase()} image has no pixels.`);
  }
  if (orientedWidth * orientedHeight > limits.maxPixels) {
    throw tooLarge(`The image is ${orientedWidth}×${orientedHeight} pixels; the limit is ${limits.maxPixels} pixels.`);
  }
  const resized = resizedSize(orientedWidth, orientedHeight, spec);
  if (resized.width * resized.height > limits.maxPixels) {
    // A 1×100000 strip would become 224×22 million pixels before cropping.
    throw tooLarge(
      `The image is ${orientedWidth}×${orientedHeight} pixels; its aspect ratio is too extreme to resize within ${limits.maxPixels} pixels.`,
    );
  }
  const crop = { width: spec.cropWidth, height: spec.cropHeight };
  if (resized.width < crop.width || resized.height < crop.height) {
    // Only reachable with do_resize off: the model takes images as they come.
    throw new ClipInputError(
      ClipErrorCode.BAD_USER_INPUT,
      `The image is ${orientedWidth}×${orientedHeight} pixels; this model needs at least ${crop.width}×${crop.height}.`,
    );
  }

  let output: { data: Buffer; info: sharp.OutputInfo };
  try {
    let pipeline: sharp.Sharp;
    if (cmyk && options.ignoreIcc) {
      // The ink values as stored (libvips undoes Adobe's inversion, as PIL does), then PIL's
      // formula: libvips would convert through a CMYK press profile instead.
      const ink = await sharp(input, { ...options, autoOrient: true })
        .pipelineColourspace('cmyk')
        .toColourspace('cmyk')
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      if (ink.info.channels !== 4) throw new Error(`CMYK decoded to ${ink.info.channels} channels`);
      pipeline = sharp(cmykToRgb(ink.data), { raw: { width: ink.info.width, height: ink.info.height, channels: 3 } });
    } else if (hasAlpha) {
      // PIL's convert('RGB') drops alpha and keeps the colour under transparent pixels, and so does
      // CLIP's reference. libvips would premultiply alpha for the resize (transparent -> black), so
      // alpha goes in a first pass; only images with alpha pay for it.
      const rgb = await sharp(input, { ...options, autoOrient: true })
        .removeAlpha()
        .toColourspace('srgb')
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      pipeline = sharp(rgb.data, { raw: { width: rgb.info.width, height: rgb.info.height, channels: rgb.info.channels as 3 } });
    } else {
      pipeline = sharp(input, { ...options, autoOrient: true }).toColourspace('srgb');
    }
    // Hugging Face's center_crop: offsets floored, so odd margins leave the extra pixel at the end.
    const window = {
      left: Math.floor((resized.width - crop.width) / 2),
      top: Math.floor((resized.height - crop.height) / 2),
      width: crop.width,
      height: crop.height,
    };
    if (spec.doResize && limits.resampling === 'pillow' && spec.kernel !== 'nearest') {
      const full = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
      if (full.info.channels !== 3) throw new Error(`decoded to ${full.info.channels} channels`);
      const { width, height } = full.info;
      const data = resampleLikePil(full.data, width, height, resized.width, resized.height, window, spec.kernel);
      return { data, width: crop.width, height: crop.height };
    }
    if (spec.doResize) {
      pipeline = pipeline.resize(resized.width, resized.height, {
        fit: 'fill',
        kernel: spec.kernel,
        fastShrinkOnLoad: limits.fastShrinkOnLoad,
      });
    }
    if (crop.width < resized.width || crop.height < resized.height) {
      pipeline = pipeline.extract(window);
    }
    output = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (cause) {
    throw new ClipInputError(
      ClipErrorCode.IMAGE_DECODE_FAILED,
      `The ${format.toUpperCase()} image could not be decoded: it is truncated or corrupt.`,
      { cause },
    );
  }
  const { info, data } = output;
  if (info.channels !== 3 || info.width !== crop.width || info.height !== crop.height) {
    throw new ClipInputError(
      ClipErrorCode.IMAGE_DECODE_FAILED,
      `The ${format.toUpperCase()} image decoded to an unexpected layout (${info.width}×${info.height}×${info.channels}).`,
    );
  }
  // A copy that owns its memory: sharp's buffer is external to V8 and cannot be transferred to a
  // worker thread without a copy anyway; this one can, in one move.
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}
