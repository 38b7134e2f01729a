// Read-back: every product the gateway said it wrote, by product(id) with its tags; and the
// upserts whose answer was lost, to see whether they were written anyway.
import { closeClient, newClient } from './processes';
import { progress, sleep } from './progress';
import type { Session } from './session';
import { Tally } from './stats';
import { FACETS, QUERIES } from './workload';

export async function readBack(session: Session): Promise<void> {
  const { run, settings, written, unconfirmed } = session;
  progress(`read-back: ${written.size} products`);
  const readStarted = performance.now();
  const reader = newClient(session.origin, settings.timeoutMs);
  const readTally = new Tally();
  const readOne = async (id: string) => {
    for (let attempt = 1; ; attempt++) {
      const o = await session.graphql(reader, JSON.stringify({ query: QUERIES.product, variables: { id } }), {
        stats: readTally.of('readBack'),
      });
      if (o.ok) return o.data!.product as { id: string; title: string; tags: { facet: string }[] } | null;
      if (attempt >= 5) return undefined;
      await sleep(Math.min(5, Number(o.retryAfter) || 0.5) * 1000);
    }
  };
  const pool = async <T>(items: T[], work: (item: T) => Promise<void>) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < items.length) await work(items[next++]);
      }),
    );
  };
  const missing: string[] = [];
  const wrongTags: string[] = [];
  const unreadable: string[] = [];
  let found = 0;
  await pool([...written], async ([id, title]) => {
    const product = await readOne(id);
    if (product === undefined) unreadable.push(id);
    else if (product === null) missing.push(id);
    else {
      found++;
      const facets = new Set(product.tags.map((t) => t.facet));
      if (product.title !== title || facets.size !== FACETS.length) wrongTags.push(id);
    }
  });
  let present = 0;
  await pool([...unconfirmed], async (id) => {
    if (await readOne(id)) present++;
  });
  closeClient(reader);
  run.readBack = {
    written: written.size,
    read: found + missing.length,
    found,
    missing,
    wrongTags,
    unreadable,
    unconfirmed: { total: unconfirmed.size, checked: unconfirmed.size, present },
    seconds: (performance.now() - readStarted) / 1000,
  };
  const readSummary = readTally.summary();
  if (readSummary.readBack && run.soak) run.soak.tally.readBack = readSummary.readBack;
  progress(
    `read-back: ${found}/${written.size} found, ${missing.length} missing, ${wrongTags.length} without their tags, ${unreadable.length} unreadable`,
  );
}
