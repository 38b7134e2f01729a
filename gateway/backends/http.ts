import { check, httpUrl } from '../../functions/options';
import { CallError, connectionProblem, describeError, failureForStatus, parseAnswer, timeoutFailure } from './call-failure';
import type { Transport } from './remote';

/** Calls a CLIP function served by functions/handlers/http.ts (`POST {url}/invocations`), e.g. on a GPU host. */
export class HttpTransport implements Transport {
  readonly kind = 'http' as const;
  readonly target: string;
  private readonly endpoint: string;

  constructor(url: string) {
    const parsed = new URL(check('url', url, httpUrl));
    this.endpoint = new URL('invocations', parsed.href.endsWith('/') ? parsed.href : `${parsed.href}/`).href;
    this.target = parsed.origin;
  }

  async call(payload: string, signal: AbortSignal, timeoutMs: number): Promise<unknown> {
    let response: Response;
    let body: string;
    try {
      response = await fetch(this.endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload, signal });
      body = await response.text();
    } catch (error) {
      if (signal.aborted) throw new CallError(timeoutFailure(timeoutMs));
      // fetch rejects with TypeError('fetch failed'); the socket's error, and its code, is the cause.
      throw new CallError(failureForStatus(undefined, connectionProblem(error) ?? '', describeError(error)));
    }
    if (!response.ok) throw new CallError(failureForStatus(response.status, '', body.slice(0, 200)));
    return parseAnswer(body);
  }

  close(): void {}
}
