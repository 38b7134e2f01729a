import { hasConditions } from './filter';
import { MODEL_CHANGE_INCOMPLETE, modelKey, type JobError, type ModelState, type ProductFilter } from './port';

/**
 * The rules of a model change that do not depend on the engine. A model change embeds every
 * product still without a vector of the new model; when none is left it finishes (see
 * modelChangeFailure), and each adapter then either goes over products added meanwhile or
 * switches over: the new model becomes the active one and a tagging job re-tags every product.
 */

/** A model change covers the whole catalogue: refuses any filter. */
export function checkModelChangeFilter(filter: ProductFilter): void {
  if (hasConditions(filter)) throw new TypeError('a model change covers the whole catalogue: its filter must be empty');
}

/**
 * Why a model change whose chunks are all done cannot switch over, or undefined when it can: a
 * product failed (the active model stays, and a new job embeds only what is left), or the target
 * changed under it.
 */
export function modelChangeFailure(job: { failed: number; model: string }, { active, target }: ModelState): JobError | undefined {
  if (job.failed > 0) {
    return {
      field: null,
      code: MODEL_CHANGE_INCOMPLETE,
      message: `${job.failed} product(s) could not be embedded with ${job.model}, so the catalogue still uses ${active ? modelKey(active) : 'no model'}; fix or delete them (see the errors), then start the job again: it embeds only what is left.`,
    };
  }
  if (target === null || modelKey(target) !== job.model) {
    return {
      field: null,
      code: MODEL_CHANGE_INCOMPLETE,
      message: `the catalogue's target model is no longer ${job.model}; the job stopped.`,
    };
  }
  return undefined;
}
