// The stand-in's own routes, beside the SageMaker API and never signed: queue or clear faults,
// set the copy count, read the counts. For tests and for poking a running `npm run sagemaker:local`.
import type { IncomingMessage } from 'node:http';

import { readBody } from '../handlers/read-body';
import { localJson, type Answer } from './answers';
import { parseFaults, type SageMakerFault } from './faults';

/** What the routes act on: LocalSageMaker's public controls. */
export interface LocalControls {
  inject(fault: SageMakerFault): void;
  clearFaults(): void;
  readonly queuedFaults: number;
  setCopies(copies: number): void;
  readonly stats: object;
}

const refusal = (error: unknown) => localJson(400, { message: error instanceof Error ? error.message : String(error) });

/** The answer to a control route, or undefined when `path` is not one. */
export async function controlRoute(
  local: LocalControls,
  method: string | undefined,
  path: string,
  req: IncomingMessage,
): Promise<Answer | undefined> {
  if (path === '/_local/faults' && method === 'POST') {
    // All or nothing: one bad fault in a list queues none of them.
    try {
      const faults = parseFaults(JSON.parse((await readBody(req, 1 << 20)).body.toString('utf8')));
      faults.forEach((fault) => local.inject(fault));
    } catch (error) {
      return refusal(error);
    }
    return localJson(200, { queued: local.queuedFaults });
  }
  if (path === '/_local/faults' && method === 'DELETE') {
    local.clearFaults();
    return localJson(200, { queued: 0 });
  }
  if (path === '/_local/copies' && method === 'POST') {
    try {
      const { copies } = JSON.parse((await readBody(req, 1 << 10)).body.toString('utf8')) as { copies?: unknown };
      local.setCopies(copies as number);
    } catch (error) {
      return refusal(error);
    }
    return localJson(200, local.stats);
  }
  if (path === '/_local/stats' && method === 'GET') return localJson(200, local.stats);
  return undefined;
}
