import { Field, Float, ID, Int, ObjectType } from 'type-graphql';

import { etaSeconds, jobKind, type JobRow, type TaxonomyChange } from '../../catalogue';
import { ImportFormat, JobKind, JobStatus } from './enums';
import { UserError } from './payload.type';
import { Taxonomy } from './taxonomy.type';

@ObjectType({ description: 'The file an IMPORT job reads, as productsImport was given it.' })
export class ImportSource {
  @Field({ description: 'Its name, as the client sent it.' })
  file!: string;

  @Field(() => ImportFormat)
  format!: ImportFormat;
}

@ObjectType({
  description:
    'A background job, a chunk at a time, by any gateway of its model: re-tagging products from their stored vectors, ' +
    "embedding their images again first (reembed), a model change, embedding a taxonomy's label prompts, or importing a file's products (see kind).",
})
export class TaggingJob {
  @Field(() => ID)
  id!: string;

  @Field(() => JobKind)
  kind!: JobKind;

  @Field(() => JobStatus)
  status!: JobStatus;

  @Field({ description: 'Whether the job embeds the images again (URLs fetched again) before tagging.' })
  reembed!: boolean;

  @Field({
    description:
      "The model key (name|dtype) of the job: a re-embedding job's vectors are this model's; a tagging job is the active model's.",
  })
  model!: string;

  @Field({
    description:
      'A model change: the job embeds every product without a vector of its model, then makes that model the one search ' +
      'and tags use, and queues a re-tagging job. Until then the old vectors stay in use. It FAILED (and the old model stays) ' +
      'if some product could not be embedded; started again, it does only what is left.',
  })
  changesModel!: boolean;

  @Field(() => Int, {
    description:
      'Products matching the filter when the job was started (for a model change: those still without a vector of its model; ' +
      'for a TAXONOMY job: the label prompts to embed, those the store did not hold yet; for an IMPORT job: the products of its file, ' +
      'and the lines that could not be read).',
  })
  total!: number;

  @Field(() => Int, {
    description:
      'Products tagged so far (a product deleted meanwhile counts as done); prompts embedded for TAXONOMY; products stored for IMPORT.',
  })
  processed!: number;

  @Field(() => Int, { description: 'Products that could not be tagged, or prompts that could not be embedded (see errors).' })
  failed!: number;

  @Field(() => [UserError], {
    description:
      'The first 20 problems, each naming its product in field (a TAXONOMY job: the facet and label of a prompt; an IMPORT job: ' +
      '["line", N], and ["line", N, "images", I] for an image left out, its product imported without it).',
  })
  errors!: UserError[];

  @Field(() => ImportSource, { nullable: true, description: "An IMPORT job's file; null for other jobs." })
  importSource!: ImportSource | null;

  @Field(() => String, { nullable: true, description: 'ISO 8601: when its first chunk was claimed.' })
  startedAt!: string | null;

  @Field(() => String, { nullable: true, description: 'ISO 8601.' })
  finishedAt!: string | null;

  @Field(() => Float, { nullable: true, description: 'Seconds left at the rate so far; null unless RUNNING with some products done.' })
  etaSeconds!: number | null;

  static from(row: JobRow, now: Date = new Date()): TaggingJob {
    return Object.assign(new TaggingJob(), {
      id: row.id,
      kind: jobKind(row),
      status: row.status,
      reembed: row.reembed,
      model: row.model,
      changesModel: row.changesModel,
      total: row.total,
      processed: row.processed,
      failed: row.failed,
      errors: row.errors.map((e) => Object.assign(new UserError(), e)),
      importSource: row.importSource && Object.assign(new ImportSource(), row.importSource),
      startedAt: row.startedAt,
      finishedAt: row.finishedAt,
      etaSeconds: etaSeconds(row, now),
    });
  }
}

@ObjectType()
export class TaggingJobPayload {
  @Field(() => TaggingJob, { nullable: true, description: 'Null when userErrors says why there is none.' })
  job!: TaggingJob | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType()
export class TaxonomySetPayload {
  @Field(() => Taxonomy, {
    nullable: true,
    description:
      'The version the job set; null while it is not set (wait false, or not in time: follow job) and when userErrors says why it will not be.',
  })
  taxonomy!: Taxonomy | null;

  @Field(() => TaggingJob, {
    nullable: true,
    description: "The TAXONOMY job embedding the prompts the store lacked; null only when the facets' userErrors stopped it.",
  })
  job!: TaggingJob | null;

  @Field(() => TaggingJob, {
    nullable: true,
    description: 'The TAGGING job over every product that the taxonomy job queued when it set the taxonomy; null before then.',
  })
  retagging!: TaggingJob | null;

  @Field(() => [UserError])
  userErrors!: UserError[];

  static from(change: TaxonomyChange | undefined, userErrors: UserError[]): TaxonomySetPayload {
    return Object.assign(new TaxonomySetPayload(), {
      taxonomy: change?.taxonomy ? Taxonomy.from(change.taxonomy) : null,
      job: change ? TaggingJob.from(change.job) : null,
      retagging: change?.retagging ? TaggingJob.from(change.retagging) : null,
      userErrors: [...userErrors, ...(change?.errors ?? []).map((e) => Object.assign(new UserError(), e))],
    });
  }
}

@ObjectType({
  description:
    "Model keys (name|dtype). Search by text or image and tagging compare embeddings with the active model's vectors, so they " +
    'need a gateway serving it; a gateway of another model starts a model change (see TaggingJob.changesModel).',
})
export class CatalogueModels {
  @Field(() => String, {
    nullable: true,
    description: 'The model whose vectors search and tags use; null before the first gateway started.',
  })
  active!: string | null;

  @Field(() => String, { nullable: true, description: 'The model a model change is building vectors for; null when none is under way.' })
  target!: string | null;

  @Field({ description: "This gateway's model." })
  gateway!: string;
}
