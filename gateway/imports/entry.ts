// What an import reads from a file: products as productsUpsert takes them, each with the line it
// starts on, or why that line could not be read. Every format's reader yields these.
import type { Duplex, Readable } from 'node:stream';

export interface ProductInput {
  id: string;
  title?: string | null;
  description?: string | null;
  images: { url?: string; base64?: string }[];
  attributes?: Record<string, unknown> | null;
}

/** One product of the file, or why its line could not be read (`message` names no line: the report puts `line N:` before it). */
export type Entry = { line: number } & ({ ok: true; product: ProductInput } | { ok: false; id?: string; message: string });

/** The file as a whole is not of its format (a header without the format's columns, nothing at all): no product of it can be read. */
export class NotAProductFile extends Error {
  override readonly name = 'NotAProductFile';
}

/**
 * `input` piped into a parser, with the input's failure passed on: `pipe` alone leaves the parser
 * waiting forever for the end of an input that failed (an upload cut short, a file over its limit).
 */
export function parsedBy<Parser extends Duplex>(input: Readable, parser: Parser): Parser {
  input.once('error', (error) => parser.destroy(error));
  return input.pipe(parser);
}
