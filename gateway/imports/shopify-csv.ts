// Shopify's product CSV export, read into the import's products: one product per handle, its images
// in Shopify's order, its variants' options and images folded into it.
//
// The columns come from Shopify's help page "Using CSV files to import and export products"
// (https://help.shopify.com/en/manual/products/import-export/using-csv, its product CSV description
// table and sample file product_template.csv). Shopify has shipped two generations of headers:
// - classic: Handle, Title, Body (HTML), Vendor, Product Category, Type, Tags, Published,
//   Option1 Name, Option1 Value, (Option1 Linked To,) ... Option3 Value, Variant SKU, ...,
//   Image Src, Image Position, Image Alt Text, Gift Card, SEO Title, ..., Variant Image, ..., Status;
// - newer: Title, URL handle, Description, Vendor, Product category, Type, Tags,
//   Published on online store, Status, SKU, Barcode, Option1 name, Option1 value, Option1 Linked To,
//   ..., Product image URL, Image position, Image alt text, Variant image URL, Gift card, ...
// Exports of either may add metafield and market columns after these; those are ignored.

import type { Readable } from 'node:stream';
import { parse as parseCsv, CsvError } from 'csv-parse';
import { NotAProductFile, parsedBy, type Entry, type ProductInput } from './entry';
import { plainText, SHOPIFY_MAX_IMAGES, shopifyAttributes } from './shopify-product';

// The description's plain text and the attributes are made as the gateway makes them from the
// shop's webhooks (shopify-product.ts), so that both ways give one shape of product.

/** What each generation calls the columns this reader uses, as Shopify spells them. */
interface Columns {
  handle: string;
  title: string;
  description: string;
  vendor: string;
  productCategory: string;
  type: string;
  tags: string;
  status: string;
  imageUrl: string;
  imagePosition: string;
  variantImage: string;
  /** Option1..3 name and value; `N` is replaced by the option's number. */
  optionName: string;
  optionValue: string;
}

const GENERATIONS: { name: string; columns: Columns }[] = [
  {
    name: 'classic',
    columns: {
      handle: 'Handle',
      title: 'Title',
      description: 'Body (HTML)',
      vendor: 'Vendor',
      productCategory: 'Product Category',
      type: 'Type',
      tags: 'Tags',
      status: 'Status',
      imageUrl: 'Image Src',
      imagePosition: 'Image Position',
      variantImage: 'Variant Image',
      optionName: 'OptionN Name',
      optionValue: 'OptionN Value',
    },
  },
  {
    name: 'newer',
    columns: {
      handle: 'URL handle',
      title: 'Title',
      description: 'Description',
      vendor: 'Vendor',
      productCategory: 'Product category',
      type: 'Type',
      tags: 'Tags',
      status: 'Status',
      imageUrl: 'Product image URL',
      imagePosition: 'Image position',
      variantImage: 'Variant image URL',
      optionName: 'OptionN name',
      optionValue: 'OptionN value',
    },
  },
];

/** Without these a file cannot give products with images; the others are read when present. */
const REQUIRED: (keyof Columns)[] = ['handle', 'title', 'description', 'imageUrl', 'imagePosition'];

/** Column indexes of one file, found through its header. */
interface Layout {
  width: number;
  at: Partial<Record<Exclude<keyof Columns, 'optionName' | 'optionValue'>, number>>;
  options: { name?: number; value?: number }[];
}

const normalise = (header: string) => header.trim().toLowerCase();

/** Which generation the header is, or an error naming the columns it lacks for each. */
function layoutOf(header: string[], file: string): Layout {
  const index = new Map<string, number>();
  header.forEach((name, i) => {
    if (!index.has(normalise(name))) index.set(normalise(name), i);
  });
  const missing: string[] = [];
  for (const { name, columns } of GENERATIONS) {
    const lacks = REQUIRED.filter((key) => !index.has(normalise(columns[key]))).map((key) => columns[key]);
    if (lacks.length) {
      missing.push(`${lacks.join(', ')} (Shopify's ${name} header)`);
      continue;
    }
    const at: Layout['at'] = {};
    for (const key of Object.keys(columns) as (keyof Columns)[]) {
      if (key === 'optionName' || key === 'optionValue') continue;
      at[key] = index.get(normalise(columns[key]));
    }
    const options = [1, 2, 3].map((n) => ({
      name: index.get(normalise(columns.optionName.replace('N', String(n)))),
      value: index.get(normalise(columns.optionValue.replace('N', String(n)))),
    }));
    return { width: header.length, at, options };
  }
  throw new NotAProductFile(`${file} is not a Shopify product CSV: its header lacks ${missing.join(', or ')}.`);
}

/** One image as a row gives it: its URL, its position if the row has one, and where it was read. */
interface Image {
  url: string;
  position?: number;
  order: number;
}

/** The rows of one handle read so far. */
interface Group {
  handle: string;
  line: number;
  title?: string;
  description?: string;
  vendor?: string;
  productCategory?: string;
  type?: string;
  tags?: string;
  status?: string;
  images: Image[];
  variantImages: string[];
  optionNames: (string | undefined)[];
  optionValues: Set<string>[];
}

const newGroup = (handle: string, line: number): Group => ({
  handle,
  line,
  images: [],
  variantImages: [],
  optionNames: [],
  optionValues: [new Set(), new Set(), new Set()],
});

/** Positioned images by position (file order among equals), then the unpositioned ones in file order, then variant images; each URL once, at most SHOPIFY_MAX_IMAGES. */
function orderedImages(group: Group): string[] {
  const positioned = group.images.filter((image) => image.position !== undefined);
  positioned.sort((a, b) => a.position! - b.position! || a.order - b.order);
  const urls = [
    ...positioned.map((image) => image.url),
    ...group.images.filter((image) => image.position === undefined).map((image) => image.url),
    ...group.variantImages,
  ];
  return [...new Set(urls)].slice(0, SHOPIFY_MAX_IMAGES);
}

function entryOf(group: Group): Entry {
  const images = orderedImages(group);
  if (!images.length)
    return {
      line: group.line,
      ok: false,
      id: group.handle,
      message: "no image: Shopify's rows for this handle have no Image Src / Product image URL",
    };
  const attributes = shopifyAttributes({
    ...group,
    options: group.optionNames.flatMap((name, i) => (name ? [{ name, values: [...group.optionValues[i]] }] : [])),
  });
  const product: ProductInput = {
    id: group.handle,
    ...(group.title ? { title: group.title } : {}),
    ...(group.description ? { description: group.description } : {}),
    images: images.map((url) => ({ url })),
    ...(Object.keys(attributes).length ? { attributes } : {}),
  };
  return { line: group.line, ok: true, product };
}

/** Folds one row into its handle's group; returns why part of the row cannot be read, if it cannot. */
function addRow(
  group: Group,
  cell: (key: keyof Layout['at']) => string,
  layout: Layout,
  record: string[],
  order: number,
): string | undefined {
  const title = cell('title');
  if (title && group.title === undefined) group.title = title;
  const description = cell('description');
  if (group.description === undefined && description) group.description = plainText(description) || undefined;
  for (const key of ['vendor', 'productCategory', 'type', 'tags', 'status'] as const) {
    const value = cell(key);
    if (value && group[key] === undefined) group[key] = value;
  }
  const variantImage = cell('variantImage');
  if (variantImage) group.variantImages.push(variantImage);
  layout.options.forEach((option, i) => {
    const name = option.name === undefined ? '' : (record[option.name] ?? '').trim();
    if (name && group.optionNames[i] === undefined) group.optionNames[i] = name;
    const value = option.value === undefined ? '' : (record[option.value] ?? '').trim();
    if (value) group.optionValues[i].add(value);
  });
  const imageUrl = cell('imageUrl');
  const imagePosition = cell('imagePosition');
  const position = imagePosition === '' ? undefined : Number(imagePosition);
  // An image whose place is unreadable is left out rather than put somewhere Shopify did not put it.
  if (position !== undefined && !(Number.isInteger(position) && position >= 1))
    return `the image position is not a whole number from 1: "${imagePosition}"; the row's image is left out`;
  if (imageUrl) group.images.push({ url: imageUrl, position, order });
  return undefined;
}

/**
 * Reads a Shopify product CSV export (either header generation) as the import's entries: one
 * product per handle, whose id is the handle, in the file's order. A row without a handle, a row
 * with the wrong number of fields and a product without an image are failures with their line; a
 * file whose header is neither generation's is refused with an error naming the missing columns.
 */
export async function* readShopifyCsv(input: Readable, file: string): AsyncGenerator<Entry> {
  const parser = parsedBy(input, parseCsv({ bom: true, info: true, relax_column_count: true, skip_empty_lines: true }));
  let layout: Layout | undefined;
  let group: Group | undefined;
  // Failures of rows read while a product is open wait for it, so that entries come in line order.
  let held: Entry[] = [];
  const done = new Set<string>();
  let order = 0;
  function* close(entry?: Entry): Generator<Entry> {
    if (entry) yield entry;
    yield* held;
    held = [];
    group = undefined;
  }
  const fail = (line: number, message: string, id?: string): Entry => ({ line, ok: false, ...(id ? { id } : {}), message });
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      // info.lines is where the record ends; a quoted field's newlines put its start above that.
      const line = info.lines - record.reduce((sum, field) => sum + (field.match(/\n/g)?.length ?? 0), 0);
      if (!layout) {
        layout = layoutOf(record, file);
        continue;
      }
      if (record.length !== layout.width) {
        held.push(fail(line, `the row has ${record.length} fields; the header has ${layout.width}`));
        if (!group) yield* close();
        continue;
      }
      const columns = layout.at;
      const cell = (key: keyof Layout['at']) => (columns[key] === undefined ? '' : (record[columns[key]!] ?? '').trim());
      const handle = cell('handle');
      if (!handle) {
        held.push(fail(line, 'the row has no handle (Handle / URL handle), so it belongs to no product'));
        if (!group) yield* close();
        continue;
      }
      if (group?.handle !== handle) {
        if (group) yield* close(entryOf(group));
        if (done.has(handle)) {
          // Shopify's exports keep a product's rows together; a handle seen again cannot extend the product already sent.
          yield fail(line, "the handle's rows are not together: it appeared earlier, before other products", handle);
          continue;
        }
        done.add(handle);
        group = newGroup(handle, line);
      }
      const problem = addRow(group, cell, layout, record, order++);
      if (problem) held.push(fail(line, problem, handle));
    }
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    // Unreadable before its header: nothing of the file can be read as a product.
    if (!layout) throw new NotAProductFile(`${file} cannot be read as CSV: ${error.message}`);
    const at = (error as CsvError & { lines?: number }).lines ?? 0;
    // The unreadable part may hold more of the open product's rows: it is not sent incomplete.
    if (group) yield* close(fail(group.line, `its rows end where the file cannot be read (line ${at})`, group.handle));
    else yield* close();
    yield fail(at, `${file} cannot be read from here as CSV: ${error.message}`);
    return;
  }
  if (!layout) throw new NotAProductFile(`${file} is empty: a Shopify product CSV starts with a header row.`);
  yield* close(group ? entryOf(group) : undefined);
}
