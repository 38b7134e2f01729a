import { check, httpUrl } from '../../functions/options';
import { CallError, coldFailure, connectionProblem, describeError, failureForStatus, timeoutFailure } from './call-failure';
import type { Transport } from './remote';
import { JSON_CONTENT_TYPE, textOf, type WireMessage } from './wire-codec';

/**
 * Calls a CLIP function served by functions/handlers/http.ts (`POST {url}/invocations`), e.g. on
 * a serverless GPU platform. `headers` go with every call: what the platform's proxy wants
 * (RunPod's `Authorization: Bearer`, Modal's proxy auth `Modal-Key` and `Modal-Secret`).
 */
export class HttpTransport implements Transport {
  readonly kind = 'http' as const;
  readonly binary = true;
  readonly target: string;
  private readonly endpoint: string;

  constructor(
    url: string,
    private readonly headers: Readonly<Record<string, string>> = {},
  ) {
    const parsed = new URL(check('url', url, httpUrl));
    this.endpoint = new URL('invocations', parsed.href.endsWith('/') ? parsed.href : `${parsed.href}/`).href;
    this.target = parsed.origin;
  }

  async call(request: WireMessage, signal: AbortSignal, timeoutMs: number): Promise<WireMessage> {
    let response: Response;
    let body: Uint8Array;
    try {
      response = await fetch(this.endpoint, {
        method: 'POST',
        headers: { ...this.headers, 'content-type': request.contentType, accept: request.contentType },
        body: request.body,
        signal,
      });
      body = new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      if (signal.aborted) throw new CallError(timeoutFailure(timeoutMs));
      // fetch rejects with TypeError('fetch failed'); the socket's error, and its code, is the cause.
      throw new CallError(failureForStatus(undefined, connectionProblem(error) ?? '', describeError(error)));
    }
    const answer = { contentType: response.headers.get('content-type') ?? JSON_CONTENT_TYPE, body };
    if (response.status === 503 && response.headers.has('retry-after')) {
      // The function's own "not yet": its model is still loading (or it is draining to stop), as
      // the container answers /invocations before it is ready. A state, like SageMaker's no capacity.
      throw new CallError(coldFailure(`503 with Retry-After ${response.headers.get('retry-after')}: ${textOf(answer).slice(0, 200)}`));
    }
    if (!response.ok) throw new CallError(failureForStatus(response.status, '', textOf(answer).slice(0, 200)));
    return answer;
  }

  close(): void {}
}
