import { Field, Float, ID, Int, ObjectType } from 'type-graphql';

import { etaSeconds } from '../../catalogue';
import type { JobRow } from '../../store/port';
import { JobStatus } from './enums';
import { UserError } from './payload.type';

@ObjectType({ description: 'A background job re-tagging products from their stored vectors, a chunk at a time, by any gateway.' })
export class TaggingJob {
  @Field(() => ID)
  id!: string;

  @Field(() => JobStatus)
  status!: JobStatus;

  @Field(() => Int, { description: 'Products matching the filter when the job was started.' })
  total!: number;

  @Field(() => Int, { description: 'Products tagged so far (a product deleted meanwhile counts as done).' })
  processed!: number;

  @Field(() => Int, { description: 'Products that could not be tagged (see errors).' })
  failed!: number;

  @Field(() => [UserError], { description: 'The first 20 problems, each naming its product in field.' })
  errors!: UserError[];

  @Field(() => String, { nullable: true, description: 'ISO 8601: when its first chunk was claimed.' })
  startedAt!: string | null;

  @Field(() => String, { nullable: true, description: 'ISO 8601.' })
  finishedAt!: string | null;

  @Field(() => Float, { nullable: true, description: 'Seconds left at the rate so far; null unless RUNNING with some products done.' })
  etaSeconds!: number | null;

  static from(row: JobRow, now: Date = new Date()): TaggingJob {
    return Object.assign(new TaggingJob(), {
      id: row.id,
      status: row.status as JobStatus,
      total: row.total,
      processed: row.processed,
      failed: row.failed,
      errors: row.errors.map((e) => Object.assign(new UserError(), e)),
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
