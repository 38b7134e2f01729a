import { ErrorCode } from '../common/errors';
import { modelKey, type CatalogueStore, type JobRow, type ModelState, type VectorModel } from '../store';
import { FieldError, storeCall } from './errors';

/** What this gateway's model is to the catalogue: the one searched, the one a model change is building, or neither. */
export type ModelRole = 'active' | 'target' | 'other';

/**
 * The catalogue's models as this gateway sees them: which one its vectors are of, whether a model
 * change is under way, and what that lets this gateway do. Vectors of different models are never
 * compared, so work that compares with stored vectors asks here first.
 */
export class ModelRoles {
  /** This gateway's model. */
  readonly model: VectorModel;
  /** Its key (`name|dtype`), as stored rows name it. */
  readonly key: string;

  constructor(
    private readonly store: CatalogueStore,
    info: VectorModel,
  ) {
    const { name, dim, dtype } = info;
    this.model = { name, dim, dtype };
    this.key = modelKey(this.model);
  }

  /**
   * Run once at start. The first gateway on a store makes its model the active one. A gateway
   * whose model is neither the active one nor the target of a model change under way starts that
   * change (`startModelChange`): a job that embeds every product with this model beside the old
   * vectors and switches over when none is left (search keeps using the old vectors until then).
   * Returns a sentence for the log when the catalogue is not on this gateway's model.
   */
  async init(startModelChange: () => Promise<JobRow>): Promise<string | undefined> {
    const state = await storeCall(() => this.store.claimActiveModel(this.model));
    const role = this.roleIn(state);
    if (role === 'active') return undefined;
    const active = modelKey(state.active!);
    if (role === 'other') {
      let job: JobRow;
      try {
        job = await startModelChange();
      } catch (error) {
        // Another change under way: this gateway serves what needs no embedding, and says why it changes nothing.
        if (error instanceof FieldError) return `catalogue: its vectors are of ${active}; ${error.message}`;
        throw error;
      }
      return `catalogue: its vectors are of ${active}, not of this gateway's ${this.key}; model change job ${job.id} embeds every product with ${this.key} and then switches over (until then, search by text or image needs a gateway serving ${active}).`;
    }
    return `catalogue: a model change from ${active} to this gateway's ${this.key} is under way; search by text or image needs a gateway serving ${active} until it completes.`;
  }

  /** Which models the catalogue uses, and this gateway's. */
  async models(): Promise<ModelState & { gateway: VectorModel }> {
    return { ...(await storeCall(() => this.store.getModelState())), gateway: this.model };
  }

  roleIn(state: ModelState): ModelRole {
    if (state.active && modelKey(state.active) === this.key) return 'active';
    if (state.target && modelKey(state.target) === this.key) return 'target';
    return 'other';
  }

  async role(): Promise<{ role: ModelRole; state: ModelState }> {
    const state = await storeCall(() => this.store.getModelState());
    return { role: this.roleIn(state), state };
  }

  /** Throws MODEL_MISMATCH (naming `field`) unless this gateway's model is the active one: `doing` compares with its vectors. */
  async requireActive(field: string[], doing: string): Promise<void> {
    const { role, state } = await this.role();
    if (role !== 'active') throw this.mismatch(field, state, doing);
  }

  mismatch(field: string[], state: ModelState, doing: string): FieldError {
    const active = state.active ? modelKey(state.active) : 'no model yet';
    const change = state.target ? `; a model change to ${modelKey(state.target)} is under way` : '';
    return new FieldError(
      field,
      ErrorCode.MODEL_MISMATCH,
      `This gateway embeds with ${this.key}, but the catalogue's vectors are of ${active}${change}: ${doing} needs a gateway serving ${active}.`,
    );
  }
}
