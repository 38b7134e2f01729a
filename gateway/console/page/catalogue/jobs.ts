// Tagging jobs: start a re-tagging of every product, follow each job's progress, cancel one.
import { firstError, graphql, subscribe } from '../api';
import { h, messageOf, statusLine, titledSection } from '../dom';
import { OPERATIONS } from '../operations';
import type { Job } from './types';

const isActive = (job: Job) => job.status === 'QUEUED' || job.status === 'RUNNING';

/**
 * Each queued or running job is followed live through the taggingJob subscription, until it ends
 * (then the list is read again) or `stop`; where the subscription cannot be had (a proxy without
 * WebSocket), the list reads itself again every second instead.
 */
export function jobsPart(): { element: HTMLElement; load(): Promise<void>; stop(): void } {
  const status = statusLine();
  const list = h('ul', { class: 'jobs', 'aria-label': 'Tagging jobs' });
  const items = new Map<string, HTMLElement>();
  const following = new Map<string, () => void>();
  let poll: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const follow = (job: Job) => {
    if (stopped || following.has(job.id)) return;
    const unsubscribe = subscribe<{ taggingJob: Job }>(
      OPERATIONS.FollowTaggingJob,
      { id: job.id },
      {
        next: ({ taggingJob }) => {
          const item = jobItem(taggingJob);
          items.get(taggingJob.id)?.replaceWith(item);
          items.set(taggingJob.id, item);
        },
        done: (problem) => {
          following.delete(job.id);
          if (stopped) return;
          // Ended: its last counts and what the list says of it. Failed: asked for again, every second.
          if (problem === undefined) void load();
          else poll = setTimeout(() => void load(), 1000);
        },
      },
    );
    following.set(job.id, unsubscribe);
  };
  const load = async () => {
    clearTimeout(poll);
    try {
      const { data, errors } = await graphql<{ taggingJobs: Job[] }>(OPERATIONS.TaggingJobs);
      if (!data) return status.error(firstError(errors) ?? 'No result.');
      items.clear();
      list.replaceChildren(
        ...data.taggingJobs.map((job) => {
          const item = jobItem(job);
          items.set(job.id, item);
          return item;
        }),
      );
      if (data.taggingJobs.length === 0) list.append(h('li', { class: 'empty' }, 'No jobs yet.'));
      data.taggingJobs.filter(isActive).forEach(follow);
    } catch (error) {
      status.error(messageOf(error));
    }
  };
  const jobItem = (job: Job) => {
    const done = job.processed + job.failed;
    const cancel = async () => {
      const { data, errors } = await graphql<{ taggingJobCancel: { userErrors: { message: string }[] } }>(OPERATIONS.TaggingJobCancel, {
        id: job.id,
      });
      const problem = firstError(errors, data?.taggingJobCancel.userErrors);
      if (problem) status.error(problem);
      await load();
    };
    return h(
      'li',
      { class: `job ${job.status.toLowerCase()}` },
      h('progress', { max: Math.max(1, job.total), value: done, 'aria-label': `Job ${job.id}: ${done} of ${job.total}` }),
      h(
        'span',
        {},
        `${job.status.toLowerCase()} · ${done} / ${job.total}`,
        job.failed > 0 ? ` · ${job.failed} failed` : '',
        job.etaSeconds !== null ? ` · about ${Math.ceil(job.etaSeconds)} s left` : '',
      ),
      h('span', { class: 'id' }, job.id),
      isActive(job) ? h('button', { type: 'button', onclick: () => void cancel() }, 'Cancel') : null,
    );
  };
  const start = async () => {
    status.busy('Starting a re-tagging job…');
    try {
      const { data, errors } = await graphql<{ taggingJobStart: { userErrors: { message: string }[] } }>(OPERATIONS.TaggingJobStart);
      const problem = firstError(errors, data?.taggingJobStart.userErrors);
      if (problem) return status.error(problem);
      status.clear();
      await load();
    } catch (error) {
      status.error(messageOf(error));
    }
  };
  const element = titledSection(
    'jobs-title',
    'Tagging jobs',
    h('button', { type: 'button', onclick: () => void start() }, 'Re-tag every product'),
    status.element,
    list,
  );
  return {
    element,
    load,
    stop() {
      stopped = true;
      clearTimeout(poll);
      for (const unsubscribe of following.values()) unsubscribe();
      following.clear();
    },
  };
}
