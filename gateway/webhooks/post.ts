/** What one POST to a receiver came to. `gone`: it answered 410, Shopify's sign that an endpoint should be removed. */
export type PostResult = { ok: true; status: number } | { ok: false; error: string; gone: boolean };

/**
 * POSTs a signed body to a receiver: a 2xx answer is a delivery. Redirects are not followed (the
 * signed body must go where the endpoint was registered, and only there): a 3xx is a failure that
 * says so. `timeoutMs` bounds the wait for the status line; `signal` aborts (the gateway stops).
 * The answer's body is not read: only its status counts.
 */
export async function postEvent(
  url: string,
  request: { body: string; headers: Record<string, string> },
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<PostResult> {
  const deadline = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      body: request.body,
      headers: request.headers,
      redirect: 'manual',
      signal: signal ? AbortSignal.any([deadline, signal]) : deadline,
    });
  } catch (error) {
    if (deadline.aborted) return { ok: false, error: `no answer within ${timeoutMs} ms`, gone: false };
    if (signal?.aborted) return { ok: false, error: 'the gateway stopped before the receiver answered', gone: false };
    return { ok: false, error: `the request failed: ${causeOf(error)}`, gone: false };
  }
  // The connection is handed back to the pool without reading what the receiver said.
  await response.body?.cancel().catch(() => undefined);
  const status = response.status;
  if (status >= 200 && status <= 299) return { ok: true, status };
  if (status >= 300 && status <= 399) {
    return { ok: false, error: `answered HTTP ${status} (a redirect, which is not followed: register the URL it points to)`, gone: false };
  }
  return { ok: false, error: `answered HTTP ${status}`, gone: status === 410 };
}

/** undici's "fetch failed" says nothing: the reason is its cause's code or message (ECONNREFUSED, ENOTFOUND, ...). */
function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}
