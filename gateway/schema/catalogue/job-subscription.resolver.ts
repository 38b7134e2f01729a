import { Arg, ID, Resolver, Root, Subscription } from 'type-graphql';

import { followTaggingJob, type JobRow } from '../../catalogue';
import type { GatewayContext } from '../../context';
import { TaggingJob } from './job.type';

/** Live progress, over WebSocket (graphql-ws on /graphql): what a client would otherwise poll taggingJob for. */
@Resolver()
export class JobSubscriptionResolver {
  @Subscription(() => TaggingJob, {
    description:
      'A tagging job now, then each time its status or counts change, until it ends (the last event is SUCCEEDED, FAILED or ' +
      'CANCELLED, and the subscription completes). An unknown id is an error with the code NOT_FOUND. Over WebSocket on ' +
      '/graphql (the graphql-transport-ws protocol), with the same API keys as HTTP.',
    subscribe: ({ args, context }) => {
      const { services, signal } = context as GatewayContext;
      return followTaggingJob(services.catalogue, String(args.id), signal);
    },
  })
  taggingJob(@Root() job: JobRow, @Arg('id', () => ID) _id: string): TaggingJob {
    return TaggingJob.from(job);
  }
}
