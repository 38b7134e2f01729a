import { checkVectorModel } from '../checks';
import { modelOfKey, type ModelState, type VectorModel } from '../port';
import { stateModel } from '../rows';
import { Part } from '../composed';
import type { Connection } from './connection';
import { stateModelOfSql } from './rows';

/** Which model's vectors the catalogue uses (and which one a model change is building), in the one row of catalogue_state. */
export class Models extends Part<Connection> {
  async getModelState(): Promise<ModelState> {
    return this.c.run('getModelState', 'read', () => this.modelState());
  }

  /** The state, inside the caller's transaction. */
  modelState(): ModelState {
    const row = this.c.sql('SELECT active, target FROM catalogue_state WHERE id = 1').get() as {
      active: string | null;
      target: string | null;
    };
    return { active: stateModelOfSql(row.active), target: stateModelOfSql(row.target) };
  }

  async claimActiveModel(model: VectorModel): Promise<ModelState> {
    checkVectorModel(model);
    return this.c.run('claimActiveModel', 'write', () => {
      const state = this.modelState();
      if (state.active) return state;
      // Product vectors stored before models were tracked: the model holding most of them stays the one searched.
      const legacy = this.c.sql('SELECT key, dim FROM models WHERE product_count > 0 ORDER BY product_count DESC, key LIMIT 1').get() as
        { key: string; dim: number } | undefined;
      const active = legacy ? modelOfKey(legacy.key, legacy.dim) : { name: model.name, dtype: model.dtype, dim: model.dim };
      this.c.sql('UPDATE catalogue_state SET active = ? WHERE id = 1').run(JSON.stringify(active));
      return { active, target: state.target };
    });
  }

  /** A condition on `products p`: it has no product vector of the model `key` (none has, before the model's first write). */
  lacksVector(key: string): string | undefined {
    const table = this.c.sql('SELECT product_table FROM models WHERE key = ?').pluck().get(key) as string | undefined;
    return table && `NOT EXISTS (SELECT 1 FROM ${table} v WHERE v.rowid = p.pk)`;
  }

  /** Makes `model` the target of a model change (inside the caller's transaction). */
  setTarget(model: VectorModel | null): void {
    this.c.sql('UPDATE catalogue_state SET target = ? WHERE id = 1').run(model && JSON.stringify(stateModel(model)));
  }
}
