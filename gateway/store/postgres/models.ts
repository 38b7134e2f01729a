import type { PoolClient } from 'pg';

import { checkVectorModel } from '../checks';
import type { ModelState, VectorModel } from '../port';
import { stateModel } from '../rows';
import { Part } from '../composed';
import type { Connection } from './connection';
import { MAX_DIM } from './schema';

/** Which model's vectors the catalogue uses (and which one a model change is building), in the one row of catalogue_state. */
export class Models extends Part<Connection> {
  getModelState(): Promise<ModelState> {
    return this.c.withClient((client) => this.modelState(client));
  }

  /** The state, inside the caller's transaction; `lock` holds its row until the transaction ends. */
  async modelState(client: PoolClient, lock = false): Promise<ModelState> {
    const row = (
      await client.query<{ active: VectorModel | null; target: VectorModel | null }>(
        `SELECT active, target FROM ${this.c.names.catalogueState} WHERE id = 1${lock ? ' FOR UPDATE' : ''}`,
      )
    ).rows[0];
    return { active: stateModel(row.active), target: stateModel(row.target) };
  }

  async claimActiveModel(model: VectorModel): Promise<ModelState> {
    checkVectorModel(model, MAX_DIM);
    const n = this.c.names;
    return this.c.transaction(async (client) => {
      const state = await this.modelState(client, true);
      if (state.active) return state;
      // Product vectors stored before models were tracked: the model holding most of them stays the one searched.
      let active: VectorModel = { name: model.name, dtype: model.dtype, dim: model.dim };
      let most = 0;
      const models = (
        await client.query<{ name: string; dtype: string; dim: number; table_name: string }>(
          `SELECT name, dtype, dim, table_name FROM ${n.vectorModels} ORDER BY model_key`,
        )
      ).rows;
      for (const { name, dtype, dim, table_name } of models) {
        const count = Number((await client.query<{ c: string }>(`SELECT count(*) AS c FROM ${n.table(table_name)}`)).rows[0].c);
        if (count > most) [active, most] = [{ name, dtype, dim }, count];
      }
      await client.query(`UPDATE ${n.catalogueState} SET active = $1::jsonb WHERE id = 1`, [JSON.stringify(active)]);
      return { active, target: state.target };
    });
  }

  /** A condition on `products p`: it has no product vector of the model `key` (none has, before the model's first write). */
  async lacksVector(client: PoolClient, key: string): Promise<string | undefined> {
    const table = (
      await client.query<{ table_name: string }>(`SELECT table_name FROM ${this.c.names.vectorModels} WHERE model_key = $1`, [key])
    ).rows[0]?.table_name;
    return table && `NOT EXISTS (SELECT 1 FROM ${this.c.names.table(table)} v WHERE v.product_id = p.id)`;
  }

  /** Makes `model` the target of a model change, or clears it (inside the caller's transaction). */
  async setTarget(client: PoolClient, model: VectorModel | null): Promise<void> {
    await client.query(`UPDATE ${this.c.names.catalogueState} SET target = $1::jsonb WHERE id = 1`, [
      model && JSON.stringify(stateModel(model)),
    ]);
  }
}
