// The project's own formats: JSON Lines (one product per line) and CSV with the columns id, title,
// description, images (URLs separated by spaces or |) and attributes (a JSON object).
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

import { parse as parseCsv } from 'csv-parse';

import { parsedBy, type Entry, type ProductInput } from './entry';

function toImages(value: unknown): ProductInput['images'] {
  const list = typeof value === 'string' ? value.split(/[\s|]+/).filter(Boolean) : value;
  if (!Array.isArray(list) || list.length === 0) throw new Error('images must be a non-empty list');
  return list.map((image) => {
    if (typeof image === 'string') return /^data:/i.test(image) ? { base64: image } : { url: image };
    if (image && typeof image === 'object' && ('url' in image || 'base64' in image)) return image as { url?: string; base64?: string };
    throw new Error('each image must be a URL, a data: URI, or {"url"} / {"base64"}');
  });
}

function toProduct(record: Record<string, unknown>, line: number): Entry {
  const id = typeof record.id === 'string' || typeof record.id === 'number' ? String(record.id).trim() : '';
  if (!id) return { line, ok: false, message: 'id is missing' };
  try {
    let attributes = record.attributes;
    if (typeof attributes === 'string') attributes = attributes.trim() === '' ? null : JSON.parse(attributes);
    if (attributes !== undefined && attributes !== null && (typeof attributes !== 'object' || Array.isArray(attributes))) {
      throw new Error('attributes must be a JSON object');
    }
    const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
    return {
      line,
      ok: true,
      product: {
        id,
        title: text(record.title),
        description: text(record.description),
        images: toImages(record.images),
        attributes: (attributes as Record<string, unknown> | null | undefined) ?? null,
      },
    };
  } catch (error) {
    return { line, ok: false, id, message: error instanceof Error ? error.message : String(error) };
  }
}

/** The project's CSV, read as a stream (files larger than memory are fine). */
export async function* readGenericCsv(input: Readable): AsyncGenerator<Entry> {
  let line = 1;
  for await (const record of parsedBy(input, parseCsv({ columns: true, trim: true, skip_empty_lines: true }))) {
    line++;
    yield toProduct(record as Record<string, unknown>, line);
  }
}

/** JSON Lines, read as a stream: a line that is not a JSON object is a failure of its own. */
export async function* readJsonLines(input: Readable): AsyncGenerator<Entry> {
  let line = 0;
  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    line++;
    if (text.trim() === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch {
      yield { line, ok: false, message: 'not valid JSON' };
      continue;
    }
    if (!record || typeof record !== 'object' || Array.isArray(record)) yield { line, ok: false, message: 'not a JSON object' };
    else yield toProduct(record as Record<string, unknown>, line);
  }
}
