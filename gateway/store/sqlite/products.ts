import { checkProductsWrite } from '../checks';
import { decodeIdCursor, pageOf } from '../cursor';
import { check, nonNegativeInt } from '../../../functions/options';
import type { Page, ProductFilter, ProductRow, ProductsWrite } from '../port';
import { where } from '../filter';
import { Part } from '../composed';
import type { Connection } from './connection';
import { filterConditions } from './filters';
import { PRODUCT_COLUMNS, productOfSql, productParams, type ProductParams, type ProductSqlRow } from './rows';
import type { Tags } from './tags';
import { INDEX_ATTRIBUTES } from './attributes';
import { releaseImages, sweepUnusedImages, useImages } from './unused-images';
import type { Vectors } from './vectors';

/** Products: rows keyed by the shop's id, with an integer key (pk) that their vector rows use. */
export class Products extends Part<Connection, { vectors: Vectors; tags: Tags }> {
  async upsertProducts(products: ProductRow[]): Promise<void> {
    const rows = productParams(products);
    return this.c.run('upsertProducts', 'write', () => this.writeProducts(rows));
  }

  /** upsertProducts' writes, inside the caller's transaction. */
  writeProducts(rows: ProductParams[]): void {
    const stored = this.c.sql('SELECT pk, image_hashes, json(attributes) AS attributes FROM products WHERE id = ?');
    const upsert = this.c.sql(
      `INSERT INTO products (id, title, description, attributes, image_hashes, image_urls, created_at, updated_at)
       VALUES (?, ?, ?, jsonb(?), ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET title = excluded.title, description = excluded.description, attributes = excluded.attributes,
         image_hashes = excluded.image_hashes, image_urls = excluded.image_urls, updated_at = excluded.updated_at`,
    );
    const sql = (text: string) => this.c.sql(text);
    const forgetAttributes = this.c.sql('DELETE FROM product_attributes WHERE pk = ?');
    const indexAttributes = this.c.sql(`${INDEX_ATTRIBUTES} p.pk = ?`);
    /** The product's attributes by key and value (attributes.ts), unless they are the ones it had. */
    const attributesOf = (pk: number, before: string | null | undefined, now: unknown) => {
      if (before === now) return;
      if (before !== undefined) forgetAttributes.run(pk);
      indexAttributes.run(pk);
    };
    for (const row of rows) {
      const before = stored.get(row[0]) as { pk: number; image_hashes: string; attributes: string | null } | undefined;
      // Both sides are JSON.stringify of an array of hex strings: equal images, equal text.
      if (before && before.image_hashes === row[4]) {
        upsert.run(row);
        attributesOf(before.pk, before.attributes, row[3]);
        continue;
      }
      const images = new Set(JSON.parse(row[4] as string) as string[]);
      if (before) {
        this.uses.vectors.dropProductVectors([before.pk]);
        releaseImages(
          sql,
          before.pk,
          (JSON.parse(before.image_hashes) as string[]).filter((hash) => !images.has(hash)),
        );
      }
      const written = upsert.run(row);
      const pk = before?.pk ?? Number(written.lastInsertRowid);
      attributesOf(pk, before?.attributes, row[3]);
      useImages(sql, pk, images);
    }
    sweepUnusedImages(sql);
  }

  async saveProducts(write: ProductsWrite): Promise<void> {
    checkProductsWrite(write);
    const rows = productParams(write.products);
    return this.c.run('saveProducts', 'write', () => {
      this.writeWithVectors(write, rows);
      if (write.tags) this.uses.tags.writeAutoTags(new Set(write.tags.productIds), write.tags.tags);
    });
  }

  /** A write's products, vectors and kept bytes (not its tags), inside the caller's transaction; `rows` are its products' parameters. */
  writeWithVectors(write: Omit<ProductsWrite, 'tags'>, rows: ProductParams[]): void {
    this.writeProducts(rows);
    this.uses.vectors.writeVectors(write);
  }

  async getProducts(ids: string[]): Promise<ProductRow[]> {
    return this.c.run('getProducts', 'read', () => {
      const rows = this.c
        .sql(`SELECT ${PRODUCT_COLUMNS} FROM products p WHERE p.id IN (SELECT value FROM json_each(?))`)
        .all(JSON.stringify(ids)) as ProductSqlRow[];
      const byId = new Map(rows.map((row) => [row.id, productOfSql(row)]));
      return ids.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
    });
  }

  async deleteProducts(ids: string[]): Promise<string[]> {
    return this.c.run('deleteProducts', 'write', () => {
      const found = this.c
        .sql('SELECT id, pk, image_hashes FROM products WHERE id IN (SELECT value FROM json_each(?))')
        .all(JSON.stringify(ids)) as {
        id: string;
        pk: number;
        image_hashes: string;
      }[];
      if (found.length === 0) return [];
      this.uses.vectors.dropProductVectors(found.map((f) => f.pk));
      // Tags go with the product (ON DELETE CASCADE); its images' vectors, kept bytes and fetches with
      // it, unless another product uses them (keyed by content, they are shared).
      const sql = (text: string) => this.c.sql(text);
      for (const { pk, image_hashes } of found) releaseImages(sql, pk, JSON.parse(image_hashes) as string[]);
      this.c.sql('DELETE FROM products WHERE id IN (SELECT value FROM json_each(?))').run(JSON.stringify(found.map((f) => f.id)));
      sweepUnusedImages(sql);
      const existed = new Set(found.map((f) => f.id));
      return [...new Set(ids)].filter((id) => existed.has(id));
    });
  }

  async listProducts(filter: ProductFilter, first: number, after?: string): Promise<Page<ProductRow>> {
    check('first', first, nonNegativeInt);
    return this.c.run('listProducts', 'read', () => {
      const { sql, params } = filterConditions(filter);
      if (after !== undefined) {
        sql.push('p.id > ?');
        params.push(decodeIdCursor(after));
      }
      const rows = this.c
        .sql(`SELECT ${PRODUCT_COLUMNS} FROM products p ${where(sql)} ORDER BY p.id LIMIT ?`)
        .all(...params, first + 1) as ProductSqlRow[];
      return pageOf(rows.map(productOfSql), first, (p) => p.id);
    });
  }
}
