// Merchant Center's text feed: tab-separated, a header row naming the attributes, one item a row
// (support.google.com/merchants/answer/160588). A value holding tabs or line breaks is enclosed in
// double quotes, a quote inside it doubled ("12"" pan"): Merchant Center's quoted fields
// (answer/14998273), which csv-parse reads as written. Headers may be the attribute's name
// (`image_link`) or the spreadsheet form with it in brackets (`Image link [image_link]`).

import type { Readable } from 'node:stream';
import { parse as parseCsv } from 'csv-parse';
import { NotAProductFile, parsedBy, type Entry } from './entry';
import { heldGroupsNote, isMerchantField, MerchantGrouper, type MerchantField, type MerchantItem } from './merchant-item';

const REQUIRED_COLUMNS = ['id', 'title', 'image_link'];

/** A header cell's attribute name: `Image link [image_link]` and ` image_link ` both give `image_link`. */
function columnName(header: string): string {
  const bracketed = /\[([^\]]+)\]\s*$/.exec(header);
  return (bracketed ? bracketed[1] : header).trim().toLowerCase().replace(/\s+/g, '_');
}

/** One cell's values: additional_image_link holds several URLs separated by commas (answer/6324370). */
function cellValues(field: MerchantField, cell: string): string[] {
  const value = cell.trim();
  if (field !== 'additional_image_link') return [value];
  return value
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '');
}

interface Row {
  record: string[];
  raw: string;
}

/**
 * The products of a Merchant Center TSV feed, in order: ungrouped items as they are read, groups
 * (item_group_id) at the end of the file (see MerchantGrouper). Refuses a file whose header lacks
 * id, title or image_link by throwing before any product.
 */
export async function* readMerchantTsv(input: Readable, file: string): AsyncGenerator<Entry> {
  const parser = parsedBy(
    input,
    parseCsv({ delimiter: '\t', bom: true, raw: true, relax_quotes: true, relax_column_count: true, skip_empty_lines: true }),
  );
  const grouper = new MerchantGrouper();
  let columns: (MerchantField | undefined)[] | undefined;
  // csv-parse gives each record its raw text (skipped empty lines before it included): the
  // newlines counted through them give the line each record starts on.
  let linesBefore = 0;
  try {
    for await (const { record, raw } of parser as AsyncIterable<Row>) {
      const leading = /^[\r\n]*/.exec(raw)![0];
      const line = linesBefore + 1 + (leading.match(/\n/g)?.length ?? 0);
      linesBefore += raw.match(/\n/g)?.length ?? 0;
      if (!columns) {
        const names = record.map(columnName);
        const missing = REQUIRED_COLUMNS.filter((name) => !names.includes(name));
        if (missing.length > 0)
          throw new NotAProductFile(
            `${file}: the header row has no ${missing.join(', ')} column${missing.length > 1 ? 's' : ''}; a Merchant Center TSV feed needs id, title and image_link (header: ${JSON.stringify(record.join('\t'))}).`,
          );
        columns = names.map((name) => (isMerchantField(name) ? name : undefined));
        continue;
      }
      if (record.length > columns.length) {
        yield { line, ok: false, message: `The row has ${record.length} fields; the header has ${columns.length}.` };
        continue;
      }
      const item: MerchantItem = { line, values: {} };
      record.forEach((cell, i) => {
        const field = columns![i];
        if (field) item.values[field] = cellValues(field, cell);
      });
      const entry = grouper.add(item);
      if (entry) yield entry;
    }
  } catch (error) {
    if (!(error instanceof Error) || !('code' in error) || typeof error.code !== 'string' || !error.code.startsWith('CSV_')) throw error;
    // A malformed row (a quote never closed) leaves the rest of the file unreadable: it starts
    // right after the last record read whole; csv-parse's own line is where it gave up.
    yield {
      line: linesBefore + 1,
      ok: false,
      message: `This row and the rest of the file cannot be read: ${error.message}.${heldGroupsNote(grouper.heldGroups)}`,
    };
    return;
  }
  yield* grouper.finish();
}
