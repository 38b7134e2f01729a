// Merchant Center's XML feeds, read as a stream with saxes:
// - RSS 2.0 (support.google.com/merchants/answer/160589): <rss xmlns:g="http://base.google.com/ns/1.0">
//   <channel><item> with the attributes as g: elements (<g:id>, <g:image_link>, ...); title, link
//   and description may also be RSS's own unprefixed elements.
// - Atom 1.0 (answer/160593): <feed xmlns="http://www.w3.org/2005/Atom"><entry> with Atom's <title>,
//   <id>, <link href="...">, <summary> beside the g: elements.
// A g: element wins over the unprefixed one of the same name. Repeated elements
// (<g:additional_image_link>, answer/6324370) are kept in order.

import type { Readable } from 'node:stream';
import { SaxesParser, type SaxesTagNS } from 'saxes';
import type { Entry } from './entry';
import { heldGroupsNote, isMerchantField, MerchantGrouper, type MerchantField, type MerchantItem } from './merchant-item';

const GOOGLE_NS = 'http://base.google.com/ns/1.0';
const ATOM_NS = 'http://www.w3.org/2005/Atom';

/** Atom's element names for the attributes they carry. */
const ATOM_NAMES: Record<string, MerchantField> = { summary: 'description' };

interface OpenItem {
  line: number;
  depth: number;
  google: Partial<Record<MerchantField, string[]>>;
  plain: Partial<Record<MerchantField, string[]>>;
}

interface OpenField {
  field: MerchantField;
  google: boolean;
  text: string;
}

/** The attribute a child element of an item carries, if this import reads it. */
function fieldOf(tag: SaxesTagNS): { field: MerchantField; google: boolean } | undefined {
  if (tag.uri === GOOGLE_NS) return isMerchantField(tag.local) ? { field: tag.local, google: true } : undefined;
  if (tag.uri !== '' && tag.uri !== ATOM_NS) return undefined;
  const name = ATOM_NAMES[tag.local] ?? tag.local;
  return isMerchantField(name) ? { field: name, google: false } : undefined;
}

function itemOf(open: OpenItem): MerchantItem {
  const values: Partial<Record<MerchantField, string[]>> = { ...open.plain };
  for (const [field, list] of Object.entries(open.google) as [MerchantField, string[]][]) values[field] = list;
  return { line: open.line, values };
}

/**
 * The products of a Merchant Center XML feed (RSS 2.0 or Atom 1.0), in order: ungrouped items as
 * they are read, groups (item_group_id) at the end of the file (see MerchantGrouper). A malformed
 * document ends the import with one failure naming the parser's line and message; groups held
 * until then are not sent, since their variants may be incomplete.
 */
export async function* readMerchantXml(input: Readable): AsyncGenerator<Entry> {
  const parser = new SaxesParser({ xmlns: true, position: true });
  const grouper = new MerchantGrouper();
  const ready: Entry[] = [];
  let failure: Entry | undefined;
  let depth = 0;
  let item: OpenItem | undefined;
  let field: OpenField | undefined;

  const fail = (message: string) => {
    failure ??= {
      line: parser.line,
      ok: false,
      message: `${message}${heldGroupsNote(grouper.heldGroups)}`,
    };
  };

  // saxes reads a bare `&` as the start of an entity up to the next `;`, so such a mistake is only
  // reported where the document ends: the last item read whole tells where to look.
  let lastItemLine: number | undefined;
  parser.on('error', (error) =>
    fail(
      `The XML is malformed: ${error.message.replace(/\.$/, '')}${lastItemLine ? ` (the last item read whole starts at line ${lastItemLine})` : ''}.`,
    ),
  );
  parser.on('opentag', (tag) => {
    depth++;
    if (failure) return;
    if (depth === 1 && tag.local !== 'rss' && tag.local !== 'feed')
      return fail(`The document's root is <${tag.name}>; a Merchant Center XML feed is RSS 2.0 (<rss>) or Atom (<feed>).`);
    if (!item) {
      if ((tag.local === 'item' && tag.uri === '') || (tag.local === 'entry' && tag.uri === ATOM_NS))
        item = { line: parser.line, depth, google: {}, plain: {} };
      return;
    }
    if (depth !== item.depth + 1) return;
    const found = fieldOf(tag);
    if (!found) return;
    // Atom gives the item's link as an attribute: <link href="..."/>.
    const href = found.field === 'link' && !found.google ? tag.attributes.href : undefined;
    field = { ...found, text: typeof href === 'object' ? href.value : '' };
  });
  const addText = (text: string) => {
    if (field && item && depth === item.depth + 1) field.text += text;
  };
  parser.on('text', addText);
  parser.on('cdata', addText);
  parser.on('closetag', () => {
    if (!failure && item) {
      if (field && depth === item.depth + 1) {
        const values = field.google ? item.google : item.plain;
        (values[field.field] ??= []).push(field.text.trim());
        field = undefined;
      } else if (depth === item.depth) {
        lastItemLine = item.line;
        const entry = grouper.add(itemOf(item));
        if (entry) ready.push(entry);
        item = undefined;
      }
    }
    depth--;
  });

  for await (const chunk of input.setEncoding('utf8')) {
    parser.write(chunk as string);
    yield* ready.splice(0);
    if (failure) return yield failure;
  }
  parser.close();
  yield* ready.splice(0);
  if (failure) return yield failure;
  yield* grouper.finish();
}
