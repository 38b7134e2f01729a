// The burst: a product grid asking for its thumbnails all at once. N single-image classify
// requests, each image distinct, sent together to the idle gateway: every one must be served (an
// idle gateway that can do them all within their deadline refuses none) and answered exactly as
// the same request sent alone.
import { fmt } from '../lib';
import { closeClient, newClient } from './processes';
import { progress } from './progress';
import type { Run } from './run';
import type { Session } from './session';
import { CLASSIFY_LABELS, jpegVariant, QUERIES } from './workload';

type Scores = { label: string; score: number }[];
type Answer = { status: number | string; codes: string[]; scores?: Scores };

/** Same labels in the same order, scores within 1e-4: batching may reorder float sums, nothing more. */
function sameAnswer(a: Scores | undefined, b: Scores | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  return a.every((s, i) => s.label === b[i].label && Math.abs(s.score - b[i].score) <= 1e-4);
}

export async function burstPhase(session: Session, jpegs: Buffer[]): Promise<void> {
  const { run, settings } = session;
  if (settings.burst === 0) return;
  await session.waitForIdle(60_000);
  const client = newClient(session.origin, settings.timeoutMs);
  const headers: Record<string, string> = settings.deadlineMs > 0 ? { 'x-request-timeout-ms': String(settings.deadlineMs) } : {};
  // The same pixels under other bytes for the two passes: the burst's images are not in the image
  // cache from the pass that made the answers to compare with.
  const bodies = (pass: string) =>
    Array.from({ length: settings.burst }, (_, i) =>
      JSON.stringify({
        query: QUERIES.classify,
        variables: { i: [{ base64: jpegVariant(jpegs[i % jpegs.length], `burst ${pass} ${i}`).toString('base64') }], l: CLASSIFY_LABELS },
      }),
    );
  const send = async (body: string): Promise<Answer> => {
    const answer = await client.request('POST', '/graphql', body, headers);
    if (answer.kind !== 'response') return { status: answer.kind, codes: [] };
    try {
      const parsed = JSON.parse(answer.text) as {
        data?: { classify?: ({ labels: Scores } | null)[] } | null;
        errors?: { extensions?: { code?: string } }[];
      };
      return {
        status: answer.status,
        codes: (parsed.errors ?? []).map((e) => String(e.extensions?.code)),
        scores: parsed.data?.classify?.[0]?.labels,
      };
    } catch {
      return { status: answer.status, codes: ['unparsable'] };
    }
  };
  progress(`burst: ${settings.burst} classify requests one at a time, for the answers to compare with`);
  const alone: Answer[] = [];
  for (const body of bodies('alone')) alone.push(await send(body));
  await session.waitForIdle(60_000);
  progress(`burst: the same ${settings.burst} at once`);
  const started = performance.now();
  const together = await Promise.all(bodies('together').map(send));
  const seconds = (performance.now() - started) / 1000;
  closeClient(client);
  const served = together.filter((a) => a.status === 200 && a.codes.length === 0);
  run.burst = {
    requests: settings.burst,
    seconds,
    served: served.length,
    refused: together.filter((a) => a.codes.includes('OVERLOADED')).length,
    failed: together.filter((a) => a.status !== 200 || (a.codes.length > 0 && !a.codes.includes('OVERLOADED'))).length,
    sameAsAlone: together.filter((a, i) => sameAnswer(a.scores, alone[i].scores)).length,
    aloneServed: alone.filter((a) => a.status === 200 && a.codes.length === 0).length,
  };
  progress(`burst: ${served.length} of ${settings.burst} served in ${fmt(seconds, 1)} s, ${run.burst.refused} refused`);
}

export type BurstReport = NonNullable<Run['burst']>;
