// What an import reads from a file: products as productsUpsert takes them, each with the line it
// starts on, or why that line could not be read. Every format's reader yields these.

export interface ProductInput {
  id: string;
  title?: string | null;
  description?: string | null;
  images: { url?: string; base64?: string }[];
  attributes?: Record<string, unknown> | null;
}

/** One product of the file, or why its line could not be read (`message` names no line: the report puts `line N:` before it). */
export type Entry = { line: number } & ({ ok: true; product: ProductInput } | { ok: false; id?: string; message: string });
