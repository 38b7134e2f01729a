import type { PoolClient } from 'pg';

import { check, nonNegativeInt } from '../../../functions/options';
import { checkImageLists, checkProductsWrite } from '../checks';
import { decodeIdCursor, pageOf } from '../cursor';
import { where } from '../filter';
import { lastById } from '../order';
import type { Page, ProductFilter, ProductRow, ProductsWrite } from '../port';
import { productOf, type ProductColumns } from '../rows';
import { Part } from '../composed';
import type { Connection } from './connection';
import { filterConditions, Params } from './filters';
import { PRODUCT_COLUMNS } from './rows';
import { MAX_DIM } from './schema';
import type { Tags } from './tags';
import type { ModelTable, Vectors } from './vectors';

/** Products: rows keyed by the shop's id (COLLATE "C", so ordered by code point). */
export class Products extends Part<Connection, { vectors: Vectors; tags: Tags }> {
  async upsertProducts(products: ProductRow[]): Promise<void> {
    checkImageLists(products);
    if (products.length === 0) return;
    await this.c.transaction((client) => this.writeProducts(client, products));
  }

  /** upsertProducts' writes, inside the caller's transaction. */
  private async writeProducts(client: PoolClient, products: ProductRow[]): Promise<void> {
    if (products.length === 0) return;
    const n = this.c.names;
    // A product named twice in one batch: its last version, created when it first appeared.
    const created = new Map<string, string>();
    for (const p of products) if (!created.has(p.id)) created.set(p.id, p.createdAt);
    const rows = JSON.stringify(
      lastById(products, (p) => p.id).map((p) => ({
        id: p.id,
        title: p.title,
        description: p.description,
        attributes: p.attributes,
        image_hashes: p.imageHashes,
        image_urls: p.imageUrls,
        created_at: created.get(p.id),
        updated_at: p.updatedAt,
      })),
    );
    // Vectors of every model made from images a product no longer has are dropped first.
    const tables = (await client.query<{ table_name: string }>(`SELECT table_name FROM ${n.vectorModels} ORDER BY table_name`)).rows;
    for (const { table_name } of tables) {
      await client.query(
        `DELETE FROM ${n.table(table_name)} v USING ${n.products} p, jsonb_to_recordset($1::jsonb) AS r(id text, image_hashes jsonb)
         WHERE v.product_id = p.id AND p.id = r.id AND to_jsonb(p.image_hashes) <> r.image_hashes`,
        [rows],
      );
    }
    await client.query(
      `INSERT INTO ${n.products} AS p (id, title, description, attributes, image_hashes, image_urls, created_at, updated_at)
       SELECT r.id, r.title, r.description, NULLIF(r.attributes, 'null'::jsonb),
              ARRAY(SELECT h FROM jsonb_array_elements_text(r.image_hashes) WITH ORDINALITY AS x(h, i) ORDER BY i),
              ARRAY(SELECT u FROM jsonb_array_elements_text(r.image_urls) WITH ORDINALITY AS x(u, i) ORDER BY i),
              r.created_at, r.updated_at
       FROM jsonb_to_recordset($1::jsonb)
         AS r(id text, title text, description text, attributes jsonb, image_hashes jsonb, image_urls jsonb, created_at text, updated_at text)
       ON CONFLICT (id) DO UPDATE SET
         title = EXCLUDED.title, description = EXCLUDED.description, attributes = EXCLUDED.attributes,
         image_hashes = EXCLUDED.image_hashes, image_urls = EXCLUDED.image_urls, updated_at = EXCLUDED.updated_at`,
      [rows],
    );
    // Which products use each image (see the unused-images migration in schema.ts), for the whole
    // batch in two statements: the images a product no longer has let go (the sweep at commit
    // deletes what no product uses then), those it has taken on.
    const refs = n.table('image_refs');
    // The ids as an array too: joined with the function's rows alone, the planner scans every image_refs row.
    await client.query(
      `DELETE FROM ${refs} f USING jsonb_to_recordset($1::jsonb) AS r(id text, image_hashes jsonb)
       WHERE f.product_id = ANY($2::text[]) AND f.product_id = r.id AND NOT r.image_hashes ? f.hash`,
      [rows, [...created.keys()]],
    );
    await client.query(
      `INSERT INTO ${refs} (hash, product_id)
       SELECT DISTINCT h, r.id FROM jsonb_to_recordset($1::jsonb) AS r(id text, image_hashes jsonb), jsonb_array_elements_text(r.image_hashes) AS h
       ON CONFLICT DO NOTHING`,
      [rows],
    );
  }

  async saveProducts(write: ProductsWrite): Promise<void> {
    checkProductsWrite(write, MAX_DIM);
    this.uses.vectors.remember(
      await this.c.transaction(async (client) => {
        const made = await this.writeWithVectors(client, write);
        if (write.tags) await this.uses.tags.writeAutoTags(client, write.tags.productIds, write.tags.tags);
        return made;
      }),
    );
  }

  /** A write's products, vectors and kept bytes (not its tags), inside the caller's transaction; returns the model's table. */
  async writeWithVectors(client: PoolClient, write: Omit<ProductsWrite, 'tags'>): Promise<ModelTable> {
    await this.writeProducts(client, write.products);
    return this.uses.vectors.writeVectors(client, write);
  }

  async getProducts(ids: string[]): Promise<ProductRow[]> {
    if (ids.length === 0) return [];
    const rows = await this.c.rows<ProductColumns>(
      `SELECT ${PRODUCT_COLUMNS} FROM ${this.c.names.products} p WHERE p.id = ANY($1::text[])`,
      [ids],
    );
    const byId = new Map(rows.map((row) => [row.id, productOf(row)]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  async deleteProducts(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    // Tags and product vectors go with them (ON DELETE CASCADE); image vectors are by content and stay.
    const rows = await this.c.transaction(
      async (client) =>
        (await client.query<{ id: string }>(`DELETE FROM ${this.c.names.products} WHERE id = ANY($1::text[]) RETURNING id`, [ids])).rows,
    );
    const deleted = new Set(rows.map((row) => row.id));
    return [...new Set(ids)].filter((id) => deleted.has(id));
  }

  async listProducts(filter: ProductFilter, first: number, after?: string): Promise<Page<ProductRow>> {
    check('first', first, nonNegativeInt);
    const afterId = after === undefined ? undefined : decodeIdCursor(after);
    if (filter.ids?.length === 0) return { items: [], hasNextPage: false, endCursor: undefined };
    const params = new Params();
    const conditions = filterConditions(filter, params, { idColumn: 'p.id', attributesColumn: 'p.attributes', tags: this.c.names.tags });
    if (afterId !== undefined) conditions.push(`p.id > ${params.add(afterId)}`);
    const limit = params.add(first + 1);
    const rows = await this.c.rows<ProductColumns>(
      `SELECT ${PRODUCT_COLUMNS} FROM ${this.c.names.products} p ${where(conditions)} ORDER BY p.id LIMIT ${limit}`,
      params.values,
    );
    return pageOf(rows.map(productOf), first, (p) => p.id);
  }
}
